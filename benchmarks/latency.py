"""Detection latency in a run paced like a live microphone, with the cost figures beside it.

    python -m benchmarks.latency --model M.tflite --positives POSITIVES.json [--seconds 300]
        [--out DIR]

Positive streams are played through :class:`kws.pipeline.Pipeline` from a
:class:`kws.audio.WavSource` with ``realtime=True``: each block is handed over no earlier than
the moment its last sample would have left a microphone. A keyword's latency is the wall time
from the moment its last sample was "captured" to the detection event's callback, so it
includes the algorithmic delay (stride, smoothing) and the processing time. The model's own
thresholds are used (calibrate first). Also reported: CPU seconds per audio hour and real-time
factor of the paced run, model bytes, and the peak RSS of ``kws.listen`` on one stream.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.runtime_cost import listen_peak_rss
from benchmarks.streams import EvalStream, read_positive_manifest
from kws.atomic import atomic_write_bytes
from kws.audio import WavSource
from kws.errors import KwsError
from kws.evaluation import DETECTION_TOLERANCE_S
from kws.events import Detection, Event
from kws.model import load_model
from kws.paths import portable_path
from kws.pipeline import Pipeline, PipelineConfig


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def match_latencies(
    stream: EvalStream, detections: list[tuple[float, Detection]], started: float
) -> tuple[list[float], int]:
    """Latency (ms) of each keyword's first detection inside its window, and the misses.

    ``detections`` are (wall time of the callback, event); the keyword's last sample was
    captured at ``started + offset_s`` on the paced clock.
    """
    latencies, misses = [], 0
    for positive in stream.positives:
        hits = [
            wall
            for wall, event in detections
            if positive.onset_s <= event.end <= positive.offset_s + DETECTION_TOLERANCE_S
        ]
        if hits:
            latencies.append((min(hits) - (started + positive.offset_s)) * 1000.0)
        else:
            misses += 1
    return latencies, misses


def paced_run(model_path: Path, streams: list[tuple[EvalStream, WavSource]]) -> dict[str, Any]:
    """Play ``streams`` (paced sources) in real time through one pipeline each; collect
    latencies and cost."""
    model = load_model(model_path)
    latencies: list[float] = []
    processing: list[float] = []
    misses = 0
    audio_s = wall_s = cpu_s = 0.0
    for stream, source in streams:
        detections: list[tuple[float, Detection]] = []

        def on_event(event: Event, detections: list = detections) -> None:
            if isinstance(event, Detection):
                detections.append((time.monotonic(), event))

        pipeline = Pipeline([model], PipelineConfig(status_interval_s=0), on_event)
        cpu0, started = time.process_time(), time.monotonic()
        pipeline.run(source, source.description)
        wall_s += time.monotonic() - started
        cpu_s += time.process_time() - cpu0
        audio_s += source.duration_s
        found, missed = match_latencies(stream, detections, started)
        latencies += found
        misses += missed
        processing += [event.latency_ms for _, event in detections]
    return {
        "keywords": len(latencies) + misses,
        "detected": len(latencies),
        "latency_ms": {
            "median": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "min": min(latencies, default=None),
            "max": max(latencies, default=None),
        },
        "processing_ms": {"median": percentile(processing, 50), "p95": percentile(processing, 95)},
        "audio_seconds": audio_s,
        "real_time_factor": wall_s / audio_s if audio_s else None,
        "cpu_s_per_audio_hour": cpu_s / audio_s * 3600 if audio_s else None,
        "latencies_ms": latencies,
    }


def pick_streams(
    manifest: Path, seconds: float, block_ms: int
) -> list[tuple[EvalStream, WavSource]]:
    """The manifest's first streams, up to ``seconds`` of audio (at least one), each opened
    once as a source paced like a microphone (reused for every model)."""
    chosen: list[tuple[EvalStream, WavSource]] = []
    total = 0.0
    for stream in read_positive_manifest(manifest):
        source = WavSource(stream.path, block_samples=16 * block_ms, realtime=True)
        duration = source.duration_s
        if chosen and total + duration > seconds:
            break
        chosen.append((stream, source))
        total += duration
    return chosen


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Detection latency (paced like a live microphone)",
        "",
        f"Reproduce: `{results['command']}`",
        "",
        "| model | bytes | keywords | detected | latency p50 | latency p95 | processing p50 |"
        " CPU-s / audio h | RTF | listen peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["models"]:
        lat, proc = r["latency_ms"], r["processing_ms"]

        def ms(v: float | None) -> str:
            return "—" if v is None else f"{v:.0f} ms"

        lines.append(
            f"| {r['name']} | {r['bytes']:,} | {r['keywords']} | {r['detected']} | "
            f"{ms(lat['median'])} | {ms(lat['p95'])} | {ms(proc['median'])} | "
            f"{r['cpu_s_per_audio_hour']:.1f} | {r['real_time_factor']:.3f} | "
            f"{r['peak_rss_mib']:.0f} MiB |"
        )
    lines += [
        "",
        "Latency: from the moment the keyword's last sample would leave the microphone to the",
        "detection callback (stride, smoothing and processing included). Negative values mean",
        "the model fired before the keyword ended.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__)
    parser.add_argument("--model", type=Path, action="append", required=True)
    parser.add_argument("--positives", type=Path, required=True, help="positives.json manifest")
    parser.add_argument("--seconds", type=float, default=300.0, help="audio to play per model")
    parser.add_argument("--block-ms", type=int, default=20, help="audio block size")
    parser.add_argument("--out", type=Path, help="write latency.json and latency.md here")
    args = parser.parse_args(argv)
    try:
        streams = pick_streams(args.positives, args.seconds, args.block_ms)
        rows = []
        for path in args.model:
            row = paced_run(path, streams)
            row.update(
                name=load_model(path).metadata.name,
                model=str(path),
                bytes=path.stat().st_size,
                peak_rss_mib=listen_peak_rss(path, streams[0][0].path),
            )
            lat = row["latency_ms"]
            print(
                f"{path}: {row['detected']}/{row['keywords']} detected, latency median "
                f"{lat['median']} ms, p95 {lat['p95']} ms, RTF {row['real_time_factor']:.3f}"
            )
            rows.append(row)
    except (KwsError, ValueError, OSError) as exc:
        print(f"benchmarks.latency: error: {exc}", file=sys.stderr)
        return 2
    results = {
        "command": " ".join(
            ["python -m benchmarks.latency", *map(portable_path, argv or sys.argv[1:])]
        ),
        "positives": portable_path(args.positives),
        "block_ms": args.block_ms,
        "date": time.strftime("%Y-%m-%d"),
        "models": rows,
    }
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(args.out / "latency.json", json.dumps(results, indent=1).encode())
        atomic_write_bytes(args.out / "latency.md", markdown(results).encode())
    medians = [r["latency_ms"]["median"] for r in rows if r["latency_ms"]["median"] is not None]
    if medians:
        print(f"median of medians: {statistics.median(medians):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
