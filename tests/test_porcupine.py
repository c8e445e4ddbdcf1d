"""The Porcupine peer (benchmarks/peers/porcupine.py): the sensitivity-grid-to-score mapping on
stub detectors, the one-line errors when the package, its library or a keyword file is missing,
and the real engine (pvporcupine 1.9.5): silent on silence and noise, independent of chunking,
reset, firing on a spoken "alexa" in light noise, and scored with a user's CPU beside the grid's.

The real-engine tests are skipped without pvporcupine, except under CI (bench extra installed).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from benchmarks import compare, report
from benchmarks.peers import ENGINES, load_peer, porcupine
from benchmarks.peers.porcupine import SENSITIVITIES, SensitivityGrid
from benchmarks.peers.run import feed, peer_entry, score_peer
from benchmarks.streams import EvalStream, Positive
from kws.evaluation import fire_times
from kws.wavfile import load_audio, write_wav

RATE = 16000
FRAME = porcupine.FRAME_SAMPLES


def _stub_grid(sensitivities: Sequence[float]) -> SensitivityGrid:
    """Detector k fires on a frame whose first sample is at least ``100 * (1 - s_k)``: a
    stronger frame fires at lower sensitivities, and every higher sensitivity fires too."""

    def detector(s: float) -> porcupine.Detector:
        return lambda frame: int(frame[0]) >= round(100 * (1 - s))

    return SensitivityGrid(sensitivities, [detector(s) for s in sensitivities])


def test_grid_score_is_the_rank_of_the_lowest_sensitivity_that_fired() -> None:
    grid = _stub_grid(SENSITIVITIES)
    n = len(SENSITIVITIES)
    frame = np.zeros(FRAME, dtype=np.int16)
    assert grid.score(frame) == 1 / n  # strength 0: only sensitivity 1.0 fires
    frame[0] = -1
    assert grid.score(frame) == 0  # none fired
    frame[0] = 100
    assert grid.score(frame) == 1  # sensitivity 0.0 fires (and all above it)
    frame[0] = 50
    assert grid.fired(frame) == [s >= 0.5 for s in SENSITIVITIES]
    assert grid.score(frame) == pytest.approx(1 - 0.5 * 20 / 21)
    for k, s in enumerate(SENSITIVITIES):
        assert grid.sensitivity_at(grid.threshold_of(k)) == s
    assert grid.sensitivity_at(0.01) == 1.0 and grid.sensitivity_at(0.999999) == 0.0
    assert grid.score_of([False, True, False] + [True] * (n - 3)) == (n - 1) / n  # not nested


def test_a_threshold_on_the_scores_gives_each_detectors_own_events() -> None:
    grid = _stub_grid(SENSITIVITIES)
    rng = np.random.default_rng(0)
    strengths = np.where(rng.random(400) < 0.05, rng.integers(0, 101, 400), -1)
    frames = [np.full(FRAME, v, dtype=np.int16) for v in strengths]
    fired = np.asarray([grid.fired(f) for f in frames])
    scores = np.asarray([grid.score(f) for f in frames])
    times = (np.arange(len(frames)) + 1) * FRAME / RATE
    for k in range(len(SENSITIVITIES)):
        own = fire_times(times, fired[:, k].astype(float), 0.5, porcupine.REFRACTORY_S)
        mapped = fire_times(times, scores, grid.threshold_of(k), porcupine.REFRACTORY_S)
        np.testing.assert_array_equal(mapped, own)
    assert len(fire_times(times, scores, grid.threshold_of(10), 0)) > 3  # the test has events


def test_a_grid_must_ascend_and_match_its_detectors() -> None:
    with pytest.raises(ValueError, match="ascend"):
        _stub_grid((0.5, 0.1))
    with pytest.raises(ValueError, match="one detector per sensitivity"):
        SensitivityGrid((0.1, 0.2), [lambda f: True])


class _Refuse(importlib.machinery.PathFinder):
    """A meta-path finder whose import of pvporcupine raises what the package raises on a
    platform it has no library for."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):  # type: ignore[no-untyped-def, override]
        if name == "pvporcupine":
            raise NotImplementedError("Unsupported platform.")
        return None


def test_a_missing_package_or_library_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pvporcupine", None)
    with pytest.raises(ImportError, match="needs the pvporcupine package: pip install"):
        load_peer("porcupine", "alexa")
    with pytest.raises(ValueError, match="pvporcupine package") as caught:
        compare.load_peers(["porcupine:alexa"], [])
    assert "\n" not in str(caught.value)
    monkeypatch.delitem(sys.modules, "pvporcupine")
    monkeypatch.setattr(sys, "meta_path", [_Refuse, *sys.meta_path])
    with pytest.raises(ImportError, match=r"no engine library for .*Unsupported platform") as err:
        ENGINES["porcupine"].wake_words()
    assert "\n" not in str(err.value)


# ---- the real engine --------------------------------------------------------------------------

needs_package = pytest.mark.skipif(
    importlib.util.find_spec("pvporcupine") is None and not os.environ.get("CI"),
    reason="pvporcupine is not installed (the bench extra)",
)


