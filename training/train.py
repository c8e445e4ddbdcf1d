"""``python -m training.train CONFIG.toml``: train one keyword model on a generated corpus and
export it in every form the runtime runs.

The config is data (a TOML file mapped onto :class:`TrainConfig`; ``--set key=value`` overrides
one value). A run folder keeps the resolved config, the training history, test metrics and the
exported ``.tflite`` files (window and streaming form, float32 and int8), metadata embedded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.features import FeatureConfig
from kws.metadata import ModelMetadata, Threshold
from kws.schema import field_names, reject_unknown_keys
from training.data.augment import spec_augment
from training.data.corpus import BACKGROUND_LABEL
from training.data.feature_cache import FeatureCache
from training.toml_config import add_override_option, read_toml

FORMS = ("window", "streaming")
CALIBRATION_WINDOWS = 400
"""Training windows, drawn at random over every kind of clip, that calibrate int8 ranges."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run (keys of the TOML file)."""

    name: str
    """Model name in metadata and events, e.g. 'hey_jarvis'."""
    corpus: str
    """Folder written by ``python -m training.data generate``."""
    model: str = "crnn"
    params: dict[str, Any] = field(default_factory=dict)
    """The model family's config values (for crnn: conv_filters, kernel, stride, ...)."""
    features: dict[str, Any] = field(default_factory=dict)
    """FeatureConfig values (defaults: 40 log-mel filters, 25 ms / 10 ms)."""
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    seed: int = 0
    spec_augment: bool = True
    smoothing_s: float = 0.1
    refractory_s: float = 1.5
    threshold: float = 0.5
    """Default detection threshold until the benchmark calibrates one for a target FA/hr."""
    quantizations: tuple[str, ...] = ("float32", "int8")
    forms: tuple[str, ...] = FORMS
    """Export forms: 'window' (the last T frames every S) and/or 'streaming' (S frames + state)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        reject_unknown_keys("training config", data, field_names(cls))
        values = dict(data)
        for key in ("quantizations", "forms"):
            if key in values:
                values[key] = tuple(values[key])
        unknown = set(values.get("forms", ())) - set(FORMS)
        if unknown:
            raise ValueError(f"forms must be among {FORMS}, got {sorted(unknown)}")
        return cls(**values)

    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_dict(self.features)


def load_config(path: Path, overrides: list[str]) -> TrainConfig:
    return TrainConfig.from_dict(read_toml(path, overrides, "training config"))


def read_corpus(folder: Path) -> tuple[dict[str, list[Path]], dict[str, np.ndarray], str]:
    """Clip paths and label indices per split, and the keyword label, from manifest.jsonl."""
    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        raise KwsError(f"{folder}: not a generated corpus (no manifest.jsonl)")
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    keywords = sorted({r["label"] for r in rows} - {BACKGROUND_LABEL})
    if len(keywords) != 1:
        raise KwsError(f"{manifest}: expected one keyword label, found {keywords}")
    paths: dict[str, list[Path]] = {}
    labels: dict[str, list[int]] = {}
    for row in rows:
        paths.setdefault(row["split"], []).append(folder / row["path"])
        labels.setdefault(row["split"], []).append(int(row["label"] != BACKGROUND_LABEL))
    return paths, {k: np.asarray(v) for k, v in labels.items()}, keywords[0]


def _augmented(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.stack([spec_augment(example, rng) for example in x])


def train(config: TrainConfig, out: Path) -> dict[str, Any]:
    """Train, export every form, write the run folder; return the metrics."""
    import keras

    from training.models import get_model
    from training.models.registry import config_from_dict

    features = config.feature_config()
    spec = get_model(config.model)
    model_config = config_from_dict(config.model, config.params)
    model_config.check_input(features.num_features)
    frames = model_config.window_frames
    corpus = Path(config.corpus)
    paths, labels, keyword = read_corpus(corpus)
    cache = FeatureCache(corpus / "features")
    x = {s: cache.features(features, p, frames, desc=f"{s} features") for s, p in paths.items()}

    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = spec.build(model_config, features.num_features, 2)
    model.get_layer("normalize").adapt(x["train"])
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history: list[dict[str, float]] = []
    best_weights, best_loss = model.get_weights(), np.inf
    start = time.perf_counter()
    for epoch in range(config.epochs):
        x_train = _augmented(x["train"], rng) if config.spec_augment else x["train"]
        fit = model.fit(
            x_train, labels["train"], batch_size=config.batch_size, epochs=1, verbose=0,
            validation_data=(x["validation"], labels["validation"]), shuffle=True,
        )  # fmt: skip
        row = {k: float(v[-1]) for k, v in fit.history.items()}
        history.append(row)
        print(
            f"epoch {epoch + 1}/{config.epochs}: loss {row['loss']:.4f} acc {row['accuracy']:.4f}"
            f" val_loss {row['val_loss']:.4f} val_acc {row['val_accuracy']:.4f}",
            flush=True,
        )
        if row["val_loss"] < best_loss:
            best_loss, best_weights = row["val_loss"], model.get_weights()
    model.set_weights(best_weights)
    train_s = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    model.save_weights(out / "model.weights.h5")  # for re-export without retraining

    probs = model.predict(x["test"], batch_size=256, verbose=0)[:, 1]
    y = labels["test"]
    metrics = {
        "test_accuracy": float(np.mean((probs >= 0.5) == y)),
        "test_keyword_recall": float(np.mean(probs[y == 1] >= 0.5)),
        "test_background_false_positive_rate": float(np.mean(probs[y == 0] >= 0.5)),
        "best_val_loss": best_loss,
        "train_seconds": round(train_s, 1),
        "params": int(model.count_params()),
        "clips": {s: len(p) for s, p in paths.items()},
    }
    summary = {
        "data": f"{corpus.resolve()} (training.data generate)",
        "config": dataclasses.asdict(config),
        "metrics": metrics,
    }
    files = export_run(model, config, keyword, x["train"], summary, out, config.forms)
    metrics["files"] = files
    write_json(out / "metrics.json", metrics)
    write_json(out / "history.json", history)
    write_json(out / "config.json", dataclasses.asdict(config))
    return metrics


def export_run(
    model: Any,
    config: TrainConfig,
    keyword: str,
    train_features: np.ndarray,
    summary: dict[str, Any],
    out: Path,
    forms: tuple[str, ...] = FORMS,
    quantizations: tuple[str, ...] | None = None,
) -> dict[str, str]:
    """Write ``<name>_<form>_<quantization>.tflite`` for each form and quantization; return
    the file names by ``<form>_<quantization>``. int8 is calibrated on random training windows."""
    from training.export import export_tflite
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
            metadata = ModelMetadata(
                name=config.name,
                task="keyword",
                labels=(BACKGROUND_LABEL, keyword),
                features=config.feature_config(),
                window_frames=model_config.window_frames,
                stride_frames=model_config.stride_t,
                streaming=form == "streaming",
                quantization=quantization,
                thresholds={keyword: Threshold(config.threshold)},
                smoothing_s=config.smoothing_s,
                refractory_s=config.refractory_s,
                state_tensors=spec.state_tensors(model_config) if form == "streaming" else (),
                training=summary,
            )
            data = export_tflite(model, model_config, metadata, form, quantization, representative)
            path = out / f"{config.name}_{form}_{quantization}.tflite"
            atomic_write_bytes(path, data)
            files[f"{form}_{quantization}"] = path.name
            print(f"wrote {path} ({len(data)} bytes)")
    return files


def write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, json.dumps(value, indent=1).encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__)
    parser.add_argument("config", type=Path, help="training config (TOML)")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<name>)")
    add_override_option(parser, "--set epochs=5 --set params.rnn_units=64")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.set)
        metrics = train(config, args.out or Path("runs") / config.name)
    except (KwsError, ValueError) as exc:
        print(f"training.train: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
