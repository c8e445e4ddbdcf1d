"""What the Wyoming server needs: a frozen :class:`WyomingConfig`, filled from the command line
or from the ``[wyoming]`` table of a TOML file (the same file can hold a daemon's other tables).

Importing this module needs no ``wyoming`` package: a daemon can read its whole configuration
before it knows whether the server runs at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kws.errors import KwsError
from kws.schema import field_names, read_config, reject_unknown_keys

DEFAULT_URI = "tcp://0.0.0.0:10400"
MAX_HEADER_BYTES = 64 * 1024
"""Longest JSON header line a client may send (bytes, newline included)."""


@dataclass(frozen=True)
class WyomingConfig:
    """The Wyoming wake-word server; TOML keys under ``[wyoming]`` have the same names."""

    uri: str = DEFAULT_URI
    """Where to listen: ``tcp://HOST:PORT`` (port 0: any free port) or ``unix:///path``."""
    models: tuple[str, ...] = ()
    """Keyword models (.tflite with kws metadata); a daemon may instead hand in the models it
    already loaded."""
    thresholds: dict[str, float] = field(default_factory=dict)
    """Overrides as in ``kws.listen --threshold``: ``"*"``, ``"label"`` or ``"model:label"``."""
    max_payload_bytes: int = 1 << 20
    """Largest audio payload one event may carry (1 MiB is 5 s of 48 kHz 16-bit stereo)."""
    max_data_bytes: int = 64 * 1024
    """Largest JSON data block one event may carry."""
    backend: str | None = None
    """Force a TFLite backend: ai_edge_litert, tflite_runtime or tensorflow."""

    def __post_init__(self) -> None:
        parse_uri(self.uri)
        if self.max_payload_bytes < 1 or self.max_data_bytes < 1:
            raise KwsError("wyoming: max_payload_bytes and max_data_bytes must be positive")
        for key, value in self.thresholds.items():
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise KwsError(f"wyoming: threshold {key!r} must be within [0, 1], got {value!r}")

    @classmethod
    def from_dict(cls, where: str, data: Mapping[str, Any]) -> WyomingConfig:
        """Strictly: an unknown key is a one-line error naming ``where``."""
        try:
            reject_unknown_keys(where, data, field_names(cls))
        except ValueError as exc:
            raise KwsError(str(exc)) from None
        values = dict(data)
        if "models" in values:
            values["models"] = tuple(str(m) for m in values["models"])
        if "thresholds" in values:
            values["thresholds"] = dict(values["thresholds"])
        return cls(**values)

    @classmethod
    def from_toml(cls, path: Path) -> WyomingConfig:
        """The ``[wyoming]`` table of ``path`` (other tables are left to their readers)."""
        data = read_config(path)
        table = data.get("wyoming", {})
        if not isinstance(table, dict):
            raise KwsError(f"{path}: [wyoming] must be a table")
        return cls.from_dict(f"{path}: [wyoming]", table)


def parse_uri(uri: str) -> tuple[str, str, int]:
    """``tcp://host:port`` -> ("tcp", host, port); ``unix:///path`` -> ("unix", path, 0)."""
    parsed = urlparse(uri)
    if parsed.scheme == "unix" and parsed.path:
        return "unix", parsed.path, 0
    if parsed.scheme == "tcp":
        try:
            port = parsed.port
        except ValueError:
            port = None
        if parsed.hostname and port is not None:
            return "tcp", parsed.hostname, port
    raise KwsError(f"wyoming: bad uri {uri!r} (expected tcp://HOST:PORT or unix:///PATH)")
