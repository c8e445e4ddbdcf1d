"""Strict mapping of TOML/JSON and command-line values onto frozen dataclasses: an unknown key
is an error."""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from kws.errors import KwsError
from kws.interpreter import BACKENDS


def field_names(cls: type) -> set[str]:
    """The field names of dataclass ``cls``."""
    return {f.name for f in dataclasses.fields(cls)}


def reject_unknown_keys(where: str, data: Mapping[str, Any], allowed: Collection[str]) -> None:
    """Raise ValueError naming every key of ``data`` outside ``allowed``: a misspelt key must
    fail loudly instead of being silently ignored."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"{where} has unknown keys: {', '.join(unknown)}")


def threshold_arg(text: str) -> tuple[str, float]:
    """A ``--threshold`` value: '0.6' -> ('*', 0.6); 'hey_jarvis=0.7' or 'model:label=0.7' ->
    (key, value), the keys :func:`kws.pipeline.resolve_thresholds` reads."""
    key, _, value = text.rpartition("=")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a threshold: {text!r}") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold must be within [0, 1]: {text!r}")
    return (key or "*"), number


def add_model_arguments(parser: argparse.ArgumentParser, model_help: str) -> None:
    """The ``--model``, ``--threshold`` and ``--backend`` options every serving CLI shares."""
    parser.add_argument("--model", action="append", default=[], metavar="M.tflite", help=model_help)
    parser.add_argument(
        "--threshold",
        action="append",
        type=threshold_arg,
        default=[],
        metavar="[LABEL=]T",
        help="detection threshold 0..1 overriding the model's calibrated one; 'T' for every "
        "keyword, 'LABEL=T' or 'MODEL:LABEL=T' for one; repeatable",
    )
    parser.add_argument(
        "--backend",
        choices=list(BACKENDS),
        help="force a TFLite interpreter backend (default: the first one installed)",
    )


def read_config(path: Path) -> dict[str, Any]:
    """A TOML config file's tables; one-line KwsError naming the file if it cannot be read."""
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KwsError(f"{path}: cannot read config ({exc})") from None
