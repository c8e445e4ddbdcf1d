"""The frontend matches python_speech_features and streams exactly like it batches."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kws.features import FeatureConfig, Frontend, StreamingFrontend, compute_features

psf = pytest.importorskip("python_speech_features")

WINDOWS = {"rectangular": lambda n: np.ones(n), "hamming": np.hamming, "hann": np.hanning}

CONFIGS = [
    FeatureConfig(nfilt=26),  # psf's logfbank defaults
    FeatureConfig(nfilt=40, lowfreq=20, highfreq=7600),
    FeatureConfig(winlen=0.032, winstep=0.016, nfft=1024, nfilt=64, winfunc="hamming"),
    FeatureConfig(winlen=0.03, winstep=0.02, nfilt=32, lowfreq=300, highfreq=3400, preemph=0.0),
    FeatureConfig(sample_rate=8000, winlen=0.025, winstep=0.01, nfft=256, nfilt=20),
    FeatureConfig(numcep=13, nfilt=26),  # psf's mfcc defaults
    FeatureConfig(numcep=20, nfilt=40, ceplifter=0, append_energy=False, winfunc="hann"),
    FeatureConfig(numcep=10, nfilt=32, winlen=0.04, winstep=0.02, nfft=1024, lowfreq=100),
]


def speechlike(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Noise plus harmonic tones with a varying envelope, as int16."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (180, 360, 900, 2500))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    x = 3000 * envelope * tone + 300 * rng.standard_normal(len(t))
    return np.clip(x, -32768, 32767).astype(np.int16)


def psf_reference(config: FeatureConfig, x: np.ndarray) -> np.ndarray:
    c = config
    window = WINDOWS[c.winfunc]
    if c.numcep:
        return psf.mfcc(
            x, c.sample_rate, c.winlen, c.winstep, c.numcep, c.nfilt, c.nfft, c.lowfreq,
            c.highfreq, c.preemph, c.ceplifter, c.append_energy, winfunc=window,
        )  # fmt: skip
    energies, _ = psf.fbank(
        x, c.sample_rate, c.winlen, c.winstep, c.nfilt, c.nfft, c.lowfreq, c.highfreq,
        c.preemph, winfunc=window,
    )  # fmt: skip
    return np.log(energies)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.kind}-{c.nfilt}-{c.winfunc}")
def test_matches_python_speech_features(config: FeatureConfig) -> None:
    x = speechlike(2.0, config.sample_rate, seed=1)
    ours = compute_features(config, x)
    ref = psf_reference(config, x)
    # psf pads a final partial frame; a stream cannot, so we produce only complete frames.
    assert ours.shape == (config.num_frames(len(x)), config.num_features)
    assert len(ref) - len(ours) in (0, 1)
    np.testing.assert_allclose(ours, ref[: len(ours)], rtol=1e-5, atol=2e-5)


def test_silence_is_finite_at_the_log_floor() -> None:
    config = FeatureConfig(nfilt=40)
    feats = compute_features(config, np.zeros(16000, dtype=np.int16))
    assert np.all(np.isfinite(feats))
    np.testing.assert_allclose(feats, np.log(config.log_floor), rtol=1e-6)


def test_short_input_has_no_frames() -> None:
    config = FeatureConfig()
    assert compute_features(config, np.zeros(config.frame_length - 1)).shape == (0, 40)
    assert StreamingFrontend(config).push(np.zeros(10, dtype=np.int16)).shape == (0, 40)


@settings(max_examples=60, deadline=None)
@given(
    config_index=st.sampled_from(range(len(CONFIGS))),
    seconds=st.floats(0.0, 0.6),
    cuts=st.lists(st.integers(0, 20000), max_size=25),
    seed=st.integers(0, 2**16),
)
def test_streaming_equals_batch_for_any_chunking(
    config_index: int, seconds: float, cuts: list[int], seed: int
) -> None:
    config = CONFIGS[config_index]
    x = speechlike(seconds, config.sample_rate, seed)
    bounds = sorted({0, len(x), *(c % (len(x) + 1) for c in cuts)})
    stream = StreamingFrontend(config)
    parts = [stream.push(x[a:b]) for a, b in itertools.pairwise(bounds)]
    streamed = np.concatenate(parts) if parts else np.zeros((0, config.num_features))
    batch = compute_features(config, x)
    assert streamed.shape == batch.shape
    assert stream.frames_emitted == len(batch)
    np.testing.assert_allclose(streamed, batch, rtol=1e-6, atol=1e-6)


def test_reset_starts_a_new_stream() -> None:
    config = FeatureConfig(numcep=13)
    x = speechlike(0.5, 16000, seed=3)
    stream = StreamingFrontend(config)
    stream.push(speechlike(0.3, 16000, seed=4))
    stream.reset()
    np.testing.assert_allclose(stream.push(x), Frontend(config).compute(x), rtol=1e-6, atol=1e-6)


def test_float_and_int16_input_agree() -> None:
    x = speechlike(0.5, 16000, seed=5)
    config = FeatureConfig()
    np.testing.assert_array_equal(
        compute_features(config, x), compute_features(config, x.astype(np.float32))
    )


@pytest.mark.parametrize(
    ("changes", "word"),
    [
        ({"winstep": 0.05}, "winstep"),
        ({"nfft": 256}, "nfft"),
        ({"highfreq": 9000}, "highfreq"),
        ({"winfunc": "blackman"}, "winfunc"),
        ({"numcep": 50}, "numcep"),
        ({"nfilt": 0}, "nfilt"),
    ],
)
def test_invalid_config_names_the_field(changes: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        FeatureConfig(**changes)


def test_config_round_trips_and_rejects_unknown_keys() -> None:
    config = FeatureConfig(numcep=13, highfreq=7000.0, winfunc="hamming")
    assert FeatureConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="FeatureConfig has unknown keys: nfilter"):
        FeatureConfig.from_dict({"nfilter": 40})
