"""Write the FRR / FA-per-hour results of ``benchmarks.frr_fa``: JSON, a markdown table and a DET
plot (FRR against FA/hr on a log axis, one curve per model, dashed for peers)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.streams import CONDITIONS
from kws.atomic import atomic_write_bytes

SCHEMA = "kws.bench.frr_fa"
SCHEMA_VERSION = 1


def pct(value: float | None) -> str:
    """A share as a percentage with one decimal ("48.0%"), "—" where there is none: the one
    formatter of FRR cells in every results table."""
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def target_key(target: float) -> str:
    """Key of a target FA/hr in ``frr_at``: 0.5 -> '0.5', 1.0 -> '1'."""
    return f"{target:g}"


def summary_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per (model, label): model, label, FRR and threshold at each target, positives,
    negative hours."""
    rows = []
    for entry in results["models"]:
        row = [Path(entry["model"]).name, entry["label"]]
        for target in results["targets_fa_per_hour"]:
            point = entry["frr_at"][target_key(target)]
            row += [
                pct(point and point["frr"]),
                _num(point and point["threshold"]),
                apart_cell(point, entry.get("apart_minutes", 0.0)),
            ]
        row += [str(entry["num_positives"]), f"{entry['negative_hours']:.3f}"]
        rows.append(row)
    return rows


def apart_cell(point: dict[str, Any] | None, minutes: float) -> str:
    """Firings on the look-alike phrases (counted apart from FA/h) at an operating point."""
    if point is None or not minutes:
        return "—"
    fired = point.get("apart_accepts", 0)
    return f"{fired} ({fired / minutes:.2g}/min)"


def summary_header(results: dict[str, Any]) -> list[str]:
    header = ["model", "label"]
    for target in results["targets_fa_per_hour"]:
        header += [f"FRR@{target:g} FA/h", f"threshold@{target:g}", f"look-alikes@{target:g}"]
    return [*header, "positives", "negative hours"]


def comparison_header(results: dict[str, Any]) -> list[str]:
    header = ["model", "label", "peer"]
    for target in results["targets_fa_per_hour"]:
        header += [f"FRR@{target:g} ours", f"FRR@{target:g} peer", "Δ pts", "look-alikes ours/peer"]
    return [*header, "CPU-s/h ours", "CPU-s/h peer", "peer/ours"]


