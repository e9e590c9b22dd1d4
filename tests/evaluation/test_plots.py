"""The figure functions draw exactly the data they are given, label their axes, and accept existing axes."""

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from wirelora.evaluation import plots

K = 60
METHODS = ["proposed", "naive", "kd_unlearn", "federaser_d2d", "ewc", "influence_d2d", "retrain"]
ARMS = ["full", "ls_prox", "local_steps", "retain_prox", "uniform", "topology"]


def _curves(names, n, rng):
    return {name: np.cumsum(rng.normal(size=n)).tolist() for name in names}


def _labelled(ax):
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel()) and bool(ax.get_title())


def _lines_with_label(ax):
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


def _event_labels(ax):
    """The event names mark_events writes on the axes' top axis, left to right."""
    return [t.get_text().strip() for top in ax.child_axes for t in top.get_xticklabels()]


def _png_bytes(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("func", "names"), [(plots.fig3, METHODS), (plots.fig5, METHODS), (plots.fig6, ARMS), (plots.fig8, ARMS)]
)
def test_round_curves_plot_each_series_verbatim(func, names, rng):
    data = _curves(names, K + 1, rng)
    fig = func(data)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert _labelled(ax)
    lines = _lines_with_label(ax)
    if func in (plots.fig3, plots.fig6):  # gaps are relative to the oracle: its line sits at 0
        np.testing.assert_array_equal(lines.pop("oracle (gap 0)").get_ydata(), [0, 0])
    assert set(lines) == {plots.label(n) for n in names}
    for name in names:
        x, y = lines[plots.label(name)].get_data()
        np.testing.assert_array_equal(x, np.arange(K + 1))
        np.testing.assert_array_equal(y, data[name])
    assert ax.get_legend() is not None
    assert _png_bytes(fig)[:4] == b"\x89PNG"


def test_oracle_is_dashed_and_proposed_is_emphasised(rng):
    fig = plots.fig3(_curves(["proposed", "naive", "retrain"], K + 1, rng))
    lines = _lines_with_label(fig.axes[0])
    assert lines[plots.label("retrain")].get_linestyle() == "--"
    assert lines["Proposed"].get_linewidth() > lines["Naive Remove"].get_linewidth()


def test_fig4_marks_every_event_at_its_round(rng):
    steps = np.arange(0, 1000, 10)
    events = [(200, "leave d0"), (300, "join d6"), (500, "leave d1"), (700, "join d7")]
    fig = plots.fig4(_curves(["proposed", "naive"], len(steps), rng), steps=steps.tolist(), events=events)
    ax = fig.axes[0]
    vlines = [ln for ln in ax.get_lines() if ln.get_label().startswith("_") and ln.get_linestyle() == ":"]
    assert sorted(ln.get_xdata()[0] for ln in vlines) == [200, 300, 500, 700]
    assert _event_labels(ax) == [text for _, text in events]
    x, _ = _lines_with_label(ax)["Proposed"].get_data()
    np.testing.assert_array_equal(x, steps)


def test_curves_reject_length_mismatch():
    with pytest.raises(ValueError, match="naive"):
        plots.fig4({"naive": [1.0, 2.0]}, steps=[0, 1, 2])
    with pytest.raises(ValueError, match="empty"):
        plots.fig3({})


def test_draws_into_given_axes():
    host = Figure()
    ax = host.add_subplot(1, 2, 2)
    assert plots.fig3({"proposed": [1.0, 0.5, 0.2]}, ax=ax) is host
    assert len(host.axes) == 1 and ax.get_lines()
    pair = Figure().subplots(1, 2)
    assert plots.join([0, 1], {"orthogonal": [1, 0.5]}, {"orthogonal": [1, 1]}, axes=pair) is pair[0].figure
    with pytest.raises(ValueError, match="2 axes"):
        plots.alloc(
            [1e6],
            {"convex": [1.0]},
            priority=[0.5],
            bandwidth_share_by_group={"late": [0.5]},
            axes=[Figure().add_subplot()],
        )


def test_fig7_points_and_pareto_front():
    points = {
        "full": (0.83, 0.39),
        "uniform": (1.0, 0.5),
        "topology": (1.17, 0.52),
        "local_steps": (0.9, 0.45),
    }
    fig = plots.fig7(points, front=["full", "uniform"])
    ax = fig.axes[0]
    assert _labelled(ax)
    by_label = {c.get_label(): c.get_offsets() for c in ax.collections}
    front = by_label.pop("Pareto front")
    np.testing.assert_array_equal(front, [[0.83, 0.39], [1.0, 0.5]])  # ringed, in the given order
    np.testing.assert_allclose(np.concatenate(list(by_label.values())), list(points.values()))
    step = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(step) == 1 and list(step[0].get_xdata()) == [0.83, 1.0]
    assert {t.get_text() for t in ax.texts} == {plots.label(n) for n in points}


