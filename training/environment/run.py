"""Fold cross-validation and the final model: train, score held-out clips, export.

A clip's prediction is the mean of the model's scores over crops every ``hop_frames`` steps of
its active part, as the runtime averages window outputs. Each fold's model is trained from
scratch for a fixed number of epochs (no early stopping on the test fold); with
``cv_int8`` it is also exported full-int8 and the held-out clips are scored again with the
TFLite interpreter, so the int8 cost is measured on unseen clips.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any

import numpy as np

from kws.features import FeatureConfig
from kws.metadata import ModelMetadata, Threshold
from training.core.seeding import seed_training
from training.environment.config import EnvConfig
from training.environment.data import (
    Clips,
    Views,
    eval_crops,
    gain_kind,
    make_views,
    training_batch,
)
from training.environment.metrics import accuracy, confusion, mean_roc_auc

CALIBRATION_WINDOWS = 400


@dataclasses.dataclass
class Trained:
    """A trained window model with what its export needs."""

    model: Any
    model_config: Any
    views: Views
    """Views of the training clips (clean first), for int8 calibration windows."""
    seconds: float


def _loss(head: str) -> str:
    return "categorical_crossentropy" if head == "softmax" else "binary_crossentropy"


def all_views(
    config: EnvConfig, clips: Clips, rng: np.random.Generator, pool: np.ndarray | None = None
) -> Views:
    """Every clip's training views: clean (at ``loudness_dbfs`` if set) and
    ``background_copies`` background-mixed ones, whose real backgrounds are clips of
    ``ambience_classes`` among the clips ``pool`` (default: all; the training folds in CV)."""
    every = np.arange(len(clips.audio))
    pool = every if pool is None else pool
    ambient = [clips.classes.index(c) for c in config.ambience_classes if c in clips.classes]
    ambience = [clips.audio[i] for i in pool if clips.labels[i] in ambient]
    return make_views(
        clips, every, config.feature_config(), config.model_config(), config.background_copies,
        config.snr_db, rng, ambience, config.loudness_dbfs,
    )  # fmt: skip


def eval_views(config: EnvConfig, clips: Clips, rng: np.random.Generator) -> Views:
    """Every clip as recorded (no normalisation, no background): what held-out clips are
    scored on."""
    every = np.arange(len(clips.audio))
    features, model_config = config.feature_config(), config.model_config()
    return make_views(clips, every, features, model_config, 0, config.snr_db, rng)


def per_fold_views(config: EnvConfig) -> bool:
    """Whether training views depend on the fold (real backgrounds come from training folds)."""
    return bool(config.ambience_classes)


def epoch_sample(
    labels: np.ndarray, crops_per_clip: int, balanced: bool, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Positions (into ``labels``) of the clips one epoch crops, and the crops per position:
    every clip ``crops_per_clip`` times, or as many single crops drawn class-balanced."""
    if not balanced:
        return np.arange(len(labels)), crops_per_clip
    counts = np.bincount(labels)
    weights = 1.0 / counts[labels]
    size = len(labels) * crops_per_clip
    return rng.choice(len(labels), size=size, p=weights / weights.sum()), 1


def fit(
    config: EnvConfig, clips: Clips, views: Views, indices: np.ndarray, rng: np.random.Generator
) -> Trained:
    """Train a fresh model on the clips ``indices`` (``views`` are every clip's, from
    :func:`all_views`; labels index ``clips.classes``)."""
    import keras

    from training.models import get_model

    model_config = config.model_config()
    window = model_config.window_frames
    views = views.subset(indices)
    width = views.views[0][0].shape[1]
    model = get_model(config.model).build(model_config, width, len(clips.classes))
    model.get_layer("normalize").adapt(np.concatenate([v[0] for v in views.views]))
    targets = np.eye(len(clips.classes), dtype=np.float32)[clips.labels[indices]]
    steps = config.epochs * -(-len(indices) * config.crops_per_clip // config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
    head = getattr(model_config, "head", "softmax")
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=_loss(head))
    raw = getattr(model_config, "frontend", "features") == "raw"
    start = time.perf_counter()
    labels = clips.labels[indices]
    for _ in range(config.epochs):
        chosen, crops = epoch_sample(labels, config.crops_per_clip, config.balanced, rng)
        x, y = training_batch(
            views.subset(chosen), targets[chosen], window, crops, rng, config.mixup_alpha,
            config.spec_augment, freq_masks=not raw, gain_db=config.gain_db,
            gain=gain_kind(config.feature_config(), model_config), channel_db=config.channel_db,
        )  # fmt: skip
        model.fit(x, y, batch_size=config.batch_size, epochs=1, verbose=0, shuffle=True)
    return Trained(model, model_config, views, time.perf_counter() - start)