def comparison_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per (our model and label, peer): FRR side by side with the peer's minus ours in
    points, CPU seconds per audio hour side by side with peer / ours (x: ours N times cheaper)."""
    rows = []
    for c in results["comparison"]:
        row = [Path(c["model"]).name, c["label"], c["peer"]]
        for target in results["targets_fa_per_hour"]:
            cell = c["frr_at"][target_key(target)]
            diff = cell["peer_minus_ours_points"]
            row += [pct(cell["ours"]), pct(cell["peer"]), "—" if diff is None else f"{diff:+.1f}"]
            alike = cell.get("look_alikes", {})
            row.append(
                " / ".join("—" if alike.get(k) is None else str(alike[k]) for k in ("ours", "peer"))
            )
        cpu = c["cpu_s_per_audio_hour"]
        times = cpu["peer_over_ours"]
        row += [
            _num(cpu["ours"], 3),
            _num(cpu["peer"], 3),
            "—" if times is None else f"{times:.2g}×",
        ]
        rows.append(row)
    return rows


def _peers_markdown(results: dict[str, Any]) -> list[str]:
    cpu = results["ours_cpu"]
    return [
        "",
        "## Peers",
        "",
        "The peer engines scored on the same streams, each smoothed and refractory by its own "
        "convention. Δ pts: the peer's FRR minus ours in percentage points (positive: the peer "
        "misses more). CPU-s/h: process CPU seconds per hour of audio on one thread; peer/ours "
        f"above 1 means ours is that many times cheaper. Our CPU cost is for {cpu['scope']}, "
        "including reading the WAVs.",
        "",
        *_table(comparison_header(results), comparison_rows(results)),
        *_peer_notes(results),
        *_conditions_side_by_side(results),
    ]


SIDE_BY_SIDE_CONDITIONS = tuple(c for c in CONDITIONS if c != "voice")
"""Conditions the peers table repeats per engine (per voice is too long to read across)."""


def _conditions_side_by_side(results: dict[str, Any]) -> list[str]:
    """FRR per condition for our models and each peer, each at its own 1 FA/h threshold, one
    table per condition: where each engine misses (babble, a room, a TTS engine)."""
    columns = [
        (f"{Path(e['model']).name} ({e['label']})", e["breakdown"])
        for e in results["models"]
        if e["breakdown"].get("threshold") is not None
    ] + [(p["name"], p["breakdown"]) for p in results.get("peers", []) if "breakdown" in p]
    if len(columns) < 2:
        return []
    lines = [
        "",
        "### FRR by condition, side by side",
        "",
        "Each at its own threshold for 1 FA/h on these streams (misses / positives in brackets).",
    ]
    for condition in SIDE_BY_SIDE_CONDITIONS:
        values = list(dict.fromkeys(v for _, cells in columns for v in cells.get(condition, {})))
        if not values:
            continue
        rows = []
        for value in values:
            row = [value]
            for _, cells in columns:
                cell = cells.get(condition, {}).get(value)
                row.append(
                    "—"
                    if cell is None
                    else f"{pct(cell['frr'])} ({cell['misses']}/{cell['positives']})"
                )
            rows.append(row)
        lines += ["", *_table([condition, *(name for name, _ in columns)], rows)]
    return lines


def _peer_notes(results: dict[str, Any]) -> list[str]:
    """A line per peer whose scores or CPU figure need explaining (its adapter's ``note``): the
    sensitivity behind each target for a sensitivity-grid engine, and the cost of the grid."""
    lines = []
    for peer in results.get("peers", []):
        if "note" not in peer:
            continue
        text = f"- {peer['name']}: {peer['note']}"
        at = [
            f"{key} FA/h at sensitivity {point['sensitivity']:g}"
            for key, point in peer["frr_at"].items()
            if point is not None and point.get("sensitivity") is not None
        ]
        if at:
            text += f" Operating points: {', '.join(at)}."
        if "user_cpu_s_per_audio_hour" in peer:
            text += (
                f" CPU-s/h above is one detector ({peer['user_cpu_s_per_audio_hour']:.3g}); "
                f"the whole grid as benchmarked cost {peer['cpu_s_per_audio_hour']:.3g}."
            )
        lines.append(text)
    return ["", "Notes:", "", *lines] if lines else []


PAIRED_HEADER = [
    "model",
    "against",
    "label",
    "FA/h",
    "FRR, first",
    "FRR, this",
    "difference, 95 % interval",
    "resamples lower",
]


def paired_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per (model, target) of the paired comparison with the first model: both FRRs as
    measured, the interval of their difference over resamples, how often this one is lower.
    Models are named by path: runs of one word share a file name."""
    rows = []
    for pair in results["paired"]["pairs"]:
        for row in pair["rows"]:
            target = "mean" if row["target"] is None else f"{row['target']:g}"
            rows.append(
                [
                    pair["model"],
                    pair["reference"],
                    pair["label"],
                    target,
                    pct(row["reference"]),
                    pct(row["candidate"]),
                    f"{100 * (row['candidate'] - row['reference']):+.1f} "
                    f"[{100 * row['low']:+.1f}, {100 * row['high']:+.1f}] points",
                    f"{100 * row['better']:.0f}%",
                ]
            )
    return rows


def _paired_markdown(results: dict[str, Any]) -> list[str]:
    pairs = results["paired"]["pairs"]
    return [
        "",
        "## Each model against the first, on the same trials",
        "",
        f"FRR at each FA/h and their mean (the training's model-choice criterion); the interval "
        f"is the central 95 % of the difference (this minus the first) over "
        f"{pairs[0]['resamples']} resamples of the same positives (one by one) and negative "
        "streams (whole), drawn with replacement: how far other voices and recordings of the "
        "same kind could move it (a difference whose interval spans 0 is not one these "
        "streams can tell). Unreachable rates count as 100 %.",
        "",
        *_table(PAIRED_HEADER, paired_rows(results)),
    ]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table for the terminal."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines
    )


def _apart_note(results: dict[str, Any]) -> list[str]:
    minutes = results.get("apart_minutes", 0.0)
    if not minutes:
        return []
    kinds = ", ".join(results.get("apart_kinds", []))
    return [
        "",
        f"The negatives' {minutes:.1f} min of look-alike phrases ({kinds}: phrases that sound "
        "like the keyword, said back to back as no home says them) are counted apart: FA/h and "
        "the negative hours leave them out, and look-alikes@ says how many of them fired at "
        "that threshold (and per minute of them).",
    ]


