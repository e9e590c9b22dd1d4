"""Orthogonal LoRA: cost of a leave and a join versus retraining the adapter, and leakage vs r/d.

    .venv/bin/python benchmarks/bench_lora.py [--models tiny-mlp tiny-lm minilm] [--steps 30]
    -> benchmarks/results/bench_lora.json

Part 1, per base model (slotted bases, M = 6 devices): the adapter is trained for ``--steps`` AdamW steps
(batch 16, every member block trained), then we time one leave (``remove_device``: the projection on
every adapted layer) and one join (``add_device``: a new slot with a zero block), median of ``--repeats``,
and compare with the time to retrain the adapter from scratch for the same number of steps (measured: the
same loop run again from zero blocks). The ratio retrain / leave is what the projection saves.

Part 2, leakage: a d × d linear layer, M = 6 devices with random N(0,1) blocks, device 0 leaves; the
leakage ‖ΔW'A_u‖_F / ‖ΔW A_u‖_F for slotted and independent bases over d and r (mean over seeds), beside
r/d, (M−1) r/d and the measured overlap E‖A_iᵀA_j‖_F² vs r²/d (Lemma 1). The same leakage is reported on
the tiny LM (d = 128) and MiniLM (d = 384) from one independent-basis leave.

Single-threaded (torch and BLAS), so that the numbers are less sensitive to other work on the machine.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/torch load their BLAS
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "models"))

from wirelora.learning.models import build_model  # noqa: E402
from wirelora.lora import OrthogonalLoRA  # noqa: E402
from wirelora.lora.bases import independent_basis, overlap  # noqa: E402

DEVICES = [f"d{i}" for i in range(6)]


def _task(name: str, card, gen: torch.Generator):
    """A real loss for each kind of model: (make_batch() -> inputs, loss(model, inputs) -> scalar)."""
    if card.kind == "classifier":
        w = torch.randn(card.config.get("in_features", 32), card.config.get("num_classes", 10), generator=gen)

        def batch():
            x = torch.randn(16, w.shape[0], generator=gen)
            return x, (x @ w).argmax(1)  # a fixed random linear teacher

        def loss(model, b):
            return nn.functional.cross_entropy(model(b[0]), b[1])

        return batch, loss
    if card.kind == "causal-lm":
        from train_tiny_lm import PhraseGrammar

        grammar, rng = PhraseGrammar(seed=7), np.random.default_rng(0)  # a grammar the base never saw

        def batch():
            return grammar.batch(16, 64, rng=rng)

        def loss(model, ids):
            return model(input_ids=ids, labels=ids).loss

        return batch, loss
    readout = torch.randn(384, 8, generator=gen) / 384**0.5

    def batch():
        ids = torch.randint(1000, 8000, (16, 32), generator=gen)
        return ids, (ids[:, 0] % 8)

    def loss(model, b):
        pooled = model(input_ids=b[0]).last_hidden_state.mean(1)  # [B, 384]
        return nn.functional.cross_entropy(pooled @ readout, b[1])

    return batch, loss


def _train(ol: OrthogonalLoRA, batch, loss, steps: int) -> float:
    opt = torch.optim.AdamW(ol.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(steps):
        value = loss(ol.model, batch())
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
    return time.perf_counter() - t0


def bench_model(name: str, steps: int, repeats: int) -> dict:
    model, card = build_model(name)
    pristine = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(0)
    batch, loss = _task(name, card, gen)
    ol = OrthogonalLoRA(model, **card.lora_kwargs())
    for d in DEVICES:
        ol.add_device(d)
    ol.model.train()
    train_s = _train(ol, batch, loss, steps)
    trained = ol.adapter_state()

    leave_s, join_s = [], []
    for _ in range(repeats):
        ol.load_adapter_state(trained)
        t0 = time.perf_counter()
        slot_leak = ol.remove_device("d0")
        leave_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ol.add_device("d0", slot=0)
        join_s.append(time.perf_counter() - t0)
    project_s = []
    stack = torch.stack([trained[ol.module_names[-1]]] * len(DEVICES))  # [M, out, S]: one copy per device
    for _ in range(repeats):
        t0 = time.perf_counter()
        ol.project_out(stack, ol.module_names[-1], "d0")
        project_s.append(time.perf_counter() - t0)

    # retrain from scratch: the remaining devices' adapter from zero blocks, the same number of steps
    ref = OrthogonalLoRA(pristine, **card.lora_kwargs())
    for d in DEVICES[1:]:
        ref.add_device(d)
    ref.model.train()
    retrain_s = _train(ref, batch, loss, steps)

    # leakage of one independent-basis leave on this model's real layer widths
    indep_model, _ = build_model(name)
    ind = OrthogonalLoRA(indep_model, **card.lora_kwargs(), basis="independent")
    for d in DEVICES:
        ind.add_device(d)
    ind.load_adapter_state(trained)  # the same trained blocks, now in independent coordinates
    ind_leak = ind.remove_device("d0")
    leave = statistics.median(leave_s)
    return {
        "model": name,
        "layers": len(ol.module_names),
        "trainable_params": sum(p.numel() for p in ol.parameters()),
        "devices": len(DEVICES),
        "train_steps": steps,
        "train_s": round(train_s, 4),
        "retrain_s": round(retrain_s, 4),
        "leave_s_median": leave,
        "join_s_median": statistics.median(join_s),
        "project_stacked_last_layer_s_median": statistics.median(project_s),
        "retrain_over_leave": retrain_s / leave,
        "retrain_over_join": retrain_s / statistics.median(join_s),
        "leakage_slotted_max": max(slot_leak.values()),
        "leakage_independent": {g: float(np.mean([ind_leak[n] for n in ol.groups[g]])) for g in ol.groups},
        "rank_over_d": {g: ol.rank(ns[0]) / ol.lora_layer(ns[0]).in_features for g, ns in ol.groups.items()},
    }


def bench_leakage(dims: list[int], ranks: list[int], seeds: int) -> list[dict]:
    rows = []
    for d in dims:
        for r in ranks:
            if r * len(DEVICES) > d:
                continue
            res = {"slotted": [], "independent": []}
            for seed in range(seeds):
                for basis in res:
                    layer = nn.Sequential(nn.Linear(d, d))
                    ol = OrthogonalLoRA(
                        layer, ["0"], rank=r, max_devices=len(DEVICES), basis=basis, seed=seed
                    )
                    gen = torch.Generator().manual_seed(seed)
                    for dev in DEVICES:
                        ol.add_device(dev)
                        ol.block(dev, "0").copy_(torch.randn(d, r, generator=gen))
                    res[basis].append(ol.remove_device("d0")["0"])
            pairs = [
                overlap(
                    independent_basis(d, r, seed=s, layer_index=0, draw=0),
                    independent_basis(d, r, seed=s, layer_index=0, draw=1),
                )
                for s in range(200)
            ]
            rows.append(
                {
                    "d": d,
                    "r": r,
                    "r_over_d": r / d,
                    "m_minus_1_r_over_d": (len(DEVICES) - 1) * r / d,
                    "leakage_slotted_mean": float(np.mean(res["slotted"])),
                    "leakage_independent_mean": float(np.mean(res["independent"])),
                    "leakage_independent_std": float(np.std(res["independent"])),
                    "overlap_measured": float(np.mean(pairs)),
                    "overlap_lemma1_r2_over_d": r * r / d,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["tiny-mlp", "tiny-lm", "minilm"])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_lora.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    models = []
    for name in args.models:
        models.append(bench_model(name, args.steps, args.repeats))
        print(json.dumps(models[-1]), flush=True)
    leakage = bench_leakage([64, 128, 256, 512], [4, 8, 16], args.seeds)
    out = {
        "command": "python "
        + " ".join(["benchmarks/bench_lora.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "models": models,
        "leakage": leakage,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