def test_alloc_two_panels_with_optimum_line():
    b = [1e5, 1e6, 1e7]
    lat = {
        "convex": [10.0, 2.0, 0.5],
        "equal": [20.0, 4.0, 1.0],
        "proportional": [15.0, 3.0, 0.8],
        "optimum": [10.0, 2.0, 0.5],
    }
    shares = {"early": [0.4, 0.3, 0.2], "mid": [0.3, 0.3, 0.3], "late": [0.3, 0.4, 0.5]}
    fig = plots.alloc(b, lat, priority=[0.2, 0.5, 0.8], bandwidth_share_by_group=shares)
    left, right = fig.axes
    assert _labelled(left) and _labelled(right)
    lines = _lines_with_label(left)
    np.testing.assert_allclose(lines["closed-form optimum"].get_xdata(), [0.1, 1.0, 10.0])  # MHz
    assert lines["closed-form optimum"].get_linestyle() == "--"
    assert left.get_yscale() == "log"
    assert set(_lines_with_label(right)) == {"early", "mid", "late"}


def test_pareto_front_and_reference_points():
    fig = plots.pareto([1.0, 2.0, 4.0], [3.0, 2.0, 1.5], points={"equal": (3.0, 2.5)})
    ax = fig.axes[0]
    assert _labelled(ax)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [3.0, 2.0, 1.5])
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), [[3.0, 2.5]])


def test_leakage_states_exact_zeros_instead_of_dropping_them_silently():
    x = [1 / 64, 1 / 16, 1 / 4]
    fig = plots.leakage(
        x,
        {"independent": [0.02, 0.25, 4.0], "slotted": [0.0, 0.0, 0.0]},
        {"independent": [0.1, 0.2, 0.4], "slotted": [0.0, 0.0, 0.0]},
        theory=[1 / 64, 0.25, 4.0],
    )
    left, right = fig.axes
    assert _labelled(left) and _labelled(right)
    labels = set(_lines_with_label(left))
    assert any(s.startswith("slotted bases (exactly 0") for s in labels)
    assert r"Lemma 1: $r^2/d$" in labels
    np.testing.assert_array_equal(_lines_with_label(left)["independent bases"].get_ydata(), [0.02, 0.25, 4.0])


def test_regimes_colours_each_cell_by_its_action():
    gaps, het = [0.01, 0.1, 0.5], [0.0, 1.0]
    action = [["local_steps", "local_steps", "local_steps"], ["topology", "proximal", "proximal"]]
    dominant = [["R_loc", "R_loc", "R_loc"], ["R_con", "R_het", "R_het"]]
    fig = plots.regimes(gaps, het, action, dominant=dominant)
    ax = fig.axes[0]
    img = ax.get_images()[0].get_array()
    names = sorted({"local_steps", "topology", "proximal"})
    np.testing.assert_array_equal(img, [[names.index(a) for a in row] for row in action])
    assert sorted(t.get_text() for t in ax.texts) == sorted(sum(dominant, []))
    assert {t.get_text() for t in ax.get_legend().get_texts()} == set(names)
    with pytest.raises(ValueError, match="shape"):
        plots.regimes(gaps, het, [["x"]])


def test_join_panels_mark_events_and_keep_nan_gaps():
    rounds = [0, 1, 2, 3]
    fig = plots.join(
        rounds,
        {"orthogonal": [np.nan, np.nan, 2.0, 1.0], "shared": [np.nan, np.nan, 2.0, 1.5]},
        {"orthogonal": [1.0, 0.9, 0.9, 0.8], "shared": [1.0, 0.9, 1.1, 1.0]},
        events=[(2, "join d6")],
    )
    for ax in fig.axes:
        assert _labelled(ax)
        assert _event_labels(ax) == ["join d6"]
        assert ax.get_xlim() == (0, 3)  # both panels over the same rounds, though the joiner starts at 2
    assert [t.get_text() for t in fig.axes[0].texts] == ["no joiner yet"]
    y = _lines_with_label(fig.axes[0])[plots.label("orthogonal")].get_ydata()
    assert np.isnan(y[:2]).all() and y[3] == 1.0
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        plots.label("orthogonal"),
        plots.label("shared"),
    ]


