"""The streaming pipeline: audio blocks in, events out, for any number of models.

One :class:`~kws.features.StreamingFrontend` per distinct FeatureConfig feeds every model that
uses it; each model's scores go through its :class:`~kws.detect.Detector`. The pipeline consumes
any iterable of int16 blocks, so a microphone, a file, stdin or a test's array all work alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from kws.detect import Detector
from kws.errors import KwsError
from kws.events import Detection, Event, Score, Status
from kws.features import FeatureConfig, Frontend, StreamingFrontend
from kws.model import Model, Runner

EventCallback = Callable[[Event], None]


@dataclass(frozen=True)
class PipelineConfig:
    """How the pipeline turns scores into events (the CLI maps its options onto this)."""

    thresholds: dict[str, float] = field(default_factory=dict)
    """Overrides: ``{"*": t}`` for every keyword, ``{"label": t}`` or ``{"model:label": t}``."""
    emit_scores: bool = False
    """Also emit a ``score`` event for every model output."""
    status_interval_s: float = 60.0
    """Stream seconds between ``running`` status events (0 disables them)."""


@dataclass
class _Track:
    model: Model
    name: str
    runner: Runner
    detector: Detector


def unique_names(names: Sequence[str]) -> list[str]:
    """Event names for models: the metadata name, with ``#2``, ``#3``... on repeats so that two
    exports of one model in one pipeline stay distinguishable."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def resolve_thresholds(model: Model, overrides: dict[str, float]) -> dict[str, float]:
    """Per-keyword thresholds: metadata defaults, then ``*``, ``label``, ``model:label``."""
    md = model.metadata
    out = {}
    for label, default in md.thresholds.items():
        value = default.threshold
        for key in ("*", label, f"{md.name}:{label}"):
            if key in overrides:
                value = overrides[key]
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"threshold for {md.name}:{label} must be within [0, 1], got {value}")
        out[label] = value
    return out


