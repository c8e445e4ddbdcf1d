"""Peer adapters (openWakeWord, microWakeWord through their PyPI packages): each loads the
shipped models of the four compared wake words, stays low on silence, rises on a spoken wake
word, gives the same predictions whatever chunk size it is fed, and scores streams into
kws.evaluation Timelines with a CPU cost.

Skipped when the packages are missing, except under CI (which installs the bench extra), where a
missing package is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

PACKAGES = {"openwakeword": "pyopen_wakeword", "microwakeword": "pymicro_wakeword"}
_missing = [m for m in PACKAGES.values() if importlib.util.find_spec(m) is None]
if _missing:
    _why = f"peer packages not installed: {', '.join(_missing)} (the bench extra)"
    if os.environ.get("CI"):
        pytest.fail(_why, pytrace=False)
    pytest.skip(_why, allow_module_level=True)

from benchmarks.peers import ENGINES, TARGET_WAKE_WORDS, PeerEngine, load_peer  # noqa: E402
from benchmarks.peers.run import feed, peer_entry, score_peer  # noqa: E402
from benchmarks.streams import EvalStream, Positive  # noqa: E402
from kws.wavfile import load_audio, write_wav  # noqa: E402

RATE = 16000
SILENCE = np.zeros(RATE, dtype=np.int16)
LOW = 0.05
"""Highest probability allowed on a second of digital silence."""
PHRASES = {
    "alexa": "alexa",
    "hey_jarvis": "hey jarvis",
    "hey_mycroft": "hey my croft",  # espeak-ng says "mycroft" with a short i
    "okay_nabu": "okay nabu",
}
VOICES = ("en", "en-us", "en-us+f3")
"""One utterance per voice: some peers stay at 0 for one voice (microWakeWord hey_jarvis: all
but en-us+f3)."""
CASES = [(engine, word) for engine in PACKAGES for word in TARGET_WAKE_WORDS]


def _engine(engine: str, word: str) -> PeerEngine:
    shipped = ENGINES[engine].wake_words()
    if word not in shipped:
        pytest.skip(f"{engine} ships no {word} model (it has {', '.join(shipped)})")
    return load_peer(engine, word)


@pytest.fixture(scope="module")
def utterances(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """Each wake word spoken by espeak-ng in each of :data:`VOICES`, every utterance with 0.5 s
    of silence before and 1.5 s after."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path_factory.mktemp("utterances")
    out = {}
    for word, phrase in PHRASES.items():
        pieces = []
        for voice in VOICES:
            path = folder / f"{word}_{voice}.wav"
            command = ["espeak-ng", "-v", voice, "-w", str(path), phrase]
            subprocess.run(command, check=True, capture_output=True)
            pieces += [SILENCE[: RATE // 2], load_audio(path), SILENCE, SILENCE[: RATE // 2]]
        out[word] = np.concatenate(pieces)
    return out


def test_registry_lists_both_engines() -> None:
    assert {"openwakeword", "microwakeword"} <= set(ENGINES)
    with pytest.raises(ValueError, match="no peer engine 'nope'"):
        load_peer("nope", "alexa")


def test_unknown_wake_word_names_what_ships() -> None:
    with pytest.raises(ValueError, match="ships no 'hey_kws' model"):
        load_peer("microwakeword", "hey_kws")


@pytest.mark.parametrize(("engine", "word"), CASES)
def test_low_on_silence_higher_on_the_spoken_wake_word(
    engine: str, word: str, utterances: dict[str, np.ndarray]
) -> None:
    peer = _engine(engine, word)
    assert peer.name == f"{engine}:{word}"
    assert peer.chunk_samples > 0 and peer.smoothing_calls >= 1 and peer.refractory_s > 0
    times, silent = feed(peer, SILENCE)
    assert len(silent) > 0
    assert np.all(np.diff(times) > 0) and times[0] > 0 and times[-1] <= 1.0 + 1e-9
    assert silent.max() < LOW
    _, spoken = feed(peer, utterances[word])  # TTS need not trigger it: only higher
    assert spoken.max() > silent.max()


def test_predictions_do_not_depend_on_the_chunk_size(utterances: dict[str, np.ndarray]) -> None:
    audio = utterances["hey_jarvis"]
    for engine in PACKAGES:
        peer = _engine(engine, "hey_jarvis")
        natural = feed(peer, audio)
        peer.reset()
        odd = [p for s in range(0, len(audio), 1000) for p in peer.process(audio[s : s + 1000])]
        times, probs = np.asarray(odd).T
        np.testing.assert_allclose(times, natural[0])
        np.testing.assert_allclose(probs, natural[1], atol=1e-6)


def test_process_rejects_float_audio() -> None:
    peer = _engine("microwakeword", "okay_nabu")
    with pytest.raises(TypeError, match="int16"):
        peer.process(np.zeros(160, dtype=np.float32))


def test_score_peer_builds_timelines_and_costs(
    tmp_path: Path, utterances: dict[str, np.ndarray]
) -> None:
    audio = utterances["okay_nabu"]  # its three utterances marked as one span: plumbing only
    positive, negative = tmp_path / "positive.wav", tmp_path / "negative.wav"
    write_wav(positive, audio, RATE)
    write_wav(negative, np.zeros(3 * RATE, dtype=np.int16), RATE)
    offset = (len(audio) - 2 * RATE) / RATE
    streams = [EvalStream(positive, (Positive(0.5, offset),)), EvalStream(negative)]
    for engine in PACKAGES:
        peer = _engine(engine, "okay_nabu")
        run = score_peer(peer, streams)
        assert [t.positives for t in run.timelines] == [((0.5, offset),), ()]
        assert run.audio_s == pytest.approx(len(audio) / RATE + 3)
        assert run.cpu_s > 0 and run.cpu_s_per_audio_hour > 0
        for timeline in run.timelines:
            assert len(timeline.times) == len(timeline.scores) > 0
        entry = peer_entry(peer, run)
        assert entry["name"] == f"{engine}:okay_nabu"
        assert set(entry["frr_at"]) == {"0.5", "1"}
        assert entry["frr_at"]["1"] is not None  # silence never fires: every threshold is quiet
        assert entry["num_positives"] == 1


def test_another_wake_word_in_the_streams_is_a_false_accept_not_a_miss(
    tmp_path: Path, utterances: dict[str, np.ndarray]
) -> None:
    own, other = utterances["okay_nabu"], utterances["alexa"]
    path = tmp_path / "both.wav"
    write_wav(path, np.concatenate([own, other]), RATE)
    mine = (0.5, len(own) / RATE - 1.5)
    theirs = (len(own) / RATE + 0.5, (len(own) + len(other)) / RATE - 1.5)
    stream = EvalStream(path, (Positive(*mine), Positive(*theirs, label="alexa")))
    peer = _engine("microwakeword", "okay_nabu")
    run = score_peer(peer, [stream])
    (timeline,) = run.timelines
    assert timeline.positives == (mine,) and timeline.others == (theirs,)
    assert peer_entry(peer, run)["num_positives"] == 1
