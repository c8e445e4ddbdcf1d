"""The model-metadata schema: everything the runtime needs to use a ``.tflite`` file on its own.

One versioned, strict schema (unknown and missing keys are errors), documented in
docs/model-format.md. The JSON lives in the flatbuffer's metadata table under
:data:`METADATA_NAME`; a sidecar ``<stem>.json`` next to the model is the fallback.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

from kws.features.config import FeatureConfig
from kws.schema import reject_unknown_keys

SCHEMA_VERSION = 1
METADATA_NAME = "kws_metadata"
TASKS = ("keyword", "environment", "speaker")
QUANTIZATIONS = ("float32", "int8", "int8_weights")


def _check_keys(where: str, data: dict[str, Any], required: set[str], optional: set[str]) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be an object, got {type(data).__name__}")
    reject_unknown_keys(where, data, required | optional)
    missing = sorted(required - set(data))
    if missing:
        raise ValueError(f"{where} is missing keys: {', '.join(missing)}")


@dataclass(frozen=True)
class Threshold:
    """A detection threshold for one label, and the false-accept rate it was calibrated at."""

    threshold: float
    """Smoothed posterior (0..1) at or above which the label fires."""
    fa_per_hour: float | None = None
    """False accepts per hour measured at this threshold; None if not calibrated."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {self.threshold}")


@dataclass(frozen=True)
class StateTensor:
    """One streaming state: the signature input that receives it and the output that returns it."""

    input: str
    output: str


