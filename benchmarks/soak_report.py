"""The soak test's figures: RSS growth, CPU cost, long-run vs fresh-run equality, caught keywords;
written as soak.json, soak.md and soak.png."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections import Counter
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.soak_audio import SAMPLE_RATE, Planted, SoakAudio, Stretch, sentence_name
from kws.atomic import atomic_write_bytes
from kws.paths import portable_path

if TYPE_CHECKING:
    from benchmarks.soak import LongRun, Record, SoakConfig
    from kws.pipeline import Pipeline

RSS_TARGET_KIB = 1000
"""RSS may grow less than this (1 MB) after the warm-up."""
CATCH_AFTER_OFFSET_S = 1.0
"""A planted keyword counts as caught by a detection between its onset and 1 s after its offset
(the evaluation routine's rule)."""
UNDER_S = 1.5
"""A detection elsewhere is put down to what the generator laid in the 1.5 s before its end
(about a wake word and the score's smoothing)."""


def differences(long: list[Record], fresh: list[Record], limit: int = 10) -> list[str]:
    """What one list has that the other lacks (as multisets), at most ``limit`` lines."""
    only_long = Counter(long) - Counter(fresh)
    only_fresh = Counter(fresh) - Counter(long)
    lines = [f"only in the long run: {r}" for r in sorted(only_long.elements())]
    lines += [f"only in the fresh run: {r}" for r in sorted(only_fresh.elements())]
    return lines[:limit]


def command(config: SoakConfig) -> str:
    """The command line that reproduces a run with ``config``."""
    from benchmarks.soak import SoakConfig

    default = SoakConfig()
    parts = ["nice -n 15 python -m benchmarks.soak", f"--hours {config.hours:g}"]
    parts.append(f"--seed {config.seed}")
    for name in ("chunk_minutes", "segment_minutes", "fresh_warmup_s", "warmup_hours"):
        if getattr(config, name) != getattr(default, name):
            parts.append(f"--{name.replace('_', '-')} {getattr(config, name):g}")
    if config.models != default.models:
        parts += [f"--model {portable_path(m)}" for m in config.models]
    if config.out != default.out:
        parts.append(f"--out {config.out}")
    return " ".join(parts)


def rss_figures(config: SoakConfig, samples: np.ndarray) -> dict[str, Any]:
    sim, rss = samples[:, 0], samples[:, 1]
    after = np.flatnonzero(sim >= config.warmup_hours * 3600)
    warm = int(after[0]) if len(after) else len(sim) - 1
    growth = float(rss[-1] - rss[warm])
    tail_sim, tail_rss = sim[warm:], rss[warm:]
    slope = float(np.polyfit(tail_sim / 3600, tail_rss, 1)[0]) if len(tail_sim) > 2 else 0.0
    return {
        "start_kib": int(rss[0]),
        "warmup_end_hours": float(sim[warm] / 3600),
        "warmup_end_kib": int(rss[warm]),
        "end_kib": int(rss[-1]),
        "growth_after_warmup_kib": int(growth),
        "max_minus_warmup_kib": int(tail_rss.max() - rss[warm]),
        "min_minus_warmup_kib": int(tail_rss.min() - rss[warm]),
        "slope_after_warmup_kib_per_hour": round(slope, 2),
        "target_kib": RSS_TARGET_KIB,
        "target_met": growth < RSS_TARGET_KIB,
    }


def listeners(pipeline: Pipeline) -> dict[str, list[str]]:
    """Keyword -> the names the pipeline gives the models that detect it (two files of one word
    run side by side are ``alexa`` and ``alexa#2``, :attr:`kws.pipeline.Pipeline.names`)."""
    out: dict[str, list[str]] = {}
    for model, name in zip(pipeline.models, pipeline.names, strict=True):
        for keyword in model.metadata.keywords:
            out.setdefault(keyword, []).append(name)
    return out


def catches(
    config: SoakConfig, audio: SoakAudio, records: list[Record], heard_by: dict[str, list[str]]
) -> tuple[dict[str, dict[str, int]], list[Record]]:
    """Per keyword model: keywords planted, caught, and its detections outside them; and the
    detections elsewhere (on no planted keyword). ``heard_by`` (:func:`listeners`) says which
    models listen for each keyword: each gets that keyword's planted utterances, a model that
    never fires included; a keyword no model listens for gets no row."""
    chunks = math.ceil(config.total_samples / config.chunk_samples)
    end_s = config.total_samples / SAMPLE_RATE
    planted = [
        p
        for i in range(chunks)
        for p in audio.planted(i)
        if p.offset_s + CATCH_AFTER_OFFSET_S <= end_s
    ]
    detections = [r for r in records if r[0] == "detection"]
    empty = {"planted": 0, "caught": 0, "on_other_keywords": 0, "elsewhere": 0}
    out: dict[str, dict[str, int]] = {}
    used: set[int] = set()

    def within(r: Record, p: Planted) -> bool:
        return p.onset_s * 1000 <= r[3] <= (p.offset_s + CATCH_AFTER_OFFSET_S) * 1000

    for p in planted:
        for model in heard_by.get(p.model, []):
            row = out.setdefault(model, dict(empty))
            row["planted"] += 1
            hits = [
                i for i, r in enumerate(detections)
                if r[1] == model and r[2] == p.model and within(r, p)
            ]  # fmt: skip
            row["caught"] += bool(hits)
            used.update(hits)
    elsewhere = []
    for i, r in enumerate(detections):
        if i not in used:
            row = out.setdefault(r[1], dict(empty))
            near = any(within(r, p) for p in planted)
            row["on_other_keywords" if near else "elsewhere"] += 1
            if not near:
                elsewhere.append(r)
    return out, elsewhere


def under(end_s: float, laid: list[Stretch]) -> str:
    """What lies under the UNDER_S before ``end_s``: the sentence that overlaps it most, else
    the noise kind that does."""

    def overlap(st: Stretch) -> float:
        return min(st.stop_s, end_s) - max(st.start_s, end_s - UNDER_S)

    spoken = [st for st in laid if st.kind == "sentence" and overlap(st) > 0]
    if spoken:
        return sentence_name(max(spoken, key=overlap).sentence)
    noise = [st for st in laid if st.kind != "sentence" and overlap(st) > 0]
    return f"{max(noise, key=overlap).kind} (no speech)" if noise else "nothing laid"


def false_by_material(
    config: SoakConfig, audio: SoakAudio, elsewhere: list[Record]
) -> list[dict[str, Any]]:
    """The detections elsewhere counted by model and what lies under them, with how often the
    stream plays each sentence; most detections first. Generates the stream's chunks again
    (about 1 s per 10 min chunk)."""
    chunks = math.ceil(config.total_samples / config.chunk_samples)
    laid = [audio.laid(i) for i in range(chunks)]
    plays = Counter(
        sentence_name(st.sentence) for chunk in laid for st in chunk if st.kind == "sentence"
    )
    counts: Counter[tuple[str, str]] = Counter()
    for r in elsewhere:
        end_s = r[3] / 1000
        index = min(chunks - 1, int(end_s * SAMPLE_RATE) // config.chunk_samples)
        near = laid[index] + (laid[index - 1] if index else [])
        counts[(r[1], under(end_s, near))] += 1
    rows = [
        {"model": model, "under": what, "detections": n, "plays": plays.get(what)}
        for (model, what), n in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row["detections"], row["model"], row["under"]))


def summarize(
    config: SoakConfig,
    audio: SoakAudio,
    long: LongRun,
    long_records: list[Record],
    fresh: list[list[Record]],
) -> dict[str, Any]:
    """Every figure of the run, JSON-ready."""
    from benchmarks.soak import SAMPLE_COLUMNS, in_span

    samples = long.samples
    hours = config.total_samples / SAMPLE_RATE / 3600
    sim_end, _, cpu, wall, _ = samples[-1]
    segments = []
    for k, fresh_records in enumerate(fresh):
        begin = k * config.segment_samples
        stop = min(config.total_samples, begin + config.segment_samples)
        mine = [r for r in long_records if in_span(r, begin, stop)]
        diff = differences(mine, fresh_records)
        segments.append(
            {
                "segment": k,
                "start_s": begin / SAMPLE_RATE,
                "end_s": stop / SAMPLE_RATE,
                "detections": sum(r[0] == "detection" for r in mine),
                "environment_reports": sum(r[0] == "environment" for r in mine),
                "equal": not diff,
                "differences": diff,
            }
        )
    pipeline_cpu = float(cpu)
    keywords, elsewhere = catches(config, audio, long_records, long.heard_by)
    return {
        "command": command(config),
        "config": {
            **asdict(config),
            "out": portable_path(config.out),
            "models": [portable_path(m) for m in config.models],
        },
        "machine": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "date": time.strftime("%Y-%m-%d"),
        },
        "audio_hours": hours,
        "rss": rss_figures(config, samples),
        "cpu": {
            "pipeline_cpu_s": round(pipeline_cpu, 2),
            "pipeline_cpu_s_per_audio_hour": round(pipeline_cpu / hours, 3),
            "wall_s": round(float(wall), 1),
            "real_time_factor": round(float(wall) / (sim_end or 1), 5),
            "pipeline_cpu_real_time_factor": round(pipeline_cpu / (sim_end or 1), 5),
        },
        "equal": all(s["equal"] for s in segments),
        "segments": segments,
        "detections": sum(r[0] == "detection" for r in long_records),
        "environment_reports": sum(r[0] == "environment" for r in long_records),
        "keywords": keywords,
        "elsewhere_by_material": false_by_material(config, audio, elsewhere),
        "tracemalloc_top": long.tracemalloc_top,
        "samples": {"columns": list(SAMPLE_COLUMNS), "rows": samples.round(3).tolist()},
    }


