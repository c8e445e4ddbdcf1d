"""Recipes: TOML files of ``[corpus]``, ``[train]`` and ``[ship]`` tables, one extending
another, overridden with ``--set``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kws.errors import KwsError
from kws.schema import reject_unknown_keys
from training.core.toml_config import apply_override, read_toml


def merge_tables(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` laid over it, table by table (a value replaces a value)."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_tables(merged[key], value)
        else:
            merged[key] = value
    return merged


def _recipe_tables(path: Path, seen: frozenset[Path]) -> dict[str, Any]:
    """The recipe at ``path``, laid over the recipe its ``extends`` key names (relative to it)."""
    data = read_toml(path, (), "recipe")
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise KwsError(f"{path}: extends must be a file name, got {base!r}")
    if path.resolve() in seen:
        raise KwsError(f"{path}: recipes extend each other in a circle")
    return merge_tables(_recipe_tables(path.parent / base, seen | {path.resolve()}), data)


def load_recipe(path: Path, overrides: list[str]) -> dict[str, Any]:
    """The recipe's tables (``extends = "wakeword.toml"`` starts from another recipe), with
    ``--set`` overrides applied."""
    data = _recipe_tables(path, frozenset())
    for assignment in overrides:
        apply_override(data, assignment)
    reject_unknown_keys(str(path), data, {"corpus", "train", "ship"})
    return data
