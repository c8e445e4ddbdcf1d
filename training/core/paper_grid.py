"""The CRNN grid of Arik et al. 2017: its rows built through the model registry, their parameters
counted in closed form (checked against the built model), the counting conventions fitted to the
paper's printed totals, and the paper's FRR beside a sweep's (``python -m training.paper_grid``)."""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.models.crnn import CRNNConfig

ROOT = Path(__file__).resolve().parents[2]
GRID = ROOT / "training" / "grids" / "arik2017.toml"
PAPER = ROOT / "training" / "grids" / "arik2017_paper.toml"
DOC = ROOT / "docs" / "crnn-paper-grid.md"
RESULTS = ROOT / "benchmarks" / "results" / "sweep_arik2017" / "results.json"
"""Where a committed sweep over the grid would be; absent, the page says "not run"."""
REFERENCE_CONFIG = ROOT / "training" / "configs" / "hey_jarvis.toml"
AXES = ("conv_filters", "kernel", "stride", "rnn_layers", "rnn_units", "cell", "fc_units")
"""The CRNNConfig fields the paper's grid varies."""
FIT_TOLERANCE = 0.01
"""A row fits a convention when the closed form is within 1% of the printed total."""
MISFIT = 0.02
"""Rows further than this from their printed total are listed as not fitting."""


@dataclass(frozen=True)
class Convention:
    """How a CRNN's parameters are counted: the choices the grid's rows do not state."""

    bidirectional: bool
    padding: str
    """'valid': (F - L_F) // S_F + 1 frequency bins; 'same': ceil(F / S_F) (and in time)."""
    readout: str
    """'last': the fully connected layer reads the last recurrent step; 'all': every step."""
    gru_biases: int
    """Bias vectors per GRU gate: 2 in Keras (reset_after=True), 1 in the original GRU."""

    def __post_init__(self) -> None:
        if self.padding not in ("valid", "same") or self.readout not in ("last", "all"):
            raise ValueError(f"padding must be valid or same and readout last or all: {self}")

    def label(self) -> str:
        return (
            f"{'bi' if self.bidirectional else 'uni'}, {self.padding} padding, "
            f"{'all steps' if self.readout == 'all' else 'last step'} to FC, "
            f"{self.gru_biases} GRU bias{'es' if self.gru_biases > 1 else ''}"
        )


def ours(bidirectional: bool = False) -> Convention:
    """The registry's CRNN: valid in frequency, last step read out, Keras' GRU biases."""
    return Convention(bidirectional, "valid", "last", 2)


ALTERNATIVES = (
    ours(False),
    ours(True),
    Convention(False, "same", "all", 1),
    Convention(True, "valid", "all", 1),
    Convention(True, "same", "all", 2),
)
"""Conventions the page compares with the paper's stated one ([convention] in the paper file)."""


@dataclass(frozen=True)
class PaperRow:
    """One row as the paper prints it (FRR in percent on its 5 dB SNR test set)."""

    params: int
    frr_1fa_pct: float
    frr_05fa_pct: float


@dataclass(frozen=True)
class Result:
    """One row of a sweep over the grid (FRR as fractions, size of the evaluated file)."""

    frr_1fa: float | None
    frr_05fa: float | None
    bytes: int


@dataclass(frozen=True)
class Row:
    """One configuration with its counts, the paper's figures and ours."""

    name: str
    config: CRNNConfig
    """As the sweep trains it (unidirectional), with a window for the paper's input."""
    paper: PaperRow | None
    ours: int
    """Trainable parameters of the registry's model (the fixed normalization is not counted)."""
    ours_bi: int
    """The same model with bidirectional recurrent layers."""
    paper_convention: int
    """The closed form under the paper's (inferred) convention."""
    result: Result | None = None

    def delta(self, count: int) -> float | None:
        """Relative difference of ``count`` from the printed total."""
        return None if self.paper is None else count / self.paper.params - 1


@dataclass(frozen=True)
class PaperGrid:
    """Everything the page shows."""

    facts: dict[str, Any]
    """The paper file as read."""
    convention: Convention
    """The paper's counting convention as the paper file states it (inferred from the totals)."""
    rows: list[Row]
    references: list[Row]
    """Rows that are not the paper's (the project's configuration), for scale."""
    budget_bytes: int
    """The preset's [sweep] budget_bytes."""
    results: str | None
    """The sweep results file read, relative to the checkout; None if none."""


