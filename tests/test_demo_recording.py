"""The demo recording generator: the same inputs give the same samples, the ground truth says
where the keywords really are, and recordings that may not be bundled are refused. An espeak-ng
voice over a recordings folder the test writes (noise, a tone, a short impulse response)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from kws.errors import KwsError
from tests.test_eval_sets import write_recordings
from training.data.demo_recording import DemoConfig, render, write
from training.data.recordings import INDEX_FILE

RATE = 16000


def small_config() -> DemoConfig:
    """The default script, with any test recording standing in for the named ones."""
    defaults = DemoConfig()
    stretches = tuple(dataclasses.replace(s, package="", contains="") for s in defaults.stretches)
    return DemoConfig(engine="espeak-ng", ambient="", room="", stretches=stretches)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recordings")
    write_recordings(root)
    return root


def rms(audio: np.ndarray, start_s: float, end_s: float) -> float:
    part = audio[round(start_s * RATE) : round(end_s * RATE)].astype(np.float64)
    return float(np.sqrt(np.mean(part**2)))


def test_same_inputs_give_the_same_recording(recordings: Path) -> None:
    first, truth = render(small_config(), recordings)
    second, again = render(small_config(), recordings)
    assert first.dtype == np.int16 and len(first) == 36 * RATE
    assert np.array_equal(first, second)
    assert truth == again


def test_ground_truth_marks_where_the_keywords_are(recordings: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo" / "wake_words.wav"
    written = write(small_config(), recordings, out)
    truth = json.loads(out.with_suffix(".json").read_text())
    assert truth == json.loads(json.dumps(written))
    from kws.wavfile import load_audio

    audio = load_audio(out)
    said = [(k["model"], k["onset_s"]) for k in truth["keywords"]]
    assert said == [(c.model, c.onset_s) for c in small_config().cues]
    assert truth["voice"]["split"] == "test" and truth["voice"]["engine"] == "espeak-ng"
    for keyword in truth["keywords"]:
        onset, offset = keyword["onset_s"], keyword["offset_s"]
        assert 0.3 < offset - onset < 2.0
        before = rms(audio, onset - 0.4, onset - 0.02)
        # the keyword is 10-20 dB above what plays under it, and starts where the truth says
        assert rms(audio, onset, offset) > 4 * before, keyword
        assert rms(audio, onset, onset + 0.15) > 3 * before, keyword
        assert 8.0 < keyword["snr_db"] < 40.0
    kinds = {b["kind"] for b in truth["backgrounds"]}
    assert kinds == {"ambient", "speech", "music"}
    assert all(b["licence"] == "CC0" and b["version"] for b in truth["backgrounds"])


def test_a_recording_that_may_not_be_bundled_is_refused(recordings: Path, tmp_path: Path) -> None:
    index = json.loads((recordings / INDEX_FILE).read_text())
    for entry in index["recordings"]:
        if entry["kind"] == "music":
            entry["licence"] = "Drascula-License (DFSG free)"
    copy = tmp_path / "recordings"
    copy.mkdir()
    (copy / INDEX_FILE).write_text(json.dumps(index))
    for entry in index["recordings"]:
        (copy / entry["path"]).parent.mkdir(parents=True, exist_ok=True)
        (copy / entry["path"]).write_bytes((recordings / entry["path"]).read_bytes())
    with pytest.raises(KwsError, match="does not allow bundling"):
        render(small_config(), copy)
