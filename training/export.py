"""``python -m training.export RUN_DIR``: re-export a finished training run without training
it again."""

from __future__ import annotations

from kws.paths import portable_path


def main(argv: list[str] | None = None) -> int:
    """``python -m training.export RUN_DIR``: re-export a finished training run's weights."""
    import argparse
    import dataclasses
    import json
    import sys
    from pathlib import Path

    from kws.errors import KwsError
    from training.core.config import FORMS, TrainConfig
    from training.core.examples import corpus_features, read_corpus
    from training.core.run import export_run
    from training.data.feature_cache import FeatureCache
    from training.models import get_model
    from training.models.registry import config_from_dict

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
        config = TrainConfig.from_dict(json.loads((args.run / "config.json").read_text()))
        summary = json.loads((args.run / "metrics.json").read_text())
        features = config.feature_config()
        model_config = config_from_dict(config.model, config.params)
        corpus = read_corpus(Path(config.corpus), config.select, config.unknown_share, config.seed)
        model = get_model(config.model).build(
            model_config, features.num_features, len(corpus.labels)
        )
        model.load_weights(args.run / "model.weights.h5")
        cache = FeatureCache(Path(config.corpus) / "features")
        x, _ = corpus_features(corpus, config, model_config.window_frames, cache)
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