@needs_package
def test_ships_alexa_and_jarvis_for_hey_jarvis(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert ENGINES["porcupine"].wake_words() == ("alexa", "hey_jarvis")
    peer = load_peer("porcupine", "hey_jarvis")
    assert peer.name == "porcupine:hey_jarvis" and peer.keyword == "jarvis"  # type: ignore
    assert "'jarvis' alone" in peer.note  # type: ignore[attr-defined]
    assert (peer.chunk_samples, peer.smoothing_calls, peer.refractory_s) == (512, 1, 1.0)
    with pytest.raises(ValueError, match="ships no 'okay_nabu' model"):
        load_peer("porcupine", "okay_nabu")
    import pvporcupine

    missing = tmp_path / "alexa_linux.ppn"
    monkeypatch.setitem(pvporcupine.KEYWORD_PATHS, "alexa", str(missing))
    with pytest.raises(ImportError, match=f"cannot load {re.escape(str(missing))}") as caught:
        load_peer("porcupine", "alexa")
    assert "\n" not in str(caught.value)


def _noise(seconds: float, seed: int, std: float = 30.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(0, std, int(seconds * RATE))).astype(np.int16)


@pytest.fixture(scope="module")
def alexa_in_noise(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, list[float]]:
    """'alexa' by espeak-ng in three voices, each with 1.5 s before and 2 s after, over light
    noise (Porcupine 1.9 does not fire on TTS over digital silence); and each word's onset."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path_factory.mktemp("alexa")
    pieces, onsets, at = [], [], 0
    for voice in ("en", "en-us", "en-gb"):
        path = folder / f"{voice}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), "alexa"], check=True)
        word = load_audio(path)
        pieces += [np.zeros(int(1.5 * RATE), np.int16), word, np.zeros(2 * RATE, np.int16)]
        onsets.append((at + 1.5 * RATE) / RATE)
        at += int(1.5 * RATE) + len(word) + 2 * RATE
    speech = np.concatenate(pieces)
    return (speech + _noise(len(speech) / RATE, 1)).astype(np.int16), onsets


@needs_package
def test_silent_on_silence_and_noise() -> None:
    peer = load_peer("porcupine", "alexa")
    for audio in (np.zeros(3 * RATE, np.int16), _noise(3, 0), _noise(3, 0, std=3000)):
        times, scores = feed(peer, audio)
        assert len(times) == len(audio) // FRAME and times[0] == FRAME / RATE
        assert np.all(scores == 0)


@needs_package
@pytest.mark.slow
def test_fires_on_alexa_the_same_whatever_the_chunks_and_after_reset(
    alexa_in_noise: tuple[np.ndarray, list[float]],
) -> None:
    audio, onsets = alexa_in_noise
    peer = load_peer("porcupine", "alexa")
    times, scores = feed(peer, audio)
    fired = times[scores > 0]
    assert len(fired) > 0  # at some sensitivity of the grid, for at least one voice
    assert all(any(o <= t <= o + 2 for o in onsets) for t in fired)  # only on the words
    go_on = peer.process(audio[:RATE])
    assert go_on[0][0] == pytest.approx(times[-1] + FRAME / RATE)  # without reset: one stream
    peer.reset()
    odd = [p for s in range(0, len(audio), 1000) for p in peer.process(audio[s : s + 1000])]
    np.testing.assert_array_equal(np.asarray(odd), np.column_stack([times, scores]))


@needs_package
@pytest.mark.slow
def test_scored_with_the_sensitivity_and_a_users_cpu(
    tmp_path: Path, alexa_in_noise: tuple[np.ndarray, list[float]]
) -> None:
    audio, onsets = alexa_in_noise
    positive, negative = tmp_path / "positive.wav", tmp_path / "negative.wav"
    write_wav(positive, audio, RATE)
    write_wav(negative, _noise(4, 2), RATE)
    streams = [
        EvalStream(positive, tuple(Positive(o, o + 0.6) for o in onsets)),
        EvalStream(negative),
    ]
    peer = load_peer("porcupine", "alexa")
    run = score_peer(peer, streams)
    assert run.user_cpu_s is not None and 0 < run.user_cpu_s < run.cpu_s  # 1 detector vs 21
    entry = peer_entry(peer, run)
    assert entry["note"].startswith("Porcupine reports detections")
    assert 0 < entry["user_cpu_s_per_audio_hour"] < entry["cpu_s_per_audio_hour"]
    point = entry["frr_at"]["1"]
    assert point["sensitivity"] == 1.0 and point["frr"] < 1  # no false accepts: the loudest
    results = {
        "targets_fa_per_hour": [0.5, 1.0],
        "ours_cpu": compare.ours_cpu(1.0, 3600.0, 1),
        "peers": [entry],
    }
    ours = [{"model": "m.tflite", "label": "alexa", "frr_at": {"0.5": None, "1": None}}]
    results["comparison"] = compare.comparison(ours, results["ours_cpu"], [entry], ["0.5", "1"])
    cpu = results["comparison"][0]["cpu_s_per_audio_hour"]
    assert cpu["peer"] == entry["user_cpu_s_per_audio_hour"]
    assert cpu["peer_as_benchmarked"] == entry["cpu_s_per_audio_hour"]
    notes = "\n".join(report._peer_notes(results))
    assert "porcupine:alexa" in notes and "1 FA/h at sensitivity 1" in notes