def test_what_the_reproduce_targets_add_is_drawn_by_plots():
    fig = plots.fig5({"proposed": [1.0, 0.8]}, oracle_retain_loss=0.7)
    oracle = _lines_with_label(fig.axes[0])["oracle (retrained)"]
    np.testing.assert_array_equal(oracle.get_ydata(), [0.7, 0.7])
    fig = plots.fig4({"naive": [0.0, 1.0]}, steps=[0, 1], failed=["ewc"])
    assert [t.get_text() for t in fig.axes[0].texts] == [f"not shown (run failed): {plots.label('ewc')}"]
    shares = {"early": [0.5, 0.3], "late": [0.5, 0.7]}
    fig = plots.alloc([1e6, 2e6], {"convex": [2.0, 1.0]}, priority=[0.2, 0.8],
                      bandwidth_share_by_group=shares, varied_group="late")  # fmt: skip
    assert "late group" in fig.axes[1].get_xlabel()
    header, rows = plots.table3(
        {"uniform": {"final_gap": 0.5, "ri": 0.0, "norm_comm": 1.0, "norm_total": 1.0, "forget_gap": None}},
        {"uniform": [None, 0.0, 1.0, 1.0]},
    )
    assert len(header) == len(rows[0]) == 15 and rows[0][0] == plots.label("uniform")
    assert rows[0][1:3] == [0.5, None]  # one number: no ± column value
    described = {"mean": 0.4, "half_width": 0.05, "lo": 0.35, "hi": 0.45, "n": 3, "per_seed": [0.3, 0.4, 0.5]}
    header, rows = plots.table3(
        {"full": {k: described for k in ("final_gap", "ri", "norm_comm", "norm_total", "forget_gap")}},
        {"full": [0.39, 6.3, 0.58, 0.83]},
    )
    assert header[1:3] == ["final gap", "± gap"] and rows[0][1:3] == [0.4, 0.05]
    assert rows[0][-4:] == [0.39, 6.3, 0.58, 0.83]


@pytest.mark.parametrize("func", [plots.fig3, plots.fig5, plots.fig6])
def test_bands_shade_the_interval_and_the_figure_names_the_seeds(func):
    mean = {"proposed": [1.0, 0.5, 0.2], "naive": [1.0, 0.6, 0.4]}
    bands = {"proposed": ([0.9, 0.4, 0.1], [1.1, 0.6, 0.3])}
    fig = func(mean, bands=bands, seeds=8)
    ax = fig.axes[0]
    (band,) = ax.collections  # one band: naive has none
    lo_hi = band.get_paths()[0].vertices[:, 1]
    assert lo_hi.min() == pytest.approx(0.1) and lo_hi.max() == pytest.approx(1.1)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]  # a legend line, clear of the curves
    assert "mean of 8 seeds,\nshaded: 95 % t-interval" in legend
    one = func(mean, seeds=1).axes[0]
    assert not one.collections and "1 seed (no interval)" in [
        t.get_text() for t in one.get_legend().get_texts()
    ]


def test_run_summary_draws_losses_and_consensus_distance():
    from wirelora.learning.history import History

    history = History(config={"name": "tiny"})
    for r in range(3):
        history.append({"round": r, "retain_loss": 1.0 - 0.1 * r, "consensus_distance": 0.1 / (r + 1),
                        "event": {"leave": ["d0"]} if r == 1 else None})  # fmt: skip
    fig = plots.summary(history)
    loss, dist = fig.axes
    assert loss.get_title() == "tiny" and "retain (consensus)" in _lines_with_label(loss)
    np.testing.assert_allclose(dist.get_lines()[0].get_ydata(), [0.1, 0.05, 0.1 / 3], rtol=1e-6)


def test_coinciding_curves_stay_visible_and_are_named(rng):
    base = np.cumsum(rng.normal(size=K + 1))
    data = {"full": base, "ls_prox": base.copy(), "local_steps": base + 1e-3, "topology": base + 5.0}
    ax = plots.fig8(data).axes[0]
    lines = _lines_with_label(ax)
    assert lines["full"].get_linestyle() == "-" and lines["topology"].get_linestyle() == "-"
    assert lines["ls+prox"].get_linestyle() != "-" and lines["local-steps"].get_linestyle() != "-"
    assert lines["ls+prox"].get_linestyle() != lines["local-steps"].get_linestyle()  # three on one curve
    markers = {
        name: (line.get_marker(), line.get_markevery())
        for name, line in lines.items()
        if line.get_xdata().size
    }
    assert len({m for m, _ in markers.values()}) == 4 and len({e for _, e in markers.values()}) == 4
    assert "ls+prox = full (identical)" in lines and "local-steps ≈ full\n(within 1 % of the range)" in lines
    assert not any("topology" in name and "≈" in name for name in lines)