def markdown(results: dict[str, Any]) -> str:
    """results.md: the summary table, then per model the FRR by condition at the 1 FA/hr
    threshold."""
    lines = [
        "# FRR / false accepts per hour",
        "",
        f"Positives: `{results['positives']}` ({results['num_positives']} keywords); negatives: "
        f"`{results['negatives']}` ({results['negative_hours']:.3f} h). A keyword counts as "
        f"detected by a firing between its onset and {results['detection_tolerance_s']:g} s "
        "after its offset; FRR at a target is the lowest FRR among thresholds whose FA/hr "
        "does not exceed it (kws.evaluation).",
        *_apart_note(results),
        "",
        *_table(summary_header(results), summary_rows(results)),
    ]
    for entry in results["models"]:
        breakdown = entry["breakdown"]
        if breakdown["threshold"] is None:
            continue
        lines += [
            "",
            f"## {Path(entry['model']).name} ({entry['label']}): FRR by condition at threshold "
            f"{breakdown['threshold']:.4g} ({breakdown['target_fa_per_hour']:g} FA/h)",
        ]
        for condition in CONDITIONS:
            rows = [
                [value, pct(cell["frr"]), str(cell["misses"]), str(cell["positives"])]
                for value, cell in breakdown.get(condition, {}).items()
            ]
            if not rows:
                continue
            lines += ["", *_table([condition, "FRR", "misses", "positives"], rows)]
    if "comparison" in results:
        lines += _peers_markdown(results)
    if "paired" in results:
        lines += _paired_markdown(results)
    calibration = results.get("calibration")
    if calibration:
        lines += ["", f"## Calibrated at {calibration['target_fa_per_hour']:g} FA/h", ""]
        rows = [
            [
                Path(c["model"]).name,
                c["label"],
                _num(c["old_threshold"]),
                _num(c["threshold"]),
                _num(c["fa_per_hour"]),
                pct(c["frr"]),
            ]
            for c in calibration["models"]
        ]
        lines += _table(["model", "label", "old", "new", "FA/h", "FRR"], rows)
    return "\n".join(lines) + "\n"


def det_png(results: dict[str, Any]) -> bytes:
    """The DET plot as PNG bytes. Points with no false accepts sit at a floor below one false
    accept over the negatives (a log axis has no 0); markers show the chosen operating points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = results["negative_hours"]
    floor = min(0.1, 0.5 / hours) if hours else 0.1
    fig, ax = plt.subplots(figsize=(7, 5), dpi=100)
    markers = {0.5: "o", 1.0: "s"}
    many = len(results["models"]) + len(results.get("peers", [])) > 3  # e.g. ten commands
    for entry in results["models"]:
        det = entry["det"]
        fa = [max(p["fa_per_hour"], floor) for p in det]
        name = f"{Path(entry['model']).name} ({entry['label']})"
        (line,) = ax.plot(fa, [100 * p["frr"] for p in det], label=name)
        for target in results["targets_fa_per_hour"]:
            point = entry["frr_at"][target_key(target)]
            if point is not None:
                ax.plot(
                    max(point["fa_per_hour"], floor),
                    100 * point["frr"],
                    markers.get(target, "^"),
                    color=line.get_color(),
                    label="_nolegend_" if many else f"{name} @ {target:g} FA/h",
                )
    for peer in results.get("peers", []):
        det = peer["det"]
        fa = [max(p["fa_per_hour"], floor) for p in det]
        ax.plot(fa, [100 * p["frr"] for p in det], linestyle="--", label=peer["name"])
    for target in results["targets_fa_per_hour"]:
        ax.axvline(target, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(f"false accepts per hour (0 drawn at {floor:.3g})")
    ax.set_ylabel("false reject rate (%)")
    ax.set_title(f"DET: {results['num_positives']} positives, {hours:.2f} h of negatives")
    ax.grid(True, which="both", alpha=0.3)
    if many:  # beside the axes, one entry per curve; the markers are explained in its title
        targets = results["targets_fa_per_hour"]
        shapes = {"o": "circle", "s": "square", "^": "triangle"}
        keys = ", ".join(f"{shapes[markers.get(t, '^')]}: {t:g} FA/h" for t in targets)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), title=keys)
    else:
        ax.legend(fontsize="small")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def write_report(results: dict[str, Any], out: Path) -> None:
    """results.json, results.md and det.png in ``out`` (each written atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1, allow_nan=False) + "\n"
    atomic_write_bytes(out / "results.json", text.encode())
    atomic_write_bytes(out / "results.md", markdown(results).encode())
    atomic_write_bytes(out / "det.png", det_png(results))
