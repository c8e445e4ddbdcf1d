"""``python -m training.paper_grid``: the paper grid of Arik et al. 2017 beside the project's CRNN.

Builds every row of ``training/grids/arik2017.toml`` through the model registry for the paper's
input (``training/grids/arik2017_paper.toml``: 151 frames x 40 channels) and writes
``docs/crnn-paper-grid.md``: each row's configuration, the paper's parameter total, ours, and
ours under the paper's conventions, with every difference explained. Each built model's count
is checked against the closed-form count below, so the page cannot drift from the builder.
``--check`` exits 1 if the committed page differs from what the script generates.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.models.crnn import CRNNConfig

ROOT = Path(__file__).resolve().parent.parent
GRID = ROOT / "training" / "grids" / "arik2017.toml"
PAPER = ROOT / "training" / "grids" / "arik2017_paper.toml"
DOC = ROOT / "docs" / "crnn-paper-grid.md"
REFERENCE_CONFIG = ROOT / "training" / "configs" / "hey_jarvis.toml"


@dataclass(frozen=True)
class Row:
    """One configuration with its parameter counts."""

    name: str
    config: CRNNConfig
    paper_params: int | None
    """The paper's printed total; None where the paper's row is unknown."""
    ours: int
    """Trainable parameters of the registry's model (the normalization's fixed statistics and
    Keras' bookkeeping are not parameters)."""
    paper_convention: int
    """Ours with the GRU's single bias (reset_after=False), as in the original GRU formula."""


def count_params(config: CRNNConfig, num_features: int, num_labels: int) -> dict[str, int]:
    """Closed-form trainable parameters per block of the project's CRNN."""
    dirs = 2 if config.bidirectional else 1
    conv = config.conv_filters * (config.kernel_t * config.kernel_f + 1)
    width = config.conv_out_features(num_features) * config.conv_filters
    gates, biases = (3, 2) if config.cell == "gru" else (4, 1)  # Keras GRU: reset_after=True
    rnn = 0
    for _ in range(config.rnn_layers):
        rnn += dirs * gates * config.rnn_units * (width + config.rnn_units + biases)
        width = dirs * config.rnn_units
    fc = (width + 1) * config.fc_units
    output = (config.fc_units + 1) * num_labels
    return {"conv": conv, "rnn": rnn, "fc": fc, "output": output}


def gru_bias_excess(config: CRNNConfig) -> int:
    """Parameters Keras' reset_after GRU has beyond the original GRU: one bias per gate."""
    if config.cell != "gru":
        return 0
    dirs = 2 if config.bidirectional else 1
    return config.rnn_layers * dirs * 3 * config.rnn_units


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


def load_rows(
    grid: Path, paper: Path, *, build: bool = True
) -> tuple[dict[str, Any], list[Row], list[Row]]:
    """(paper facts, the preset's rows, reference rows) with counts for the paper's input."""
    preset = tomllib.loads(grid.read_text())
    facts = tomllib.loads(paper.read_text())
    frames, features = facts["input"]["frames"], facts["input"]["features"]
    labels = facts["input"]["labels"]
    base = preset["base"]
    if base.get("model") != "crnn":
        raise ValueError(f"{grid}: base.model must be 'crnn', got {base.get('model')!r}")
    printed = {name: row["params"] for name, row in facts.get("row", {}).items()}
    runs = preset.get("run", [])
    unknown = sorted(set(printed) - {run["name"] for run in runs})
    if unknown:
        raise ValueError(f"{paper}: rows without a [[run]] in {grid.name}: {', '.join(unknown)}")

    def row(name: str, params: dict[str, Any], paper_params: int | None) -> Row:
        config = paper_config(params, frames)
        blocks = sum(count_params(config, features, labels).values())
        if build and build_count(config, features, labels) != blocks:
            raise AssertionError(f"{name}: the builder and the closed-form count disagree")
        return Row(name, config, paper_params, blocks, blocks - gru_bias_excess(config))

    base_params = {k: v for k, v in base.get("params", {}).items() if k != "window_frames"}
    rows = [
        row(run["name"], {**base_params, **run["params"]}, printed.get(run["name"])) for run in runs
    ]
    reference = tomllib.loads(REFERENCE_CONFIG.read_text())
    ref_params = {k: v for k, v in reference["params"].items() if k != "window_frames"}
    references = [row(f"{REFERENCE_CONFIG.name} (not a paper row)", ref_params, None)]
    return facts, rows, references


