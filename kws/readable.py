"""One readable line per event worth a person's attention, for ``kws.listen`` on a terminal.

The JSON lines stay the interface (programs read them); these lines are for someone watching:
``  0:07.3  hey_jarvis  score 0.973``. Scores, which arrive many times a second, have none.
"""

from __future__ import annotations

from kws.events import Detection, Environment, Event, Status


def clock(seconds: float) -> str:
    """Stream time as minutes:seconds to a tenth: 67.34 -> '1:07.3'."""
    tenths = max(0, round(seconds * 10))
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}:{rest / 10:04.1f}"


def _detection(event: Detection) -> str:
    name = event.model if event.keyword == event.model else f"{event.model}:{event.keyword}"
    line = f"  {clock(event.end)}  {name}  score {event.score:.3f}"
    if event.speaker is not None:
        who = event.speaker.get("name") or "unknown speaker"
        line += f"  said by {who}"
    return line


def _status(event: Status) -> str:
    if event.state == "started":
        models = event.info.get("models", [])
        names = ", ".join(
            str(m.get("name", "?")) + ("" if m.get("task") == "keyword" else f" ({m.get('task')})")
            for m in models
            if isinstance(m, dict)
        )
        return f"listening to {event.info.get('source', 'audio')}: {names}"
    counts = (
        f"{event.detections} detection{'s' * (event.detections != 1)}, "
        f"{event.overruns} overruns, {event.cpu_s:.1f} CPU-s"
    )
    if event.state == "stopped":
        why = event.reason or "stopped"
        if event.info.get("error"):
            why += f": {event.info['error']}"
        return f"stopped at {clock(event.t)} ({why}): {counts}"
    if event.state == "overrun":
        return f"  {clock(event.t)}  overrun: {event.dropped_samples} samples dropped so far"
    return f"  {clock(event.t)}  {event.state}: {counts}"


def readable(event: Event) -> str | None:
    """The line to show for ``event``, or None for events not worth one (scores)."""
    if isinstance(event, Detection):
        return _detection(event)
    if isinstance(event, Environment):
        return f"  {clock(event.end)}  {event.model}: {event.label}  score {event.score:.2f}"
    if isinstance(event, Status):
        return _status(event)
    return None
