"""SlotTable: the column formula (disjoint blocks that cover S), the free-slot policy, state round trip; the
adapter's ownership masks against the formula written out here; peft's switch through its public API."""

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from wirelora.learning.models import build_model
from wirelora.lora import OrthogonalLoRA, SlotTable


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 12), r=st.integers(1, 9))
def test_columns_are_disjoint_and_cover_all_columns(m, r):
    table = SlotTable(m)
    cover = torch.zeros(m * r, dtype=torch.int64)
    for s in range(m):
        cols = table.columns(s, r)
        assert cols.stop - cols.start == r
        cover[cols] += 1
    assert torch.equal(cover, torch.ones(m * r, dtype=torch.int64))  # each column in exactly one slot
    assert [table.columns(s, r).start for s in range(m)] == [s * r for s in range(m)]  # in slot order


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 10), r=st.integers(1, 6), data=st.data())
def test_column_mask_is_one_exactly_on_the_slots_columns(m, r, data):
    slots = data.draw(st.sets(st.integers(0, m - 1)))
    mask = SlotTable(m).column_mask(slots, r)
    expect = torch.tensor([1.0 if c // r in slots else 0.0 for c in range(m * r)])
    assert torch.equal(mask, expect)


def test_columns_reject_a_slot_outside_the_table():
    with pytest.raises(ValueError, match=r"slot=4: must be an integer in \[0, 3\]"):
        SlotTable(4).columns(4, 2)


def test_free_slot_policy_and_state_round_trip():
    table = SlotTable(3)
    zero = {0: False, 1: True, 2: True}
    table.assign("a", table.free_slot(zero.__getitem__))
    table.assign(("b", 1), table.free_slot(zero.__getitem__))
    assert table.members == ["a", ("b", 1)] and table.never_used == [2]
    assert table.release("a") == 0
    assert table.free_slot(zero.__getitem__) == 2  # never-used slots first
    table.assign("c", 2)
    assert table.free_slot(zero.__getitem__) is None  # slot 0 is freed but its block is not zero
    with pytest.raises(ValueError, match=r"slot=0: its block is not zero yet"):
        table.check_slot(0, zero.__getitem__)
    with pytest.raises(ValueError, match=r"slot=2: owned by device 'c'"):
        table.check_slot(2, zero.__getitem__)
    assert table.take_draw(2) == 0 and table.take_draw(0) == 1
    again = SlotTable(3)
    again.load_state_dict(json.loads(json.dumps(table.state_dict())))  # ("b", 1) -> a JSON list -> a tuple
    assert again.state_dict() == table.state_dict()
    assert again.members == [("b", 1), "c"] and again.slot_of(("b", 1)) == 1 and again.draws == {0: 1, 2: 0}


def _adapter(ownership="block", max_devices=8):
    model, card = build_model("tiny-mlp", seed=0)
    return OrthogonalLoRA(
        model, **(card.lora_kwargs() | {"max_devices": max_devices, "ownership": ownership})
    )


@pytest.mark.parametrize("ownership", ["block", "shared"])
def test_ownership_mask_equals_the_column_formula(ownership):
    ol = _adapter(ownership)
    for d in ("a", "b", "c", "d"):
        ol.add_device(d)
    ol.remove_device("b")  # a hole: slot 1 is free, members hold slots 0, 2, 3
    rows = ["d", "a", "c"]
    for n in ol.module_names:
        r = ol.rank(n)
        mask = ol.ownership_mask(n, rows)
        assert mask.shape == (3, 1, 8 * r) and mask.dtype == torch.float32
        expect = torch.zeros(3, 1, 8 * r)
        for m, d in enumerate(rows):
            s = {"a": 0, "c": 2, "d": 3}[d]
            if ownership == "block":
                expect[m, 0, s * r : (s + 1) * r] = 1.0
            else:
                expect[:, 0, s * r : (s + 1) * r] = 1.0
        assert torch.equal(mask, expect)
        idx = ol.own_index(n, rows)
        assert torch.equal(idx, torch.stack([torch.arange(s * r, (s + 1) * r) for s in (3, 0, 2)]))


def test_peft_switched_off_gives_the_base_models_logits():
    ol = _adapter()
    pristine = build_model("tiny-mlp", seed=0)[0]
    ol.add_device("a")
    ol.add_device("b")
    gen = torch.Generator().manual_seed(1)
    for n in ol.module_names:
        for d in ol.members:
            blk = ol.block(d, n)
            blk.copy_(torch.randn(blk.shape, generator=gen))
    x = torch.randn(6, 32, generator=gen)
    with torch.no_grad():
        base, adapted = pristine(x), ol.model(x)
        assert not torch.allclose(adapted, base)  # the adapter does change the outputs
        ol.set_peft_enabled(False)
        assert all(ol.lora_layer(n).disable_adapters for n in ol.module_names)
        assert torch.equal(ol.model(x), base)
        with ol.peft_enabled(True):
            assert torch.equal(ol.model(x), adapted)
        assert torch.equal(ol.model(x), base)  # back off after the block
        ol.set_peft_enabled(True)
        assert torch.equal(ol.model(x), adapted)
    for on in (False, True):  # peft's switch touches requires_grad; the adapter's rule holds either way
        ol.set_peft_enabled(on)
        assert [n for n, p in ol.model.named_parameters() if p.requires_grad] == [
            f"{n}.lora_B.default.weight" for n in ol.module_names
        ]
