"""The feature cache computes with the runtime's frontend and recomputes only when data changes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from kws.features import FeatureConfig, compute_features
from kws.wavfile import write_wav
from training.data.feature_cache import FeatureCache, clip_features, window_samples

CONFIG = FeatureConfig(nfilt=40)


def clips(folder: Path, count: int, seconds: float = 1.2) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"clip{i}.wav"
        write_wav(path, (rng.standard_normal(int(seconds * 16000)) * 1000).astype(np.int16), 16000)
        paths.append(path)
    return paths


def test_clip_features_align_the_end_and_pad_short_clips() -> None:
    audio = (np.random.default_rng(1).standard_normal(20000) * 1000).astype(np.int16)
    feats = clip_features(CONFIG, audio, 98)
    np.testing.assert_array_equal(
        feats, compute_features(CONFIG, audio[-window_samples(CONFIG, 98) :])
    )
    short = clip_features(CONFIG, audio[:8000], 98)
    assert short.shape == (98, 40)
    np.testing.assert_allclose(short[0], np.log(CONFIG.log_floor), rtol=1e-6)  # silence first


def test_second_run_loads_from_disk_and_changed_data_recomputes(tmp_path: Path) -> None:
    paths = clips(tmp_path, 80)
    cache = FeatureCache(tmp_path / "cache")
    first = cache.features(CONFIG, paths, 98, workers=2)
    assert first.shape == (80, 98, 40) and first.dtype == np.float32
    np.testing.assert_array_equal(first[3], clip_features(CONFIG, _read(paths[3]), 98))
    start = time.perf_counter()
    again = cache.features(CONFIG, paths, 98)
    assert time.perf_counter() - start < 2.0
    np.testing.assert_array_equal(again, first)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    write_wav(paths[0], np.zeros(19200, dtype=np.int16), 16000)
    changed = cache.features(CONFIG, paths, 98, workers=1)
    assert not np.array_equal(changed[0], first[0])
    np.testing.assert_array_equal(changed[1:], first[1:])
    other = cache.features(FeatureConfig(numcep=13), paths, 98, workers=1)
    assert other.shape == (80, 98, 13)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3


def _read(path: Path) -> np.ndarray:
    from kws.wavfile import load_audio

    return load_audio(path)