@dataclass(frozen=True)
class CepstralStats:
    """Speaker models only: a cepstral-statistics subsystem fused with the network's embedding.

    Per utterance, the mean and standard deviation of cepstra c1..c(numcep-1) (the DCT of the
    model's log-mel frames, c0 dropped: level is not identity) are standardized with ``mean`` and
    ``std``, multiplied by ``transform`` (within-speaker covariance normalization learned on the
    training speakers) and unit-normalized; the embedding is that vector, scaled by
    sqrt(``weight``), after the network's, so cosines add up as network + weight x statistics.
    See :mod:`kws.speaker`.
    """

    numcep: int
    ceplifter: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    transform: tuple[tuple[float, ...], ...]
    """Rows: the 2 x (numcep - 1) standardized statistics; columns: the output dimensions."""
    weight: float

    def __post_init__(self) -> None:
        size = 2 * (self.numcep - 1)
        problems = []
        if self.numcep < 2:
            problems.append(f"numcep must be at least 2, got {self.numcep}")
        if len(self.mean) != size or len(self.std) != size:
            problems.append(f"mean and std need {size} values each (2 x (numcep - 1))")
        if min(self.std, default=1.0) <= 0:
            problems.append("std values must be positive")
        if len(self.transform) != size or len({len(row) for row in self.transform}) != 1:
            problems.append(f"transform needs {size} rows of equal length")
        if not self.weight > 0:
            problems.append(f"weight must be positive, got {self.weight}")
        if problems:
            raise ValueError("cepstral_stats: " + "; ".join(problems))

    @property
    def dim(self) -> int:
        return len(self.transform[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "numcep": self.numcep,
            "ceplifter": self.ceplifter,
            "mean": list(self.mean),
            "std": list(self.std),
            "transform": [list(row) for row in self.transform],
            "weight": self.weight,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CepstralStats:
        keys = {"numcep", "ceplifter", "mean", "std", "transform", "weight"}
        _check_keys("cepstral_stats", data, keys, set())
        try:
            return cls(
                numcep=int(data["numcep"]),
                ceplifter=int(data["ceplifter"]),
                mean=tuple(float(x) for x in data["mean"]),
                std=tuple(float(x) for x in data["std"]),
                transform=tuple(tuple(float(x) for x in row) for row in data["transform"]),
                weight=float(data["weight"]),
            )
        except (TypeError, ValueError) as exc:
            if str(exc).startswith("cepstral_stats"):
                raise
            raise ValueError(f"cepstral_stats has a value of the wrong type ({exc})") from None


def spoken(label: str) -> str:
    """The words a keyword label stands for: ``hey_jarvis`` is "hey jarvis"."""
    return label.replace("_", " ")


def smoothing_calls(smoothing_s: float, stride_frames: int, features: FeatureConfig) -> int:
    """Model outputs a moving average over ``smoothing_s`` spans: in strides, at least 1."""
    stride_s = features.frame_step * stride_frames / features.sample_rate
    return max(1, round(smoothing_s / stride_s)) if smoothing_s else 1


@dataclass(frozen=True)
class ModelMetadata:
    """What a model is and how to feed it (schema version :data:`SCHEMA_VERSION`)."""

    name: str
    """Short model name used in events, e.g. 'hey_jarvis'."""
    task: str
    """'keyword', 'environment' or 'speaker'."""
    labels: tuple[str, ...]
    """Output labels, in the order of the score vector (for 'speaker': the embedding name)."""
    features: FeatureConfig
    """The frontend the model was trained on."""
    window_frames: int
    """Frames the window form sees per invocation (T)."""
    stride_frames: int
    """New frames per invocation (S): the window form runs every S frames; the streaming form
    takes S frames per call."""
    streaming: bool
    """True if the file is the streaming form (S frames plus state in, scores plus state out)."""
    quantization: str
    """'float32'; 'int8' (full integer: inputs, outputs and state quantized with each tensor's
    scale); or 'int8_weights' (int8 weights, float32 activations, inputs and state)."""
    thresholds: dict[str, Threshold]
    """Per-label detection thresholds; the labels listed here are the ones that fire events."""
    smoothing_s: float = 0.0
    """Posterior smoothing window in seconds (moving average over invocations; 0 = none)."""
    refractory_s: float = 1.0
    """After a detection, the same label cannot fire again for this many seconds."""
    input_name: str = "frames"
    """Signature input that receives feature frames, shape [1, frames, num_features]."""
    output_name: str = "scores"
    """Signature output with one probability per label, shape [1, len(labels)]."""
    state_tensors: tuple[StateTensor, ...] = ()
    """Streaming form only: state inputs paired by name with the outputs that update them."""
    training: dict[str, Any] = field(default_factory=dict)
    """Free-form summary of training data, configuration and metrics (model card numbers)."""
    cepstral_stats: CepstralStats | None = None
    """Speaker models only: the cepstral statistics fused into the embedding (or none)."""
    cohort: tuple[tuple[float, ...], ...] = ()
    """Speaker models only: unit embeddings of training speakers that similarities are
    S-normalized against (:func:`kws.verification.s_norm`); empty: plain cosines."""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        problems = []
        if self.task not in TASKS:
            problems.append(f"task must be one of {TASKS}, got {self.task!r}")
        if self.quantization not in QUANTIZATIONS:
            problems.append(f"quantization must be one of {QUANTIZATIONS}")
        if not self.labels or len(set(self.labels)) != len(self.labels):
            problems.append("labels must be a non-empty list of distinct names")
        unknown = sorted(set(self.thresholds) - set(self.labels))
        if unknown:
            problems.append(f"thresholds for unknown labels: {', '.join(unknown)}")
        if self.window_frames < 1 or self.stride_frames < 1:
            problems.append("window_frames and stride_frames must be >= 1")
        if self.stride_frames > self.window_frames:
            problems.append("stride_frames must not exceed window_frames")
        if self.streaming != bool(self.state_tensors):
            problems.append("a streaming model needs state_tensors and a window model has none")
        if self.smoothing_s < 0 or self.refractory_s < 0:
            problems.append("smoothing_s and refractory_s must be >= 0")
        stats = self.cepstral_stats
        if stats is not None:
            if self.task != "speaker":
                problems.append("cepstral_stats belong to speaker models only")
            if self.features.numcep or stats.numcep > self.features.nfilt:
                problems.append("cepstral_stats need log-mel features with at least numcep filters")
        if self.cohort:
            if self.task != "speaker":
                problems.append("a cohort belongs to speaker models only")
            if len(self.cohort) < 2 or len({len(row) for row in self.cohort}) != 1:
                problems.append("cohort must hold 2+ vectors of equal length")
        if self.schema_version != SCHEMA_VERSION:
            problems.append(
                f"schema_version {self.schema_version} is not supported (this kws reads "
                f"{SCHEMA_VERSION})"
            )
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def keywords(self) -> tuple[str, ...]:
        """Labels that fire events, in label order."""
        return tuple(label for label in self.labels if label in self.thresholds)

    @property
    def frames_per_invocation(self) -> int:
        """Frames consumed per model call: the stride for both forms."""
        return self.stride_frames

    @property
    def input_frames(self) -> int:
        """Frames in the model's frame input tensor."""
        return self.stride_frames if self.streaming else self.window_frames

    @property
    def smoothing_calls(self) -> int:
        """Model outputs the detector averages over: smoothing_s in strides, at least 1."""
        return smoothing_calls(self.smoothing_s, self.stride_frames, self.features)

    @property
    def window_seconds(self) -> float:
        """Audio covered by one window of frames."""
        f = self.features
        return ((self.window_frames - 1) * f.frame_step + f.frame_length) / f.sample_rate

    def with_thresholds(self, thresholds: dict[str, Threshold]) -> ModelMetadata:
        return replace(self, thresholds=thresholds)

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.cepstral_stats:
            extra["cepstral_stats"] = self.cepstral_stats.to_dict()
        if self.cohort:
            extra["cohort"] = [list(row) for row in self.cohort]
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "task": self.task,
            "labels": list(self.labels),
            "features": self.features.to_dict(),
            "window_frames": self.window_frames,
            "stride_frames": self.stride_frames,
            "streaming": self.streaming,
            "quantization": self.quantization,
            "thresholds": {
                k: {"threshold": v.threshold, "fa_per_hour": v.fa_per_hour}
                for k, v in self.thresholds.items()
            },
            "smoothing_s": self.smoothing_s,
            "refractory_s": self.refractory_s,
            "input_name": self.input_name,
            "output_name": self.output_name,
            "state_tensors": [{"input": s.input, "output": s.output} for s in self.state_tensors],
            "training": self.training,
            **extra,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetadata:
        """Parse strictly: unknown or missing keys and wrong types raise ValueError."""
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is f.default_factory is MISSING}
        _check_keys("metadata", data, required, names - required)
        if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {data['schema_version']} is not supported (this kws reads "
                f"{SCHEMA_VERSION})"
            )
        thresholds = {}
        for label, t in data["thresholds"].items():
            _check_keys(f"thresholds[{label!r}]", t, {"threshold"}, {"fa_per_hour"})
            thresholds[label] = Threshold(float(t["threshold"]), t.get("fa_per_hour"))
        states = []
        for i, s in enumerate(data.get("state_tensors", [])):
            _check_keys(f"state_tensors[{i}]", s, {"input", "output"}, set())
            states.append(StateTensor(str(s["input"]), str(s["output"])))
        values = dict(data)
        if data.get("cepstral_stats") is not None:
            values["cepstral_stats"] = CepstralStats.from_dict(data["cepstral_stats"])
        if "cohort" in data:
            try:
                values["cohort"] = tuple(tuple(float(x) for x in row) for row in data["cohort"])
            except (TypeError, ValueError):
                raise ValueError("metadata cohort must be a list of lists of numbers") from None
        values.update(
            labels=tuple(str(x) for x in data["labels"]),
            features=FeatureConfig.from_dict(data["features"]),
            thresholds=thresholds,
            state_tensors=tuple(states),
        )
        for key, kind in (("window_frames", int), ("stride_frames", int), ("streaming", bool)):
            if not isinstance(values[key], kind):
                raise ValueError(f"metadata {key} must be {kind.__name__}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelMetadata:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"metadata is not valid JSON ({exc})") from None
        return cls.from_dict(data)
