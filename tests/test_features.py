"""The frontend matches python_speech_features and streams exactly like it batches, with both
backends (the compiled kernel and numpy), which agree with each other."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kws.features import FeatureConfig, Frontend, StreamingFrontend
from kws.features.frontend import BACKEND_ENV, choose_backend, native_available

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
    FeatureConfig(winlen=0.032, winstep=0.032, nfft=512, nfilt=40, winfunc="hann"),  # no padding
]
BACKENDS = pytest.mark.parametrize("backend", ["native", "numpy"])


def compute_features(config: FeatureConfig, x: np.ndarray, backend: str) -> np.ndarray:
    return Frontend(config, backend).compute(x)


def stream(config: FeatureConfig, backend: str) -> StreamingFrontend:
    return StreamingFrontend(config, Frontend(config, backend))


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


@BACKENDS
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.kind}-{c.nfilt}-{c.winfunc}")
def test_matches_python_speech_features(config: FeatureConfig, backend: str) -> None:
    x = speechlike(2.0, config.sample_rate, seed=1)
    ours = compute_features(config, x, backend)
    ref = psf_reference(config, x)
    # psf pads a final partial frame; a stream cannot, so we produce only complete frames.
    assert ours.shape == (config.num_frames(len(x)), config.num_features)
    assert len(ref) - len(ours) in (0, 1)
    np.testing.assert_allclose(ours, ref[: len(ours)], rtol=1e-5, atol=2e-5)


@BACKENDS
def test_silence_is_finite_at_the_log_floor(backend: str) -> None:
    config = FeatureConfig(nfilt=40)
    feats = compute_features(config, np.zeros(16000, dtype=np.int16), backend)
    assert np.all(np.isfinite(feats))
    np.testing.assert_allclose(feats, np.log(config.log_floor), rtol=1e-6)


@BACKENDS
def test_short_input_has_no_frames(backend: str) -> None:
    config = FeatureConfig()
    assert compute_features(config, np.zeros(config.frame_length - 1), backend).shape == (0, 40)
    assert stream(config, backend).push(np.zeros(10, dtype=np.int16)).shape == (0, 40)


@settings(max_examples=60, deadline=None)
@given(
    config_index=st.sampled_from(range(len(CONFIGS))),
    seconds=st.floats(0.0, 0.6),
    cuts=st.lists(st.integers(0, 20000), max_size=25),
    seed=st.integers(0, 2**16),
    backend=st.sampled_from(["native", "numpy"]),
)
def test_streaming_equals_batch_for_any_chunking(
    config_index: int, seconds: float, cuts: list[int], seed: int, backend: str
) -> None:
    config = CONFIGS[config_index]
    x = speechlike(seconds, config.sample_rate, seed)
    bounds = sorted({0, len(x), *(c % (len(x) + 1) for c in cuts)})
    frontend = stream(config, backend)
    parts = [frontend.push(x[a:b]) for a, b in itertools.pairwise(bounds)]
    streamed = np.concatenate(parts) if parts else np.zeros((0, config.num_features))
    batch = compute_features(config, x, backend)
    assert streamed.shape == batch.shape
    assert frontend.frames_emitted == len(batch)
    np.testing.assert_allclose(streamed, batch, rtol=1e-6, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    nfilt=st.integers(8, 64),
    numcep=st.integers(0, 20),
    winlen_ms=st.integers(10, 64),
    hop_ms=st.integers(5, 40),
    winfunc=st.sampled_from(["rectangular", "hamming", "hann"]),
    preemph=st.sampled_from([0.0, 0.95, 0.97]),
    seed=st.integers(0, 2**16),
)
def test_native_kernel_equals_numpy_reference(
    nfilt: int, numcep: int, winlen_ms: int, hop_ms: int, winfunc: str, preemph: float, seed: int
) -> None:
    winlen, winstep = winlen_ms / 1000, min(hop_ms, winlen_ms) / 1000
    nfft = 512 if winlen_ms <= 32 else 1024
    config = FeatureConfig(
        winlen=winlen, winstep=winstep, nfft=nfft, nfilt=nfilt, numcep=min(numcep, nfilt),
        winfunc=winfunc, preemph=preemph,
    )  # fmt: skip
    x = speechlike(0.4, 16000, seed)
    np.testing.assert_allclose(
        compute_features(config, x, "native"), compute_features(config, x, "numpy"),
        rtol=1e-6, atol=1e-5,
    )  # fmt: skip


@BACKENDS
def test_reset_starts_a_new_stream(backend: str) -> None:
    config = FeatureConfig(numcep=13)
    x = speechlike(0.5, 16000, seed=3)
    frontend = stream(config, backend)
    frontend.push(speechlike(0.3, 16000, seed=4))
    frontend.reset()
    np.testing.assert_allclose(
        frontend.push(x), compute_features(config, x, backend), rtol=1e-6, atol=1e-6
    )


@BACKENDS
def test_every_input_layout_gives_the_same_features(backend: str) -> None:
    """Microphone blocks arrive as (n, 1) int16, WAVs as float32, users pass int32 or views."""
    x = speechlike(0.5, 16000, seed=5)
    config = FeatureConfig()
    expected = compute_features(config, x, backend)
    doubled = np.repeat(x, 2)[::2]  # a strided view
    for variant in (
        x.astype(np.float32),
        x.astype(np.float64),
        x.astype(np.int32),
        x.reshape(-1, 1),
        doubled,
    ):
        np.testing.assert_array_equal(compute_features(config, variant, backend), expected)
        parts = [stream(config, backend).push(variant)]
        np.testing.assert_array_equal(np.concatenate(parts), expected)


def test_native_kernel_is_built() -> None:
    """CI installs with a C compiler, so the fast path must be what it tests and benchmarks."""
    assert native_available()
    assert Frontend(FeatureConfig()).backend == "native"


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    odd = FeatureConfig(nfft=400)  # not a power of two: numpy serves it
    assert choose_backend(odd) == "numpy"
    with pytest.raises(ValueError, match="nfft is not a power of two"):
        choose_backend(odd, "native")
    monkeypatch.setenv(BACKEND_ENV, "numpy")
    assert Frontend(FeatureConfig()).backend == "numpy"
    with pytest.raises(ValueError, match="frontend backend must be one of"):
        Frontend(FeatureConfig(), "fast")
    monkeypatch.setenv(BACKEND_ENV, "fast")
    with pytest.raises(ValueError, match=r"^\$KWS_FRONTEND must be one of .* got 'fast'$"):
        Frontend(FeatureConfig())


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
