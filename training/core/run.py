"""One training run end to end: fit, measure on the test clips, export every form and
quantization, write the run folder."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.metadata import ModelMetadata, Threshold
from kws.paths import portable_path
from training.core.checkpoint import Checkpoint, fingerprint
from training.core.config import FORMS, TrainConfig
from training.core.examples import Corpus, corpus_features, is_background, read_corpus
from training.core.fit import LoopSettings, fit
from training.core.seeding import seed_training
from training.data.feature_cache import FeatureCache

CALIBRATION_WINDOWS = 400
"""Training windows, drawn at random over every kind of clip, that calibrate int8 ranges."""


def resumable_as(config: TrainConfig) -> dict[str, Any]:
    """The parts of ``config`` a checkpoint must share to be resumed: all but the number of
    mining rounds, so that a finished run given more rounds goes on with them from its best
    checkpoint (a round costs minutes, the first pass half an hour and more)."""
    return dataclasses.asdict(
        dataclasses.replace(config, mining=dataclasses.replace(config.mining, rounds=0))
    )


def test_metrics(
    labels: tuple[str, ...],
    probs: np.ndarray,
    y: np.ndarray,
    engines: Sequence[str | None] = (),
) -> dict[str, Any]:
    """Test-split accuracy (argmax), per class, and the confusion matrix (rows: true label);
    with ``engines`` (the TTS engine of each test example, None for none), accuracy per engine."""
    predicted = np.argmax(probs, axis=1)
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(confusion, (y, predicted), 1)
    per_class = {
        label: float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum() else None
        for i, label in enumerate(labels)
    }
    metrics: dict[str, Any] = {"test_accuracy": float(np.mean(predicted == y))}
    if len(labels) == 2:  # a wake word: recall and false positives at 0.5
        metrics["test_keyword_recall"] = float(np.mean(probs[y == 1, 1] >= 0.5))
        metrics["test_background_false_positive_rate"] = float(np.mean(probs[y == 0, 1] >= 0.5))
    else:
        metrics["test_per_class_accuracy"] = per_class
        metrics["test_confusion"] = {"labels": list(labels), "matrix": confusion.tolist()}
    if any(engines):
        names = np.array([e or "" for e in engines], dtype=object)
        correct = predicted == y
        metrics["test_accuracy_by_engine"] = {
            engine: {"accuracy": float(correct[names == engine].mean()),
                     "examples": int((names == engine).sum())}
            for engine in sorted({e for e in engines if e})
        }  # fmt: skip
    return metrics


def test_engines(data: Corpus, examples: int) -> list[str | None]:
    """The engine of each test example: the corpus's clips, then None for the windows
    :func:`training.core.examples.corpus_features` appends (``_silence_``)."""
    engines = list(data.engines.get("test", ()))
    return engines + [None] * (examples - len(engines)) if engines else []


def train(
    config: TrainConfig, out: Path, report: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Train, export every form, write the run folder; return the metrics. ``report`` gets
    each epoch's history row (:func:`training.core.fit.fit`). The loop's state is saved in
    ``out`` after every epoch, and training started again into ``out`` with the same config
    and corpus resumes it (training.core.checkpoint)."""

    from training.models import get_model
    from training.models.registry import config_from_dict

    features = config.feature_config()
    spec = get_model(config.model)
    model_config = config_from_dict(config.model, config.params)
    model_config.check_input(features.num_features)
    frames = model_config.window_frames
    corpus = Path(config.corpus)
    data = read_corpus(corpus, config.select, config.unknown_share, config.seed)
    x, labels = corpus_features(data, config, frames, FeatureCache(corpus / "features"))

    seed_training(config.seed)
    rng = np.random.default_rng(config.seed)
    settings = LoopSettings(**{k: getattr(config, k) for k in LoopSettings.__dataclass_fields__})
    keywords = tuple(k for k in data.labels if not is_background(k))
    model, history, loop = fit(
        settings,
        spec,
        model_config,
        data.labels,
        keywords,
        x,
        labels,
        features,
        corpus,
        rng,
        report,
        Checkpoint(out, fingerprint(resumable_as(config), data.labels, x["train"].shape)),
    )
    train_s = sum(r["seconds"] for r in loop["rounds"])  # over every process that resumed it
    out.mkdir(parents=True, exist_ok=True)
    model.save_weights(out / "model.weights.h5")  # for re-export without retraining

    probs = model.predict(x["test"], batch_size=256, verbose=0)
    metrics = {
        **test_metrics(data.labels, probs, labels["test"], test_engines(data, len(labels["test"]))),
        "selection": {k: v for k, v in loop.items() if k != "rounds"},
        "train_seconds": round(train_s, 1),
        "params": int(model.count_params()),
        "clips": {s: len(v) for s, v in labels.items()},
    }
    summary = {
        "data": f"{portable_path(corpus)} ({data.kind})",
        "config": dataclasses.asdict(config),
        "metrics": metrics,
    }
    files = export_run(model, config, data.labels, x["train"], summary, out, config.forms)
    metrics["files"] = files
    write_json(out / "metrics.json", metrics)
    write_json(out / "history.json", history)
    write_json(out / "rounds.json", loop["rounds"])
    write_json(out / "config.json", dataclasses.asdict(config))
    return metrics


