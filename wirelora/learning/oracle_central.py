"""The certified oracle (``oracle.kind: central``): retrain from scratch, centralised, to a stationary point.

One model on the post-event members' training data: all their blocks (every member's slot columns of every
adapted layer) trained jointly from zero, full batch, on the objective the devices optimise,

    F(B) = (1/M) Σ_u L_u(B) + (weight_decay / 2) ‖B‖²

(L_u: device u's mean training loss over all its training data; :func:`~wirelora.learning.probes
.train_objective`), by deterministic L-BFGS with a strong-Wolfe line search. It stops at the first iterate
that passes the stationarity test ``‖∇F‖₂ ≤ grad_tol`` and ``|F_prev − F| ≤ rel_tol · max(1, |F|)``, and
raises :class:`~wirelora.errors.DivergenceError` if ``max_steps`` pass without it (an uncertified oracle is
never used). The certificate (steps, final_grad_norm, final objective, the tolerances, gap_tol) goes into
``meta.oracle`` of the History. ``gap_tol`` is the tolerance of the event gap measured on F: the weight decay
makes F strongly convex near its optimum, so the suboptimality of a point with gradient g is about
‖g‖² / (2 · weight_decay), plus float32 evaluation noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from wirelora.errors import DivergenceError
from wirelora.learning.probes import train_objective

if TYPE_CHECKING:
    from wirelora.learning.state import TrainerState

__all__ = ["train_central_oracle"]

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

    first: dict = {}

    def closure():
        opt.zero_grad()
        f = train_objective(state, unflatten(flat), oc.weight_decay)
        f.backward()
        if not first:  # the first evaluation of a step is at the current iterate
            first.update(f=float(f), g=float(flat.grad.norm()), p=flat.detach().clone())
        return f

    opt = torch.optim.LBFGS(
        [flat],
        lr=1.0,
        max_iter=1,
        history_size=oc.history_size,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )
    prev = None
    for steps in range(oc.max_steps + 1):
        first.clear()
        opt.step(closure)
        f, g = first["f"], first["g"]
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
                "optimizer": f"lbfgs(strong_wolfe, history {oc.history_size}), full batch",
            }
            with torch.no_grad():
                return {n: b.detach() for n, b in unflatten(first["p"]).items()}, cert
        prev = f
    raise DivergenceError(
        f"oracle.max_steps={oc.max_steps}: the central oracle did not pass its stationarity test "
        f"(gradient norm {g:.3g} vs oracle.grad_tol={oc.grad_tol}, objective {f:.6g})"
    )
