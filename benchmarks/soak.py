"""Soak test: a day of audio through the daemon's pipeline, as fast as it runs.

    nice -n 15 python -m benchmarks.soak [--hours 24] [--seed 0] [--out DIR]

Builds the pipeline as ``kws.listen`` does for a smart-home daemon (the four shipped wake words
and the environment model, one thread each) and drives it with ``Pipeline.run`` from a source
that generates the audio chunk by chunk (:mod:`benchmarks.soak_audio`). Every simulated chunk
(10 min) it records the resident set (VmRSS) and the process CPU time. Meanwhile a second
process runs a fresh pipeline over each simulated hour (from 30 s before it) on the same audio;
their detections and environment reports within the hour must equal the long run's exactly
(keyword, end time to the ms, score), which shows no state drifts over a day. Writes
soak.json, soak.md and soak.png (see :mod:`benchmarks.soak_report`).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from benchmarks.soak_audio import FIRMWARE, SAMPLE_RATE, Material, SoakAudio, load_material
from benchmarks.state_memory import FORGET_WITHIN_S
from kws.audio import StreamSource
from kws.errors import KwsError
from kws.events import Detection, Environment, Event
from kws.model import Model, load_model
from kws.pipeline import Pipeline, PipelineConfig

RESULTS = Path(__file__).parent / "results" / "soak"
DAEMON_MODELS = tuple(
    str(FIRMWARE / f"{name}.tflite")
    for name in ("hey_jarvis", "alexa", "okay_nabu", "hey_mycroft", "environment")
)
SAMPLE_COLUMNS = ("sim_s", "rss_kib", "cpu_s", "wall_s", "detections")
Record = tuple[str, str, str, int, float]
"""(event type, model, keyword or label, end time in ms of stream time, exact score)."""


@dataclass(frozen=True)
class SoakConfig:
    """What one soak run does (the command-line options map onto these fields)."""

    hours: float = 24.0
    """Simulated hours of audio."""
    seed: int = 0
    out: Path = RESULTS
    chunk_minutes: float = 10.0
    """Audio is generated, and RSS and CPU recorded, per chunk of this many simulated minutes."""
    segment_minutes: float = 60.0
    """Each segment of this length is checked against a fresh pipeline."""
    fresh_warmup_s: float = FORGET_WITHIN_S
    """Audio a fresh pipeline hears before its segment (receptive field, smoothing, state): as
    long as a shipped model's state may take to forget (the build's limit)."""
    warmup_hours: float = 1.0
    """RSS growth is measured from the end of this warm-up."""
    block_ms: int = 20
    """Block size pushed into the pipeline (the daemon's microphone block)."""
    models: tuple[str, ...] = field(default=DAEMON_MODELS)
    tracemalloc_at_hours: float | None = None
    """Take tracemalloc snapshots at this simulated hour and at the end (slows the run)."""

    @property
    def total_samples(self) -> int:
        return round(self.hours * 3600 * SAMPLE_RATE)

    @property
    def chunk_samples(self) -> int:
        return round(self.chunk_minutes * 60 * SAMPLE_RATE)

    @property
    def segment_samples(self) -> int:
        return round(self.segment_minutes * 60 * SAMPLE_RATE)

    @property
    def block_samples(self) -> int:
        return SAMPLE_RATE * self.block_ms // 1000

    @property
    def segments(self) -> int:
        return math.ceil(self.total_samples / self.segment_samples)

    def check(self) -> None:
        """Refuse settings under which the fresh runs could not line up with the long run."""
        if self.hours <= 0 or self.block_ms <= 0:
            raise KwsError("--hours and --block-ms must be positive")
        # Fresh runs start on a block, frame and model-call boundary of the long run: 2 s
        # (200 frames) is a multiple of every shipped model's stride (8 and 50 frames).
        for name, samples in (
            ("--segment-minutes", self.segment_samples),
            ("--chunk-minutes", self.chunk_samples),
            ("fresh warm-up", round(self.fresh_warmup_s * SAMPLE_RATE)),
        ):
            if samples <= 0 or samples % (2 * SAMPLE_RATE) or samples % self.block_samples:
                raise KwsError(f"{name} must be a positive multiple of 2 s and of the block")


def rss_kib() -> int:
    """Resident set size of this process (VmRSS of /proc/self/status), in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise KwsError("/proc/self/status has no VmRSS line (not Linux?)")


def to_record(event: Event, offset_s: float = 0.0) -> Record | None:
    """The comparable part of a detection or environment event (None for others)."""
    if isinstance(event, Detection):
        return (
            "detection",
            event.model,
            event.keyword,
            round((event.end + offset_s) * 1000),
            event.score,
        )
    if isinstance(event, Environment):
        return (
            "environment",
            event.model,
            event.label,
            round((event.end + offset_s) * 1000),
            event.score,
        )
    return None


def in_span(record: Record, begin: int, stop: int) -> bool:
    """Whether the record's end lies within samples ``[begin, stop)`` of the stream."""
    return begin <= record[3] * SAMPLE_RATE // 1000 < stop


def format_record(record: Record) -> str:
    kind, model, label, end_ms, score = record
    return f"{kind}\t{model}\t{label}\t{end_ms}\t{score!r}\n"


def parse_records(path: Path) -> Iterator[Record]:
    with open(path) as lines:
        for line in lines:
            kind, model, label, end_ms, score = line.rstrip("\n").split("\t")
            yield kind, model, label, int(end_ms), float(score)


def load_models(config: SoakConfig) -> list[Model]:
    """Models as ``kws.listen.run`` loads them (default backend, one thread each)."""
    return [load_model(path) for path in config.models]


def call_period(models: list[Model]) -> int:
    """Samples after which every model is called at the same phase again: a fresh pipeline must
    start on a multiple of it to call each model at the long run's times (a model called every
    32 frames, 0.32 s, is not in phase 60 s in)."""
    return math.lcm(*(m.metadata.stride_frames * m.metadata.features.frame_step for m in models))


def fresh_segment(
    config: SoakConfig, audio: SoakAudio, models: list[Model], index: int
) -> list[Record]:
    """Records a fresh pipeline gives within segment ``index``, fed from ``fresh_warmup_s``
    before it (or a little more, to start in phase with every model's calls)."""
    begin = index * config.segment_samples
    stop = min(config.total_samples, begin + config.segment_samples)
    period = call_period(models)
    start = max(0, begin - round(config.fresh_warmup_s * SAMPLE_RATE)) // period * period
    offset_s = start / SAMPLE_RATE
    records: list[Record] = []

    def collect(event: Event) -> None:
        record = to_record(event, offset_s)
        if record is not None and in_span(record, begin, stop):
            records.append(record)

    pipeline = Pipeline(models, PipelineConfig(), collect)
    pipeline.run(audio.blocks(start, stop, config.block_samples))
    return records


def _fresh_worker(config: SoakConfig, material_path: Path, work: Path) -> None:
    """Child process: every segment's fresh records to ``fresh_<k>.tsv``."""
    audio = SoakAudio(Material.load(material_path), config.seed, config.chunk_minutes * 60)
    models = load_models(config)
    for index in range(config.segments):
        records = fresh_segment(config, audio, models, index)
        path = work / f"fresh_{index}.tsv"
        path.with_suffix(".part").write_text("".join(format_record(r) for r in records))
        path.with_suffix(".part").rename(path)


@dataclass
class LongRun:
    """What the 24-hour run measured: one row of SAMPLE_COLUMNS per chunk boundary."""

    samples: np.ndarray
    records_path: Path
    tracemalloc_top: list[str]
    heard_by: dict[str, list[str]]
    """Keyword -> the run's names of the models listening for it (soak_report.listeners)."""


def _producer(config: SoakConfig, material_path: Path) -> subprocess.Popen[bytes]:
    """The audio generator as a separate process writing raw PCM to a pipe, like ``arecord``
    feeding ``kws.listen --input -``: the measured process holds only what a daemon holds."""
    command = [sys.executable, "-m", "benchmarks.soak_audio", "--material", str(material_path)]
    command += ["--seed", str(config.seed), "--chunk-seconds", str(config.chunk_minutes * 60)]
    command += ["--stop", str(config.total_samples)]
    root = Path(__file__).resolve().parent.parent
    return subprocess.Popen(command, stdout=subprocess.PIPE, cwd=root)


def long_run(config: SoakConfig, material_path: Path, work: Path, log: TextIO) -> LongRun:
    """Drive one pipeline over the whole stream, sampling RSS and CPU at chunk boundaries."""
    from benchmarks.soak_report import listeners

    models = load_models(config)
    records_path = work / "long.tsv"
    records_file = open(records_path, "w")  # noqa: SIM115 - closed below, after the run
    events_file = open(work / "events.jsonl", "w")  # noqa: SIM115

    def emit(event: Event) -> None:  # as the daemon's: one JSON line per event
        events_file.write(event.to_json() + "\n")
        record = to_record(event)
        if record is not None:
            records_file.write(format_record(record))

    pipeline = Pipeline(models, PipelineConfig(), emit)
    chunks = math.ceil(config.total_samples / config.chunk_samples)
    samples = np.zeros((chunks + 1, len(SAMPLE_COLUMNS)), dtype=np.float64)
    snapshots: list[tracemalloc.Snapshot] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()

    def sample(row: int, sim_samples: int) -> None:
        samples[row] = (
            sim_samples / SAMPLE_RATE,
            rss_kib(),
            time.process_time() - cpu0,
            time.perf_counter() - wall0,
            pipeline.detections,
        )
        sim, rss, cpu, wall, _ = samples[row]
        print(
            f"sim {sim / 3600:6.2f} h  RSS {rss / 1024:7.2f} MiB  CPU {cpu:8.1f} s  "
            f"wall {wall:7.1f} s  detections {pipeline.detections}",
            file=log,
            flush=True,
        )
        at = config.tracemalloc_at_hours
        last = sim_samples == config.total_samples
        if at is not None and sim >= at * 3600 and (last or not snapshots):
            snapshots.append(tracemalloc.take_snapshot())

    def sampled(source: StreamSource) -> Iterator[np.ndarray]:
        """The source's blocks; RSS and CPU are sampled after each chunk has been processed."""
        seen = 0
        for block in source:
            yield block
            seen += len(block)
            if seen % config.chunk_samples == 0 or seen == config.total_samples:
                sample(math.ceil(seen / config.chunk_samples), seen)

    if config.tracemalloc_at_hours is not None:
        tracemalloc.start(10)
    sample(0, 0)
    producer = _producer(config, material_path)
    assert producer.stdout is not None
    try:
        source = StreamSource(producer.stdout, "soak generator", config.block_samples)
        pipeline.run(sampled(source), source.description)
    finally:
        records_file.close()
        events_file.close()
        producer.stdout.close()
        producer.wait()
    if producer.returncode != 0:
        raise KwsError(f"the audio generator failed (exit status {producer.returncode})")
    top: list[str] = []
    if len(snapshots) == 2:
        stats = snapshots[1].compare_to(snapshots[0], "traceback")
        for stat in stats[:15]:
            top.append(f"{stat.size_diff / 1024:+.1f} KiB in {stat.count_diff:+d} blocks:")
            top.extend(f"    {line}" for line in stat.traceback.format()[-6:])
    tracemalloc.stop()
    return LongRun(samples, records_path, top, listeners(pipeline))


def run(config: SoakConfig, log: TextIO = sys.stdout) -> dict[str, object]:
    """The whole soak: material, fresh-run process, long run, comparison, report files."""
    from benchmarks.soak_report import summarize, write_report

    config.check()
    material = load_material()
    audio = SoakAudio(material, config.seed, config.chunk_minutes * 60)
    with tempfile.TemporaryDirectory(prefix="kws_soak_") as tmp:
        work = Path(tmp)
        material.save(work / "material.npz")
        worker = multiprocessing.get_context("spawn").Process(
            target=_fresh_worker, args=(config, work / "material.npz", work), daemon=True
        )
        worker.start()
        long = long_run(config, work / "material.npz", work, log)
        print("long run done; waiting for the fresh runs", file=log, flush=True)
        worker.join()
        if worker.exitcode != 0:
            raise KwsError(f"the fresh-run process failed (exit status {worker.exitcode})")
        fresh = [list(parse_records(work / f"fresh_{k}.tsv")) for k in range(config.segments)]
        result = summarize(config, audio, long, list(parse_records(long.records_path)), fresh)
    write_report(config, result)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0]
    )
    defaults = SoakConfig()
    parser.add_argument("--hours", type=float, default=defaults.hours)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--out", type=Path, default=defaults.out, help="results folder")
    parser.add_argument(
        "--chunk-minutes",
        type=float,
        default=defaults.chunk_minutes,
        help="simulated minutes per generated chunk and per RSS/CPU sample",
    )
    parser.add_argument(
        "--segment-minutes",
        type=float,
        default=defaults.segment_minutes,
        help="simulated minutes each fresh pipeline checks",
    )
    parser.add_argument(
        "--fresh-warmup-s",
        type=float,
        default=defaults.fresh_warmup_s,
        help="simulated seconds a fresh pipeline hears before its segment",
    )
    parser.add_argument("--warmup-hours", type=float, default=defaults.warmup_hours)
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="PATH",
        help="a model the pipeline runs (repeat for several; default: the daemon's four shipped "
        "wake words and the environment model)",
    )
    parser.add_argument(
        "--tracemalloc-at",
        type=float,
        metavar="HOURS",
        help="compare tracemalloc snapshots at this simulated hour and at the end",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = SoakConfig(
        hours=args.hours,
        seed=args.seed,
        out=args.out,
        chunk_minutes=args.chunk_minutes,
        segment_minutes=args.segment_minutes,
        fresh_warmup_s=args.fresh_warmup_s,
        warmup_hours=args.warmup_hours,
        tracemalloc_at_hours=args.tracemalloc_at,
        models=tuple(args.models) if args.models else DAEMON_MODELS,
    )
    try:
        result = run(config)
    except KwsError as exc:
        print(f"benchmarks.soak: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {config.out}/soak.json, soak.md and soak.png (pid {os.getpid()})")
    return 0 if result["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
