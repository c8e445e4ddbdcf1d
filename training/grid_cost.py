"""``python -m training.grid_cost GRID.toml``: what each row of a sweep grid would cost on a
device, measured before any training.

Each row is built with untrained weights and exported in the sweep's form and quantization
(:func:`training.core.run.export_run`, as a trained row would be); the table gives its parameters,
file bytes, multiply-accumulates per second of audio (:mod:`training.models.cost`) and the CPU
seconds per audio hour of the native frontend plus the model in the runtime pipeline, one thread
(:func:`benchmarks.runtime_cost.pipeline_cost`, the figure the 8 CPU-s target is about). Weights
do not change the cost, so rows over budget can be dropped before a sweep spends hours on them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from kws.errors import KwsError
from training.core.seeding import seed_training
from training.core.toml_config import add_override_option

CHUNK_MS = 20
"""Audio pushed per pipeline call, as a 20 ms microphone callback would."""


def row_cost(
    name: str, config: dict[str, Any], quantization: str, out: Path, seconds: float, repeats: int
) -> dict[str, Any]:
    """Export one grid row untrained into ``out`` and measure it."""

    from benchmarks.runtime_cost import pipeline_cost, test_signal
    from training.core.config import TrainConfig
    from training.core.grid import SWEEP_FORM
    from training.core.run import export_run
    from training.models import get_model
    from training.models.cost import macs_per_second
    from training.models.registry import config_from_dict

    out.mkdir(parents=True, exist_ok=True)
    train = TrainConfig.from_dict({**config, "name": name.replace("-", "_")})
    spec = get_model(train.model)
    model_config = config_from_dict(train.model, train.params)
    features = train.feature_config()
    seed_training(train.seed)
    window = spec.build(model_config, features.num_features, 2)
    assert spec.build_streaming is not None
    streaming = spec.build_streaming(model_config, window)
    calls_per_s = features.sample_rate / (features.frame_step * model_config.stride_t)
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(16, model_config.window_frames, features.num_features))
    files = export_run(
        window, train, ("_background_", "keyword"), windows.astype(np.float32),
        {"data": "untrained: cost only"}, out, (SWEEP_FORM,), (quantization,),
    )  # fmt: skip
    path = out / files[f"{SWEEP_FORM}_{quantization}"]
    cpu = pipeline_cost([path], test_signal(seconds), CHUNK_MS, repeats)
    return {
        "name": name,
        "params": int(window.count_params()),
        "bytes": path.stat().st_size,
        "macs_per_second": macs_per_second(streaming, calls_per_s),
        "calls_per_second": calls_per_s,
        "cpu_s_per_audio_hour": statistics.median(cpu),
        "cpu_min": min(cpu),
        "cpu_max": max(cpu),
    }


def markdown(rows: list[dict[str, Any]], quantization: str, seconds: float, repeats: int) -> str:
    lines = [
        f"Streaming form, {quantization}, untrained weights; frontend + model in the pipeline, "
        f"one thread, {CHUNK_MS} ms pushes, median (min-max) of {repeats} runs over "
        f"{seconds:g} s of audio.",
        "",
        "| row | params | bytes | MMACs per audio second | calls/s | CPU-s per audio hour |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['params']:,} | {r['bytes']:,} | {r['macs_per_second'] / 1e6:.2f} "
            f"| {r['calls_per_second']:.1f} | {r['cpu_s_per_audio_hour']:.2f} "
            f"({r['cpu_min']:.2f}-{r['cpu_max']:.2f}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from training.core.grid import load_grid

    parser = argparse.ArgumentParser(prog="python -m training.grid_cost", description=__doc__)
    parser.add_argument("grid", type=Path, help="grid file (TOML), e.g. training/grids/dscnn.toml")
    parser.add_argument("--only", action="append", default=[], metavar="ROW", help="one row")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="keep the exported files here")
    add_override_option(parser, "--set base.params.stride_t=4")
    args = parser.parse_args(argv)
    try:
        grid = load_grid(args.grid, args.set)
        runs = [(n, c) for n, c in grid.runs if not args.only or n in args.only]
        if not runs:
            raise KwsError(f"--only names rows the grid does not have: {', '.join(args.only)}")
        quantization = grid.options.quantization
        with tempfile.TemporaryDirectory() as tmp:
            out = args.out or Path(tmp)
            rows = [
                row_cost(n, c, quantization, out / n, args.seconds, args.repeats) for n, c in runs
            ]
    except (KwsError, ValueError) as exc:
        print(f"training.grid_cost: error: {exc}", file=sys.stderr)
        return 2
    print(markdown(rows, quantization, args.seconds, args.repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
