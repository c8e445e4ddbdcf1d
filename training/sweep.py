"""``python -m training.sweep GRID.toml``: train a grid of models, evaluate each the one way, and
pick winners by FRR at a fixed false-accept rate under a size budget.

A grid is data (training/grids/*.toml): ``[base]`` is a training config (the keys of
:class:`training.core.config.TrainConfig`), each ``[[run]]`` row overrides some of its keys
(``params`` merged key by key), and ``[axes]`` maps dotted keys to value lists whose Cartesian
product is applied to every row. Runs execute in worker processes, each with its own seed; a
finished run is cached under the hash of its resolved config and of the corpus, so an interrupted
sweep resumes where it stopped. Every run is evaluated on the corpus's held-out evaluation streams
by :mod:`benchmarks.frr_fa` (the runtime pipeline and :mod:`kws.evaluation`, as every benchmark).
With ``--ray`` each row is a Ray task asking ``sweep.cpus_per_row`` CPUs of a cluster, run again
if its process dies; the rows, their cache and the report are those of a local run.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks.streams import eval_manifests
from kws.errors import KwsError
from kws.paths import portable_path
from training.core.config import TrainConfig
from training.core.grid import PLACEMENT_OPTIONS, SWEEP_FORM, Grid, SweepOptions, load_grid
from training.core.ray_pool import RayPool, add_ray_option
from training.core.run import write_json
from training.core.toml_config import add_override_option


def corpus_fingerprint(corpus: Path) -> str:
    """Hash of what defines a corpus: its config and clip manifest (not the audio bytes)."""
    digest = hashlib.sha256()
    for name in ("corpus.json", "manifest.jsonl"):
        path = corpus / name
        if not path.is_file():
            raise KwsError(f"{corpus}: not a generated corpus (no {name})")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_key(config: dict[str, Any], options: SweepOptions, corpus_hash: str) -> str:
    """The cache key of one row: resolved config, evaluation options and corpus."""
    measured = {k: v for k, v in dataclasses.asdict(options).items() if k not in PLACEMENT_OPTIONS}
    blob = json.dumps(
        {"config": config, "options": measured, "corpus": corpus_hash}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def eval_eval_manifests(config: dict[str, Any], options: SweepOptions) -> tuple[Path, Path]:
    corpus = Path(config["corpus"])
    default_positives, default_negatives = eval_manifests(corpus, "validation")
    positives = Path(options.positives or default_positives)
    negatives = Path(options.negatives or default_negatives)
    for path in (positives, negatives):
        if not path.is_file():
            raise KwsError(
                f"{path}: no evaluation manifest (generate the corpus with eval streams, or set "
                "sweep.positives / sweep.negatives)"
            )
    return positives, negatives


def run_one(
    name: str,
    config: dict[str, Any],
    options: dict[str, Any],
    run_dir: str,
    threads: int,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train, export and evaluate one row in this (worker) process; write and return its result.

    Output goes to ``run_dir/train.log`` so that parallel workers do not interleave; ``report``
    gets each epoch's history row.
    """
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    log = open(run / "train.log", "w", buffering=1)  # noqa: SIM115 - lives as long as the worker
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return evaluate_run(name, TrainConfig.from_dict(config), SweepOptions(**options), run, report)


def run_row(row: tuple[str, dict[str, Any], dict[str, Any], str, int]) -> dict[str, Any]:
    """:func:`run_one` on one packed row: the task a pool runs."""
    return run_one(*row)


def row_outcomes(
    rows: Sequence[tuple[str, dict[str, Any], dict[str, Any], str, int]],
    workers: int,
    ray: str | None,
    cpus_per_row: int,
) -> Iterator[tuple[int, dict[str, Any] | None, BaseException | None]]:
    """(index, result, error) of each row as it finishes: each row in a fresh process, on
    ``workers`` local processes, or as a Ray task asking ``cpus_per_row`` CPUs of ``ray``."""
    if ray:
        with RayPool(ray, num_cpus=cpus_per_row, fresh_process=True) as pool:
            yield from pool.outcomes(run_row, rows)
        return
    context = get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {pool.submit(run_row, row): i for i, row in enumerate(rows)}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except Exception as exc:  # one bad row must not lose the others
                yield futures[future], None, exc


