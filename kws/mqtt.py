"""MQTT output: every event as JSON, Home Assistant discovery, and delivery across outages.

:class:`MqttPublisher` sends each event to ``<prefix>/<type>[/<model>]`` (see kws.discovery)
from a background thread: ``publish`` never blocks the audio pipeline. Events wait in a bounded
queue while the broker is away (the oldest are dropped and counted when it is full) and go out,
in order, once paho-mqtt has reconnected with exponential backoff. A last will marks the device
``offline`` if the process dies; ``stop`` says so itself. paho-mqtt is imported only when a
publisher starts, so ``kws.listen`` without ``--mqtt`` does not need the ``mqtt`` extra.
"""

from __future__ import annotations

import contextlib
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kws.discovery import (
    OFFLINE,
    ONLINE,
    ModelInfo,
    availability_topic,
    discovery_messages,
    event_topic,
)
from kws.errors import KwsError
from kws.events import Event, Status
from kws.mqtt_config import MqttConfig, parse_url, read_password

INSTALL_HINT = "pip install 'kws[mqtt]'"
INFLIGHT = 10
"""Messages handed to paho and not yet acknowledged; below paho's own in-flight limit (20), so
paho never holds a message back and resends every unacknowledged one after a reconnect."""
AUTH_REFUSED = (134, 135)
"""CONNACK reason codes 'Bad user name or password' and 'Not authorized' (MQTT 3.1.1: 4, 5)."""
RETAINED_TYPES = ("environment",)
"""Event types published retained, so that a sensor shows the room's state after a restart;
detections never are (a retained detection would fire again on every subscribe)."""


