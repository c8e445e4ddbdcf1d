"""Reading Wyoming events with bounds: a JSON header line, then optional JSON data and an
optional binary payload whose lengths the header declares.

The ``wyoming`` package's own reader returns None (a silent hang-up) on a malformed header and
reads whatever length a client declares; a server facing the network needs a reason it can
send back and a bound on memory, so this reader raises :class:`ProtocolError` instead.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from wyoming.event import Event


class ProtocolError(Exception):
    """A client broke the protocol: its connection ends with an ``error`` event."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad-event", f"{what} is not valid JSON ({exc})") from None


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError("bad-event", f"{key} must be a non-negative integer, got {value!r}")
    if value > limit:
        raise ProtocolError("too-large", f"{key} {value} is over the limit of {limit} bytes")
    return value


async def _exactly(reader: asyncio.StreamReader, n: int, what: str) -> bytes:
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(
            "truncated", f"the connection ended {len(exc.partial)} of {n} bytes into the {what}"
        ) from None


async def read_event(
    reader: asyncio.StreamReader, max_data_bytes: int, max_payload_bytes: int
) -> Event | None:
    """The next event, or None when the client closed the connection between events.

    The header line's own bound is the reader's ``limit`` (set where the server is started).
    """
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError("truncated", "the connection ended inside an event header") from None
    except asyncio.LimitOverrunError:
        raise ProtocolError("too-large", "event header line is too long") from None
    header = _json(line, "event header")
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("bad-event", 'event header must be a JSON object with a "type"')
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise ProtocolError("bad-event", "event data must be a JSON object")
    data_length = _length(header, "data_length", max_data_bytes)
    payload_length = _length(header, "payload_length", max_payload_bytes)
    if data_length:
        more = _json(await _exactly(reader, data_length, "event data"), "event data")
        if not isinstance(more, dict):
            raise ProtocolError("bad-event", "event data must be a JSON object")
        data = {**data, **more}
    payload = await _exactly(reader, payload_length, "payload") if payload_length else None
    return Event(type=header["type"], data=data, payload=payload)
