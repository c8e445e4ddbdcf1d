"""The Wyoming server on a thread of its own, so that one process (``kws.listen --config`` with a
``[wyoming]`` table) serves Home Assistant while its main thread listens to the microphone.
The clients' detections join the daemon's events (stdout and MQTT) with a ``source``.

The server gets its own loaded copies of the models: TFLite interpreters are not thread-safe,
and the microphone pipeline invokes its own on the main thread meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

from kws.errors import KwsError
from kws.events import Detection
from kws.wyoming.config import WyomingConfig

START_TIMEOUT_S = 10.0


class ServerThread:
    """``start()`` binds and returns the URI (or raises the server's KwsError); ``stop()`` ends
    every connection and the thread within ``timeout_s``."""

    def __init__(
        self, config: WyomingConfig, on_detection: Callable[[Detection], None] | None = None
    ) -> None:
        self.config = config
        self.on_detection = on_detection
        """Called on the server's thread for every detection sent to a client."""
        self.uri: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kws-wyoming", daemon=True)

    def start(self) -> str:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise KwsError(f"wyoming: the server did not start within {START_TIMEOUT_S:g} s")
        if self._error is not None:
            if isinstance(self._error, KwsError):
                raise self._error
            raise KwsError(f"wyoming: the server failed to start ({self._error})")
        assert self.uri is not None
        return self.uri

    def request_stop(self) -> None:
        """Ask the server to end its connections and stop, without waiting."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            # RuntimeError: the loop ended between the check and the call
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)

    def stop(self, timeout_s: float = 1.0) -> None:
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join(max(0.0, timeout_s))

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); after start, the thread just ends
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        from kws.wyoming.server import load_models, serve

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        models = load_models(self.config)

        def ready(uri: str) -> None:
            self.uri = uri
            self._ready.set()

        await serve(self.config, models, self._stop, ready, self.on_detection)
