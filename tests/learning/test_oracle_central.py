"""The certified central oracle (oracle.kind: central): its certificate holds, and the event gap measured on
the devices' training objective is >= -gap_tol in every post-event round."""

from __future__ import annotations

import pytest
import torch

from wirelora.config import ConfigError
from wirelora.experiments.runner import load_run_config
from wirelora.learning.config import OracleConfig
from wirelora.learning.loop import run
from wirelora.learning.oracle import train_oracle
from wirelora.learning.probes import train_objective
from wirelora.learning.state import TrainerState

SMALL = [
    "trainer.rounds=16",
    "events=[{round: 8, leave: [d0]}]",
    "oracle.enabled=true",
    "oracle.kind=central",
]


@pytest.fixture(scope="module")
def history():
    torch.set_num_threads(1)
    return run(load_run_config("leave-only-mlp", SMALL))


def test_certificate_in_history_and_it_holds(history):
    (cert,) = history.meta["oracle"]
    assert cert["round"] == 8 and cert["members"] == ["d1", "d2", "d3", "d4", "d5"]
    assert cert["final_grad_norm"] <= cert["grad_tol"]
    assert cert["final_rel_change"] <= cert["rel_tol"]
    assert cert["steps"] >= 1
    rounds = [r for r in history.rounds if r["round"] >= 8]
    assert all(
        r["oracle_train_objective"] == pytest.approx(cert["final_objective"], abs=1e-6) for r in rounds
    )


def test_certificate_recomputed_from_the_oracle_blocks():
    torch.set_num_threads(1)
    state = TrainerState(load_run_config("leave-only-mlp", SMALL), seed=0)
    state.members = ["d1", "d2", "d3", "d4", "d5"]  # the post-event members (no slot change is needed)
    blocks = train_oracle(state, None)
    cert = state.oracle_certificate
    leaves = {n: b.clone().requires_grad_(True) for n, b in blocks.items()}
    f = train_objective(state, leaves, cert["weight_decay"])
    grads = torch.autograd.grad(f, list(leaves.values()))
    cols = [
        torch.cat(
            [torch.arange(s.start, s.stop) for s in (state.adapter.slot_columns(d, n) for d in state.members)]
        )
        for n in leaves
    ]
    norm = float(torch.sqrt(sum((g[:, c] ** 2).sum() for g, c in zip(grads, cols))))
    assert float(f.detach()) == pytest.approx(cert["final_objective"], abs=1e-6)
    assert norm <= cert["grad_tol"]
    # the leaver's columns stay zero: the oracle never trains a non-member's block
    for n, b in blocks.items():
        c = state.adapter.slot_columns("d0", n)
        assert torch.count_nonzero(b[:, c]) == 0


def test_event_gap_on_training_objective_is_never_below_minus_tol(history):
    (cert,) = history.meta["oracle"]
    gaps = [r["train_objective"] - r["oracle_train_objective"] for r in history.rounds if r["round"] >= 8]
    assert len(gaps) == 8
    assert min(gaps) >= -cert["gap_tol"]


def test_bad_oracle_kind_is_one_line_error():
    with pytest.raises(ConfigError, match="oracle.kind"):
        OracleConfig(kind="centre")
    with pytest.raises(ConfigError, match="oracle.grad_tol"):
        OracleConfig(grad_tol=0.0)
