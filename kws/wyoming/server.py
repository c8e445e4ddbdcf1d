"""The Wyoming wake-word server: ``describe`` -> ``info``, ``detect`` (which wake words),
``audio-start`` / ``audio-chunk`` / ``audio-stop`` -> ``detection`` per keyword (timestamp: ms
of audio since ``audio-start``), ``not-detected`` at ``audio-stop`` when none fired.

Each connection runs its own :class:`~kws.pipeline.Pipeline` (frontend, runners, detectors);
the :class:`~kws.model.Model` objects, and so their TFLite interpreters, are loaded once and
shared. That is safe because the server is one asyncio task per connection on one thread: a
model is invoked synchronously, never by two connections at once, and a runner passes its own
state in and out on every call. The models must not be invoked from another thread meanwhile
(a daemon whose microphone pipeline runs in a thread gives the server its own loaded copies).

A client that breaks the protocol (a malformed header, a length over the limit, audio before
``audio-start``) gets an ``error`` event and its connection ends; one that vanishes is
forgotten. Either way the others are served on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import stat
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.wake import Detect, Detection, NotDetected

from kws.errors import KwsError
from kws.events import Detection as KwsDetection
from kws.model import Model, load_model
from kws.pipeline import Pipeline, PipelineConfig
from kws.wavfile import MonoConverter, decode_pcm
from kws.wyoming.catalog import WakeWord, info, wake_words
from kws.wyoming.config import MAX_HEADER_BYTES, WyomingConfig, parse_uri
from kws.wyoming.protocol import ProtocolError, read_event

log = logging.getLogger("kws.wyoming")
MAX_RATE_HZ = 768_000
MAX_CHANNELS = 64
CLOSE_TIMEOUT_S = 1.0


def load_models(config: WyomingConfig) -> list[Model]:
    """The config's keyword models, loaded (one-line KwsError for a missing or wrong one)."""
    if not config.models:
        raise KwsError("no model given: pass --model M.tflite (repeatable)")
    return [load_model(path, backend=config.backend) for path in config.models]


