"""``python -m training.train CONFIG.toml``: train one keyword model on a generated corpus and
export it in every form the runtime runs.

The corpus is a wake-word corpus (``python -m training.data generate``: one keyword against
``_background_``) or a folder in the Speech Commands layout (the real dataset, or ``python -m
training.data commands``): the 12-class command task, ``_silence_`` cut from its
``_background_noise_`` recordings. Labels wrapped in underscores are background: they never fire.

The config is data (a TOML file mapped onto :class:`training.core.config.TrainConfig`; ``--set
key=value`` overrides one value). A run folder keeps the resolved config, the training history,
test metrics and the exported ``.tflite`` files (window and streaming form, float32 and int8),
metadata embedded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kws.errors import KwsError
from training.core.config import load_config
from training.core.run import train
from training.core.toml_config import add_override_option


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__)
    parser.add_argument("config", type=Path, help="training config (TOML)")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<name>)")
    add_override_option(parser, "--set epochs=5 --set params.rnn_units=64")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.set)
        metrics = train(config, args.out or Path("runs") / config.name)
    except (KwsError, ValueError) as exc:
        print(f"training.train: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
