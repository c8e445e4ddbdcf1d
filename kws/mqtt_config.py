"""The ``[mqtt]`` settings of a listen config, and the broker URL and password file they name.

Credentials never travel on the command line: the URL carries at most a user name, and the
password is read from a file (``password_file``).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import unquote, urlsplit

from kws.discovery import check_prefix, slug
from kws.errors import KwsError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class MqttConfig:
    """Where and how to publish events; the ``[mqtt]`` table of a listen config."""

    url: str | None = None
    """``mqtt://[user@]host[:port]`` (``mqtts://`` for TLS, port 8883); None: MQTT is off. A
    password in the URL is refused: it would be visible in the process list and in logs."""
    prefix: str | None = None
    """Topic prefix; default ``kws/<hostname>``."""
    username: str | None = None
    """User name, if not in the URL."""
    password_file: str | None = None
    """File whose content (without the trailing newline) is the password."""
    tls: bool = False
    """Connect with TLS (implied by ``mqtts://``)."""
    ca_file: str | None = None
    """CA certificates (PEM) to check the broker with; default: the system's."""
    cert_file: str | None = None
    """Client certificate (PEM), for brokers that authenticate clients by certificate."""
    key_file: str | None = None
    """The client certificate's private key (PEM)."""
    client_id: str | None = None
    """MQTT client id; default: a random one (two daemons never take each other's session)."""
    discovery: bool = True
    """Publish Home Assistant discovery configs (retained)."""
    discovery_prefix: str = "homeassistant"
    qos: int = 1
    """1 or 2: events are delivered at least (or exactly) once, also across outages."""
    queue_size: int = 1000
    """Events kept while the broker is away; beyond it the oldest are dropped and counted."""
    keepalive_s: int = 60
    reconnect_max_s: float = 30.0
    """Reconnection attempts back off from 1 s, doubling up to this."""
    connect_timeout_s: float = 5.0
    """How long start() waits for the broker's first answer before listening anyway."""

    def __post_init__(self) -> None:
        for f in fields(self):  # TOML gives any type: check each against its annotation
            value, kind = getattr(self, f.name), str(f.type).split(" ")[0]
            right = {"bool": (bool,), "int": (int,), "float": (int, float), "str": (str,)}[kind]
            if value is None and "None" in str(f.type):
                continue
            if not isinstance(value, right) or (kind != "bool" and isinstance(value, bool)):
                raise ValueError(f"[mqtt] {f.name} must be {kind}, got {value!r}")
        if self.qos not in (1, 2):
            raise ValueError(f"[mqtt] qos must be 1 or 2, got {self.qos}")
        if self.queue_size < 1 or self.keepalive_s < 5:
            raise ValueError("[mqtt] queue_size must be >= 1 and keepalive_s >= 5")
        if self.reconnect_max_s < 1 or self.connect_timeout_s <= 0:
            raise ValueError("[mqtt] reconnect_max_s must be >= 1 and connect_timeout_s > 0")
        if self.prefix is not None:
            check_prefix(self.prefix, "[mqtt] prefix")
        check_prefix(self.discovery_prefix, "[mqtt] discovery_prefix")

    @property
    def topic_prefix(self) -> str:
        return self.prefix or f"kws/{slug(socket.gethostname())}"


@dataclass(frozen=True)
class Broker:
    """Where to connect; ``str()`` is ``host:port`` (there is no password to leak)."""

    host: str
    port: int
    username: str | None
    tls: bool

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_url(url: str) -> Broker:
    """``mqtt[s]://[user@]host[:port]`` as a :class:`Broker`; a password in it is refused."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise KwsError(f"MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme!r}")
    if parts.password is not None:  # never echo the URL: it holds the password
        raise KwsError(
            "the MQTT URL holds a password: put it in a file and name it with "
            "--mqtt-password-file or password_file in [mqtt] (a command line is visible to "
            "every local user)"
        )
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise KwsError(f"MQTT URL {url!r} has an invalid port") from None
    if not parts.hostname or parts.path not in ("", "/"):
        raise KwsError(f"MQTT URL {url!r} must be mqtt://[user@]host[:port], nothing after")
    username = unquote(parts.username) if parts.username else None
    return Broker(parts.hostname, port, username, parts.scheme == "mqtts")


def read_password(path: str) -> str:
    """The password in ``path``: the file's text without its trailing line break."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise KwsError(f"{path}: cannot read the MQTT password file ({reason})") from None
    password = text.rstrip("\r\n")
    if not password:
        raise KwsError(f"{path}: the MQTT password file is empty")
    return password