def export_run(
    model: Any,
    config: TrainConfig,
    labels: tuple[str, ...],
    train_features: np.ndarray,
    summary: dict[str, Any],
    out: Path,
    forms: tuple[str, ...] = FORMS,
    quantizations: tuple[str, ...] | None = None,
) -> dict[str, str]:
    """Write ``<name>_<form>_<quantization>.tflite`` for each form and quantization; return
    the file names by ``<form>_<quantization>``. int8 is calibrated on random training windows.
    Every label but the background ones gets the default threshold (so it fires)."""
    from training.core.tflite import export_tflite
    from training.models import get_model
    from training.models.registry import config_from_dict

    spec = get_model(config.model)
    model_config = config_from_dict(config.model, config.params)
    rng = np.random.default_rng(config.seed)
    representative = train_features[rng.permutation(len(train_features))[:CALIBRATION_WINDOWS]]
    files = {}
    for quantization in quantizations or config.quantizations:
        for form in forms:
            if form == "streaming" and not (
                spec.streamable and getattr(model_config, "streamable", True)
            ):
                print(f"skipping the streaming form: {config.model} {config.params} cannot stream")
                continue
            metadata = run_metadata(config, labels, form, quantization, summary)
            data = export_tflite(model, model_config, metadata, form, quantization, representative)
            path = out / f"{config.name}_{form}_{quantization}.tflite"
            atomic_write_bytes(path, data)
            files[f"{form}_{quantization}"] = path.name
            print(f"wrote {path} ({len(data)} bytes)")
    return files


def run_metadata(
    config: TrainConfig,
    labels: tuple[str, ...],
    form: str,
    quantization: str,
    summary: dict[str, Any],
) -> ModelMetadata:
    """The metadata of a run's export in ``form`` and ``quantization``: every label but the
    background ones gets the default threshold (so it fires), ``summary`` is the training record."""
    from training.models import get_model
    from training.models.registry import config_from_dict

    spec = get_model(config.model)
    model_config = config_from_dict(config.model, config.params)
    return ModelMetadata(
        name=config.name,
        task="keyword",
        labels=labels,
        features=config.feature_config(),
        window_frames=model_config.window_frames,
        stride_frames=model_config.stride_t,
        streaming=form == "streaming",
        quantization=quantization,
        thresholds={k: Threshold(config.threshold) for k in labels if not is_background(k)},
        smoothing_s=config.smoothing_s,
        refractory_s=config.refractory_s,
        state_tensors=spec.state_tensors(model_config) if form == "streaming" else (),
        training=summary,
    )


def load_run(run_dir: Path) -> tuple[TrainConfig, Any, Corpus, dict[str, Any]]:
    """A finished run folder's training config, trained window model (its saved weights),
    corpus (read as the run read it) and metrics."""
    from training.models import get_model
    from training.models.registry import config_from_dict

    for name in ("config.json", "metrics.json", "model.weights.h5"):
        if not (run_dir / name).is_file():
            raise KwsError(f"{run_dir}: not a finished training run (no {name})")
    config = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    model_config = config_from_dict(config.model, config.params)
    corpus = read_corpus(Path(config.corpus), config.select, config.unknown_share, config.seed)
    model = get_model(config.model).build(
        model_config, config.feature_config().num_features, len(corpus.labels)
    )
    model.load_weights(run_dir / "model.weights.h5")
    return config, model, corpus, metrics


def run_features(config: TrainConfig, corpus: Corpus) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's windows and labels per split, from the corpus's feature cache."""
    from training.models.registry import config_from_dict

    frames = config_from_dict(config.model, config.params).window_frames
    return corpus_features(corpus, config, frames, FeatureCache(Path(config.corpus) / "features"))


def write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, json.dumps(value, indent=1).encode())
