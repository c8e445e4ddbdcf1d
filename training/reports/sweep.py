"""The sweep's results: a table (JSON and markdown), a Pareto plot, and the winners.

Winners are picked by FRR at the grid's target false-accept rate among rows whose evaluated
file fits the size budget (ties: fewer parameters). The Pareto front is the set of rows no other
row beats on both FRR and parameters.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.report import pct
from kws.atomic import atomic_write_bytes
from training.core.run import write_json

COLUMNS = (
    "row",
    "params",
    "MMAC/s",
    "bytes",
    "FRR@0.5",
    "FRR@1",
    "float FRR@1",
    "test acc",
    "invoke µs",
    "CPU-s/h",
    "train s",
)


def target_key(fa_per_hour: float) -> str:
    """The key benchmarks.frr_fa uses for a target rate (e.g. ``'1'``, ``'0.5'``)."""
    from benchmarks.report import target_key as key

    return key(fa_per_hour)


def frr_at(row: dict[str, Any], fa_per_hour: float, which: str = "frr") -> float | None:
    values = row.get(which) or {}
    return values.get(target_key(fa_per_hour))


def pareto_front(rows: Sequence[dict[str, Any]], fa_per_hour: float) -> list[str]:
    """Names of rows not dominated in (FRR at ``fa_per_hour``, params): lower is better."""
    scored = [(r["name"], frr_at(r, fa_per_hour), r["params"]) for r in rows]
    scored = [(n, f, p) for n, f, p in scored if f is not None]
    front = []
    for name, frr, params in scored:
        dominated = any(
            (f2 <= frr and p2 <= params) and (f2 < frr or p2 < params) for _, f2, p2 in scored
        )
        if not dominated:
            front.append(name)
    return front


def pick_winner(
    rows: Sequence[dict[str, Any]],
    fa_per_hour: float,
    budget_bytes: int,
    budget_cpu_s_per_hour: float = float("inf"),
) -> dict[str, Any] | None:
    """The row with the lowest FRR at ``fa_per_hour`` whose file fits ``budget_bytes`` and whose
    cost fits ``budget_cpu_s_per_hour`` (rows measured before costs were recorded: size only)."""
    fits = [
        r
        for r in rows
        if r["bytes"] <= budget_bytes
        and r.get("cpu_s_per_hour", 0.0) <= budget_cpu_s_per_hour
        and frr_at(r, fa_per_hour) is not None
    ]
    if not fits:
        return None
    return min(fits, key=lambda r: (frr_at(r, fa_per_hour), r["params"]))


def markdown(summary: dict[str, Any]) -> str:
    fa = summary["target_fa_per_hour"]
    lines = [
        f"# Sweep `{summary['grid']}`",
        "",
        f"{len(summary['rows'])} rows; FRR on {summary['num_positives']} held-out positives and "
        f"{summary['negative_hours']:.2f} h of negatives, {summary['quantization']} "
        f"streaming files (float32 beside them). Winner: lowest FRR at {fa:g} FA/h with the "
        f"file at most {summary['budget_bytes']:,} bytes and at most "
        f"{summary.get('budget_cpu_s_per_hour', float('inf')):g} CPU-s per audio hour "
        "(frontend + model).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    front = set(summary["pareto"])
    for r in summary["rows"]:
        mark = (" **winner**" if r["name"] == summary.get("winner") else "") + (
            " (Pareto)" if r["name"] in front else ""
        )
        cells = [
            f"{r['name']}{mark}",
            f"{r['params']:,}",
            f"{r['macs_per_second'] / 1e6:.2f}",
            f"{r['bytes']:,}",
            pct(frr_at(r, 0.5)),
            pct(frr_at(r, 1.0)),
            pct(frr_at(r, 1.0, "frr_float32")),
            f"{r['test_accuracy']:.3f}",
            f"{r['invoke_us_median']:.0f}",
            "—" if "cpu_s_per_hour" not in r else f"{r['cpu_s_per_hour']:.1f}",
            f"{r['train_seconds']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if summary["failed"]:
        lines += ["", "Failed rows:", ""]
        lines += [f"- `{name}`: {why}" for name, why in summary["failed"].items()]
    return "\n".join(lines) + "\n"


def pareto_png(summary: dict[str, Any]) -> bytes:
    """FRR at the target FA/h against parameters, the Pareto front joined, the winner marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fa = summary["target_fa_per_hour"]
    rows = [r for r in summary["rows"] if frr_at(r, fa) is not None]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([r["params"] for r in rows], [100 * frr_at(r, fa) for r in rows], s=18)
    for r in rows:
        ax.annotate(r["name"], (r["params"], 100 * frr_at(r, fa)), fontsize=7, alpha=0.7)
    front = sorted((r for r in rows if r["name"] in summary["pareto"]), key=lambda r: r["params"])
    ax.step(
        [r["params"] for r in front],
        [100 * frr_at(r, fa) for r in front],
        where="post",
        color="tab:orange",
        label="Pareto front",
    )
    winner = next((r for r in rows if r["name"] == summary.get("winner")), None)
    if winner:
        ax.scatter([winner["params"]], [100 * frr_at(winner, fa)], s=90, marker="*",
                   color="tab:red", label="winner", zorder=3)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(f"FRR at {fa:g} FA/h (%)")
    ax.set_title(f"sweep {summary['grid']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return buf.getvalue()


def write_results(
    grid: Any, rows: Sequence[dict[str, Any]], failed: dict[str, str], out: Path
) -> dict[str, Any]:
    """Write results.json, results.md and pareto.png into ``out``; return the summary."""
    options = grid.options
    fa = options.target_fa_per_hour
    winner = pick_winner(rows, fa, options.budget_bytes, options.budget_cpu_s_per_hour)
    summary: dict[str, Any] = {
        "grid": grid.name,
        "target_fa_per_hour": fa,
        "budget_bytes": options.budget_bytes,
        "budget_cpu_s_per_hour": options.budget_cpu_s_per_hour,
        "quantization": options.quantization,
        "num_positives": rows[0]["num_positives"] if rows else 0,
        "negative_hours": rows[0]["negative_hours"] if rows else 0.0,
        "winner": winner["name"] if winner else None,
        "winner_file": winner["file"] if winner else None,
        "pareto": pareto_front(rows, fa),
        "failed": failed,
        "rows": list(rows),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", summary)
    atomic_write_bytes(out / "results.md", markdown(summary).encode())
    if rows:
        atomic_write_bytes(out / "pareto.png", pareto_png(summary))
    return summary
