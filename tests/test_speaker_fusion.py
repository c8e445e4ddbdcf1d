"""Cepstral statistics fused into a speaker model's embedding and scores S-normalized against a
cohort: the schema, the runtime's one embedding and scoring path, and the training code that fits
the statistics and picks their weight."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kws.errors import ModelError
from kws.features import FeatureConfig, Frontend
from kws.metadata import CepstralStats, ModelMetadata
from kws.model import load_model
from kws.profiles import Profile, identify
from kws.speaker import SpeakerEncoder, cepstral_statistics, cepstral_vector, cosine
from kws.tflite_file import read_model_bytes, write_model
from kws.verification import s_norm
from training.speaker.cepstral import choose_weight, fit_cepstral_stats

SHIPPED = Path(__file__).resolve().parents[1] / "firmware_models" / "speaker.tflite"


def _stats(numcep: int = 6, weight: float = 0.5, dim: int | None = None) -> CepstralStats:
    size = 2 * (numcep - 1)
    rng = np.random.default_rng(numcep)
    transform = rng.normal(size=(size, dim or size))
    return CepstralStats(
        numcep=numcep,
        ceplifter=22,
        mean=tuple(rng.normal(size=size)),
        std=tuple(rng.uniform(0.5, 2.0, size=size)),
        transform=tuple(tuple(row) for row in transform),
        weight=weight,
    )


def _voice(seed: int, f0: float, seconds: float = 1.5) -> np.ndarray:
    """A buzzy vowel-like tone with a speaker-ish pitch, int16 at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    f = f0 * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f) / 16000
    x = sum(np.sin(k * phase) / k for k in range(1, 12)) + 0.05 * rng.normal(size=t.size)
    return (x / np.abs(x).max() * 12000).astype(np.int16)


@pytest.fixture(scope="module")
def network_model() -> Path:
    if not SHIPPED.exists():
        pytest.skip("firmware_models/speaker.tflite is not in this checkout")
    return SHIPPED


def _with_stats(model: Path, stats: CepstralStats | None, out: Path) -> Path:
    """A copy of ``model`` whose metadata carries ``stats`` (or none)."""
    md = load_model(model).metadata
    write_model(
        out, read_model_bytes(model), dataclasses.replace(md, cepstral_stats=stats, cohort=())
    )
    return out


def test_metadata_round_trips_and_refuses_bad_statistics() -> None:
    md = load_model(SHIPPED).metadata if SHIPPED.exists() else None
    if md is None:
        pytest.skip("no shipped speaker model")
    stats = _stats()
    with_stats = dataclasses.replace(md, cepstral_stats=stats)
    assert ModelMetadata.from_json(with_stats.to_json()) == with_stats
    plain = dataclasses.replace(md, cepstral_stats=None)
    assert "cepstral_stats" not in json.loads(plain.to_json())  # older files read the same
    data = json.loads(with_stats.to_json())
    data["cepstral_stats"]["mean"] = data["cepstral_stats"]["mean"][:-1]
    with pytest.raises(ValueError, match=r"^cepstral_stats: mean and std need 10 values"):
        ModelMetadata.from_dict(data)
    data = json.loads(with_stats.to_json())
    data["cepstral_stats"]["weight"] = "heavy"
    with pytest.raises(ValueError, match="cepstral_stats has a value of the wrong type"):
        ModelMetadata.from_dict(data)
    data = json.loads(with_stats.to_json())
    data["cepstral_stats"]["extra"] = 1
    with pytest.raises(ValueError, match="extra"):
        ModelMetadata.from_dict(data)
    with pytest.raises(ValueError, match="speaker models only"):
        dataclasses.replace(with_stats, task="environment")
    mfcc = dataclasses.replace(md.features, numcep=13)
    with pytest.raises(ValueError, match="need log-mel features"):
        dataclasses.replace(with_stats, features=mfcc)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), f0=st.floats(80, 300), numcep=st.integers(2, 20))
