"""Strict mapping of TOML/JSON values onto frozen dataclasses: an unknown key is an error."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any


def field_names(cls: type) -> set[str]:
    """The field names of dataclass ``cls``."""
    return {f.name for f in dataclasses.fields(cls)}


def reject_unknown_keys(where: str, data: Mapping[str, Any], allowed: Collection[str]) -> None:
    """Raise ValueError naming every key of ``data`` outside ``allowed``: a misspelt key must
    fail loudly instead of being silently ignored."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"{where} has unknown keys: {', '.join(unknown)}")