class Pipeline:
    """Runs models over a stream of 16 kHz mono int16 blocks and emits events.

    ``process(block)`` returns the events that block caused; ``run(source)`` drives a whole
    source and adds ``status`` events. Every event also goes to ``on_event`` if given.
    """

    def __init__(
        self,
        models: Sequence[Model],
        config: PipelineConfig | None = None,
        on_event: EventCallback | None = None,
    ) -> None:
        if not models:
            raise ValueError("the pipeline needs at least one model")
        self.config = config or PipelineConfig()
        self.on_event = on_event
        self.models = list(models)
        rates = {m.metadata.features.sample_rate for m in models}
        if len(rates) != 1:
            raise ValueError(f"models disagree on the sample rate: {sorted(rates)}")
        self.sample_rate = rates.pop()
        self.names = unique_names([m.metadata.name for m in models])
        """The name each model has in events, in model order (see :func:`unique_names`)."""
        self._tracks: list[_Track] = []
        self._groups: dict[FeatureConfig, tuple[StreamingFrontend, list[_Track]]] = {}
        for model in models:
            md = model.metadata
            features = md.features
            if features not in self._groups:
                self._groups[features] = (StreamingFrontend(features, Frontend(features)), [])
            thresholds = resolve_thresholds(model, self.config.thresholds)
            detector = Detector(md.labels, thresholds, md.smoothing_calls, md.refractory_s)
            name = self.names[len(self._tracks)]
            track = _Track(model, name, model.runner(), detector)
            self._tracks.append(track)
            self._groups[features][1].append(track)
        self.samples_seen = 0
        self.detections = 0
        self._cpu_start = time.process_time()
        self._next_status = self.config.status_interval_s

    @property
    def stream_time(self) -> float:
        """Seconds of audio consumed so far."""
        return self.samples_seen / self.sample_rate

    @property
    def feature_configs(self) -> list[FeatureConfig]:
        """The distinct frontends the pipeline runs (one per FeatureConfig)."""
        return list(self._groups)

    def _emit(self, event: Event, out: list[Event]) -> None:
        out.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def process(self, block: np.ndarray, arrival: float | None = None) -> list[Event]:
        """Consume one block of int16 samples; return (and call back with) its events.

        ``arrival`` is the ``time.monotonic()`` when the block became available (default: now);
        detection latency is measured from it.
        """
        arrival = time.monotonic() if arrival is None else arrival
        events: list[Event] = []
        self.samples_seen += len(block)
        for features, (frontend, tracks) in self._groups.items():
            frames = frontend.push(block)
            if not len(frames):
                continue
            for track in tracks:
                for calls_at, scores in track.runner.push(frames):
                    self._score(track, features, calls_at, scores, arrival, events)
        return events

    def _score(
        self,
        track: _Track,
        features: FeatureConfig,
        frames_seen: int,
        scores: np.ndarray,
        arrival: float,
        events: list[Event],
    ) -> None:
        md = track.model.metadata
        end = ((frames_seen - 1) * features.frame_step + features.frame_length) / (
            features.sample_rate
        )
        if self.config.emit_scores:
            named = {label: float(p) for label, p in zip(md.labels, scores, strict=True)}
            self._emit(Score(t=end, model=track.name, scores=named), events)
        for firing in track.detector.update(scores, end):
            self.detections += 1
            latency_ms = (time.monotonic() - arrival) * 1000.0
            event = Detection(
                model=track.name,
                keyword=firing.label,
                score=firing.score,
                start=max(0.0, end - md.window_seconds),
                end=end,
                latency_ms=latency_ms,
            )
            self._emit(event, events)

    def status(self, state: str, **extra: object) -> Status:
        """A status snapshot (not emitted)."""
        return Status(
            state=state,
            t=self.stream_time,
            detections=self.detections,
            cpu_s=time.process_time() - self._cpu_start,
            **extra,  # type: ignore[arg-type]
        )

    def describe(self) -> list[dict[str, object]]:
        """What each model is, for the ``started`` status event."""
        return [
            {
                "name": name,
                "path": str(m.path),
                "task": m.metadata.task,
                "backend": m.backend,
                "streaming": m.metadata.streaming,
                "quantization": m.metadata.quantization,
                "thresholds": resolve_thresholds(m, self.config.thresholds),
            }
            for name, m in zip(self.names, self.models, strict=True)
        ]

    def run(self, source: Iterable[np.ndarray], source_name: str = "") -> Status:
        """Process a whole source; emit started/running/overrun/stopped status events.

        Returns the final ``stopped`` status. KeyboardInterrupt ends the run cleanly with
        reason ``interrupted``; a KwsError from the source (a vanished device) is reported as a
        ``stopped`` status with reason ``error`` and then raised.
        """
        sink: list[Event] = []
        self._emit(
            self.status("started", info={"source": source_name, "models": self.describe()}), sink
        )
        reason = "end_of_input"
        overruns = 0
        try:
            for block in source:
                self.process(block)
                sink.clear()
                seen = int(getattr(source, "overruns", 0))
                if seen != overruns:
                    overruns = seen
                    self._emit(self._health(source, "overrun"), sink)
                interval = self.config.status_interval_s
                if interval and self.stream_time >= self._next_status:
                    self._next_status += interval
                    self._emit(self._health(source, "running"), sink)
        except KeyboardInterrupt:
            reason = "interrupted"
        except KwsError as exc:  # e.g. the microphone vanished: say so, then let it propagate
            self._emit(
                self._health(source, "stopped", reason="error", info={"error": str(exc)}), sink
            )
            raise
        final = self._health(source, "stopped", reason=reason)
        self._emit(final, sink)
        return final

    def _health(self, source: object, state: str, **extra: object) -> Status:
        return self.status(
            state,
            overruns=int(getattr(source, "overruns", 0)),
            dropped_samples=int(getattr(source, "dropped_samples", 0)),
            **extra,
        )
