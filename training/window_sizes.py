"""``python -m training.window_sizes CONFIG.toml``: exported file sizes of a training config's
model shape, window form unrolled and as a WHILE loop, and the streaming form.

Sizes depend on the architecture, not on the weights' values, so the model keeps its random
initial weights and calibrates int8 on random windows; nothing is trained. Prints a markdown
table (the numbers in docs/model-format.md come from this).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from kws.errors import KwsError
from kws.metadata import ModelMetadata, Threshold
from training.core.config import load_config
from training.core.seeding import seed_training
from training.core.toml_config import add_override_option

QUANTIZATIONS = ("float32", "int8_weights", "int8")
# Exports that are built: (label, form, unroll); full int8 with a WHILE loop crashes TF 2.21.
VARIANTS = (("window, unrolled", "window", True), ("window, WHILE loop", "window", False))


def sizes(config_path: Path, overrides: list[str]) -> list[tuple[str, dict[str, int | None]]]:
    """(variant, {quantization: bytes or None where it cannot be built}) rows."""

    from training.core.tflite import export_tflite
    from training.models import config_from_dict, get_model

    config = load_config(config_path, overrides)
    features = config.feature_config()
    spec = get_model(config.model)
    model_config = config_from_dict(config.model, config.params)
    seed_training(config.seed)
    model = spec.build(model_config, features.num_features, 2)
    windows = np.random.default_rng(config.seed).normal(
        size=(32, model_config.window_frames, features.num_features)
    )
    base = ModelMetadata(
        name=config.name, task="keyword", labels=("_background_", "keyword"), features=features,
        window_frames=model_config.window_frames, stride_frames=model_config.stride_t,
        streaming=False, quantization="float32", thresholds={"keyword": Threshold(0.5)},
    )  # fmt: skip
    rows = []
    for label, form, unroll in VARIANTS:
        row: dict[str, int | None] = {}
        for q in QUANTIZATIONS:
            if q == "int8" and not unroll:
                row[q] = None
                continue
            md = dataclasses.replace(base, quantization=q)
            data = export_tflite(model, model_config, md, form, q, windows, unroll=unroll)
            row[q] = len(data)
        rows.append((label, row))
    if spec.state_tensors is not None and getattr(model_config, "streamable", True):
        states = spec.state_tensors(model_config)
        md = dataclasses.replace(base, streaming=True, state_tensors=states)
        row = {
            q: len(
                export_tflite(
                    model, model_config, dataclasses.replace(md, quantization=q), "streaming", q,
                    windows,
                )
            )
            for q in QUANTIZATIONS
        }  # fmt: skip
        rows.append(("streaming", row))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.window_sizes", description=__doc__)
    parser.add_argument("config", type=Path, help="training config (TOML)")
    add_override_option(parser, "--set params.rnn_units=64")
    args = parser.parse_args(argv)
    try:
        rows = sizes(args.config, args.set)
    except (KwsError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    print("| export | " + " | ".join(QUANTIZATIONS) + " |")
    print("|---|" + "---|" * len(QUANTIZATIONS))
    for label, row in rows:
        cells = [f"{row[q]:,}" if row[q] is not None else "–" for q in QUANTIZATIONS]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