def _cells(row: Row) -> list[str]:
    c = row.config
    paper = f"{row.paper_params:,}" if row.paper_params is not None else "unknown"
    diff = f"{row.ours - row.paper_params:+,}" if row.paper_params is not None else "–"
    return [
        row.name, str(c.conv_filters), f"({c.kernel_t}, {c.kernel_f})",
        f"({c.stride_t}, {c.stride_f})", str(c.rnn_layers), str(c.rnn_units), c.cell.upper(),
        str(c.fc_units), "bi" if c.bidirectional else "uni", paper, f"{row.ours:,}",
        f"{row.paper_convention:,}", diff,
    ]  # fmt: skip


HEADER = [
    "row", "N_C", "(L_T, L_F)", "(S_T, S_F)", "R", "N_R", "cell", "N_F", "dir",
    "paper total", "ours", "ours, paper's GRU bias", "ours − paper",
]  # fmt: skip


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def render(facts: dict[str, Any], rows: list[Row], references: list[Row]) -> str:
    """The markdown page."""
    source = facts["source"]
    inp = facts["input"]
    status = (
        "found"
        if source["table_found"]
        else "**not found**: the rows below are empty until they are added from the paper's PDF"
    )
    verified = "\n".join(f"- {v}" for v in source["verified"])
    grid_table = table(rows) if rows else "_No paper rows: see Status._"
    return f"""# The CRNN grid of Arik et al. 2017 beside ours

Generated by `python -m training.paper_grid` from `training/grids/arik2017.toml` and
`training/grids/arik2017_paper.toml`; do not edit (a test regenerates it and compares).

Source: {source["citation"]}.

## Status

Table of configurations: {status}.

Searched: {source["searched"]}.

Verified:

{verified}

Missing: {source["missing"]}.

## Input assumed

{inp["frames"]} frames x {inp["features"]} channels: 1.5 s at a 10 ms hop, 40 mel channels
(the paper uses PCEN; this project computes log-mel energies, which does not change any weight
count), {inp["labels"]} output labels (assumed: keyword vs not). Our window form needs
`window_frames` to be a multiple of S_T, so each row is built with the largest multiple of S_T
not above {inp["frames"]}; no weight depends on the window length (the convolution spans L_T
frames, the recurrent weights are shared over time), so the count is the count for 151 frames.

## Rows

{grid_table}

Reference, not from the paper (the project's hey_jarvis configuration at the paper's input):

{table(references)}

"ours" counts the trainable weights of the model `training.models` builds (checked against the
closed form below for every row); the fixed normalization statistics (2 x 40) are not counted.

## Where counts differ, and why

The closed form of our model, with F = {inp["features"]} input channels,
F' = (F − L_F) // S_F + 1 frequency bins after the convolution, d = 2 for bidirectional else 1:

- convolution: N_C (L_T L_F + 1): one kernel and one bias per filter, no batch norm;
- recurrent layer i, input width w (w = F' N_C for the first, d N_R after):
  GRU d · 3 N_R (w + N_R + 2), LSTM d · 4 N_R (w + N_R + 1);
- fully connected: (d N_R + 1) N_F; output: (N_F + 1) · labels.

1. **GRU biases.** Keras' GRU uses `reset_after=True` (the cuDNN convention): the reset gate
   multiplies the recurrent projection after the matrix product, so each gate has two bias
   vectors (input and recurrent), 3 N_R extra parameters per layer and direction over the
   original GRU (Cho et al. 2014), which has one. The column "ours, paper's GRU bias" removes
   them. Which convention the paper's totals use is not stated in what could be verified.
2. **Normalization.** Our convolution has no batch or layer normalization (the feature
   normalization is fixed statistics, not trained). If the paper normalizes (a secondary source
   says layer normalization in the recurrent layers), its totals include 2 parameters (scale and
   offset) per normalized unit, which ours lack.
3. **Direction.** A bidirectional layer doubles the recurrent weights and the next layer's
   input width; only unidirectional rows have a streaming form here (bidirectional ones train
   and export as window models).
4. **Readout.** Ours feeds the last recurrent step to the fully connected layer; a readout over
   all steps would multiply the fully connected weights by the number of steps.
5. **Labels.** The output layer has (N_F + 1) weights per label; with a different label count
   the totals move by N_F + 1 per label.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.paper_grid", description=__doc__)
    parser.add_argument("--grid", type=Path, default=GRID)
    parser.add_argument("--paper", type=Path, default=PAPER)
    parser.add_argument("--out", type=Path, default=DOC)
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args(argv)
    try:
        text = render(*load_rows(args.grid, args.paper))
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run python -m training.paper_grid", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(text)} characters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
