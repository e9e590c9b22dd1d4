"""The base class of every correction method: the trainer's hooks, the correction window, the joint round and
what every method measures (docs/method.md §8, §9).

The round loop (:func:`wirelora.learning.loop.run`) calls, per round k:

    before_event(state, event)   right before the leave projection / join (the pre-event model is still there)
    on_event(state, event)       after it (and after the oracle): the method's one-off action, its plan
    schedule(state, k)           the method's Schedule, or None for the trainer's default
    penalty(state, logits, b)    an extra per-device loss [M], or None
    after_round(state, k)        numbers the round's History record gains
    finish(state)                once, after the last round
    state_dict / load_state_dict saved in and restored from the trainer checkpoint (a resume is identical)
    report()                     what :func:`wirelora.evaluation.summary.summarize` needs beyond the History

The base class does what all eight methods share: after each event a window of ``correction.rounds`` rounds
in which :meth:`schedule` runs the method's :class:`~wirelora.correction.plan.GroupPlan` through the joint
policy-allocator round (latency_s, energy_j, edge_cost, comm_bits, local_steps in the record) and also prices
the same round under the uniform arm (bits and local steps, the reference of NormComm / NormCompute); in the
window :meth:`after_round` measures the forget gap against the oracle and the leavers' contribution residual.
A method overrides :meth:`correct` (its action at the event), :meth:`make_plan` (its schedule; default: the
uniform arm) and any hook it needs, calling ``super()`` for the hooks the base class implements.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from wirelora.config import to_jsonable
from wirelora.correction import config as _cfg
from wirelora.correction import joint as _joint
from wirelora.correction import plan as _plan
from wirelora.correction.schedule import GroupSchedule, Schedule
from wirelora.streams import stream
from wirelora.wireless.config import WirelessConfig

__all__ = ["MethodContext", "Correction"]


@dataclasses.dataclass
class MethodContext:
    """What a method needs besides the trainer state: the parsed ``correction``, ``policy`` and wireless
    sections, the run's seed and the device positions : [pool, 2] m (placed once per run)."""

    correction: _cfg.CorrectionConfig
    policy: _cfg.PolicyConfig
    wireless: WirelessConfig
    seed: int
    positions_m: np.ndarray

    @classmethod
    def from_config(cls, config) -> MethodContext:
        """The context of a RunConfig (its typed ``correction``, ``policy`` and ``wireless`` sections)."""
        from wirelora.wireless.channel import place_devices

        cc, pc, wc = config.correction, config.policy, config.wireless
        positions = place_devices(
            config.task.num_devices, wc.radius_m, rng=stream("device_positions", config.seed)
        )
        return cls(correction=cc, policy=pc, wireless=wc, seed=config.seed, positions_m=positions)


