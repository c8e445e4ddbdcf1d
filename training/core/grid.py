"""Grid files: a ``[base]`` training config, ``[[run]]`` rows and ``[axes]``, resolved into
validated training configs, and the ``[sweep]`` options that pick a winner."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kws.schema import field_names, reject_unknown_keys
from training.core.config import TrainConfig
from training.core.toml_config import read_toml, set_path

SWEEP_FORM = "streaming"
"""The form every row is evaluated and sized in: what a device runs."""


@dataclass(frozen=True)
class SweepOptions:
    """The ``[sweep]`` table."""

    budget_bytes: int = 250_000
    """Winners are chosen among rows whose evaluated file is at most this large."""
    budget_cpu_s_per_hour: float = 8.0
    """... and whose frontend + model cost at most this many CPU-seconds per audio hour
    (benchmarks.runtime_cost's pipeline, 20 ms blocks, one interpreter thread)."""
    cost_seconds: float = 120.0
    """Seconds of audio the cost measurement streams (three times; the median is kept)."""
    target_fa_per_hour: float = 1.0
    """Rows are ranked by FRR at this false-accept rate."""
    quantization: str = "int8"
    """The export whose size counts and whose FRR ranks rows ('int8' or 'int8_weights')."""
    compare_float: bool = True
    """Also evaluate the float32 streaming file, to report what quantization costs."""
    positives: str = ""
    """Evaluation positives manifest; default the corpus's validation set
    (``<corpus>/eval/validation/positives/positives.json``): models are chosen on validation
    streams, never on the test streams that report figures."""
    negatives: str = ""
    """Evaluation negatives manifest; default the corpus's validation set."""
    cpus_per_row: int = 2
    """CPUs a row asks of a Ray cluster (``training.sweep --ray``), and the TensorFlow threads it
    trains with there; local runs share this machine's cores among ``--workers``. Where a row
    runs is not part of its cache key."""


PLACEMENT_OPTIONS = frozenset({"cpus_per_row"})
"""SweepOptions fields that say where rows run, not what they compute (left out of cache keys)."""


@dataclass(frozen=True)
class Grid:
    """A parsed grid file: the resolved training configs of its rows, and the sweep options."""

    name: str
    runs: tuple[tuple[str, dict[str, Any]], ...]
    """(row name, resolved TrainConfig dict) in file order."""
    options: SweepOptions = field(default_factory=SweepOptions)


def _merge(base: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in row.items():
        if key in ("params", "features") and isinstance(value, dict):
            out.setdefault(key, {}).update(value)
        else:
            out[key] = value
    return out


def _axis_label(key: str, value: Any) -> str:
    text = "x".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return f"{key.rsplit('.', 1)[-1]}{text}"


def parse_grid(data: dict[str, Any], where: str) -> Grid:
    """Resolve a grid's rows into training configs; every row is validated before any trains."""
    from training.models import get_model
    from training.models.registry import config_from_dict

    reject_unknown_keys(where, data, {"base", "run", "axes", "sweep"})
    base = data.get("base")
    if not isinstance(base, dict) or "name" not in base:
        raise ValueError(f"{where}: needs a [base] table with at least name and corpus")
    options = SweepOptions(**_checked(f"{where} [sweep]", data.get("sweep", {}), SweepOptions))
    axes = data.get("axes", {})
    if not data.get("run") and not axes:
        raise ValueError(f"{where}: the grid has no [[run]] rows and no [axes]: nothing to train")
    rows = data.get("run") or [{"name": "base"}]
    runs = []
    for i, row in enumerate(rows):
        if "name" not in row:
            raise ValueError(f"{where}: [[run]] number {i + 1} has no name")
        combos = itertools.product(*axes.values()) if axes else [()]
        for combo in combos:
            name = "-".join([str(row["name"]), *map(_axis_label, axes, combo)])
            resolved = _merge(base, {k: v for k, v in row.items() if k != "name"})
            for key, value in zip(axes, combo, strict=True):
                set_path(resolved, key, value)
            resolved["name"] = str(base["name"])
            resolved.setdefault("seed", 0)
            try:
                config = TrainConfig.from_dict(resolved)
                model_config = config_from_dict(config.model, config.params)
                model_config.check_input(config.feature_config().num_features)
                if not get_model(config.model).streamable or not getattr(
                    model_config, "streamable", True
                ):
                    raise ValueError(f"model {config.model!r} has no streaming form to sweep")
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: run {name!r}: {exc}") from None
            runs.append((name, dataclasses.asdict(config)))
    names = [n for n, _ in runs]
    if len(set(names)) != len(names):
        raise ValueError(
            f"{where}: run names repeat: {sorted(n for n in names if names.count(n) > 1)}"
        )
    return Grid(str(base["name"]), tuple(runs), options)


def _checked(where: str, values: dict[str, Any], cls: type) -> dict[str, Any]:
    reject_unknown_keys(where, values, field_names(cls))
    return values


def load_grid(path: Path, overrides: Sequence[str] = ()) -> Grid:
    """Read a grid TOML and apply ``--set`` overrides (dotted keys, e.g. ``base.corpus=DIR``)."""
    return parse_grid(read_toml(path, overrides, "grid"), str(path))
