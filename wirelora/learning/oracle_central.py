"""The certified oracle (``oracle.kind: central``): retrain from scratch, centralised, to a stationary point.

One model on the post-event members' training data: all their blocks (every member's slot columns of every
adapted layer) trained jointly from zero, full batch, on the objective the devices optimise,

    F(B) = (1/M) Σ_u L_u(B) + (weight_decay / 2) ‖B‖²

(L_u: device u's mean training loss over all its training data; :func:`~wirelora.learning.probes
.train_objective`), by deterministic L-BFGS with a strong-Wolfe line search. Every ``CHUNK`` iterations it
tests the current iterate: it stops when ``‖∇F‖₂ ≤ grad_tol`` and ``|F_prev − F| ≤ rel_tol · max(1, |F|)``
(F_prev: at the previous test, CHUNK iterations before), and raises :class:`~wirelora.errors.DivergenceError`
if ``max_steps`` iterations pass without it (an uncertified oracle is never used). The certificate (steps,
final_grad_norm, final objective, the tolerances, gap_tol) goes into ``meta.oracle`` of the History.
``gap_tol`` is the stated tolerance of the event gap on F: where F is μ-strongly convex around the oracle
(the weight decay adds weight_decay to every curvature) a point with gradient g is within ‖g‖² / (2μ) of
the local optimum, plus float32 evaluation noise. F is not convex everywhere: the certificate is
stationarity, and the gap ≥ −gap_tol is checked, not assumed (tests/learning/test_oracle_central.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from wirelora.errors import DivergenceError
from wirelora.learning.probes import train_objective

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["train_central_oracle"]

CHUNK = 25  # L-BFGS iterations between two stationarity tests
EVAL_NOISE = 1e-5  # float32 evaluation noise of F (nats), part of gap_tol


def _member_columns(state: TrainerState, name: str) -> torch.Tensor:
    sl = [state.adapter.slot_columns(d, name) for d in state.members]
    return torch.cat([torch.arange(s.start, s.stop, device=state.device) for s in sl])


def train_central_oracle(state: TrainerState) -> tuple[dict[str, torch.Tensor], dict]:
    """({layer: [out, S]}, certificate) of the centralised oracle on ``state.members``' training data."""
    oc = state.config.oracle
    cols = {n: _member_columns(state, n) for n in state.layer_names}
    shapes = {n: (state.blocks[n].shape[1], len(cols[n])) for n in state.layer_names}
    size = sum(o * c for o, c in shapes.values())
    flat = torch.zeros(size, device=state.device, requires_grad=True)

    def unflatten(p: torch.Tensor) -> dict[str, torch.Tensor]:
        out, at = {}, 0
        for n in state.layer_names:
            o, c = shapes[n]
            full = torch.zeros(o, state.blocks[n].shape[2], device=state.device, dtype=p.dtype)
            out[n] = full.index_copy(1, cols[n], p[at : at + o * c].reshape(o, c))
            at += o * c
        return out

    def closure():
        opt.zero_grad()
        f = train_objective(state, unflatten(flat), oc.weight_decay)
        f.backward()
        return f.detach()

    opt = torch.optim.LBFGS(
        [flat],
        lr=1.0,
        max_iter=CHUNK,
        max_eval=2 * CHUNK,
        history_size=oc.history_size,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )
    prev, steps = None, 0
    while True:
        f = float(closure())  # the test at the current iterate
        g = float(flat.grad.norm())
        if prev is not None and g <= oc.grad_tol and abs(prev - f) <= oc.rel_tol * max(1.0, abs(f)):
            cert = {
                "kind": "central",
                "members": list(state.members),
                "steps": steps,
                "final_grad_norm": g,
                "final_objective": f,
                "final_rel_change": abs(prev - f) / max(1.0, abs(f)),
                "grad_tol": oc.grad_tol,
                "rel_tol": oc.rel_tol,
                "weight_decay": oc.weight_decay,
                "gap_tol": g * g / (2.0 * oc.weight_decay) + EVAL_NOISE,
                "optimizer": f"lbfgs(strong_wolfe, history {oc.history_size}), full batch, float32",
            }
            with torch.no_grad():
                return {n: b.detach() for n, b in unflatten(flat.detach()).items()}, cert
        if steps >= oc.max_steps:
            break
        prev = f
        opt.step(closure)
        steps = int(opt.state[flat]["n_iter"])
    raise DivergenceError(
        f"oracle.max_steps={oc.max_steps}: the central oracle did not pass its stationarity test "
        f"(gradient norm {g:.3g} vs oracle.grad_tol={oc.grad_tol}, objective {f:.6g})"
    )