def test_fig4_clips_deep_dips_and_names_them(rng):
    steps = np.arange(0, 50, 5)
    ri = {"proposed": np.linspace(-20, 30, 10), "ewc": np.array([0, -50, -250, -180, 0, 10, 20, 0, 0, 0.0])}
    ax = plots.fig4(ri, steps=steps.tolist(), events=[(10, "leave d0")]).axes[0]
    lo, hi = ax.get_ylim()
    assert -110 < lo < -100 and hi > 30
    lines = _lines_with_label(ax)
    note = next(name for name in lines if name.startswith("below −100 %"))
    assert "EWC-leave/join: min −250 %" in note and "Proposed" not in note
    marks = [ln for ln in ax.get_lines() if ln.get_marker() == "v" and ln.get_xdata().size]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [10, 15]  # the two points below −100 %
    assert plots.fig4(ri, steps=steps.tolist(), ri_floor_pct=None).axes[0].get_ylim()[0] < -250


def test_fig7_labels_sit_beside_their_own_points_without_overlap():
    points = {  # figures/fig7.json: two pairs of arms almost on one point
        "full": (1.057, 0.4247),
        "ls_prox": (1.0714, 0.4289),
        "local_steps": (1.0714, 0.4131),
        "retain_prox": (1.0, 0.22786),
        "uniform": (1.0, 0.22825),
        "topology": (0.9857, 0.1581),
    }
    fig = plots.fig7(points, front=["topology"])
    ax = fig.axes[0]
    texts = {t.get_text(): t for t in ax.texts}
    assert set(texts) == {"full", "ls+prox", "local-steps", "retain-prox ≈ Uniform", "topology"}
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    boxes = {k: t.get_window_extent(renderer) for k, t in texts.items()}
    for a in boxes:
        for b in boxes:
            assert a == b or not boxes[a].overlaps(boxes[b]), (a, b)
    for name, (x, y) in points.items():  # each label within 40 px of its point
        key = next(k for k in boxes if plots.label(name) in k.split(" ≈ "))
        px = ax.transData.transform((x, y))
        bb = boxes[key]
        assert bb.x0 - 40 < px[0] < bb.x1 + 40 and bb.y0 - 40 < px[1] < bb.y1 + 40, name
    sizes = {c.get_label(): c.get_sizes()[0] for c in ax.collections if c.get_label() != "Pareto front"}
    assert sizes["Uniform"] < sizes["retain-prox"]  # drawn inside it, not hidden under it


def test_paper_style_drops_titles_and_refuses_unknown_styles():
    from wirelora.evaluation.plots.style import apply_style

    series = {"independent": [0.1, 0.2]}
    fig = plots.leakage([0.1, 0.2], series, series, theory=[0.1, 0.2], width=8)
    assert fig.get_suptitle() and all(ax.get_title() for ax in fig.axes)
    apply_style(fig, "paper")
    assert fig.get_suptitle() == "" and not any(ax.get_title() for ax in fig.axes)
    with pytest.raises(ValueError, match="style='poster'"):
        apply_style(fig, "poster")


def test_run_summary_of_a_correction_run_has_a_gap_panel_and_names_events():
    from wirelora.learning.history import History

    history = History(config={"name": "tiny"}, meta={"correction": {"method": "proposed"}})
    for r in range(4):
        history.append({"round": r, "retain_loss": 1.0, "consensus_distance": 0.1,
                        "event_gap": None if r < 2 else 0.5 / r,
                        "event": {"leave": ["d0"], "join": []} if r == 2 else None})  # fmt: skip
    fig = plots.summary(history)
    loss, dist, gap = fig.axes
    assert loss.get_ylabel() == "loss (nats)" and "(nats)" in gap.get_ylabel() and dist.get_ylabel()
    np.testing.assert_allclose(_lines_with_label(gap)["proposed"].get_ydata(), [0.25, 0.5 / 3])
    assert all(_event_labels(ax) == ["d0 leaves"] for ax in fig.axes)
    assert loss.get_xlim() == gap.get_xlim() == (0, 3)


def test_gap_curves_bridge_rounds_that_were_not_evaluated():
    """eval_every = 2 leaves NaN at odd k: Fig. 3 joins the evaluated points, and its band skips them too."""
    nan = float("nan")
    gap = {"proposed": [1.0, nan, 0.5, nan, 0.2]}
    fig = plots.fig3(gap, bands={"proposed": ([0.9, nan, 0.4, nan, 0.1], [1.1, nan, 0.6, nan, 0.3])}, seeds=3)
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == plots.label("proposed")]
    assert list(line.get_xdata()) == [0, 2, 4] and list(line.get_ydata()) == [1.0, 0.5, 0.2]
    (band,) = fig.axes[0].collections
    assert np.isfinite(band.get_paths()[0].vertices).all()
