"""One sweep row: train, export and evaluate a config the one way, and the cache key of its run
folder. ``training.sweep`` runs rows of a grid, ``training.tune`` trials of a search; both run
:func:`run_one` in a process of its own (a local worker, a Ray task or a Ray Tune trial).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.streams import eval_manifests
from kws.errors import KwsError
from kws.paths import portable_path
from training.core.config import TrainConfig
from training.core.grid import PLACEMENT_OPTIONS, SWEEP_FORM, SweepOptions
from training.core.run import write_json


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
