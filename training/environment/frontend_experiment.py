"""``python -m training.environment.frontend_experiment CONFIG.toml --out DIR``: the question
of Dieleman & Schrauwen 2014 ("End-to-end learning for music audio", Table 1) on our data.

The same network (:mod:`training.models.dieleman`) is trained with two front ends for each
filter length / stride pair of the paper: log-mel spectrogram frames (window = filter length,
hop = stride, samples at 16 kHz) and a learned strided 1-D convolution over raw audio (kernel =
filter length, stride = stride). Each cell is the fold cross-validation of the config: mean
accuracy and mean ROC AUC over tags (the paper's measure). Writes ``frontend_experiment.json``
and ``.md`` (the table, with the command that made it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.paths import portable_path
from training.core.toml_config import add_override_option
from training.environment.config import EnvConfig, load_config

PAIRS = ((1024, 1024), (1024, 512), (512, 512), (512, 256), (256, 256))
"""(filter length, stride) in samples, the rows of the paper's Table 1."""
FRONTENDS = ("features", "raw")
PROG = "python -m training.environment.frontend_experiment"


def pair_config(base: EnvConfig, length: int, stride: int, frontend: str, window_s: float):
    """``base`` with the front end set to ``frontend`` at (length, stride) and crops of about
    ``window_s`` seconds; the spectrogram's window and hop are length and stride."""
    rate = base.feature_config().sample_rate
    frames = max(1, round(window_s * rate / stride))
    features = {
        **base.features,
        "winlen": length / rate,
        "winstep": stride / rate,
        "nfft": max(length, 256),
    }
    params = {
        **base.params,
        "frontend": frontend,
        "frontend_length": length,
        "frontend_stride": stride,
        "window_frames": frames,
    }
    return dataclasses.replace(
        base,
        features=features,
        params=params,
        hop_frames=max(1, frames // 2),
        cv_int8=False,
    )


def markdown(rows: list[dict[str, Any]], command: str, base: EnvConfig) -> str:
    lines = [
        "# Front-end experiment (Dieleman & Schrauwen 2014, Table 1 shape)",
        "",
        f"Data: `{base.root}` ({base.dataset} folds, fold cross-validation; every cell is the "
        "mean over held-out folds). Same network (`dieleman` family) on both front ends; "
        "spectrograms are log-mel with window = filter length and hop = stride.",
        "",
        "| filter length | stride | AUC (spectrograms) | AUC (raw audio) | accuracy "
        "(spectrograms) | accuracy (raw audio) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['filter_length']} | {r['stride']} | {r['features']['mean_roc_auc']:.4f} | "
            f"{r['raw']['mean_roc_auc']:.4f} | {r['features']['mean_accuracy']:.3f} | "
            f"{r['raw']['mean_accuracy']:.3f} |"
        )
    lines += ["", "Made with:", "", "```", command, "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("config", type=Path, help="base environment config (dieleman model)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the table")
    add_override_option(parser, "--set epochs=10 --set 'test_folds=[4, 5]'")
    parser.add_argument("--window-s", type=float, default=2.0, help="crop length, seconds")
    args = parser.parse_args(argv)
    try:
        base = load_config(args.config, args.set)
        if base.model != "dieleman":
            raise KwsError(f"{args.config}: the experiment needs model = 'dieleman'")
        for length, stride in PAIRS:
            for frontend in FRONTENDS:  # fail on a bad combination before training anything
                pair_config(base, length, stride, frontend, args.window_s).model_config()
        words = argv if argv is not None else sys.argv[1:]
        command = f"{PROG} {shlex.join(map(portable_path, words))}"
        args.out.mkdir(parents=True, exist_ok=True)

        def write(rows: list[dict[str, Any]]) -> None:
            """The table so far (rows are written as they finish)."""
            result = {"command": command, "base": dataclasses.asdict(base), "rows": rows}
            data = json.dumps(result, indent=1).encode()
            atomic_write_bytes(args.out / "frontend_experiment.json", data)
            atomic_write_bytes(
                args.out / "frontend_experiment.md", markdown(rows, command, base).encode()
            )

        rows = run(base, args.window_s, write)
    except (KwsError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(markdown(rows, command, base))
    return 0


def run(
    base: EnvConfig, window_s: float, write: Callable[[list[dict[str, Any]]], None]
) -> list[dict[str, Any]]:
    from training.environment.data import load_clips
    from training.environment.run import cross_validate

    clips = load_clips(base.dataset, base.root)
    rows = []
    for length, stride in PAIRS:
        row: dict[str, Any] = {"filter_length": length, "stride": stride}
        for frontend in FRONTENDS:
            config = pair_config(base, length, stride, frontend, window_s)
            start = time.perf_counter()
            cv = cross_validate(config, clips)
            row[frontend] = {
                "mean_accuracy": cv["mean_accuracy"],
                "std_accuracy": cv["std_accuracy"],
                "mean_roc_auc": cv["mean_roc_auc"],
                "fold_accuracy": [f["accuracy"] for f in cv["folds"]],
                "window_frames": config.params["window_frames"],
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(
                f"{length}/{stride} {frontend}: accuracy {cv['mean_accuracy']:.3f} "
                f"AUC {cv['mean_roc_auc']:.4f}",
                flush=True,
            )
        rows.append(row)
        write(rows)
    return rows


if __name__ == "__main__":
    sys.exit(main())
