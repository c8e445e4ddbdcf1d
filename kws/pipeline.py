"""The streaming pipeline: audio blocks in, events out, for any number of models.

One :class:`~kws.features.StreamingFrontend` per distinct FeatureConfig feeds every model that
uses it; each model's scores go to the handler of its task (:data:`TASKS`): a keyword model's to a
:class:`~kws.detect.Detector`, an environment model's to an
:class:`~kws.environment.EnvironmentTracker`. With a speaker encoder and enrolled profiles, each
detection's audio is cut from a short history of samples and attributed to a speaker. The
pipeline consumes any iterable of int16 blocks, so a microphone, a file, stdin or a test's array
all work alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from kws.detect import Detector
from kws.environment import EnvironmentTracker
from kws.errors import KwsError
from kws.events import Detection, Environment, Event, Score, Status
from kws.features import FeatureConfig, Frontend, StreamingFrontend
from kws.model import Model, Runner
from kws.profiles import Profile, check_model, identify
from kws.ring import SampleHistory
from kws.speaker import SpeakerEncoder

EventCallback = Callable[[Event], None]
HISTORY_MARGIN_S = 1.0
"""Audio kept beyond the longest keyword window, and the largest piece a block is cut into when
speakers are verified, so that a detection's audio is always still in the history."""


@dataclass(frozen=True)
class PipelineConfig:
    """How the pipeline turns scores into events (the CLI maps its options onto this)."""

    thresholds: dict[str, float] = field(default_factory=dict)
    """Overrides: ``{"*": t}`` for every keyword, ``{"label": t}`` or ``{"model:label": t}``."""
    emit_scores: bool = False
    """Also emit a ``score`` event for every model output."""
    status_interval_s: float = 60.0
    """Stream seconds between ``running`` status events (0 disables them)."""
    environment_interval_s: float = 0.0
    """Also repeat each environment model's current label every this many stream seconds
    (0: only when the label changes)."""
    speaker_threshold: float | None = None
    """Cosine similarity a speaker must reach to be named; None: the speaker model's metadata."""


class TaskHandler(Protocol):
    """Turns one model output (at stream time ``end``) into events."""

    def __call__(self, scores: np.ndarray, end: float, arrival: float) -> list[Event]: ...


@dataclass
class _Track:
    model: Model
    name: str
    runner: Runner
    handler: TaskHandler


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


class _KeywordTask:
    """Keyword spotting: smoothed thresholds fire detections (with the speaker, if verified)."""

    def __init__(self, pipeline: Pipeline, model: Model, name: str) -> None:
        md = model.metadata
        thresholds = resolve_thresholds(model, pipeline.config.thresholds)
        self.detector = Detector(md.labels, thresholds, md.smoothing_calls, md.refractory_s)
        self.pipeline, self.name, self.window_s = pipeline, name, md.window_seconds

    def __call__(self, scores: np.ndarray, end: float, arrival: float) -> list[Event]:
        events: list[Event] = []
        for firing in self.detector.update(scores, end):
            self.pipeline.detections += 1
            start = max(0.0, end - self.window_s)
            speaker = self.pipeline.identify_speaker(start, end)
            events.append(
                Detection(
                    model=self.name,
                    keyword=firing.label,
                    score=firing.score,
                    start=start,
                    end=end,
                    latency_ms=(time.monotonic() - arrival) * 1000.0,
                    speaker=speaker,
                )
            )
        return events


class _EnvironmentTask:
    """Environment classification: smoothed top label, reported on change or every interval."""

    def __init__(self, pipeline: Pipeline, model: Model, name: str) -> None:
        md = model.metadata
        self.tracker = EnvironmentTracker(
            md.labels,
            resolve_thresholds(model, pipeline.config.thresholds),
            md.smoothing_calls,
            md.window_seconds,
            pipeline.config.environment_interval_s,
        )
        self.name = name

    def __call__(self, scores: np.ndarray, end: float, arrival: float) -> list[Event]:
        decision = self.tracker.update(scores, end)
        if decision is None:
            return []
        return [Environment(self.name, decision.label, decision.score, decision.start, end)]


TASKS: dict[str, Callable[[Pipeline, Model, str], TaskHandler]] = {
    "keyword": _KeywordTask,
    "environment": _EnvironmentTask,
}
"""Metadata ``task`` -> the handler that turns that model's outputs into events."""


