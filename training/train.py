"""``python -m training.train CONFIG.toml``: train one keyword model on a generated corpus and
export it in every form the runtime runs.

The corpus is a wake-word corpus (``python -m training.data generate``: one keyword against
``_background_``) or a folder in the Speech Commands layout (the real dataset, or ``python -m
training.data commands``): the 12-class command task, ``_silence_`` cut from its
``_background_noise_`` recordings. Labels wrapped in underscores are background: they never fire.

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
from kws.paths import portable_path
from kws.schema import field_names, reject_unknown_keys
from training.data.corpus import BACKGROUND_LABEL
from training.data.feature_cache import FeatureCache
from training.fit import EXAMPLES, LoopSettings, ValidationConfig, fit
from training.mining import MiningConfig
from training.sequences import SequenceConfig
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
    """Folder written by ``python -m training.data generate`` or ``commands``, or Speech
    Commands v2 itself. A relative path is taken from the current directory (run commands
    from the checkout); an absolute one inside it is kept relative
    (:func:`kws.paths.portable_path`), so the config recorded in results and metadata reads
    the same in every clone."""
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
    silence_share: float = 0.1
    """Speech Commands layouts: ``_silence_`` windows per split, as a share of its clips."""
    examples: str = "clips"
    """'clips' (one window per clip, state from zero) or 'sequences' (clips end to end, a label
    at every step, state carried as the runtime carries it; training.sequences)."""
    sequences: SequenceConfig = field(default_factory=SequenceConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    mining: MiningConfig = field(default_factory=MiningConfig)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        reject_unknown_keys("training config", data, field_names(cls))
        values = dict(data)
        for key in ("quantizations", "forms"):
            if key in values:
                values[key] = tuple(values[key])
        if "corpus" in values:
            values["corpus"] = portable_path(values["corpus"])
        tables = {"sequences": SequenceConfig, "validation": ValidationConfig}
        for key, table in {**tables, "mining": MiningConfig}.items():
            if isinstance(values.get(key), dict):
                reject_unknown_keys(f"[train.{key}]", values[key], field_names(table))
                values[key] = table(**values[key])
        if values.get("examples", "clips") not in EXAMPLES:
            raise ValueError(f"examples must be one of {EXAMPLES}, got {values['examples']!r}")
        unknown = set(values.get("forms", ())) - set(FORMS)
        if unknown:
            raise ValueError(f"forms must be among {FORMS}, got {sorted(unknown)}")
        return cls(**values)

    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_dict(self.features)


def load_config(path: Path, overrides: list[str]) -> TrainConfig:
    return TrainConfig.from_dict(read_toml(path, overrides, "training config"))


@dataclass(frozen=True)
class Corpus:
    """The labelled clips of a corpus, per split."""

    labels: tuple[str, ...]
    """Class names in score order; names wrapped in underscores are background (never fire)."""
    paths: dict[str, list[Path]]
    targets: dict[str, np.ndarray]
    """Label index of each clip, per split."""
    background: tuple[Path, ...] = ()
    """Speech Commands layouts: the recordings ``_silence_`` windows are cut from."""
    kind: str = "wake word corpus"


def is_background(label: str) -> bool:
    """``_background_``, ``_silence_`` and ``_unknown_`` are what a model says when no keyword
    is there: they get no threshold, so they never fire detections."""
    return label.startswith("_") and label.endswith("_")


def read_corpus(folder: Path) -> Corpus:
    """A wake-word corpus (manifest.jsonl) or a Speech Commands layout (validation_list.txt)."""
    from training.data.loaders.speech_commands import TESTING_LIST, VALIDATION_LIST

    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        if (folder / VALIDATION_LIST).is_file() or (folder / TESTING_LIST).is_file():
            return read_command_corpus(folder)
        raise KwsError(
            f"{folder}: not a generated corpus (no manifest.jsonl) nor a Speech Commands "
            f"folder (no {VALIDATION_LIST})"
        )
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    keywords = sorted({r["label"] for r in rows} - {BACKGROUND_LABEL})
    if len(keywords) != 1:
        raise KwsError(f"{manifest}: expected one keyword label, found {keywords}")
    paths: dict[str, list[Path]] = {}
    labels: dict[str, list[int]] = {}
    for row in rows:
        paths.setdefault(row["split"], []).append(folder / row["path"])
        labels.setdefault(row["split"], []).append(int(row["label"] != BACKGROUND_LABEL))
    targets = {k: np.asarray(v) for k, v in labels.items()}
    return Corpus((BACKGROUND_LABEL, keywords[0]), paths, targets)


def read_command_corpus(folder: Path) -> Corpus:
    """The 12-class command task on a Speech Commands layout; every word label must have clips
    in every split, and ``_background_noise_/`` must hold the ``_silence_`` recordings."""
    from training.data.loaders import command_task, speech_commands, speech_commands_background
    from training.data.loaders.base import SPLITS
    from training.data.loaders.speech_commands import BACKGROUND_DIR, COMMAND_LABELS, SILENCE

    paths: dict[str, list[Path]] = {s: [] for s in SPLITS}
    labels: dict[str, list[int]] = {s: [] for s in SPLITS}
    for example in command_task(speech_commands(folder)):
        paths[example.split].append(example.path)
        labels[example.split].append(COMMAND_LABELS.index(example.label))
    for split in SPLITS:
        for index, label in enumerate(COMMAND_LABELS):
            if label != SILENCE and index not in labels[split]:
                where = "another word's folder" if label.startswith("_") else f"{label}/"
                raise KwsError(f"{folder}: no {split} clips of {label!r} (expected in {where})")
    background = tuple(speech_commands_background(folder))
    if not background:
        raise KwsError(f"{folder / BACKGROUND_DIR}: no WAV files to cut {SILENCE} from")
    targets = {k: np.asarray(v) for k, v in labels.items()}
    return Corpus(COMMAND_LABELS, paths, targets, background, "Speech Commands layout")


def corpus_features(
    corpus: Corpus, config: TrainConfig, frames: int, cache: FeatureCache
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(features, label indices) per split: the clips' (cached) features, and for a Speech
    Commands layout ``_silence_`` windows cut from its background recordings."""
    from training.data.feature_cache import clip_features, window_samples
    from training.data.loaders.speech_commands import SILENCE, silence_windows

    features = config.feature_config()
    x, y = {}, {}
    for split, paths in corpus.paths.items():
        x[split] = cache.features(features, paths, frames, desc=f"{split} features")
        y[split] = corpus.targets[split]
        if corpus.background and config.silence_share > 0:
            count = max(1, round(config.silence_share * len(paths)))
            samples = window_samples(features, frames)
            windows = silence_windows(corpus.background, split, count, samples, config.seed)
            quiet = np.stack([clip_features(features, w, frames) for w in windows])
            x[split] = np.concatenate([x[split], quiet])
            silence = np.full(count, corpus.labels.index(SILENCE))
            y[split] = np.concatenate([y[split], silence])
    return x, y


def test_metrics(labels: tuple[str, ...], probs: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Test-split accuracy (argmax), per class, and the confusion matrix (rows: true label)."""
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
    return metrics


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
    data = read_corpus(corpus)
    x, labels = corpus_features(data, config, frames, FeatureCache(corpus / "features"))

    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    settings = LoopSettings(**{k: getattr(config, k) for k in LoopSettings.__dataclass_fields__})
    keywords = tuple(k for k in data.labels if not is_background(k))
    start = time.perf_counter()
    model, history, loop = fit(
        settings, spec, model_config, data.labels, keywords, x, labels, features, corpus, rng
    )
    train_s = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    model.save_weights(out / "model.weights.h5")  # for re-export without retraining

    probs = model.predict(x["test"], batch_size=256, verbose=0)
    metrics = {
        **test_metrics(data.labels, probs, labels["test"]),
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