def _stderr(line: str) -> None:
    print(f"kws.mqtt: {line}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: bytes
    retain: bool


class MqttPublisher:
    """Publishes events to a broker: ``start()``, ``publish(event)`` from any thread, ``stop()``.

    ``models`` are the (event name, metadata) of the pipeline's models, for Home Assistant
    discovery. Lines for the user (outage, reconnection, dropped events) go to ``log``.
    """

    def __init__(
        self,
        config: MqttConfig,
        models: Sequence[ModelInfo] = (),
        log: Callable[[str], None] = _stderr,
    ) -> None:
        if config.url is None:
            raise KwsError("MQTT needs a broker URL (--mqtt mqtt://host:1883 or url in [mqtt])")
        self.config, self.models, self.log = config, list(models), log
        self.broker = parse_url(config.url)
        self.prefix = config.topic_prefix
        self.availability = availability_topic(self.prefix)
        self.dropped = 0
        """Events dropped from the full queue since start."""
        self._queue: deque[_Message] = deque()
        self._inflight: dict[int, _Message] = {}  # mid -> message handed to paho, not acked
        self._acked_early: set[int] = set()  # acks that came before publish() returned
        self._untracked: set[int] = set()  # mids of availability and discovery messages
        self._cond = threading.Condition()
        self._connected = False
        self._closing = False
        self._outage_drops = 0
        self._answered = threading.Event()
        self._refused: str | None = None  # why the broker refused the credentials
        self._failure: str | None = None  # the last refused CONNACK's reason
        self._failure_logged = False
        self._ever_connected = False
        self._client: Any = None
        self._worker: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Connect and start publishing. Raises KwsError when paho-mqtt is missing, a file
        cannot be read or the broker refuses the credentials; a broker that does not answer
        is retried with backoff while events queue."""
        try:
            from paho.mqtt.client import CallbackAPIVersion, Client
        except ImportError:
            raise KwsError(f"--mqtt needs paho-mqtt: {INSTALL_HINT}") from None
        config = self.config
        client = Client(CallbackAPIVersion.VERSION2, client_id=config.client_id or "")
        username = config.username or self.broker.username
        password = read_password(config.password_file) if config.password_file else None
        if password is not None and username is None:
            raise KwsError("an MQTT password file needs a user name (mqtt://user@host or username)")
        if username is not None:
            client.username_pw_set(username, password)
        if config.tls or self.broker.tls:
            self._set_tls(client)
        client.will_set(self.availability, OFFLINE, qos=config.qos, retain=True)
        client.reconnect_delay_set(1, config.reconnect_max_s)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client = client
        why = self._first_connect(client)
        client.loop_start()
        if why is None:
            self._answered.wait(config.connect_timeout_s)
            why = None if self._connected else (self._failure or "no answer")
        if self._refused is not None:
            client.disconnect()  # ends paho's backoff wait at once
            client.loop_stop()
            self._client = None
            raise KwsError(f"MQTT broker {self.broker} refused the connection ({self._refused})")
        if why is not None:
            self.log(
                f"broker {self.broker} not reachable yet ({why}); retrying with backoff (up "
                f"to {config.reconnect_max_s:g} s apart) while listening; up to "
                f"{config.queue_size} events wait"
            )
        self._worker = threading.Thread(target=self._send_loop, name="kws-mqtt", daemon=True)
        self._worker.start()

    def _first_connect(self, client: Any) -> str | None:
        """Open the connection in this thread, so that the first failure can be named: None
        when open (the broker's answer comes later), else why not; paho then keeps trying. A
        broker certificate that is not trusted is a set-up error, not an outage: KwsError."""
        client.connect_timeout = self.config.connect_timeout_s
        try:
            client.connect(self.broker.host, self.broker.port, self.config.keepalive_s)
            return None
        except ssl.SSLCertVerificationError as exc:
            raise KwsError(
                f"MQTT broker {self.broker}: its TLS certificate is not trusted "
                f"({exc.verify_message}); name its CA with ca_file in [mqtt]"
            ) from None
        except OSError as exc:
            client.connect_async(self.broker.host, self.broker.port, self.config.keepalive_s)
            return exc.strerror or str(exc) or type(exc).__name__

    def _set_tls(self, client: Any) -> None:
        config = self.config
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(config, name)
            if path is not None and not Path(path).is_file():
                raise KwsError(f"{path}: MQTT {name} not found")
        try:
            client.tls_set(ca_certs=config.ca_file, certfile=config.cert_file,
                           keyfile=config.key_file)  # fmt: skip
        except (OSError, ValueError) as exc:
            raise KwsError(f"MQTT TLS set-up failed ({exc})") from None

    def stop(self, timeout_s: float = 1.0) -> None:
        """Deliver what is queued (waiting up to ``timeout_s`` while connected), mark the
        device offline, disconnect; paho's network thread may take up to 1 s more to end when
        the broker is away. Says how many events were left undelivered, if any."""
        client = self._client
        if client is None:
            return
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while (self._queue or self._inflight) and self._connected:
                if time.monotonic() >= deadline:
                    break
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            left = len(self._queue) + len(self._inflight)
            connected = self._connected
            self._closing = True
            self._cond.notify_all()
        if connected:
            info = client.publish(self.availability, OFFLINE, qos=self.config.qos, retain=True)
            # if the broker went away meanwhile, the last will says offline instead
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        client.disconnect()
        client.loop_stop()
        if self._worker is not None:
            self._worker.join(timeout=1.0)
        self._client = None
        if left:
            self.log(f"{left} events were not delivered to {self.broker} (broker away)")

    # -- publishing ------------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        """Queue ``event`` for the broker; never blocks. Status events gain ``info["mqtt"]``:
        the events queued and dropped so far."""
        if isinstance(event, Status):
            event = replace(event, info={**event.info, "mqtt": self.stats()})
        message = _Message(
            event_topic(self.prefix, event), event.to_json().encode(), event.type in RETAINED_TYPES
        )
        with self._cond:
            if len(self._queue) >= self.config.queue_size:
                self._queue.popleft()
                self.dropped += 1
                self._outage_drops += 1
                if self._outage_drops == 1:
                    self.log(
                        f"queue full ({self.config.queue_size} events): dropping the oldest "
                        "until the broker is back"
                    )
            self._queue.append(message)
            self._cond.notify_all()

    def stats(self) -> dict[str, int | bool]:
        """Queue state: events waiting (queued or unacknowledged), dropped, connected."""
        with self._cond:
            waiting = len(self._queue) + len(self._inflight)
            return {"connected": self._connected, "queued": waiting, "dropped": self.dropped}

    def _send_loop(self) -> None:
        """Hand queued messages to paho while connected, at most INFLIGHT unacknowledged;
        paho resends those after a reconnect, so a message leaves the queue exactly once."""
        while True:
            with self._cond:
                while not self._closing and not (
                    self._connected and self._queue and len(self._inflight) < INFLIGHT
                ):
                    self._cond.wait()
                if self._closing:
                    return
                message = self._queue.popleft()
            info = self._client.publish(
                message.topic, message.payload, qos=self.config.qos, retain=message.retain
            )
            with self._cond:  # paho keeps the message (rc 0 or 'no connection') until acked
                if info.mid in self._acked_early:
                    self._acked_early.discard(info.mid)
                else:
                    self._inflight[info.mid] = message
                self._cond.notify_all()

    # -- paho callbacks (paho's network thread) --------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            if not self._failure_logged and self._worker is not None:
                self._failure_logged = True
                self.log(f"broker {self.broker} refused the connection ({reason}); retrying")
            self._failure = str(reason)
            if reason.value in AUTH_REFUSED:
                self._refused = str(reason)
            self._answered.set()
            return
        self._refused, self._failure_logged = None, False
        mids = [client.publish(self.availability, ONLINE, qos=self.config.qos, retain=True).mid]
        if self.config.discovery:
            mids += self._publish_discovery(client)
            client.subscribe(f"{self.config.discovery_prefix}/status", qos=1)
        with self._cond:
            self._untracked.update(mids)
            self._connected = True
            if self._worker is not None:
                again = "reconnected" if self._ever_connected else "connected"
                lost = f"{self._outage_drops} events were dropped while it was away; "
                self.log(
                    f"{again} to {self.broker}; {lost if self._outage_drops else ''}sending "
                    f"the {len(self._queue) + len(self._inflight)} queued events"
                )
            self._outage_drops, self._ever_connected = 0, True
            self._cond.notify_all()
        self._answered.set()

    def _publish_discovery(self, client: Any) -> list[int]:
        import json

        from kws import __version__

        messages = discovery_messages(
            self.prefix, self.config.discovery_prefix, self.models, __version__
        )
        return [
            client.publish(topic, json.dumps(payload), qos=self.config.qos, retain=True).mid
            for topic, payload in messages
        ]

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        """Home Assistant announces ``online`` on its status topic when it (re)starts:
        publish discovery again so that it finds the entities without retained configs."""
        if message.payload == b"online":
            mids = self._publish_discovery(client)
            with self._cond:
                self._untracked.update(mids)

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._answered.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, p: Any) -> None:
        with self._cond:
            was_connected, self._connected = self._connected, False
        if was_connected and not self._closing:
            self.log(
                f"lost the connection to {self.broker} ({reason}); reconnecting with backoff, "
                f"up to {self.config.queue_size} events wait"
            )

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._cond:
            if self._inflight.pop(mid, None) is None:
                if mid in self._untracked:
                    self._untracked.discard(mid)
                else:
                    self._acked_early.add(mid)
            self._cond.notify_all()
