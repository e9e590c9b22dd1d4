"""OrthogonalLoRA on the tiny MLP: exact leave (slotted), leakage (independent), join,
ownership, state, errors."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wirelora.learning.models import TinyMLP, build_model
from wirelora.lora import OrthogonalLoRA, contribution_residual, project_out

RANKS = {"early": 4, "mid": 8, "late": 16}


def _mlp(basis="slotted", seed=0, max_devices=8, **kw):
    model, card = build_model("tiny-mlp", seed=0)
    kwargs = card.lora_kwargs() | {"max_devices": max_devices} | kw
    return OrthogonalLoRA(model, basis=basis, seed=seed, **kwargs)


def _fill(ol, gen):
    for name in ol.module_names:
        for dev in ol.members:
            blk = ol.block(dev, name)
            blk.copy_(torch.randn(blk.shape, generator=gen))


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


@pytest.fixture
def x(gen):
    return torch.randn(16, 32, generator=gen)


def test_peft_layers_frozen_bases_and_shapes():
    ol = _mlp()
    assert ol.module_names == ["fc1", "fc2", "fc3"]
    assert ol.groups == {"early": ["fc1"], "mid": ["fc2"], "late": ["fc3"]}
    layer = ol.lora_layer("fc3")
    assert type(layer).__module__.startswith("peft.")
    assert layer.lora_A["default"].weight.requires_grad is False
    assert layer.lora_B["default"].weight.requires_grad is True
    assert [n for n, p in ol.model.named_parameters() if p.requires_grad] == [
        f"{n}.lora_B.default.weight" for n in ("fc1", "fc2", "fc3")
    ]
    a = ol.basis_matrix("fc3")
    assert a.shape == (128, 128) and ol.rank("fc3") == 16 and ol.scaling("fc3") == 1.0
    torch.testing.assert_close(a.T @ a, torch.eye(128), atol=1e-5, rtol=0)


def test_delta_weight_is_the_sum_of_contributions_and_what_the_layer_adds(gen, x):
    ol = _mlp(scaling=0.5)
    for d in ("a", "b", "c"):
        ol.add_device(d)
    _fill(ol, gen)
    for name in ol.module_names:
        ref = sum(ol.block(d, name) @ ol.basis(d, name).T for d in ol.members) * 0.5
        torch.testing.assert_close(ol.delta_weight(name), ref, atol=1e-5, rtol=1e-5)
        layer = ol.lora_layer(name)
        h = torch.randn(5, layer.in_features, generator=gen)
        torch.testing.assert_close(
            layer(h) - layer.base_layer(h), h @ ol.delta_weight(name).T, atol=1e-4, rtol=1e-4
        )


def test_slotted_leave_is_exact(gen, x):
    ol = _mlp()
    for d in ("d0", "d1", "d2", "d3"):
        ol.add_device(d)
    _fill(ol, gen)
    before = ol.adapter_state()
    a_u = {n: ol.basis("d1", n) for n in ol.module_names}
    cols = {n: ol.slot_columns("d1", n) for n in ol.module_names}
    leak = ol.remove_device("d1")
    assert ol.members == ["d0", "d2", "d3"]
    after = ol.adapter_state()
    for n in ol.module_names:
        dw = ol.delta_weight(n)
        assert (torch.linalg.matrix_norm(dw @ a_u[n]) / torch.linalg.matrix_norm(dw)) < 1e-6
        assert leak[n] < 1e-6
        keep = torch.ones(after[n].shape[1], dtype=torch.bool)
        keep[cols[n]] = False
        assert torch.equal(after[n][:, keep], before[n][:, keep])  # every other block bit-identical
        assert torch.count_nonzero(after[n][:, cols[n]]) == 0

    # outputs equal those of a model that never had d1 (same slots for the others)
    ref = _mlp()
    for d, s in (("d0", 0), ("d2", 2), ("d3", 3)):
        ref.add_device(d, slot=s)
    ref.load_adapter_state(after)
    assert torch.equal(ol.model(x), ref.model(x))


def test_join_with_zero_block_changes_nothing(gen, x):
    for basis in ("slotted", "independent"):
        ol = _mlp(basis=basis)
        ol.add_device("a")
        ol.add_device("b")
        _fill(ol, gen)
        y = ol.model(x)
        ol.add_device("c")
        assert torch.equal(ol.model(x), y)
        assert torch.count_nonzero(ol.block("c", "fc2")) == 0


def test_warm_start_join_sets_the_block(gen):
    ol = _mlp()
    init = {n: torch.randn(128, ol.rank(n), generator=gen) for n in ol.module_names}
    ol.add_device("w", init=init)
    assert all(torch.equal(ol.block("w", n), init[n]) for n in ol.module_names)
    with pytest.raises(ValueError, match=r"init\['fc1'\]: shape"):
        ol.add_device("v", init={n: torch.zeros(3, 3) for n in ol.module_names})


def test_independent_leave_matches_the_factor_form_and_reports_leakage(gen):
    ol = _mlp(basis="independent", seed=5)
    for d in range(6):
        ol.add_device(d)
    _fill(ol, gen)
    name = "fc3"
    b = ol.adapter_state()[name].double().numpy()
    a = ol.basis_matrix(name).double().numpy()
    a_u = a[:, ol.slot_columns(2, name)]
    overlap = float(np.sum((ol.basis(1, name).double().numpy().T @ a_u) ** 2))
    assert overlap > 0.1  # independent bases do overlap (E = r²/d = 2 here)
    leak = ol.remove_device(2)
    b_ref = b - (b @ (a.T @ a_u)) @ (a_u.T @ a)  # eq. 19 in float64
    np.testing.assert_allclose(ol.adapter_state()[name].double().numpy(), b_ref, atol=1e-4, rtol=1e-4)
    # leakage = ‖ΔW'A_u‖ / ‖ΔW A_u‖ (a residual of order (M-1) r/d that the factor form leaves)
    ref_leak = np.linalg.norm(b_ref @ a.T @ a_u) / np.linalg.norm(b @ a.T @ a_u)
    assert leak[name] == pytest.approx(ref_leak, rel=1e-3)
    assert 1e-3 < leak[name] < 1.0
    # the freed slot keeps a nonzero residual block, so it is retired, not reused
    assert ol.retired_slots == [2]
    assert ol.free_slot == 6


def test_project_out_on_stacked_copies_matches_per_copy(gen):
    ol = _mlp()
    for d in ("a", "b", "c"):
        ol.add_device(d)
    a = ol.basis_matrix("fc2")
    stack = torch.randn(5, 128, 64, generator=gen)  # [M, out, S]: five device copies
    stack[..., 24:] = 0  # slots 3.. unused
    cols = ol.slot_columns("b", "fc2")
    out = ol.project_out(stack, "fc2", "b")
    for m in range(5):
        assert torch.equal(out[m], project_out(stack[m], a, cols, slotted=True))
    # with slotted bases the general factor form agrees with the exact zeroing to float precision
    general = project_out(stack, a, cols)
    torch.testing.assert_close(general, out, atol=1e-5, rtol=0)
    res = contribution_residual(out, a, cols)
    assert res.shape == (5,) and torch.all(res < 1e-6)
    assert torch.all(contribution_residual(stack, a, cols) > 0.1)


@pytest.mark.parametrize("ownership", ["block", "shared"])
def test_gradients_reach_only_owned_blocks_and_free_slots_stay_zero(gen, x, ownership):
    ol = _mlp(ownership=ownership)
    for d in ("a", "b", "c"):
        ol.add_device(d)
    _fill(ol, gen)
    opt = torch.optim.Adam(ol.parameters(), lr=1e-2)
    before = ol.adapter_state()
    with ol.owned_by("b"):
        loss = ol.model(x).square().mean()
        loss.backward()
        opt.step()
    after = ol.adapter_state()
    for n in ol.module_names:
        changed = (after[n] != before[n]).any(0)  # [S]
        r = ol.rank(n)
        expect = torch.zeros(8 * r, dtype=torch.bool)
        if ownership == "block":
            expect[ol.slot_columns("b", n)] = True
        else:
            expect[: 3 * r] = True
        assert torch.equal(changed, expect)
        assert torch.count_nonzero(after[n][:, 3 * r :]) == 0  # unused slots exactly zero
        assert torch.equal(
            ol.gradient_mask(n, ["b"]).bool(),
            torch.zeros(8, dtype=torch.bool).index_fill(0, torch.tensor([1]), True).repeat_interleave(r),
        )


def test_free_slot_policy_reuses_only_after_never_used_slots():
    ol = _mlp(max_devices=3)
    assert ol.add_device("a") == 0 and ol.add_device("b") == 1
    ol.remove_device("a")
    assert ol.free_slot == 2
    assert ol.add_device("c") == 2
    assert ol.free_slot == 0
    assert ol.add_device("d") == 0
    assert ol.members == ["d", "b", "c"]
    with pytest.raises(ValueError, match=r"no free slot.*max_devices=3.*max_devices=6"):
        ol.add_device("e")


def test_adapter_state_round_trip_and_bad_states(gen, x):
    ol = _mlp()
    ol.add_device("a")
    ol.add_device("b")
    _fill(ol, gen)
    state = ol.adapter_state()
    y = ol.model(x)
    ol.remove_device("a")
    ol.add_device("a", slot=0)
    ol.load_adapter_state(state)
    assert torch.equal(ol.model(x), y)
    bad = dict(state, fc2=torch.zeros(128, 63))
    with pytest.raises(
        ValueError, match=r"'fc2': shape \(128, 63\) does not match the adapter's \(128, 64\)"
    ):
        ol.load_adapter_state(bad)
    with pytest.raises(ValueError, match="missing layer 'fc3'"):
        ol.load_adapter_state({k: v for k, v in state.items() if k != "fc3"})
    dirty = {k: v.clone() for k, v in state.items()}
    dirty["fc1"][:, -1] = 1.0
    with pytest.raises(ValueError, match="unused slot 7 is not zero"):
        ol.load_adapter_state(dirty)


@pytest.mark.parametrize("basis", ["slotted", "independent"])
def test_save_and_load_with_slot_table(tmp_path, gen, x, basis):
    ol = _mlp(basis=basis, seed=11, max_devices=4)
    for d in ("a", "b", "c"):
        ol.add_device(d)
    _fill(ol, gen)
    ol.remove_device("a")
    ol.add_device("z")
    y = ol.model(x)
    path = ol.save(tmp_path / "adapter.safetensors")

    model, _ = build_model("tiny-mlp", seed=0)
    back = OrthogonalLoRA.from_file(model, path)
    assert back.members == ol.members and back.basis_kind == basis
    assert [back.slot_of(d) for d in back.members] == [ol.slot_of(d) for d in ol.members]
    assert back.free_slot == ol.free_slot and back.retired_slots == ol.retired_slots
    assert torch.equal(back.model(x), y)
    for n in ol.module_names:
        assert torch.equal(back.basis_matrix(n), ol.basis_matrix(n))

    other = _mlp(basis=basis, seed=12, max_devices=4)
    with pytest.raises(ValueError, match="slot table seed=11: this adapter has 12"):
        other.load(path)


def test_errors_name_the_problem():
    ol = _mlp()
    ol.add_device("a")
    with pytest.raises(ValueError, match="device 'a' is already a member"):
        ol.add_device("a")
    with pytest.raises(ValueError, match="device 'x' is not a member"):
        ol.remove_device("x")
    with pytest.raises(ValueError, match="slot=0: owned by device 'a'"):
        ol.add_device("b", slot=0)
    with pytest.raises(
        ValueError, match=r"rank=16 for layer 'fc1'.*max_devices \* rank = 8 \* 16 = 128 <= in_features=32"
    ):
        OrthogonalLoRA(TinyMLP(), ["fc1"], rank=16)
    with pytest.raises(ValueError, match=r"rank=64 for layer 'fc1'.*exceeds in_features=32"):
        OrthogonalLoRA(TinyMLP(), ["fc1"], rank=64, basis="independent")
    with pytest.raises(ValueError, match="target_modules: 'q_proj' matches no module"):
        OrthogonalLoRA(TinyMLP(), ["q_proj"])
    with pytest.raises(ValueError, match="target_modules: 'act' matches only non-Linear"):
        OrthogonalLoRA(TinyMLP(), ["act"])
    with pytest.raises(ValueError, match="basis='qr': must be one of slotted, independent"):
        OrthogonalLoRA(TinyMLP(), ["fc2"], basis="qr")
    with pytest.raises(ValueError, match="rank: no rank for layer group 'late'"):
        OrthogonalLoRA(TinyMLP(), ["fc1", "fc2", "fc3"], rank={"early": 2, "mid": 2})


def test_same_seed_same_adapter_bit_for_bit():
    a, b, c = _mlp(seed=3), _mlp(seed=3), _mlp(seed=4)
    assert torch.equal(a.basis_matrix("fc2"), b.basis_matrix("fc2"))
    assert not torch.equal(a.basis_matrix("fc2"), c.basis_matrix("fc2"))


@settings(max_examples=25, deadline=None)
@given(
    d=st.integers(8, 48),
    r=st.integers(1, 4),
    m=st.integers(2, 6),
    u=st.integers(0, 5),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_project_out_properties(d, r, m, u, batch, seed):
    from wirelora.lora.bases import slotted_basis

    assume(m * r <= d and u < m)
    a = torch.from_numpy(slotted_basis(d, r, m, seed=seed, layer_index=0))  # float64 [d, S]
    b = torch.randn(batch, 5, m * r, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    cols = slice(u * r, (u + 1) * r)
    exact = project_out(b, a, cols, slotted=True)
    general = project_out(b, a, cols)
    torch.testing.assert_close(general, exact, atol=1e-12, rtol=0)  # eq. 19 = zeroing the block
    torch.testing.assert_close(project_out(general, a, cols), general, atol=1e-12, rtol=0)  # a projection
    assert torch.all(contribution_residual(general, a, cols) < 1e-12)
    assert torch.equal(contribution_residual(torch.zeros_like(b), a, cols), torch.zeros(batch, dtype=b.dtype))


@given(n=st.integers(1, 30), per_depth=st.integers(1, 3))
def test_default_layer_groups_are_contiguous_balanced_thirds(n, per_depth):
    from wirelora.lora import default_layer_groups

    names = [f"model.layers.{i}.attn.{p}" for i in range(n) for p in ("q", "v", "k")[:per_depth]]
    groups = default_layer_groups(names)
    seq = [groups[f"model.layers.{i}.attn.q"] for i in range(n)]
    order = {"early": 0, "mid": 1, "late": 2}
    assert seq == sorted(seq, key=order.__getitem__)  # early -> late by depth
    assert all(
        groups[x] == groups[f"model.layers.{x.split('.')[2]}.attn.q"] for x in names
    )  # one group per block
    counts = [seq.count(g) for g in dict.fromkeys(seq)]
    assert len(counts) == min(3, n) and max(counts) - min(counts) <= 1