def clip_crops(config: EnvConfig, views: Views, indices: np.ndarray) -> list[np.ndarray]:
    """Evaluation crops of the clips ``indices`` (clean views)."""
    window = config.model_config().window_frames
    return [
        eval_crops(views.views[i][0], int(views.active[i]), window, config.hop_frames)
        for i in indices
    ]


def clip_scores(predict: Any, crops: list[np.ndarray]) -> np.ndarray:
    """Mean score over each clip's crops, [clips, labels]; ``predict`` maps [n, W, F] -> [n, L]."""
    flat = np.concatenate(crops)
    scores = predict(flat)
    bounds = np.cumsum([0] + [len(c) for c in crops])
    return np.stack([scores[a:b].mean(axis=0) for a, b in itertools.pairwise(bounds)])


def keras_predict(model: Any) -> Any:
    """A ``predict`` running a Keras model in inference mode."""
    return lambda x: model.predict(x, batch_size=256, verbose=0)


def tflite_predict(data: bytes) -> Any:
    """A ``predict`` running a window-form ``.tflite`` (float or int8) one crop at a time."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()

    def predict(x: np.ndarray) -> np.ndarray:
        rows = []
        for crop in x:
            value = crop[None]
            if inp["dtype"] != np.float32:
                scale, zero = inp["quantization"]
                info = np.iinfo(inp["dtype"])
                value = np.clip(np.round(value / scale + zero), info.min, info.max)
            interpreter.set_tensor(inp["index"], value.astype(inp["dtype"]))
            interpreter.invoke()
            y = interpreter.get_tensor(out["index"]).astype(np.float32)
            if out["dtype"] != np.float32:
                scale, zero = out["quantization"]
                y = (y - zero) * scale
            rows.append(y.reshape(-1))
        return np.stack(rows)

    return predict


def metadata_for(
    config: EnvConfig, model_config: Any, classes: tuple[str, ...], quantization: str,
    training: dict[str, Any],
) -> ModelMetadata:  # fmt: skip
    """Environment metadata: window form, scores = per-label probabilities, a threshold each."""
    features = config.feature_config()
    if getattr(model_config, "frontend", "features") == "raw":
        # A raw front end's "frames" are hops of raw samples, not the frontend's features.
        seconds = model_config.frontend_stride / features.sample_rate
        features = dataclasses.replace(features, winlen=seconds, winstep=seconds)
    return ModelMetadata(
        name=config.name,
        task="environment",
        labels=classes,
        features=features,
        window_frames=model_config.window_frames,
        stride_frames=config.hop_frames,
        streaming=False,
        quantization=quantization,
        thresholds={label: Threshold(config.threshold) for label in classes},
        smoothing_s=config.smoothing_s,
        training={"head": getattr(model_config, "head", "softmax"), **training},
    )


def export(
    trained: Trained, config: EnvConfig, classes: tuple[str, ...], quantization: str,
    training: dict[str, Any], rng: np.random.Generator,
) -> bytes:  # fmt: skip
    """The window-form ``.tflite`` bytes; int8 is calibrated on random clean training crops."""
    from training.core.tflite import export_tflite

    window = trained.model_config.window_frames
    representative = None
    if quantization == "int8":
        crops = []
        for clip, active in zip(trained.views.views, trained.views.active, strict=True):
            crops.extend(eval_crops(clip[0], int(active), window, config.hop_frames))
        order = rng.permutation(len(crops))[:CALIBRATION_WINDOWS]
        representative = np.stack([crops[i] for i in order])
    metadata = metadata_for(config, trained.model_config, classes, quantization, training)
    return export_tflite(
        trained.model, trained.model_config, metadata, "window", quantization, representative
    )


def cross_validate(config: EnvConfig, clips: Clips) -> dict[str, Any]:
    """Hold out each test fold in turn; per-fold and pooled metrics, out-of-fold scores."""
    folds = config.test_folds or tuple(sorted(set(clips.folds.tolist())))
    rng = np.random.default_rng(config.seed)

    seed_training(config.seed)
    views = None if per_fold_views(config) else all_views(config, clips, rng)
    raw = config.loudness_dbfs is None and views is not None
    scored = views if raw else eval_views(config, clips, rng)
    rows = []
    labels_all, scores_all, int8_all = [], [], []
    for fold in folds:
        train = np.flatnonzero(clips.folds != fold)
        test = np.flatnonzero(clips.folds == fold)
        if not len(test):
            raise ValueError(f"test fold {fold} has no clips (folds: {sorted(set(clips.folds))})")
        if per_fold_views(config):
            views = all_views(config, clips, rng, pool=train)
        trained = fit(config, clips, views, train, rng)
        crops = clip_crops(config, scored, test)
        scores = clip_scores(keras_predict(trained.model), crops)
        labels = clips.labels[test]
        row = {
            "fold": int(fold), "test_clips": len(test), "train_clips": len(train),
            "accuracy": accuracy(scores, labels), "mean_roc_auc": mean_roc_auc(scores, labels),
            "seen_class_share": float(np.mean(np.isin(labels, clips.labels[train]))),
            "train_seconds": round(trained.seconds, 1),
        }  # fmt: skip
        if config.cv_int8:
            data = export(trained, config, clips.classes, "int8", {}, rng)
            int8 = clip_scores(tflite_predict(data), crops)
            row["int8_accuracy"] = accuracy(int8, labels)
            row["int8_mean_roc_auc"] = mean_roc_auc(int8, labels)
            int8_all.append(int8)
        print(
            "fold {fold}: accuracy {accuracy:.3f} mean ROC AUC {mean_roc_auc:.3f}".format(**row)
            + (f" (int8 {row['int8_accuracy']:.3f})" if config.cv_int8 else ""),
            flush=True,
        )
        rows.append(row)
        labels_all.append(labels)
        scores_all.append(scores)
    labels = np.concatenate(labels_all)
    scores = np.concatenate(scores_all)
    result: dict[str, Any] = {
        "folds": rows,
        "mean_accuracy": float(np.mean([r["accuracy"] for r in rows])),
        "std_accuracy": float(np.std([r["accuracy"] for r in rows])),
        "mean_roc_auc": float(np.nanmean([r["mean_roc_auc"] for r in rows])),
        "pooled_accuracy": accuracy(scores, labels),
        "seen_class_share": float(
            np.sum([r["seen_class_share"] * r["test_clips"] for r in rows]) / len(labels)
        ),
        "chance_accuracy": float(np.max(np.bincount(labels)) / len(labels)),
        "confusion": confusion(scores, labels, len(clips.classes)).tolist(),
    }
    if int8_all:
        result["int8_mean_accuracy"] = float(np.mean([r["int8_accuracy"] for r in rows]))
        result["int8_mean_roc_auc"] = float(np.nanmean([r["int8_mean_roc_auc"] for r in rows]))
    result["per_class"] = {
        c: {
            "clips": int(np.sum(labels == k)),
            "recall": float(np.mean(np.argmax(scores[labels == k], 1) == k))
            if np.any(labels == k) else None,
        }
        for k, c in enumerate(clips.classes)
    }  # fmt: skip
    return result


def features_summary(features: FeatureConfig) -> str:
    kind = "log-mel" if features.numcep == 0 else "MFCC"
    return (
        f"{features.num_features} {kind}, {features.winlen * 1000:g} ms window, "
        f"{features.winstep * 1000:g} ms hop"
    )
