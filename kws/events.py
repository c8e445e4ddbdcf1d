"""Events the runtime emits: small typed records that serialize to one JSON object per line.

Every event has a ``type``; times are stream times in seconds (samples consumed / sample rate)
unless the field name says otherwise. The schema is documented in README.md (Events).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


@dataclass(frozen=True)
class Event:
    """Base class: ``to_dict`` puts ``type`` first; ``to_json`` is one line."""

    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **_round(asdict(self))}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(", ", ": "))


@dataclass(frozen=True)
class Detection(Event):
    """A keyword fired."""

    type: ClassVar[str] = "detection"
    model: str
    """Model name from its metadata."""
    keyword: str
    """The label that fired."""
    score: float
    """Smoothed posterior (0..1) at the moment it crossed the threshold."""
    start: float
    """Stream time (s) where the model's input window began."""
    end: float
    """Stream time (s) of the end of the audio that triggered the detection."""
    latency_ms: float
    """Wall-clock milliseconds from the arrival of the triggering audio block to this event."""
    speaker: dict[str, Any] | None = None
    """With a speaker model: ``{"name": enrolled name or None, "score": best cosine or None}``;
    left out of the JSON when speaker verification is off."""
    source: str | None = None
    """Where the audio came from when it is not the listener's own stream: ``"wyoming
    HOST:PORT"`` for a Wyoming client of the daemon (``start``/``end`` are then that client's
    stream time); left out of the JSON otherwise."""

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        for optional in ("speaker", "source"):
            if out[optional] is None:
                del out[optional]
        return out


@dataclass(frozen=True)
class Environment(Event):
    """What an environment model hears: sent when the label changes, or every interval."""

    type: ClassVar[str] = "environment"
    model: str
    label: str
    """The top smoothed class, or "unknown" when its score is below that class's threshold."""
    score: float
    """Smoothed probability of the top class."""
    start: float
    """Stream time (s) where the audio the smoothed decision covers began."""
    end: float
    """Stream time (s) where it ended."""


@dataclass(frozen=True)
class Score(Event):
    """Every model output (with ``--emit-scores``), for outside threshold sweeps."""

    type: ClassVar[str] = "score"
    t: float
    """Stream time (s) of the end of the audio the model has seen."""
    model: str
    scores: dict[str, float]
    """Raw (unsmoothed) posterior per label."""


@dataclass(frozen=True)
class Status(Event):
    """Lifecycle and health: ``state`` is started, running, overrun or stopped."""

    type: ClassVar[str] = "status"
    state: str
    t: float
    """Stream time (s) when the status was taken."""
    overruns: int = 0
    """Times the audio ring buffer was full and dropped its oldest samples (since start)."""
    dropped_samples: int = 0
    detections: int = 0
    cpu_s: float = 0.0
    """Process CPU seconds spent since start."""
    reason: str | None = None
    """For 'stopped': end_of_input, interrupted, or error (then ``info["error"]`` says why)."""
    info: dict[str, Any] = field(default_factory=dict)
    """For 'started': backend, source and model descriptions."""