class _AudioIn:
    """One stream's raw PCM chunks (any rate, width, channels) as 16 kHz mono int16 blocks,
    through the runtime's converter; a partial frame waits for the next chunk."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._layout: tuple[int, int, int] | None = None
        self._converter: MonoConverter | None = None
        self._pending = b""

    def push(self, data: dict[str, object], raw: bytes) -> list[np.ndarray]:
        layout = _layout(data)
        out = []
        if layout != self._layout:  # a client may change format mid-stream: start anew
            out.append(self.flush())
            self._layout, self._converter = layout, MonoConverter(layout[0], self.sample_rate)
        _, width, channels = layout
        frame = width * channels
        raw = self._pending + raw
        usable = len(raw) - len(raw) % frame
        self._pending = raw[usable:]
        assert self._converter is not None
        out.append(self._converter.push(decode_pcm(raw[:usable], width, channels)))
        return [block for block in out if len(block)]

    def flush(self) -> np.ndarray:
        """What the resampler still holds (the end of the stream)."""
        if self._converter is None or self._layout is None:
            return np.zeros(0, dtype=np.int16)
        empty = np.zeros((0, self._layout[2]), dtype=np.float32)
        tail = self._converter.push(empty, last=True)
        self._converter, self._layout, self._pending = None, None, b""
        return tail


def _layout(data: dict[str, object]) -> tuple[int, int, int]:
    """(rate, width, channels) of an audio event, checked."""
    values = [data.get(key) for key in ("rate", "width", "channels")]
    rate, width, channels = (v if type(v) is int else -1 for v in values)  # bool is no int here
    if not (0 < rate <= MAX_RATE_HZ and width in (1, 2, 3, 4) and 0 < channels <= MAX_CHANNELS):
        rate_s, width_s, channels_s = (repr(v) for v in values)
        raise ProtocolError(
            "bad-audio",
            f"unsupported audio format: rate {rate_s} Hz, width {width_s} bytes, "
            f"{channels_s} channels",
        )
    return rate, width, channels


class Session:
    """One client connection: its selection of wake words and its current audio stream."""

    def __init__(
        self,
        server: WyomingServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.selected: list[WakeWord] = list(server.words)
        self.pipeline: Pipeline | None = None
        self.audio: _AudioIn | None = None
        self.by_event: dict[tuple[str, str], WakeWord] = {}
        self.detected = False
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "unix socket"

    async def run(self) -> None:
        """Serve events until the client leaves or breaks the protocol."""
        config = self.server.config
        log.debug("%s: connected", self.peer)
        try:
            while True:
                event = await read_event(
                    self.reader, config.max_data_bytes, config.max_payload_bytes
                )
                if event is None:
                    break
                await self.handle(event)
            log.debug("%s: disconnected", self.peer)
        except ProtocolError as exc:
            log.warning("%s: %s; closing the connection", self.peer, exc.text)
            await self._send_error(exc.code, exc.text)
        except (ConnectionError, OSError) as exc:
            log.info("%s: the client vanished (%s)", self.peer, exc)
        except Exception:  # a bug must cost one connection, not the server
            log.exception("%s: internal error; closing the connection", self.peer)
            await self._send_error("internal", "internal server error")
        finally:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()

    def stop(self) -> None:
        """End the session from outside: its next read sees the end of the stream."""
        self.reader.feed_eof()
        self.writer.close()

    async def _send_error(self, code: str, text: str) -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            await async_write_event(Error(text=text, code=code).event(), self.writer)

    async def send(self, event: Event) -> None:
        await async_write_event(event, self.writer)

    async def handle(self, event: Event) -> None:
        if AudioChunk.is_type(event.type):
            if self.pipeline is None or self.audio is None:
                raise ProtocolError("no-audio-start", "audio-chunk before audio-start")
            for block in self.audio.push(event.data, event.payload or b""):
                await self._process(block)
        elif AudioStart.is_type(event.type):
            _layout(event.data)
            self._start()
        elif AudioStop.is_type(event.type):
            if self.pipeline is not None and self.audio is not None:
                await self._process(self.audio.flush())
            if not self.detected:
                await self.send(NotDetected().event())
            self.pipeline, self.audio, self.detected = None, None, False
        elif Detect.is_type(event.type):
            await self._select(event.data.get("names"))
        elif Describe.is_type(event.type):
            await self.send(self.server.info_event)
        elif Ping.is_type(event.type):
            await self.send(Pong(text=Ping.from_event(event).text).event())
        else:
            log.debug("%s: ignoring a %r event", self.peer, event.type)

    async def _select(self, names: object) -> None:
        """``detect``: restrict to the named wake words (None or [] = all of them)."""
        if names is None or names == []:
            self.selected = list(self.server.words)
            return
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ProtocolError("bad-event", "detect names must be a list of strings")
        known = {word.name: word for word in self.server.words}
        unknown = [name for name in names if name not in known]
        if unknown:
            text = f"no such wake word: {', '.join(unknown)} (this server has {', '.join(known)})"
            log.warning("%s: %s", self.peer, text)
            await self.send(Error(text=text, code="unknown-wake-word").event())
        chosen = [known[name] for name in names if name in known]
        if chosen:
            self.selected = chosen

    def _start(self) -> None:
        """``audio-start``: a fresh pipeline over the models of the selected wake words."""
        indices = sorted({word.model for word in self.selected})
        models = [self.server.models[i] for i in indices]
        self.pipeline = Pipeline(models, self.server.pipeline_config)
        names = dict(zip(indices, self.pipeline.names, strict=True))
        self.by_event = {(names[w.model], w.keyword): w for w in self.selected}
        self.audio = _AudioIn(self.pipeline.sample_rate)
        self.detected = False

    async def _process(self, block: np.ndarray) -> None:
        assert self.pipeline is not None
        for found in self.pipeline.process(block):
            if not isinstance(found, KwsDetection):
                continue
            word = self.by_event.get((found.model, found.keyword))
            if word is None:  # another keyword of a selected multi-keyword model
                continue
            self.detected = True
            timestamp = round(found.end * 1000)
            log.info("%s: detected %s at %d ms", self.peer, word.name, timestamp)
            await self.send(Detection(name=word.name, timestamp=timestamp).event())
            if self.server.on_detection is not None:
                self.server.on_detection(replace(found, source=f"wyoming {self.peer}"))


class WyomingServer:
    """Listens on the config's URI; one :class:`Session` per connection."""

    def __init__(
        self,
        config: WyomingConfig,
        models: Sequence[Model],
        on_detection: Callable[[KwsDetection], None] | None = None,
    ) -> None:
        self.config, self.models = config, list(models)
        self.on_detection = on_detection
        """Also told of every detection sent to a client (the daemon's stdout and MQTT)."""
        self.words = wake_words(self.models)
        if not self.words:
            raise KwsError("wyoming: the models have no keyword that fires (no thresholds)")
        self.info_event = info(self.words).event()
        self.pipeline_config = PipelineConfig(thresholds=dict(config.thresholds))
        try:  # check the thresholds and models once, not per connection
            Pipeline(self.models, self.pipeline_config)
        except ValueError as exc:
            raise KwsError(f"wyoming: {exc}") from None
        self._server: asyncio.AbstractServer | None = None
        self._sessions: dict[asyncio.Task[object], Session] = {}

    async def start(self) -> str:
        """Start listening; return the URI actually bound (the real port for port 0)."""
        kind, where, port = parse_uri(self.config.uri)
        try:
            if kind == "tcp":
                self._server = await asyncio.start_server(
                    self._connected, where, port, limit=MAX_HEADER_BYTES
                )
                host, bound = self._server.sockets[0].getsockname()[:2]
                return f"tcp://{host}:{bound}"
            path = Path(where)
            if path.exists() and stat.S_ISSOCK(path.stat().st_mode):
                path.unlink()  # a socket left by an earlier run
            self._server = await asyncio.start_unix_server(
                self._connected, where, limit=MAX_HEADER_BYTES
            )
            return f"unix://{where}"
        except OSError as exc:
            raise KwsError(f"wyoming: cannot listen on {self.config.uri} ({exc})") from None

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        session = Session(self, reader, writer)
        self._sessions[task] = session
        try:
            await session.run()
        except asyncio.CancelledError:
            pass  # close() gave up on a client that would not take its last events
        finally:
            del self._sessions[task]

    @property
    def connections(self) -> int:
        """Clients connected now."""
        return len(self._sessions)

    async def close(self) -> None:
        """Stop listening and end every connection (within :data:`CLOSE_TIMEOUT_S`)."""
        if self._server is not None:
            self._server.close()
        for session in self._sessions.values():
            session.stop()
        tasks = list(self._sessions)
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


async def serve(
    config: WyomingConfig,
    models: Sequence[Model],
    stop: asyncio.Event,
    on_ready: Callable[[str], None] | None = None,
    on_detection: Callable[[KwsDetection], None] | None = None,
) -> None:
    """Serve until ``stop`` is set (the daemon's entry point); ``on_ready`` gets the bound URI,
    ``on_detection`` every detection sent to a client."""
    server = WyomingServer(config, models, on_detection)
    uri = await server.start()
    if on_ready is not None:
        on_ready(uri)
    try:
        await stop.wait()
    finally:
        await server.close()