def markdown(result: dict[str, Any]) -> str:
    rss, cpu, config = result["rss"], result["cpu"], result["config"]
    equal = sum(s["equal"] for s in result["segments"])
    lines = [
        "# Soak test",
        "",
        f"{result['audio_hours']:g} hours of generated audio (noise and silence stretches, "
        "espeak-ng sentences, the demo's keyword utterances) through one daemon pipeline "
        f"({', '.join(os.path.basename(m) for m in config['models'])}; "
        f"{config['block_ms']} ms blocks), {result['machine']['date']}, "
        f"{result['machine']['cpus']} CPUs shared with other jobs, Python "
        f"{result['machine']['python']}.",
        f"Reproduce: `{result['command']}`.",
        *([f"Note: {result['note']}"] if result.get("note") else []),
        "",
        "| figure | value |",
        "|---|---|",
        f"| RSS at start | {rss['start_kib'] / 1024:.2f} MiB |",
        f"| RSS after warm-up ({rss['warmup_end_hours']:g} h) | "
        f"{rss['warmup_end_kib'] / 1024:.2f} MiB |",
        f"| RSS at the end | {rss['end_kib'] / 1024:.2f} MiB |",
        f"| RSS growth after warm-up | {rss['growth_after_warmup_kib']} KiB "
        f"(target < {rss['target_kib']} KiB: {'met' if rss['target_met'] else 'MISSED'}) |",
        f"| RSS range after warm-up | {rss['min_minus_warmup_kib']:+d} to "
        f"{rss['max_minus_warmup_kib']:+d} KiB; trend {rss['slope_after_warmup_kib_per_hour']:+g}"
        " KiB/h |",
        f"| pipeline CPU per audio hour | {cpu['pipeline_cpu_s_per_audio_hour']:.2f} s "
        "(reading the pipe included; its audio is generated in another process) |",
        f"| pipeline CPU real-time factor | {cpu['pipeline_cpu_real_time_factor']:.5f} |",
        f"| wall-clock real-time factor | {cpu['real_time_factor']:.5f} "
        f"({cpu['wall_s']:.0f} s on a machine shared with other jobs) |",
        f"| long run = fresh runs | {equal} of {len(result['segments'])} segments equal "
        f"({result['detections']} detections, {result['environment_reports']} environment "
        "reports compared) |",
        "",
        f"Each segment of {config['segment_minutes']:g} min is run again by a fresh pipeline "
        f"fed from {config['fresh_warmup_s']:g} s before it; every detection (keyword, end "
        "time to the ms, score) and environment report within the segment must equal the long "
        "run's exactly. The wake-word models carry GRU state, whose memory of the past fades "
        "but never ends in exact arithmetic: in float32 a fresh state becomes bit-identical to "
        "the long run's after some minutes of audio (`python -m benchmarks.state_memory`, "
        "results/soak/state_memory.txt), so the "
        "fresh runs start early, by as much as a shipped model's state may take to forget "
        "(the build's limit, `[ship] max_state_memory_s`); with 30 s some scores differ in "
        "the 7th digit.",
        "",
        "Keyword utterances planted (a sanity figure, not accuracy: the demo's voice is a test "
        "voice the models miss often, see firmware_models/demo/README.md):",
        "",
        "| model | planted | caught | other detections: on another keyword | elsewhere |",
        "|---|---|---|---|---|",
    ]
    for model, row in sorted(result["keywords"].items()):
        lines.append(
            f"| {model} | {row['planted']} | {row['caught']} | {row['on_other_keywords']} "
            f"| {row['elsewhere']} |"
        )
    by_material = result.get("elsewhere_by_material") or []
    if by_material:
        lines += [
            "",
            f"Detections elsewhere, by what lies under the {UNDER_S:g} s before each (a "
            "sentence wherever one overlaps; plays: how often the stream says it):",
            "",
            "| model | under the detection | detections | plays |",
            "|---|---|---|---|",
        ]
        for row in by_material:
            plays = "" if row["plays"] is None else str(row["plays"])
            lines.append(f"| {row['model']} | {row['under']} | {row['detections']} | {plays} |")
    unequal = [s for s in result["segments"] if not s["equal"]]
    if unequal:
        lines += ["", "Segments that differ:", ""]
        for s in unequal:
            lines.append(f"- {s['start_s'] / 3600:g} h: " + "; ".join(s["differences"]))
    if result["tracemalloc_top"]:
        lines += ["", "tracemalloc, largest growth:", "", "```", *result["tracemalloc_top"], "```"]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = np.array(result["samples"]["rows"])
    hours = rows[:, 0] / 3600
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(hours, rows[:, 1] / 1024, marker=".")
    top.axvline(result["rss"]["warmup_end_hours"], color="grey", linestyle=":", label="warm-up")
    top.set_ylabel("RSS (MiB)")
    top.legend()
    bottom.plot(hours, rows[:, 2], label="process CPU")
    bottom.plot(hours, rows[:, 3], label="wall clock", linestyle="--")
    bottom.set_ylabel("cumulative seconds")
    bottom.set_xlabel("simulated hours")
    bottom.legend()
    names = [os.path.basename(m).removesuffix(".tflite") for m in result["config"]["models"]]
    fig.suptitle(f"kws soak: one pipeline ({', '.join(names)})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(config: SoakConfig, result: dict[str, Any]) -> None:
    config.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(config.out / "soak.json", json.dumps(result, indent=1).encode())
    atomic_write_bytes(config.out / "soak.md", markdown(result).encode())
    plot(result, str(config.out / "soak.png"))
