"""The correction methods, each a real implementation of the trainer's ``Correction`` hooks (method.md §8).

Selected by ``correction.method``:

- ``proposed``: the leave projection, then per layer group the policy's schedule (Fisher priority or dominant
  residual, arm ``policy.arm``) through the joint policy-allocator round every correction round.
- ``retrain``: Full Retrain — every copy is replaced by a model retrained from zero on the post-event members'
  data (the oracle; its training rounds are charged as cost), then the uniform schedule.
- ``no_correction``: the projection and nothing else (no local steps, no gossip): the post-event floor.
- ``naive``: Naive Remove / Fine-tune — no projection (the leaver's block stays), plain DGD.
- ``federaser_d2d``: FedEraser adapted to D2D — every device stores its own block's update every
  ``federaser_interval`` rounds before the event (the stored bytes); at the leave, the model is rebuilt
  from zero without the leaver: for each stored interval, every remaining device runs a few calibration
  steps on its own
  data from the rebuilt model and the calibrated update is rescaled to the norm of its stored one.
- ``ewc``: EWC-leave/join — the projection, then the proximal anchor is the *pre-event* consensus (with the
  leaver's block zeroed) weighted per parameter by the diagonal empirical Fisher of the remaining devices.
- ``influence_d2d``: the projection, then one Gauss-Newton (influence-function) step on the remaining devices'
  objective with a block-diagonal curvature: per adapted layer, the column-space empirical Fisher
  F_l = mean_s G_sᵀ G_s (+ damping), B ← B − scale · ḡ (F_l + δI)⁻¹, then plain DGD.
- ``kd_unlearn``: the projection, then DGD with an extra KL(base ‖ model) term toward the base model's
  outputs.

Every method except ``proposed`` runs the uniform arm's schedule (the same n, λ, γ, H for every group, see
``policy.uniform_schedule``) through the same joint round, so latency, energy and edge cost are comparable.
Each method also measures what the History needs beyond the trainer's own records (forget gap against the
oracle, the leaver's contribution residual, membership inference) — see :class:`Measurements`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from wirelora.correction import config as _cfg
from wirelora.correction import joint as _joint
from wirelora.correction import plan as _plan
from wirelora.correction import priority as _prio
from wirelora.correction import residual_rule as _rr
from wirelora.evaluation import metrics as _metrics
from wirelora.learning.schedule import GroupSchedule, Schedule
from wirelora.learning.tasks import IGNORE_INDEX
from wirelora.wireless.config import WirelessConfig

__all__ = [
    "MethodContext",
    "Recorder",
    "CorrectionMethod",
    "build_method",
    "group_fisher_scores",
    "group_observables",
]


@dataclasses.dataclass
class MethodContext:
    """What a method needs besides the trainer state.

    correction, policy, wireless : the parsed config sections. seed : the run's seed. positions_m : [pool, 2]
    device positions (placed once per run). pre_event : {layer: [out, S]} the consensus right before the
    current event (for EWC), slots : {device: slot} before the event (to find a leaver's columns),
    snapshots : {device: [{layer: [out, r]} per stored interval]} (FedEraser's stored updates).
    """

    correction: _cfg.CorrectionConfig
    policy: _cfg.PolicyConfig
    wireless: WirelessConfig
    seed: int
    positions_m: np.ndarray
    pre_event: dict[str, torch.Tensor] | None = None
    slots: dict[str, int] | None = None
    snapshots: dict[str, list[dict[str, torch.Tensor]]] | None = None


class Recorder:
    """The pre-event phase's hooks: trains like the default (no schedule change) and, every ``interval``
    rounds,
    keeps each device's own block (what FedEraser-D2D stores). Saved with the checkpoint via state_dict."""

    project_on_leave = True

    def __init__(self, interval: int):
        self.interval = int(interval)
        self.snapshots: dict[str, list[dict[str, torch.Tensor]]] = {}

    def schedule(self, state, round_index: int):
        if round_index % self.interval == 0:
            for m, d in enumerate(state.members):
                own = {
                    n: state.blocks[n][m][:, state.adapter.slot_columns(d, n)].detach().cpu().clone()
                    for n in state.layer_names
                }
                self.snapshots.setdefault(d, []).append(own)
        return None

    def state_dict(self) -> dict:
        return {"interval": self.interval, "snapshots": self.snapshots}

    def load_state_dict(self, d: Mapping) -> None:
        self.interval = int(d["interval"])
        self.snapshots = {k: list(v) for k, v in d["snapshots"].items()}


def _member_columns(state, name: str, devices: Sequence[str] | None = None) -> torch.Tensor:
    devices = list(state.members if devices is None else devices)
    cols = [
        torch.arange(state.adapter.slot_columns(d, name).start, state.adapter.slot_columns(d, name).stop)
        for d in devices
    ]
    return torch.cat(cols).to(state.device)


def group_fisher_scores(state, *, num_samples: int) -> tuple[np.ndarray, dict[str, float]]:
    """Algorithm 1 at the post-projection consensus: S_g = λ_max(F_g) · mean_i ‖∇_{B^(g)} L_i‖²_F : [G].

    F_g from per-sample gradients of the group's factor restricted to the members' columns; the device
    gradients from each member's local training loss. Also returns λ_max(F_g) per group (the smoothness L̂).
    """
    point = state.consensus()
    dev = state.local_gradients(point)  # {layer: [M, out, S]}
    scores, lmax = [], {}
    for g in state.group_names:
        ps = state.per_sample_gradients(g, point=point, num_samples=num_samples)
        per_layer = [ps[n][:, :, _member_columns(state, n)] for n in state.groups[g]]
        dev_layer = [dev[n][:, :, _member_columns(state, n)] for n in state.groups[g]]
        top = _prio.top_eigenvalue(_prio.empirical_fisher(per_layer))
        lmax[g] = top
        scores.append(top * _prio.gradient_energy(dev_layer))
    return np.asarray(scores), lmax


def group_observables(state, smoothness: Mapping[str, float]) -> _rr.Observables:
    """The dominant-residual rule's observables per group at the current consensus."""
    dev = state.local_gradients(state.consensus())
    energy, spread, dis = [], [], []
    for g in state.group_names:
        layers = [dev[n][:, :, _member_columns(state, n)] for n in state.groups[g]]
        mean = [a.mean(dim=0, keepdim=True) for a in layers]
        energy.append(_prio.gradient_energy(mean))
        spread.append(_prio.gradient_spread(layers))
        dis.append(state.consensus_distance(g))
    return _rr.Observables(
        grad_energy=np.array(energy),
        grad_spread=np.array(spread),
        disagreement=np.array(dis),
        smoothness=np.array([smoothness[g] for g in state.group_names]),
    )


class CorrectionMethod:
    """One correction method (``kind`` in policy.METHODS) as trainer hooks, plus its measurements.

    After each event, for ``correction.rounds`` rounds, :meth:`schedule` returns the method's schedule through
    the joint round (with latency_s, energy_j, edge_cost, comm_bits in its record); outside that window, None
    (the trainer's default). ``measurements`` holds per round what the History gains (see
    :func:`wirelora.correction.sweep.annotate`); ``costs`` the one-off costs (stored bytes, retraining).
    """

    def __init__(self, kind: str, ctx: MethodContext):
        _cfg.CorrectionConfig(method=kind)  # validates the name
        self.kind = kind
        self.ctx = ctx
        self.project_on_leave = kind != "naive"
        self.plan: _plan.GroupPlan | None = None
        self.window: tuple[int, int] | None = None  # [first, last] rounds of the current correction
        self.measurements: dict[
            int, dict[str, float]
        ] = {}  # round -> numbers (state at the end of the round)
        self.post_event: dict[int, dict[str, float]] = {}  # event round -> numbers right after the event
        self.costs: dict[str, float] = {
            "stored_bytes_per_device": 0.0,
            "extra_local_steps": 0.0,
            "extra_bits": 0.0,
        }
        self.leavers: tuple[str, ...] = ()
        self.leaver_cols: dict[str, dict[str, slice]] = {}
        self._oracle_logits: torch.Tensor | None = None
        self._forget_data: tuple[torch.Tensor, torch.Tensor] | None = None
        self._state = None
        self._scores: np.ndarray | None = None

    # ------------------------------------------------------------------------------------------- hooks
    def on_event(self, state, event) -> None:
        self._state = state
        k = self.ctx.correction.rounds
        self.window = (event.round, event.round + k - 1)
        self.leavers = tuple(event.leave)
        slots = self.ctx.slots or {}
        self.leaver_cols = {
            u: {
                n: slice(slots[u] * state.adapter.rank(n), (slots[u] + 1) * state.adapter.rank(n))
                for n in state.layer_names
            }
            for u in self.leavers
            if u in slots
        }
        self._oracle_logits = None
        self._forget_data = None
        self._correct(state, event)
        self.plan = self._plan(state)
        self.post_event[event.round] = {**self.measure(state), **state.evaluate()}

    def schedule(self, state, round_index: int) -> Schedule | None:
        self._state = state
        if self.kind == "federaser_d2d" and round_index % self.ctx.correction.federaser_interval == 0:
            snaps = self.ctx.snapshots if self.ctx.snapshots is not None else {}
            for m, d in enumerate(state.members):  # keep storing updates for later events
                own = {
                    n: state.blocks[n][m][:, state.adapter.slot_columns(d, n)].detach().cpu().clone()
                    for n in state.layer_names
                }
                snaps.setdefault(d, []).append(own)
            self.ctx.snapshots = snaps
        if self.window is None or not self.window[0] <= round_index <= self.window[1] + 1:
            return None
        if round_index > self.window[0]:  # the state now is the end of the previous round
            self.measurements[round_index - 1] = self.measure(state)
        if round_index > self.window[1]:
            return None
        return self._schedule(state, round_index)

    def penalty(self, state, logits: torch.Tensor, batch) -> torch.Tensor | None:
        if (
            self.kind != "kd_unlearn"
            or self.window is None
            or not self.window[0] <= state.round <= self.window[1]
        ):
            return None
        base = state.base_logits(batch.x).reshape(logits.shape)  # [M, b, (T,) C]
        t = self.ctx.correction.kd_temperature
        lp_base = torch.log_softmax(base / t, dim=-1)
        lp = torch.log_softmax(logits / t, dim=-1)
        kl = (lp_base.exp() * (lp_base - lp)).sum(dim=-1)  # [M, b, (T)]
        valid = (batch.y != IGNORE_INDEX).to(kl.dtype) if batch.y.shape == kl.shape else torch.ones_like(kl)
        per_row = (kl * valid).reshape(kl.shape[0], -1).sum(dim=1) / valid.reshape(kl.shape[0], -1).sum(
            dim=1
        ).clamp_min(1.0)
        return self.ctx.correction.kd_weight * t * t * per_row

    def finish(self) -> None:
        """Measure the state after the last round (the trainer calls no hook after it)."""
        if self._state is not None and self.window is not None:
            last = self._state.round
            if self.window[0] <= last <= self.window[1] and last not in self.measurements:
                self.measurements[last] = self.measure(self._state)

    # ------------------------------------------------------------------------------------------- plan
    def _plan(self, state) -> _plan.GroupPlan:
        g = len(state.group_names)
        if self.kind == "no_correction":
            return _plan.no_correction_schedule(g)
        if self.kind == "ewc":  # the uniform schedule with EWC's own proximal weight
            uni = _plan.uniform_schedule(g, self.ctx.policy)
            return uni.replace(prox=np.full(g, self.ctx.correction.ewc_weight))
        if self.kind != "proposed":
            return _plan.uniform_schedule(g, self.ctx.policy)
        cfg = self.ctx.policy
        if cfg.arm in ("uniform", "no_correction"):
            return _plan.fisher_plan(np.ones(g), cfg)
        scores, lmax = group_fisher_scores(state, num_samples=self.ctx.correction.fisher_samples)
        self._scores = scores
        if cfg.rule == "fisher":
            return _plan.fisher_plan(scores, cfg)
        obs = group_observables(state, lmax)
        m = len(state.members)
        wireless = self.ctx.wireless
        bps = state.config.trainer.bits_per_scalar
        units = np.array([state.payload_bits(gr) / bps for gr in state.group_names])
        plan = _rr.residual_plan(
            obs,
            cfg,
            rounds=self.ctx.correction.rounds,
            step_size=state.config.trainer.step_size,
            rho_fn=lambda gamma: _joint.expected_consensus_rate(
                m,
                np.asarray(gamma),
                damping=wireless.damping_for(np.asarray(gamma), state.config.trainer.gamma),
            ),
            payload_bits=np.array([state.payload_bits(gr) for gr in state.group_names], dtype=float),
            compute_units=units,
            edges_fn=lambda gamma: _num_edges(m, gamma),
        )
        return plan

    def _schedule(self, state, round_index: int) -> Schedule:
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

    # ------------------------------------------------------------------------------------------- methods
    def _correct(self, state, event) -> None:
        """The method's one-off action at the event (after the projection / join warm start)."""
        if self.kind == "retrain":
            self._retrain(state)
        elif self.kind == "ewc":
            self._ewc(state, event)
        elif self.kind == "influence_d2d":
            self._influence(state)
        elif self.kind == "federaser_d2d" and event.leave:  # an unlearning method: nothing to undo at a join
            self._federaser(state, event)

    def _retrain(self, state) -> None:
        from wirelora.learning.oracle import train_oracle

        blocks = state.oracle["blocks"] if state.oracle is not None else train_oracle(state, None)
        m = len(state.members)
        state.blocks = {n: b.detach().unsqueeze(0).expand(m, *b.shape).clone() for n, b in blocks.items()}
        oc = state.config.oracle
        steps = oc.rounds * oc.local_steps * m
        bits = oc.rounds * sum(2 * (m * (m - 1) // 2) * state.payload_bits(g) for g in state.group_names)
        self.costs["extra_local_steps"] += float(steps)
        self.costs["extra_bits"] += float(bits)
        state.anchor = {n: b.detach().clone() for n, b in state.consensus().items()}

    def _ewc(self, state, event) -> None:
        pre = self.ctx.pre_event
        if pre is None:
            raise ValueError(
                "correction.method='ewc': needs the pre-event consensus (run through sweep.run_method)"
            )
        anchor = {n: p.to(state.device).clone() for n, p in pre.items()}
        for cols in self.leaver_cols.values():
            for n, c in cols.items():
                anchor[n][:, c] = 0.0  # the leaver's block stays removed
        weights = {}
        for g in state.group_names:
            ps = state.per_sample_gradients(g, point=anchor, num_samples=self.ctx.correction.fisher_samples)
            for n in state.groups[g]:
                f = (ps[n] ** 2).mean(dim=0)  # [out, S] diagonal empirical Fisher
                weights[n] = f / f.mean().clamp_min(1e-30)  # mean weight 1: ewc_weight sets the strength
        state.anchor = anchor
        state.prox_weight = weights
        self.costs["stored_bytes_per_device"] += float(sum(4 * 2 * w.numel() for w in weights.values()))

    def _influence(self, state) -> None:
        cc = self.ctx.correction
        point = state.consensus()
        dev = state.local_gradients(point)  # {layer: [M, out, S]}
        new = {}
        for g in state.group_names:
            ps = state.per_sample_gradients(g, point=point, num_samples=cc.fisher_samples)
            for n in state.groups[g]:
                cols = _member_columns(state, n)
                gs = ps[n][:, :, cols]  # [N, out, R]
                fisher = torch.einsum("sor,sot->rt", gs, gs) / gs.shape[0]  # [R, R]
                damp = cc.influence_damping * torch.trace(fisher) / fisher.shape[0] + 1e-12
                gbar = dev[n][:, :, cols].mean(dim=0)  # [out, R]
                step = torch.linalg.solve(
                    fisher + damp * torch.eye(fisher.shape[0], dtype=fisher.dtype, device=fisher.device),
                    gbar.T,
                ).T
                b = point[n].clone()
                b[:, cols] = b[:, cols] - cc.influence_scale * step
                new[n] = b
        m = len(state.members)
        state.blocks = {n: new[n].unsqueeze(0).expand(m, *new[n].shape).clone() for n in state.layer_names}
        state.anchor = {n: b.detach().clone() for n, b in state.consensus().items()}
        # one round of gradient exchange (to average ḡ and F) and a Newton step per device
        self.costs["extra_local_steps"] += float(m)
        self.costs["extra_bits"] += float(
            sum(2 * m * (m - 1) // 2 * state.payload_bits(g) for g in state.group_names)
        )

    def _federaser(self, state, event) -> None:
        snaps = self.ctx.snapshots or {}
        members = list(state.members)
        if not snaps or any(d not in snaps for d in members):
            raise ValueError(
                "correction.method='federaser_d2d': needs the stored updates (run through sweep.run_method)"
            )
        cc = self.ctx.correction
        num = min(len(snaps[d]) for d in members)
        # stored bytes: every snapshot of the device's own block, float32
        self.costs["stored_bytes_per_device"] += float(
            np.mean([sum(4 * t.numel() for s in snaps[d] for t in s.values()) for d in members])
        )
        state.anchor, state.prox_weight = None, None  # calibration is plain local training
        rebuilt = {
            n: torch.zeros_like(b[0]) for n, b in state.blocks.items()
        }  # [out, S]: from zero, no leaver
        tc = state.config.trainer
        m = len(members)
        calib = max(1, int(cc.federaser_calibration_steps))
        for j in range(num - 1):
            state.blocks = {n: b.unsqueeze(0).expand(m, *b.shape).clone() for n, b in rebuilt.items()}
            sched = Schedule(
                groups={
                    g: GroupSchedule(
                        local_steps=calib,
                        step_size=tc.step_size,
                        prox=0.0,
                        gamma=0.0,
                        sync_period=1,
                        adjacency=~np.eye(m, dtype=bool) if m > 1 else np.zeros((1, 1), dtype=bool),
                    )
                    for g in state.group_names
                }
            )
            state.local_steps(sched, state.round, None, tag=5000 + j)
            for mi, d in enumerate(members):
                for n in state.layer_names:
                    c = state.adapter.slot_columns(d, n)
                    calibrated = state.blocks[n][mi][:, c] - rebuilt[n][:, c]  # Ũ_i
                    stored = snaps[d][j + 1][n].to(state.device) - snaps[d][j][n].to(state.device)  # U_i
                    norm = torch.linalg.matrix_norm(calibrated).clamp_min(1e-30)
                    rebuilt[n][:, c] = rebuilt[n][:, c] + cc.federaser_scale * calibrated * (
                        torch.linalg.matrix_norm(stored) / norm
                    )
        state.blocks = {n: b.unsqueeze(0).expand(m, *b.shape).clone() for n, b in rebuilt.items()}
        state.anchor = {n: b.detach().clone() for n, b in state.consensus().items()}
        self.costs["extra_local_steps"] += float((num - 1) * calib * m)
        self.costs["extra_bits"] += float(
            (num - 1) * sum(2 * m * (m - 1) // 2 * state.payload_bits(g) for g in state.group_names)
        )

    # ------------------------------------------------------------------------------------------- metrics
    @torch.no_grad()
    def _forget_inputs(self, state):
        if self._forget_data is None:
            x, y = state.data(list(self.leavers), "eval")
            self._forget_data = (x.reshape(1, -1, *x.shape[2:]), y.reshape(1, -1, *y.shape[2:]))
        return self._forget_data

    @torch.no_grad()
    def measure(self, state) -> dict[str, float]:
        """forget_gap (KL(oracle ‖ consensus) on the leavers' eval inputs, labelled positions), and the
        leavers'
        contribution residual ‖ΔW·A_u‖/‖ΔW‖ in the consensus model (0 when nothing of theirs remains)."""
        out: dict[str, float] = {}
        cons = state.consensus()
        if self.leavers and state.oracle is not None:
            x, y = self._forget_inputs(state)
            if self._oracle_logits is None:
                self._oracle_logits = state.logits(state.oracle["blocks"], x)
            model = state.logits(cons, x)
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
        if not self.leavers or state.oracle is None:
            return {}
        out = {}
        xt, yt = state.data(list(self.leavers), "train")
        xe, ye = state.data(list(self.leavers), "eval")

        def per_sample(blocks, x, y):
            x1 = x.reshape(-1, 1, *x.shape[2:])
            y1 = y.reshape(-1, 1, *y.shape[2:])
            return (
                state.losses(
                    {n: b.unsqueeze(0).expand(x1.shape[0], *b.shape) for n, b in blocks.items()}, x1, y1
                )
                .cpu()
                .numpy()
            )

        for name, blocks in (("model", state.consensus()), ("oracle", state.oracle["blocks"])):
            out[f"mia_auc_{name}"] = _metrics.membership_auc(
                per_sample(blocks, xt, yt), per_sample(blocks, xe, ye)
            )
        return out

    # ------------------------------------------------------------------------------------------- resume
    def state_dict(self) -> dict[str, Any]:
        return {
            "measurements": self.measurements,
            "post_event": self.post_event,
            "costs": self.costs,
            "stored_snapshots": self.ctx.snapshots,
            "window": self.window,
            "plan": None if self.plan is None else dataclasses.asdict(self.plan),
            "leavers": self.leavers,
            "leaver_cols": {
                u: {n: (c.start, c.stop) for n, c in cols.items()} for u, cols in self.leaver_cols.items()
            },
        }

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        if "snapshots" in d:  # a checkpoint of the pre-event phase (Recorder): FedEraser's stored updates
            self.ctx.snapshots = {k: list(v) for k, v in d["snapshots"].items()}
            return
        self.measurements = {int(k): v for k, v in d["measurements"].items()}
        self.post_event = {int(k): v for k, v in d["post_event"].items()}
        self.costs = dict(d["costs"])
        self.ctx.snapshots = d.get("stored_snapshots")
        self.window = None if d["window"] is None else tuple(d["window"])
        if d["plan"] is not None:
            p = d["plan"]
            self.plan = _plan.GroupPlan(
                **{k: (np.asarray(v) if k != "actions" else tuple(map(tuple, v))) for k, v in p.items()}
            )
        self.leavers = tuple(d["leavers"])
        self.leaver_cols = {
            u: {n: slice(*c) for n, c in cols.items()} for u, cols in d["leaver_cols"].items()
        }


def _num_edges(m: int, gamma) -> int:
    from wirelora.network.topology import num_edges_for_density

    return num_edges_for_density(m, float(min(max(gamma, 0.0), 1.0)))


def build_method(kind: str, ctx: MethodContext) -> CorrectionMethod:
    """The correction object for ``correction.method`` = ``kind``."""
    return CorrectionMethod(kind, ctx)
