"""Configs as TOML files with ``--set key=value`` overrides: the one reader every CLI uses.

``a.b=value`` walks nested tables; the value is parsed as TOML (``5``, ``[10, 5]``, ``true``,
``"x"``) and taken as a plain string when it is not valid TOML (``corpus=data/hey``).
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kws.errors import KwsError


def as_tuples(values: dict[str, Any]) -> dict[str, Any]:
    """TOML arrays as the tuples the frozen configs hold (one level: ``kernel = [5, 8]``)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b]... = value`` for the dotted ``key``, creating missing tables."""
    *parents, leaf = key.strip().split(".")
    for i, parent in enumerate(parents):
        data = data.setdefault(parent, {})
        if not isinstance(data, dict):
            where = ".".join(parents[: i + 1])
            raise ValueError(f"cannot set {key!r}: {where!r} is a value, not a table")
    data[leaf] = value


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``--set`` assignment, ``dotted.key=value``, to ``data``."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set needs key=value, got {assignment!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    set_path(data, key, value)


def read_toml(path: Path, overrides: Sequence[str] = (), what: str = "config") -> dict[str, Any]:
    """The tables of the TOML file ``path`` with ``overrides`` applied; one-line errors."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise KwsError(f"{path}: cannot read {what} ({exc})") from None
    for assignment in overrides:
        apply_override(data, assignment)
    return data


def add_override_option(parser: argparse.ArgumentParser, example: str) -> None:
    """The ``--set KEY=VALUE`` option (repeatable), with an example of its use."""
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help=f"override a value of the file, e.g. {example}",
    )  # fmt: skip
