"""A solved allocation scenario as a table or as JSON (what `wirelora allocate` prints)."""

from __future__ import annotations

import numpy as np

from wirelora.allocation.problem import Allocation
from wirelora.allocation.scenario_arrays import Problem

__all__ = ["entries", "records", "format_table", "to_json"]


def entries(prob: Problem, alloc: Allocation):
    """(group, link, payload, snr, bandwidth, rate, latency) per used entry, in order."""
    q = prob.payload_bits
    a = np.broadcast_to(prob.link_snr_hz, q.shape)
    rows = []
    for idx in zip(*np.nonzero(q > 0)):
        group = prob.group_names[idx[0]] if q.ndim == 2 else prob.group_names[idx[0]]
        link = prob.link_names[idx[-1]]
        rows.append(
            (
                group,
                link,
                q[idx],
                a[idx],
                alloc.bandwidth_hz[idx],
                alloc.rate_bps[idx],
                alloc.link_latency_s[idx],
            )
        )
    return rows


def records(prob: Problem, alloc: Allocation) -> list[dict]:
    """One record per used entry: link, group, bandwidth, power, latency (upload), energy, and where present
    the time share, computation time, CPU frequency and computation energy."""
    q = prob.payload_bits
    out = []
    optional = (
        ("tx_power_w", alloc.tx_power_w),
        ("energy_j", alloc.energy_j),
        ("time_share", alloc.time_share),
        ("compute_time_s", alloc.compute_time_s),
        ("cpu_hz", alloc.cpu_hz),
        ("compute_energy_j", alloc.compute_energy_j),
    )
    for idx in zip(*np.nonzero(q > 0)):
        rec = {
            "link": prob.link_names[idx[-1]],
            "group": prob.group_names[idx[0]],
            "payload_bits": float(q[idx]),
            "bandwidth_hz": float(alloc.bandwidth_hz[idx]),
            "rate_bps": float(alloc.rate_bps[idx]),
            "latency_s": float(alloc.link_latency_s[idx]),
        }
        if alloc.tx_power_w is None and prob.tx_power_w is not None and alloc.energy_j is not None:
            rec["tx_power_w"] = float(np.broadcast_to(prob.tx_power_w, q.shape)[idx])
        for key, arr in optional:
            if arr is not None:
                rec[key] = float(arr[idx])
        out.append(rec)
    return out


def format_table(prob: Problem, alloc: Allocation, equal: Allocation, *, max_rows: int = 40) -> str:
    """The allocation as a text table, with the objective and the equal split's round latency."""
    rows = entries(prob, alloc)
    head = (
        f"{'group':<8} {'link':<10} {'payload Mbit':>12} {'SNR/Hz dB':>9} {'bandwidth MHz':>13} {'share':>7} "
        f"{'rate Mbit/s':>11} {'latency s':>10}"
    )
    lines = [head, "-" * len(head)]
    shown = rows if len(rows) <= max_rows else rows[: max_rows - 1]
    for g, name, q, a, b, r, t in shown:
        lines.append(
            f"{str(g)[:8]:<8} {str(name)[:10]:<10} {q / 1e6:>12.4g} {10 * np.log10(a):>9.1f} "
            f"{b / 1e6:>13.6g} "
            f"{b / alloc.total_bandwidth_hz:>7.2%} {r / 1e6:>11.4g} {t:>10.5g}"
        )
    if len(shown) < len(rows):
        lines.append(f"... {len(rows) - len(shown)} more entries (use --json for all)")
    lines.append("-" * len(head))
    unit = "J" if alloc.objective in ("energy", "energy_time") else "s"
    lines.append(
        f"objective         {alloc.objective} = {alloc.objective_value:.6g} {unit} ({alloc.method}, "
        f"status {alloc.status})"
    )
    lines.append(
        f"round latency     {alloc.round_latency_s:.6g} s   (equal split: {equal.round_latency_s:.6g} s, "
        f"{equal.round_latency_s / alloc.round_latency_s:.2f}x slower)"
    )
    lines.append(f"total bandwidth   {alloc.total_bandwidth_hz / 1e6:.6g} MHz over {len(rows)} link entries")
    if alloc.energy_j is not None:
        lines.append(f"energy            {float(np.sum(alloc.energy_j)):.6g} J")
    lines += _round_lines(alloc)
    return "\n".join(lines)


def _round_lines(alloc: Allocation) -> list[str]:
    """Summary lines of the round model (none for a plain bandwidth allocation)."""
    out = []
    used = alloc.link_latency_s > 0
    if alloc.access == "tdma":
        share = float(np.sum(alloc.time_share))
        out.append(f"access            tdma (time shares of the whole band, {share:.6g} of the frame)")
    if alloc.tx_power_w is not None:
        p = alloc.tx_power_w[used]
        out.append(f"tx power          {p.min():.4g} .. {p.max():.4g} W")
    if alloc.compute_time_s is not None:
        c = alloc.compute_time_s[used]
        out.append(f"computation       {c.min():.4g} .. {c.max():.4g} s before the upload")
    if alloc.cpu_hz is not None:
        f = alloc.cpu_hz[used]
        out.append(f"CPU frequency     {f.min() / 1e9:.4g} .. {f.max() / 1e9:.4g} GHz")
    if alloc.compute_energy_j is not None:
        out.append(f"compute energy    {float(np.sum(alloc.compute_energy_j)):.6g} J")
    return out


def to_json(prob: Problem, alloc: Allocation, equal: Allocation, *, per_link: bool = False) -> dict:
    """The allocation as a JSON-ready dict (``wirelora allocate --json``); the round model's arrays where
    present; per_link adds "records" (one per used entry, see ``records``)."""
    out = {
        "status": alloc.status,
        "objective": alloc.objective,
        "objective_value": alloc.objective_value,
        "method": alloc.method,
        "round_latency_s": alloc.round_latency_s,
        "total_bandwidth_hz": alloc.total_bandwidth_hz,
        "bandwidth_hz": alloc.bandwidth_hz.tolist(),
        "link_latency_s": alloc.link_latency_s.tolist(),
        "rate_bps": alloc.rate_bps.tolist(),
        "payload_bits": prob.payload_bits.tolist(),
        "link_snr_hz": np.asarray(prob.link_snr_hz).tolist(),
        "groups": prob.group_names,
        "links": prob.link_names,
        "equal_split_round_latency_s": equal.round_latency_s,
    }
    if alloc.energy_j is not None:
        out["energy_j"] = alloc.energy_j.tolist()
    if alloc.edge_cost is not None:
        out["edge_cost"] = alloc.edge_cost.tolist()
    for key in ("tx_power_w", "cpu_hz", "compute_time_s", "compute_energy_j", "time_share"):
        if getattr(alloc, key) is not None:
            out[key] = getattr(alloc, key).tolist()
    if alloc.access != "fdma":
        out["access"] = alloc.access
    if per_link:
        out["records"] = records(prob, alloc)
    return out