class Correction:
    """One correction method as the trainer's hooks (see the module docstring). ``name``: its registry key;
    ``project_on_leave``: False keeps the leaver's block in every copy (Naive Remove)."""

    name = ""
    project_on_leave = True

    def __init__(self, ctx: MethodContext):
        self.ctx = ctx
        self.plan: _plan.GroupPlan | None = None
        self.window: tuple[int, int] | None = None  # [first, last] rounds of the current correction
        self.leavers: tuple[str, ...] = ()
        self.leaver_cols: dict[str, dict[str, slice]] = {}  # leaver -> layer -> its columns before leaving
        self.costs = {"stored_bytes_per_device": 0.0, "extra_local_steps": 0.0, "extra_bits": 0.0}
        self.uniform_costs: dict[int, dict[str, float]] = {}  # round -> the uniform arm's bits, local_steps
        self.membership_auc: dict[str, float] = {}
        self._post_event: dict[str, float] | None = None  # measured in on_event, recorded with its round
        self._oracle_logits: torch.Tensor | None = None
        self._forget_data: tuple[torch.Tensor, torch.Tensor] | None = None

    # ----------------------------------------------------------------------------------------------- hooks
    def before_event(self, state, event) -> None:
        self.leaver_cols = {
            u: {n: state.adapter.slot_columns(u, n) for n in state.layer_names} for u in event.leave
        }

    def on_event(self, state, event) -> None:
        self.window = (event.round, event.round + self.ctx.correction.rounds - 1)
        self.leavers = tuple(event.leave)
        self._oracle_logits = None
        self._forget_data = None
        self.correct(state, event)
        self.plan = self.make_plan(state)
        self._post_event = {**self.measure(state), **state.evaluate()}

    def schedule(self, state, round_index: int) -> Schedule | None:
        if not self.in_window(round_index):
            return None
        self.uniform_costs[round_index] = self._uniform_round(state, round_index)
        return self._joint_schedule(state, round_index)

    def penalty(self, state, logits: torch.Tensor, batch) -> torch.Tensor | None:
        return None

    def after_round(self, state, round_index: int) -> dict[str, Any]:
        out: dict[str, Any] = self.measure(state) if self.in_window(round_index) else {}
        if self._post_event is not None and self.window is not None and round_index == self.window[0]:
            out["post_event"] = self._post_event
            self._post_event = None
        return out

    def finish(self, state) -> None:
        if self.window is not None:
            self.membership_auc = self.membership(state)

    # --------------------------------------------------------------------------------- what methods override
    def correct(self, state, event) -> None:
        """The method's one-off action at the event (after the projection / join warm start)."""

    def make_plan(self, state) -> _plan.GroupPlan:
        """The schedule of the correction window: the uniform arm's (the same n, λ, γ, H for every group)."""
        return _plan.uniform_plan(len(state.group_names), self.ctx.policy)

    # ----------------------------------------------------------------------------------------------- window
    def in_window(self, round_index: int) -> bool:
        return self.window is not None and self.window[0] <= round_index <= self.window[1]

    def _joint_schedule(self, state, round_index: int) -> Schedule:
        plan = self.plan
        k = round_index - self.window[0]
        payload = np.array([state.payload_bits(g) for g in state.group_names], dtype=float)
        pos = self.ctx.positions_m[state.task.index(state.members)]
        jr = _joint.joint_round(
            plan,
            round_index=round_index,
            payload_bits=payload,
            positions_m=pos,
            cfg=self.ctx.wireless,
            seed=self.ctx.seed,
            correction_round=k,
        )
        eta = state.config.trainer.step_size
        damp = self.ctx.wireless.damping_for(plan.gamma, state.config.trainer.gamma)
        groups = {}
        for gi, g in enumerate(state.group_names):
            sync = bool(jr.syncs[gi])
            groups[g] = GroupSchedule(
                local_steps=int(plan.local_steps[gi]),
                step_size=eta,
                prox=float(plan.prox[gi]),
                gamma=float(damp[gi]) if sync else 0.0,
                sync_period=1 if sync else _joint.skip_period(round_index),
                adjacency=jr.adjacency[gi],
            )
        record = jr.record()
        shares = payload / payload.sum()
        record["local_steps"] = float(np.sum(plan.local_steps * shares) * len(state.members))
        record["correction_round"] = float(k)
        return Schedule(groups=groups, record=record)

    def _uniform_round(self, state, round_index: int) -> dict[str, float]:
        """The uniform arm's bits and local steps in this round (same members, channel and graphs' draw)."""
        plan = _plan.uniform_plan(len(state.group_names), self.ctx.policy)
        bps = state.config.trainer.bits_per_scalar
        m = len(state.members)
        payload = np.array(
            [
                bps * m * sum(int(state.blocks[n].shape[1]) * state.adapter.rank(n) for n in state.groups[g])
                for g in state.group_names
            ],
            dtype=float,
        )
        jr = _joint.joint_round(
            plan,
            round_index=round_index,
            payload_bits=payload,
            positions_m=self.ctx.positions_m[state.task.index(state.members)],
            cfg=self.ctx.wireless,
            seed=self.ctx.seed,
            correction_round=round_index - self.window[0],
        )
        shares = payload / payload.sum()
        return {"bits": jr.bits, "local_steps": float(np.sum(plan.local_steps * shares) * m)}

    def _charge_exchange(self, state, *, rounds: int, local_steps: int) -> None:
        """Charge ``rounds`` all-to-all exchanges of every group's factor and ``local_steps`` local steps."""
        m = len(state.members)
        self.costs["extra_local_steps"] += float(local_steps)
        self.costs["extra_bits"] += float(
            rounds * sum(2 * (m * (m - 1) // 2) * state.payload_bits(g) for g in state.group_names)
        )

    # -------------------------------------------------------------------------------------------- measures
    @torch.no_grad()
    def _forget_inputs(self, state):
        if self._forget_data is None:
            x, y = state.data(list(self.leavers), "eval")
            self._forget_data = (x.reshape(1, -1, *x.shape[2:]), y.reshape(1, -1, *y.shape[2:]))
        return self._forget_data

    @torch.no_grad()
    def measure(self, state) -> dict[str, float]:
        """forget_gap (KL(oracle ‖ consensus) on the leavers' eval inputs, labelled positions), and the
        leavers' contribution residual ‖ΔW·A_u‖/‖ΔW‖ in the consensus model (0 when nothing of theirs
        remains)."""
        from wirelora.evaluation import metrics as _metrics  # deferred: evaluation comes after correction

        out: dict[str, float] = {}
        cons = state.consensus()
        if self.leavers and state.oracle is not None:
            x, y = self._forget_inputs(state)
            if self._oracle_logits is None:
                self._oracle_logits = state.logits(state.oracle["blocks"], x)
            model = state.logits(cons, x)
            from wirelora.learning.tasks import IGNORE_INDEX  # the task's padding label (learning is later)

            mask = (y.reshape(-1) != IGNORE_INDEX).cpu().numpy()
            c = model.shape[-1]
            out["forget_gap"] = _metrics.kl_divergence(
                self._oracle_logits.reshape(-1, c).cpu().numpy()[mask],
                model.reshape(-1, c).cpu().numpy()[mask],
            )
        if self.leaver_cols:
            dws, bases = [], []
            for cols in self.leaver_cols.values():
                for n, c in cols.items():
                    a = state.adapter.basis_matrix(n)  # [in, S]
                    dws.append((cons[n] @ a.T).cpu().numpy())  # ΔW : [out, in]
                    bases.append(a[:, c].cpu().numpy())
            out["contribution_residual"] = _metrics.contribution_residual(dws, bases)
        return out

    @torch.no_grad()
    def membership(self, state) -> dict[str, float]:
        """Membership-inference AUC of the consensus and of the oracle on the leavers' train vs eval data."""
        from wirelora.evaluation import metrics as _metrics

        if not self.leavers or state.oracle is None:
            return {}
        xt, yt = state.data(list(self.leavers), "train")
        xe, ye = state.data(list(self.leavers), "eval")

        def per_sample(blocks, x, y):
            x1 = x.reshape(-1, 1, *x.shape[2:])
            y1 = y.reshape(-1, 1, *y.shape[2:])
            stacked = {n: b.unsqueeze(0).expand(x1.shape[0], *b.shape) for n, b in blocks.items()}
            return state.losses(stacked, x1, y1).cpu().numpy()

        out = {}
        for name, blocks in (("model", state.consensus()), ("oracle", state.oracle["blocks"])):
            out[f"mia_auc_{name}"] = _metrics.membership_auc(
                per_sample(blocks, xt, yt), per_sample(blocks, xe, ye)
            )
        return out

    # ---------------------------------------------------------------------------------------------- result
    def report(self) -> dict[str, Any]:
        """Plain data for :func:`wirelora.evaluation.summary.summarize`: the method, the event-gap weights,
        the one-off costs, the last window, the uniform arm's costs per round, membership inference, the
        plan."""
        return {
            "method": self.name,
            "arm": None,
            "rule": None,
            "lambda_j": self.ctx.correction.lambda_j,
            "lambda_f": self.ctx.correction.lambda_f,
            "costs": dict(self.costs),
            "window": None if self.window is None else list(self.window),
            "uniform": {r: dict(c) for r, c in self.uniform_costs.items()},
            "membership": dict(self.membership_auc),
            "plan": None
            if self.plan is None
            else {k: to_jsonable(v) for k, v in dataclasses.asdict(self.plan).items()},
        }

    # ---------------------------------------------------------------------------------------------- resume
    def state_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "plan": None if self.plan is None else dataclasses.asdict(self.plan),
            "leavers": self.leavers,
            "leaver_cols": {
                u: {n: (c.start, c.stop) for n, c in cols.items()} for u, cols in self.leaver_cols.items()
            },
            "costs": dict(self.costs),
            "uniform_costs": {r: dict(c) for r, c in self.uniform_costs.items()},
            "membership_auc": dict(self.membership_auc),
        }

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.window = None if d["window"] is None else tuple(d["window"])
        self.plan = None
        if d["plan"] is not None:
            p = d["plan"]
            self.plan = _plan.GroupPlan(
                **{k: (np.asarray(v) if k != "actions" else tuple(map(tuple, v))) for k, v in p.items()}
            )
        self.leavers = tuple(d["leavers"])
        self.leaver_cols = {
            u: {n: slice(*c) for n, c in cols.items()} for u, cols in d["leaver_cols"].items()
        }
        self.costs = dict(d["costs"])
        self.uniform_costs = {int(r): dict(c) for r, c in d["uniform_costs"].items()}
        self.membership_auc = dict(d["membership_auc"])
