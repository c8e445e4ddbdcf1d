"""What the tiny chirp models (``python -m training.tiny``, ``tiny_environment``,
``tiny_speaker``) share: their features and their command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kws.features import FeatureConfig, Frontend

FEATURES = FeatureConfig(nfilt=40, winlen=0.025, winstep=0.01)
"""40 log-mel energies per 10 ms frame: 98 frames per 1 s clip."""


def clip_features(clips: list[np.ndarray], features: FeatureConfig = FEATURES) -> np.ndarray:
    """Features of equal-length clips, shape [n, frames, num_features], float32."""
    frontend = Frontend(features)
    return np.stack([frontend.compute(clip) for clip in clips])


def tiny_cli(train: Any, description: str, argv: list[str] | None) -> int:
    """The ``--out DIR [--seed N]`` command of a tiny-model module: train, print the paths."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name, path in train(args.out, args.seed).items():
        if isinstance(path, Path):
            print(f"{name}: {path}")
    return 0
