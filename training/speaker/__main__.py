"""``python -m training.speaker CONFIG.toml [--set k=v] --out RUN_DIR`` (see train.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kws.errors import KwsError
from training.core.toml_config import add_override_option
from training.speaker.train import __doc__ as TRAIN_DOC
from training.speaker.train import load_config, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.speaker", description=TRAIN_DOC)
    parser.add_argument("config", type=Path, help="speaker training config (TOML)")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<name>)")
    add_override_option(parser, "--set loss=center --set params.embedding_dim=128")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.set)
        metrics = train(config, args.out or Path("runs") / config.name)
    except (KwsError, ValueError) as exc:
        print(f"training.speaker: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in metrics.items() if k != "speakers"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