def count_blocks(
    config: CRNNConfig, convention: Convention, frames: int, features: int, labels: int
) -> dict[str, int]:
    """Closed-form parameters per block of a CRNN counted under ``convention``."""
    dirs = 2 if convention.bidirectional else 1
    if convention.padding == "same":
        bins, steps = -(-features // config.stride_f), -(-frames // config.stride_t)
    else:
        bins = config.conv_out_features(features)
        steps = (frames - config.kernel_t) // config.stride_t + 1
    conv = config.conv_filters * (config.kernel_t * config.kernel_f + 1)
    width = bins * config.conv_filters
    gates, biases = (3, convention.gru_biases) if config.cell == "gru" else (4, 1)
    rnn = 0
    for _ in range(config.rnn_layers):
        rnn += dirs * gates * config.rnn_units * (width + config.rnn_units + biases)
        width = dirs * config.rnn_units
    if convention.readout == "all":
        width *= steps
    fc = (width + 1) * config.fc_units
    output = (config.fc_units + 1) * labels
    return {"conv": conv, "rnn": rnn, "fc": fc, "output": output}


def count_params(config: CRNNConfig, num_features: int, num_labels: int) -> dict[str, int]:
    """Closed-form trainable parameters per block of the project's CRNN (any window)."""
    convention = ours(config.bidirectional)
    return count_blocks(config, convention, config.window_frames, num_features, num_labels)


def build_count(config: CRNNConfig, num_features: int, num_labels: int) -> int:
    """Trainable parameters of the model the registry builds."""
    import numpy as np

    from training.models import get_model

    model = get_model("crnn").build(config, num_features, num_labels)
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def paper_config(params: dict[str, Any], frames: int) -> CRNNConfig:
    """A CRNNConfig for the paper's input: window_frames is the largest multiple of S_T that fits
    ``frames`` (the count does not depend on it: no weight spans time beyond L_T)."""
    from training.models import config_from_dict

    stride_t = int(params.get("stride", CRNNConfig.stride)[0])
    return config_from_dict("crnn", {**params, "window_frames": frames // stride_t * stride_t})


def stated_convention(facts: dict[str, Any], where: Path) -> Convention:
    try:
        return Convention(**facts["convention"])
    except (KeyError, TypeError, ValueError) as exc:
        names = ", ".join(f.name for f in dataclasses.fields(Convention))
        raise ValueError(f"{where}: [convention] needs exactly {names}: {exc}") from None


def load_results(path: Path | None) -> dict[str, tuple[dict[str, Any], Result]]:
    """Row name -> (its trained params, its result) from a sweep's results.json; {} if none."""
    if path is None or not path.is_file():
        return {}
    from training.reports.sweep import frr_at

    summary = json.loads(path.read_text())
    return {
        r["name"]: (
            r["config"]["params"],
            Result(frr_at(r, 1.0), frr_at(r, 0.5), int(r["bytes"])),
        )
        for r in summary["rows"]
    }


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def load_rows(
    grid: Path, paper: Path, results: Path | None = None, *, build: bool = True
) -> PaperGrid:
    """The preset's rows and a reference row with counts for the paper's input, the paper's
    figures and a sweep's results; ``build`` checks each closed form against the built model."""
    preset = tomllib.loads(grid.read_text())
    facts = tomllib.loads(paper.read_text())
    frames, features = facts["input"]["frames"], facts["input"]["features"]
    labels = facts["input"]["labels"]
    convention = stated_convention(facts, paper)
    base = preset["base"]
    if base.get("model") != "crnn":
        raise ValueError(f"{grid}: base.model must be 'crnn', got {base.get('model')!r}")
    try:
        printed = {name: PaperRow(**row) for name, row in facts.get("row", {}).items()}
    except TypeError as exc:
        names = ", ".join(f.name for f in dataclasses.fields(PaperRow))
        raise ValueError(f"{paper}: a [row.NAME] needs exactly {names}: {exc}") from None
    runs = preset.get("run", [])
    unknown = sorted(set(printed) - {run["name"] for run in runs})
    if unknown:
        raise ValueError(f"{paper}: rows without a [[run]] in {grid.name}: {', '.join(unknown)}")
    swept = load_results(results)

    def row(name: str, params: dict[str, Any], paper_row: PaperRow | None) -> Row:
        config = paper_config(params, frames)
        counts = []
        for c in (config, dataclasses.replace(config, bidirectional=True)):
            count = sum(count_params(c, features, labels).values())
            if build and build_count(c, features, labels) != count:
                raise AssertionError(f"{name}: the builder and the closed-form count disagree")
            counts.append(count)
        stated = sum(count_blocks(config, convention, frames, features, labels).values())
        result = None
        if name in swept:
            trained, result = swept[name]
            if any(trained.get(k) != params.get(k) for k in AXES):
                raise ValueError(f"{results}: row {name} was trained with other params {trained}")
        return Row(name, config, paper_row, counts[0], counts[1], stated, result)

    def without_window(params: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in params.items() if k != "window_frames"}

    base_params = base.get("params", {})
    rows = [
        row(run["name"], without_window({**base_params, **run["params"]}), printed.get(run["name"]))
        for run in runs
    ]
    reference = tomllib.loads(REFERENCE_CONFIG.read_text())
    references = [
        row(f"{REFERENCE_CONFIG.name} (not a paper row)", without_window(reference["params"]), None)
    ]
    budget = int(preset.get("sweep", {}).get("budget_bytes", 250_000))
    used = _relative(results) if swept and results is not None else None
    return PaperGrid(facts, convention, rows, references, budget, used)


def fit(grid: PaperGrid, convention: Convention) -> dict[str, Any]:
    """How well ``convention`` reproduces the printed totals: rows within FIT_TOLERANCE, the
    median and largest relative difference."""
    inp = grid.facts["input"]
    deltas = sorted(
        abs(sum(count_blocks(r.config, convention, inp["frames"], inp["features"],
                             inp["labels"]).values()) / r.paper.params - 1)
        for r in grid.rows if r.paper is not None
    )  # fmt: skip
    if not deltas:
        return {"within": 0, "rows": 0, "median": math.nan, "max": math.nan}
    middle = len(deltas) // 2
    median = deltas[middle] if len(deltas) % 2 else (deltas[middle - 1] + deltas[middle]) / 2
    within = sum(d <= FIT_TOLERANCE for d in deltas)
    return {"within": within, "rows": len(deltas), "median": median, "max": deltas[-1]}


def single_changes(row: Row, grid: PaperGrid) -> list[str]:
    """One-field changes, to values the grid uses in other rows, that bring ``row``'s count under
    the paper's convention within FIT_TOLERANCE of its printed total: candidate slips."""
    assert row.paper is not None
    inp = grid.facts["input"]
    params = {k: getattr(row.config, k) for k in AXES}
    found = []
    for key in AXES:
        values = {repr(getattr(r.config, key)): getattr(r.config, key) for r in grid.rows}
        for value in values.values():
            if value == params[key]:
                continue
            try:
                config = paper_config({**params, key: value}, inp["frames"])
            except ValueError:
                continue
            blocks = count_blocks(
                config, grid.convention, inp["frames"], inp["features"], inp["labels"]
            )
            count = sum(blocks.values())
            if abs(count / row.paper.params - 1) <= FIT_TOLERANCE:
                shown = f"({value[0]}, {value[1]})" if isinstance(value, tuple) else value
                found.append(f"{key} = {shown} gives {count:,}")
    return found


def ranks(values: dict[str, float]) -> dict[str, float]:
    """Rank of each value, 1 = lowest, ties sharing their mean rank."""
    order = sorted(values, key=values.__getitem__)
    out: dict[str, float] = {}
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for name in order[i : j + 1]:
            out[name] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a: dict[str, float], b: dict[str, float]) -> float | None:
    """Rank correlation of two scores over the names both have (None below 3 names)."""
    names = sorted(set(a) & set(b))
    if len(names) < 3:
        return None
    ra, rb = ranks({n: a[n] for n in names}), ranks({n: b[n] for n in names})
    ma, mb = sum(ra.values()) / len(names), sum(rb.values()) / len(names)
    cov = sum((ra[n] - ma) * (rb[n] - mb) for n in names)
    var = math.sqrt(sum((ra[n] - ma) ** 2 for n in names) * sum((rb[n] - mb) ** 2 for n in names))
    return cov / var if var else None