def evaluate_run(
    name: str,
    config: TrainConfig,
    options: SweepOptions,
    run: Path,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``config`` into ``run`` and measure it: the row of the results table. ``report``
    gets each epoch's history row (training.tune's early stopping)."""
    import numpy as np

    from benchmarks.frr_fa import evaluate, score_streams
    from benchmarks.runtime_cost import pipeline_cost, test_signal
    from benchmarks.streams import load_streams
    from kws.model import load_model
    from training.core.run import train
    from training.models import get_model
    from training.models.cost import macs_per_second
    from training.models.registry import config_from_dict

    quantizations = tuple(dict.fromkeys([options.quantization, "float32"]))
    config = dataclasses.replace(config, quantizations=quantizations, forms=(SWEEP_FORM,))
    started = time.perf_counter()
    metrics = train(config, run, report)
    spec = get_model(config.model)
    model_config = config_from_dict(config.model, config.params)
    features = config.feature_config()
    window = spec.build(model_config, features.num_features, 2)
    assert spec.build_streaming is not None
    streaming = spec.build_streaming(model_config, window)
    calls_per_s = features.sample_rate / (features.frame_step * model_config.stride_t)
    files = {q: run / metrics["files"][f"{SWEEP_FORM}_{q}"] for q in quantizations}
    evaluated = [options.quantization] + (["float32"] if options.compare_float else [])
    evaluated = list(dict.fromkeys(evaluated))
    models = [load_model(files[q]) for q in evaluated]
    positives, negatives = eval_eval_manifests(dataclasses.asdict(config), options)
    pos, neg = load_streams(positives, negatives, run)
    timelines = score_streams(models, pos + neg, progress=False)
    labels = [list(m.metadata.keywords) for m in models]
    entries = evaluate(models, labels, pos + neg, timelines)
    frr = {}
    for q, entry in zip(evaluated, entries, strict=True):
        frr[q] = {k: (p["frr"] if p else None) for k, p in entry["frr_at"].items()}
    latency = _invoke_latency_us(models[0], np.random.default_rng(0))
    cost = sorted(
        pipeline_cost([files[options.quantization]], test_signal(options.cost_seconds), 20, 3)
    )
    result = {
        "name": name,
        "config": dataclasses.asdict(config),
        "params": metrics["params"],
        "macs_per_second": macs_per_second(streaming, calls_per_s),
        "bytes": files[options.quantization].stat().st_size,
        "float32_bytes": files["float32"].stat().st_size,
        "quantization": options.quantization,
        "frr": frr[options.quantization],
        "frr_float32": frr.get("float32"),
        "test_accuracy": metrics["test_accuracy"],
        "invoke_us_median": latency,
        "cpu_s_per_hour": round(cost[1], 2),
        "negative_hours": entries[0]["negative_hours"],
        "num_positives": entries[0]["num_positives"],
        "train_seconds": metrics["train_seconds"],
        "wall_seconds": round(time.perf_counter() - started, 1),
        "file": portable_path(files[options.quantization]),
    }
    write_json(run / "result.json", result)
    return result


def _invoke_latency_us(model: Any, rng: Any, calls: int = 200) -> float:
    """Median wall time of one interpreter call on random frames (state carried)."""
    import numpy as np

    md = model.metadata
    states = [port.zeros() for port, _ in model.state_ports]
    times = []
    for _ in range(calls):
        frames = rng.standard_normal((1, md.input_frames, md.features.num_features)) * 3
        t0 = time.perf_counter()
        _, states = model.invoke(frames.astype(np.float32), states)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e6)


def sweep(
    grid: Grid,
    out: Path,
    workers: int = 1,
    only: Sequence[str] = (),
    progress: bool = True,
    ray: str | None = None,
) -> dict[str, Any]:
    """Run (or reuse) every row of ``grid`` into ``out/runs``, on ``workers`` local processes or
    on the Ray cluster ``ray`` (an address, 'auto' or 'local'); write results and the plot."""
    from tqdm import tqdm

    from training.reports.sweep import write_results

    # Each row's seed is fixed by its place in the grid, so --only reproduces the full sweep's row.
    seeded = [
        (name, {**config, "seed": int(config["seed"]) + index})
        for index, (name, config) in enumerate(grid.runs)
    ]
    runs = [(n, c) for n, c in seeded if not only or n in only]
    if only and len(runs) != len(set(only)):
        missing = sorted(set(only) - {n for n, _ in runs})
        raise KwsError(f"--only names rows the grid does not have: {', '.join(missing)}")
    corpora = {c["corpus"]: corpus_fingerprint(Path(c["corpus"])) for _, c in runs}
    for _, config in runs:
        eval_eval_manifests(config, grid.options)
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for name, config in runs:
        key = run_key(config, grid.options, corpora[config["corpus"]])
        run_dir = out / "runs" / f"{name}-{key}"
        done = run_dir / "result.json"
        if done.is_file():
            results[name] = json.loads(done.read_text())
        else:
            todo.append((name, config, run_dir))
    print(f"sweep {grid.name}: {len(runs)} rows, {len(results)} cached, {len(todo)} to train")
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    if ray:
        threads = grid.options.cpus_per_row
    options = dataclasses.asdict(grid.options)
    failures = {}
    if todo:
        rows = [(name, config, options, str(run_dir), threads) for name, config, run_dir in todo]
        bar = tqdm(total=len(rows), desc="rows", unit="row", disable=not progress)
        for i, result, error in row_outcomes(rows, workers, ray, grid.options.cpus_per_row):
            name, _, run_dir = todo[i]
            if error is None:
                assert result is not None
                results[name] = result
            else:
                error = getattr(error, "cause", None) or error  # a Ray task's own exception
                failures[name] = f"{type(error).__name__}: {error} (log: {run_dir / 'train.log'})"
                print(f"row {name} failed: {failures[name]}", file=sys.stderr)
            bar.update()
        bar.close()
    ordered = [results[n] for n, _ in runs if n in results]
    summary = write_results(grid, ordered, failures, out)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.sweep", description=__doc__)
    parser.add_argument("grid", type=Path, help="grid file (TOML), e.g. training/grids/ci.toml")
    parser.add_argument("--out", type=Path, help="sweep folder (default runs/sweeps/<name>)")
    parser.add_argument("--workers", type=int, default=1, help="parallel training processes")
    parser.add_argument("--only", action="append", default=[], metavar="ROW", help="run one row")
    add_ray_option(parser)
    add_override_option(parser, "--set base.corpus=data/hey_jarvis --set base.epochs=5")
    parser.add_argument("--dry-run", action="store_true", help="validate and list the rows")
    args = parser.parse_args(argv)
    try:
        if args.workers < 1:
            raise ValueError("--workers must be at least 1")
        grid = load_grid(args.grid, args.set)
        if args.dry_run:
            for name, config in grid.runs:
                print(name, json.dumps(config["params"], sort_keys=True))
            return 0
        out = args.out or Path("runs/sweeps") / grid.name
        summary = sweep(grid, out, args.workers, args.only, ray=args.ray)
    except (KwsError, ValueError) as exc:
        print(f"training.sweep: error: {exc}", file=sys.stderr)
        return 2
    winner = summary.get("winner")
    print(json.dumps({"winner": winner, "failed": summary["failed"]}, indent=1))
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