def test_statistics_are_the_frontends_mfcc_without_c0(seed: int, f0: float, numcep: int) -> None:
    """One idea, one implementation: the runtime's statistics of log-mel frames equal the mean
    and spread of the MFCC frontend's c1.. on the same audio."""
    audio = _voice(seed, f0, 0.5)
    logmel = Frontend(FeatureConfig(nfilt=32, highfreq=4000)).compute(audio)
    mfcc = Frontend(FeatureConfig(nfilt=32, highfreq=4000, numcep=numcep)).compute(audio)[:, 1:]
    expected = np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0)])
    got = cepstral_statistics(logmel, numcep, 22)
    assert got.shape == (2 * (numcep - 1),)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


def test_fused_cosine_is_network_plus_weighted_statistics(
    network_model: Path, tmp_path: Path
) -> None:
    stats = _stats(numcep=20, weight=0.75, dim=12)
    fused = SpeakerEncoder(load_model(_with_stats(network_model, stats, tmp_path / "f.tflite")))
    alone = SpeakerEncoder(load_model(network_model), network_only=True)
    assert fused.dim == alone.dim + 12 and fused.model_id != alone.model_id
    a, b = _voice(1, 110.0), _voice(2, 190.0)
    ea, eb = fused.embed(a), fused.embed(b)
    assert ea.shape == (fused.dim,) and abs(float(np.linalg.norm(ea)) - 1) < 1e-5
    net = cosine(alone.embed(a), alone.embed(b))
    frames = [fused.frontend.compute(x) for x in (a, b)]
    cep = cosine(*(cepstral_vector(f, stats) for f in frames))
    assert cosine(ea, eb) == pytest.approx((net + 0.75 * cep) / 1.75, abs=1e-5)
    # network_only ignores the statistics of a fused model
    ignoring = SpeakerEncoder(fused.model, network_only=True)
    np.testing.assert_allclose(ignoring.embed(a), alone.embed(a), atol=1e-6)


def test_fitted_transform_whitens_the_within_speaker_scatter() -> None:
    """After standardizing and the WCCN transform, each training speaker's utterances scatter
    about equally in every direction (up to the diagonal loading)."""
    rng = np.random.default_rng(0)
    features = {
        f"s{n}": [
            rng.normal(n, 1 + n, size=(50, 8)) * rng.uniform(0.5, 2, size=8) for _ in range(30)
        ]
        for n in range(4)
    }
    stats = fit_cepstral_stats(features, numcep=5, ceplifter=22, wccn=1e-6)
    assert stats.weight == 1.0 and stats.dim == 8
    transform = np.asarray(stats.transform)
    scatters = []
    for frames in features.values():
        raw = np.stack([cepstral_statistics(f, 5, 22) for f in frames])
        z = (raw - np.asarray(stats.mean)) / np.asarray(stats.std)
        scatters.append(np.cov((z @ transform).T, bias=True))
    np.testing.assert_allclose(np.mean(scatters, axis=0), np.eye(8), atol=1e-4)
    with pytest.raises(ValueError, match="2\\+ training speakers"):
        fit_cepstral_stats({"only": features["s0"]}, 5, 22, 0.1)


def test_weight_choice_takes_the_lowest_validation_eer_and_the_smaller_weight_on_ties() -> None:
    eers = {0.0: 0.06, 0.5: 0.04, 1.0: 0.04, 2.0: 0.05}
    weight, seen = choose_weight([1.0, 0.0, 2.0, 0.5, 0.5], eers.__getitem__)
    assert weight == 0.5 and seen == eers
    assert choose_weight([0.0, 1.0], {0.0: 0.01, 1.0: 0.02}.__getitem__)[0] == 0.0


unit_vectors = st.lists(st.floats(-1, 1), min_size=6, max_size=6).filter(
    lambda v: float(np.linalg.norm(v)) > 0.1
)


