"""Feature matrices for lists of clips, computed once with the runtime's frontend and cached.

The cache key is a hash of the FeatureConfig, the window length and the clips' bytes, so a
changed file or config is recomputed and an unchanged one loads from disk in seconds. Features
come from :func:`kws.features.compute_features`: exactly what the runtime computes.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from kws.atomic import atomic_write_bytes
from kws.features import FeatureConfig, compute_features
from kws.wavfile import load_audio

CACHE_VERSION = 1


def window_samples(config: FeatureConfig, frames: int) -> int:
    """Samples that yield exactly ``frames`` frames."""
    return (frames - 1) * config.frame_step + config.frame_length


def clip_features(config: FeatureConfig, audio: np.ndarray, frames: int) -> np.ndarray:
    """Features of the last ``frames`` frames of a clip, left-padded with silence if short.

    Clips are aligned at their end because a keyword detector fires at the end of the word.
    """
    need = window_samples(config, frames)
    if len(audio) < need:
        audio = np.concatenate([np.zeros(need - len(audio), dtype=audio.dtype), audio])
    return compute_features(config, audio[len(audio) - need :])


def _features_of_file(args: tuple[FeatureConfig, str, int]) -> np.ndarray:
    config, path, frames = args
    return clip_features(config, load_audio(path, config.sample_rate), frames)


def cache_key(config: FeatureConfig, paths: Sequence[Path], frames: int) -> str:
    """Hash of the config, the window length and every clip's bytes (in order)."""
    digest = hashlib.blake2b(digest_size=16)
    header = {"version": CACHE_VERSION, "features": config.to_dict(), "frames": frames}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


class FeatureCache:
    """A folder of ``<key>.npy`` feature arrays, each with a ``<key>.json`` description."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def features(
        self,
        config: FeatureConfig,
        paths: Sequence[Path],
        frames: int,
        workers: int | None = None,
        desc: str = "features",
    ) -> np.ndarray:
        """Array (len(paths), frames, num_features) float32, from the cache when it is there."""
        key = cache_key(config, paths, frames)
        target = self.root / f"{key}.npy"
        if target.is_file():
            return np.load(target)
        jobs = [(config, str(p), frames) for p in paths]
        workers = workers or min(len(jobs), os.cpu_count() or 1) or 1
        out = np.zeros((len(jobs), frames, config.num_features), dtype=np.float32)
        if workers > 1 and len(jobs) > 64:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                results = pool.imap(_features_of_file, jobs, chunksize=64)
                for i, feats in enumerate(tqdm(results, total=len(jobs), desc=desc)):
                    out[i] = feats
        else:
            for i, job in enumerate(tqdm(jobs, desc=desc, disable=len(jobs) < 64)):
                out[i] = _features_of_file(job)
        self.root.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, out)
        atomic_write_bytes(target, buffer.getvalue())
        about = {"features": config.to_dict(), "frames": frames, "clips": len(jobs)}
        atomic_write_bytes(target.with_suffix(".json"), json.dumps(about, indent=1).encode())
        return out