class Pipeline:
    """Runs models over a stream of 16 kHz mono int16 blocks and emits events.

    ``process(block)`` returns the events that block caused; ``run(source)`` drives a whole
    source and adds ``status`` events. Every event also goes to ``on_event`` if given. With a
    ``speaker`` encoder, each detection carries the best-matching of ``profiles`` (or None).
    """

    def __init__(
        self,
        models: Sequence[Model],
        config: PipelineConfig | None = None,
        on_event: EventCallback | None = None,
        speaker: SpeakerEncoder | None = None,
        profiles: Sequence[Profile] = (),
    ) -> None:
        if not models:
            raise ValueError("the pipeline needs at least one model")
        self.config = config or PipelineConfig()
        self.on_event = on_event
        self.models = list(models)
        rates = {m.metadata.features.sample_rate for m in models}
        if speaker is not None:
            rates.add(speaker.model.metadata.features.sample_rate)
        if len(rates) != 1:
            raise ValueError(f"models disagree on the sample rate: {sorted(rates)}")
        self.sample_rate = rates.pop()
        if self.config.environment_interval_s < 0:
            raise ValueError("the environment interval must be >= 0")
        self.names = unique_names([m.metadata.name for m in models])
        """The name each model has in events, in model order (see :func:`unique_names`)."""
        self._tracks: list[_Track] = []
        self._groups: dict[FeatureConfig, tuple[StreamingFrontend, list[_Track]]] = {}
        for model, name in zip(models, self.names, strict=True):
            md = model.metadata
            if md.task not in TASKS:
                hint = " (pass it as the speaker model: --speaker-model)" * (md.task == "speaker")
                raise ValueError(f"{model.path}: the pipeline cannot run a {md.task} model{hint}")
            features = md.features
            if features not in self._groups:
                self._groups[features] = (StreamingFrontend(features, Frontend(features)), [])
            track = _Track(model, name, model.runner(), TASKS[md.task](self, model, name))
            self._tracks.append(track)
            self._groups[features][1].append(track)
        self.speaker = speaker
        self.profiles = tuple(profiles)
        self.speaker_threshold = 0.0
        self._history: SampleHistory | None = None
        if speaker is not None:
            check_model(self.profiles, speaker.model_id, "speaker profiles")
            self.speaker_threshold = self._speaker_threshold(speaker)
            windows = [m.metadata.window_seconds for m in models if m.metadata.task == "keyword"]
            keep_s = max(windows, default=0.0) + 2 * HISTORY_MARGIN_S
            self._history = SampleHistory(round(keep_s * self.sample_rate))
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

    def _speaker_threshold(self, speaker: SpeakerEncoder) -> float:
        if self.config.speaker_threshold is not None:
            value = self.config.speaker_threshold
        else:
            md = speaker.model.metadata
            calibrated = md.thresholds.get(md.labels[0])
            if calibrated is None:
                raise ValueError(
                    f"{speaker.model.path}: the speaker model has no threshold in its metadata; "
                    "give one (--speaker-threshold)"
                )
            value = calibrated.threshold
        if not -1.0 <= value <= 1.0:
            raise ValueError(f"the speaker threshold must be within [-1, 1], got {value}")
        return value

    def identify_speaker(self, start: float, end: float) -> dict[str, object] | None:
        """Who spoke the audio ``[start, end]`` (stream seconds); None without a speaker model."""
        if self.speaker is None or self._history is None:
            return None
        audio = self._history.get(round(start * self.sample_rate), round(end * self.sample_rate))
        if len(audio) < self.speaker.model.metadata.features.frame_length:
            return {"name": None, "score": None}
        embedding = self.speaker.embed(audio)
        return identify(
            embedding, self.profiles, self.speaker_threshold, self.speaker.score
        ).to_dict()

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
        if self._history is None:
            self._process(block, arrival, events)
            return events
        # Cut long blocks so that every detection's audio is still in the history.
        piece = round(HISTORY_MARGIN_S * self.sample_rate)
        for i in range(0, len(block), piece):
            self._history.push(block[i : i + piece])
            self._process(block[i : i + piece], arrival, events)
        return events

    def _process(self, block: np.ndarray, arrival: float, events: list[Event]) -> None:
        self.samples_seen += len(block)
        for features, (frontend, tracks) in self._groups.items():
            frames = frontend.push(block)
            if not len(frames):
                continue
            for track in tracks:
                for calls_at, scores in track.runner.push(frames):
                    self._score(track, features, calls_at, scores, arrival, events)

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
        for event in track.handler(scores, end, arrival):
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
                "frontend": self._groups[m.metadata.features][0].backend,
                "streaming": m.metadata.streaming,
                "quantization": m.metadata.quantization,
                "thresholds": resolve_thresholds(m, self.config.thresholds),
            }
            for name, m in zip(self.names, self.models, strict=True)
        ]

    def run(
        self,
        source: Iterable[np.ndarray],
        source_name: str = "",
        extra_info: dict[str, object] | None = None,
    ) -> Status:
        """Process a whole source; emit started/running/overrun/stopped status events (the
        ``started`` one's info says the source, the models and ``extra_info``).

        Returns the final ``stopped`` status. KeyboardInterrupt ends the run cleanly with
        reason ``interrupted``; a KwsError from the source (a vanished device) is reported as a
        ``stopped`` status with reason ``error`` and then raised.
        """
        sink: list[Event] = []
        info: dict[str, object] = {"source": source_name, "models": self.describe()}
        info.update(extra_info or {})
        if self.speaker is not None:
            info["speaker"] = {
                "model": str(self.speaker.model.path),
                "threshold": self.speaker_threshold,
                "profiles": [p.name for p in self.profiles],
            }
        self._emit(self.status("started", info=info), sink)
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