@settings(max_examples=50, deadline=None)
@given(e=unit_vectors, t=unit_vectors, scale=st.floats(0.1, 10), seed=st.integers(0, 1000))
def test_s_norm_is_symmetric_scale_free_and_bounded(
    e: list[float], t: list[float], scale: float, seed: int
) -> None:
    cohort = np.random.default_rng(seed).normal(size=(7, 6))
    cohort /= np.linalg.norm(cohort, axis=1, keepdims=True)
    score = s_norm(np.array(e), np.array(t), cohort)
    assert 0 <= score <= 1
    assert s_norm(np.array(t), np.array(e), cohort) == pytest.approx(score, abs=1e-9)
    assert s_norm(scale * np.array(e), np.array(t), cohort) == pytest.approx(score, abs=1e-9)


def test_s_norm_scores_a_pair_against_what_each_side_scores_with_strangers() -> None:
    """A pair as similar as the average stranger scores 0.5; more similar, more; less, less."""
    cohort = np.array(
        [[0.6, 0.6, 0.53], [-0.6, -0.6, -0.53], [0.2, -0.5, 0.84], [-0.2, 0.5, -0.84]]
    )
    cohort /= np.linalg.norm(cohort, axis=1, keepdims=True)  # mean cosine 0 with anything
    e = np.array([1.0, 0.0, 0.0])
    assert s_norm(e, np.array([0.0, 1.0, 0.0]), cohort) == pytest.approx(0.5)
    assert s_norm(e, np.array([0.95, 0.3, 0.0]), cohort) > 0.8
    assert s_norm(e, np.array([-0.95, 0.3, 0.0]), cohort) < 0.2


def test_cohort_metadata_and_the_encoders_score(network_model: Path, tmp_path: Path) -> None:
    md = load_model(network_model).metadata
    stats = _stats(numcep=20, weight=1.0, dim=4)
    rng = np.random.default_rng(0)
    cohort = rng.normal(size=(5, 68))
    cohort /= np.linalg.norm(cohort, axis=1, keepdims=True)
    rows = tuple(tuple(float(x) for x in row) for row in cohort)
    both = dataclasses.replace(md, cepstral_stats=stats, cohort=rows)
    assert ModelMetadata.from_json(both.to_json()) == both
    for bad, message in (
        ({"cohort": [[0.1, 0.2], [0.3]]}, "cohort must hold 2\\+ vectors of equal length"),
        ({"cohort": [["a", "b"], [1, 2]]}, "cohort must be a list of lists of numbers"),
    ):
        with pytest.raises(ValueError, match=message):
            ModelMetadata.from_dict({**json.loads(both.to_json()), **bad})
    with pytest.raises(ValueError, match="cohort belongs to speaker models only"):
        dataclasses.replace(both, task="environment", cepstral_stats=None)

    path = tmp_path / "normed.tflite"
    write_model(path, read_model_bytes(network_model), both)
    encoder = SpeakerEncoder(load_model(path))
    a, b = encoder.embed(_voice(1, 110.0)), encoder.embed(_voice(2, 190.0))
    assert encoder.score(a, b) == pytest.approx(s_norm(a, b, cohort))
    assert 0 < encoder.score(a, b) < 1 and encoder.score(a, b) != pytest.approx(cosine(a, b))
    match = identify(b, [Profile.from_embeddings("ann", encoder.model_id, [a])], 0.0, encoder.score)
    assert match.name == "ann" and match.score == pytest.approx(encoder.score(a, b))
    alone = SpeakerEncoder(encoder.model, network_only=True)
    assert alone.cohort is None and alone.score(a[:64], b[:64]) == cosine(a[:64], b[:64])

    wrong = tmp_path / "wrong.tflite"
    write_model(
        wrong, read_model_bytes(network_model), dataclasses.replace(both, cepstral_stats=None)
    )
    with pytest.raises(
        ModelError, match=r"wrong.tflite: its cohort vectors have 68 values but its embeddings 64$"
    ):
        SpeakerEncoder(load_model(wrong))
