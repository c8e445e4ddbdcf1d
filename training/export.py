"""``python -m training.export RUN_DIR``: re-export a finished training run without training
it again."""

from __future__ import annotations

from kws.paths import portable_path


def main(argv: list[str] | None = None) -> int:
    """``python -m training.export RUN_DIR``: re-export a finished training run's weights."""
    import argparse
    import dataclasses
    import sys
    from pathlib import Path

    from kws.errors import KwsError
    from training.core.config import FORMS
    from training.core.run import export_run, load_run, run_features

    parser = argparse.ArgumentParser(prog="python -m training.export", description=main.__doc__)
    parser.add_argument("run", type=Path, help="run folder written by python -m training.train")
    parser.add_argument("--form", action="append", choices=FORMS, help="default: both")
    parser.add_argument(
        "--quantization",
        action="append",
        choices=("float32", "int8", "int8_weights"),
        help="default: the run's configured quantizations",
    )
    args = parser.parse_args(argv)
    try:
        config, model, corpus, summary = load_run(args.run)
        x, _ = run_features(config, corpus)
        training = {
            "data": portable_path(config.corpus),
            "config": dataclasses.asdict(config),
            "metrics": summary,
        }
        forms = tuple(args.form or FORMS)
        quantizations = tuple(args.quantization) if args.quantization else None
        export_run(
            model, config, corpus.labels, x["train"], training, args.run, forms, quantizations
        )
    except (KwsError, ValueError, OSError) as exc:
        print(f"training.export: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
