"""Policies: Fisher priority (Algorithm 1), Table II, the ablation arms, and the dominant-residual rule."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirelora.config import ConfigError
from wirelora.correction import config as C
from wirelora.correction import plan as PL
from wirelora.correction import priority as PR
from wirelora.correction import residual_rule as RR
from wirelora.correction import residuals as R


def _group_grads(x, t, a, b):
    """Per-sample and per-device gradients of ½‖B Aᵀx − t‖² w.r.t. B, by autograd on a real torch model."""
    import torch

    def loss(bb, xs, ts):
        return 0.5 * ((xs @ a) @ bb.T - ts).pow(2).sum()

    per_sample = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(b, x, t)  # [S, out, r]
    devices = torch.stack(
        [
            torch.func.grad(lambda bb, xd=xd, td=td: loss(bb, xd, td) / xd.shape[0])(b)
            for xd, td in zip(x.chunk(3), t.chunk(3))
        ]
    )  # [M=3, out, r]
    return per_sample, devices


def test_fisher_matches_the_definition_and_scales_with_the_data():
    import torch

    g = torch.Generator().manual_seed(0)
    a = torch.linalg.qr(torch.randn(10, 4, generator=g, dtype=torch.float64))[0]  # [in, r]
    b = torch.randn(5, 4, generator=g, dtype=torch.float64) * 0.1  # [out, r]
    x = torch.randn(12, 10, generator=g, dtype=torch.float64)
    t = torch.randn(12, 5, generator=g, dtype=torch.float64)
    ps, dev = _group_grads(x, t, a, b)
    # F = mean_s G_sᵀ G_s against the explicit formula G_s = (B Aᵀx − t)(Aᵀx)ᵀ
    feat = x @ a
    resid = feat @ b.T - t
    gs = resid[:, :, None] * feat[:, None, :]
    assert torch.allclose(ps, gs)
    f_expect = np.mean([gi.T @ gi for gi in gs.numpy()], axis=0)
    assert np.allclose(PR.empirical_fisher(ps), f_expect, rtol=1e-12)
    # Scaling the group's inputs and targets by c scales every G by c²: λ_max(F) by c⁴, the energy by c⁴
    s1 = PR.fisher_score(ps, dev)
    ps2, dev2 = _group_grads(2.0 * x, 2.0 * t, a, b)
    assert PR.fisher_score(ps2, dev2) == pytest.approx(2.0**8 * s1, rel=1e-10)
    # ... and shifts the priority toward that group
    other = 0.5 * s1
    p_before = PR.priorities([s1, other])
    p_after = PR.priorities([PR.fisher_score(ps2, dev2), other])
    assert p_after[0] > p_before[0] and p_after.sum() == pytest.approx(1.0)


def test_fisher_sums_layers():
    rng = np.random.default_rng(0)
    l1, l2 = rng.standard_normal((6, 3, 4)), rng.standard_normal((6, 7, 4))
    assert np.allclose(PR.empirical_fisher([l1, l2]), PR.empirical_fisher(l1) + PR.empirical_fisher(l2))
    with pytest.raises(ValueError, match="per_sample_grads"):
        PR.empirical_fisher([l1, rng.standard_normal((6, 3, 5))])


def test_gradient_energy_and_spread_by_hand():
    grads = np.array([[[1.0, 2.0]], [[3.0, 0.0]]])  # [M=2, out=1, r=2]
    assert PR.gradient_energy(grads) == pytest.approx((5.0 + 9.0) / 2)
    assert PR.gradient_spread(grads) == pytest.approx(((1 - 2) ** 2 + (2 - 1) ** 2) * 2 / 2)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=6).filter(lambda s: sum(s) > 1e-3))
def test_priorities_sum_to_one(scores):
    p = PR.priorities(scores)
    assert np.all(p >= 0) and p.sum() == pytest.approx(1.0, abs=1e-9)


def test_schedule_maps_as_specified():
    cfg = C.PolicyConfig(n_min=1, n_max=5, lambda_max=0.01, gamma_min=0.2, sync_max=4)
    p = np.array([0.1, 0.3, 0.6])
    plan = PL.priority_schedule(p, cfg)
    assert plan.local_steps.tolist() == [1 + int(4 * 0.1), 1 + int(4 * 0.3), 1 + int(4 * 0.6)]  # [1, 2, 3]
    assert np.allclose(plan.prox, 0.01 * p)
    assert np.allclose(plan.gamma, 0.2 + 0.8 * p)
    assert plan.sync_period.tolist() == [1 + int(3 * (1 - 0.1 / 0.6)), 1 + int(3 * 0.5), 1]  # [3, 2, 1]


def test_table_ii_binned():
    # The paper's Table II: S = (0.635, 1.139, 2.055) -> n = (1, 1, 2), λ = (0, 0, 1e-3), γ = 0.40 for all
    plan = PL.fisher_plan([0.635, 1.139, 2.055], C.PolicyConfig(binned=True))
    assert plan.local_steps.tolist() == [1, 1, 2]
    assert plan.prox.tolist() == [0.0, 0.0, 1e-3]
    assert plan.gamma.tolist() == [0.4, 0.4, 0.4]
    # the continuous map with n_max = 3 gives the same local steps (the floor)
    assert PL.fisher_plan([0.635, 1.139, 2.055], C.PolicyConfig()).local_steps.tolist() == [1, 1, 2]


@pytest.mark.parametrize("arm", C.ARMS)
def test_arms_drive_only_their_knobs(arm):
    cfg = C.PolicyConfig(arm=arm, n_max=5, sync_max=4)
    scores = [0.5, 1.0, 3.0]
    plan = PL.fisher_plan(scores, cfg)
    uni = PL.uniform_plan(3, cfg)
    if arm == "no_correction":
        assert plan.local_steps.tolist() == [0, 0, 0] and np.all(plan.gamma == 0)
        return
    full = PL.fisher_plan(scores, C.PolicyConfig(arm="full", n_max=5, sync_max=4))
    knobs = {"local": "local_steps", "prox": "prox", "topology": "gamma", "sync": "sync_period"}
    for action, attr in knobs.items():
        expect = full if action in cfg.actions else uni
        assert np.array_equal(getattr(plan, attr), getattr(expect, attr)), (arm, attr)
    if arm == "uniform":
        assert np.allclose(plan.priority, 1 / 3)


def test_uniform_plan_values():
    plan = PL.uniform_plan(3, C.PolicyConfig(n_min=1, n_max=4, lambda_max=0.3, gamma_min=0.1))
    assert plan.local_steps.tolist() == [2, 2, 2] and np.allclose(plan.prox, 0.1)
    assert np.allclose(plan.gamma, 0.1 + 0.9 / 3) and plan.sync_period.tolist() == [1, 1, 1]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"arm": "fancy"}, "policy.arm"),
        ({"n_min": 3, "n_max": 2}, "policy.n_max"),
        ({"gamma_min": 1.5}, "policy.gamma_min"),
        ({"bins": (0.6, 0.2)}, "policy.bins"),
        ({"rule": "magic"}, "policy.rule"),
    ],
)
def test_bad_policy_config_names_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        C.PolicyConfig(**kwargs)


def test_bad_correction_config_names_the_field():
    with pytest.raises(ConfigError, match="correction.method"):
        C.CorrectionConfig(method="magic")
    with pytest.raises(ConfigError, match="correction.rounds"):
        C.CorrectionConfig(rounds=-1)


# ------------------------------------------------------------------------------------ dominant residual
_CFG = RR.REGIME_POLICY  # the regime figure's settings
_REGIMES = {  # name -> (hand-set μ, ζ, ρ, gap, disagreement), the action that attacks its residual
    "loc": (dict(mu=0.05, zeta=0.0, rho=0.2, init_gap=3.0, disagreement=0.0), "local"),
    "con": (dict(mu=0.05, zeta=0.05, rho=0.99, init_gap=0.0, disagreement=20.0), "topology"),
    "het": (dict(mu=0.1, zeta=1.0, rho=0.0, init_gap=0.1, disagreement=0.0), "prox"),
}


def _true_error_after(state, action, rounds=20, eta=0.5):
    kw = dict(local_steps=_CFG.n_min, prox=0.0, gamma=_CFG.gamma_min, sync_period=1)
    kw.update(
        {
            "local": dict(local_steps=_CFG.n_min + 1),
            "prox": dict(prox=_CFG.lambda_max / _CFG.prox_levels),
            "topology": dict(gamma=_CFG.gamma_min + _CFG.gamma_step),
            "none": {},
        }[action]
    )
    return R.simulate_quadratic(state, rounds=rounds, step_size=eta, **kw)[-1]


def test_dominant_residual_switches_actions_across_regimes():
    chosen = {}
    for name, (params, expected) in _REGIMES.items():
        q = R.SyntheticQuadratic(gamma_min=_CFG.gamma_min, **params)
        state = q.build(seed=0)
        obs = RR.quadratic_observables(state)
        plan = RR.residual_plan(obs, _CFG, rounds=20, step_size=0.5, **RR.quadratic_policy_inputs(state))
        first = plan.actions[0][1]
        chosen[name] = first
        grid = RR.regime_grid(rounds=20, step_size=0.5, cfg=_CFG, **params)
        assert str(grid["dominant"]) == name  # the regime is what it says
        assert first == expected, (name, plan.actions)
        # the rule's choice is the action that truly helps most on the quadratic (simulated DGD)
        true = {a: _true_error_after(state, a) for a in ("none", "local", "prox", "topology")}
        assert min(true, key=true.get) == first, (name, true)
    assert len(set(chosen.values())) == 3


def test_regime_grid_shape_and_switch():
    grid = RR.regime_grid(
        zeta=[0.0, 1.0],
        rho=[0.0, 0.99],
        mu=0.1,
        init_gap=0.0,
        disagreement=20.0,
        rounds=20,
        step_size=0.5,
        cfg=_CFG,
    )
    assert grid["action"].shape == (2, 2) and grid["residuals"].shape == (2, 2, 3)
    assert list(grid["axes"]) == ["zeta", "rho"]
    assert grid["action"][0, 1] == "topology"  # homogeneous, poorly mixed: mix more
    assert grid["action"][1, 0] == "prox"  # heterogeneous, well mixed: damp the drift


def test_residual_plan_respects_budgets():
    obs = RR.Observables(
        grad_energy=np.array([1.0, 0.5, 2.0]),
        grad_spread=np.array([0.3, 0.3, 0.3]),
        disagreement=np.array([1.0, 1.0, 1.0]),
        smoothness=np.array([1.0, 1.0, 1.0]),
    )
    cfg = C.PolicyConfig(rule="residual", compute_budget=1.5, comm_budget=0.7, min_gain=0.0)
    kw = dict(
        rho_fn=lambda g: 1.0 - 0.8 * np.asarray(g),
        payload_bits=np.array([1.0, 2.0, 4.0]),
        compute_units=np.array([1.0, 2.0, 4.0]),
        edges_fn=lambda g: 5 + round(10 * g),
    )
    plan = RR.residual_plan(obs, cfg, rounds=30, step_size=0.3, **kw)
    uni = PL.uniform_plan(3, cfg)
    assert plan.actions  # it did something
    assert (
        RR.plan_compute(plan, kw["compute_units"]).sum()
        <= 1.5 * RR.plan_compute(uni, kw["compute_units"]).sum()
    )
    bits = RR.plan_comm_bits(plan, kw["payload_bits"], kw["edges_fn"]).sum()
    assert bits <= 0.7 * RR.plan_comm_bits(uni, kw["payload_bits"], kw["edges_fn"]).sum() + 1e-9
