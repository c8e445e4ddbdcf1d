"""Speaker verification in the runtime: each detection names the enrolled speaker who said it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kws.events import Detection
from kws.model import load_model
from kws.pipeline import Pipeline, PipelineConfig
from kws.profiles import Profile, ProfileError, save_profiles
from kws.ring import SampleHistory
from kws.wavfile import load_audio, write_wav

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware_models"
KEYWORD = FIRMWARE / "chirp_demo.tflite"
ONSETS = [1.0, 4.0, 7.0, 10.0]
"""alice, bob, alice, bob say the wake word (chirp) at these times."""
LOOSE = {"*": 0.4}
"""The demo chirp model is trained on bare chirps; a voice before it costs some confidence."""


def test_sample_history_addresses_samples_by_stream_index() -> None:
    history = SampleHistory(10)
    history.push(np.arange(7, dtype=np.int16))
    history.push(np.arange(7, 15, dtype=np.int16))  # wraps; 0..4 are forgotten
    assert history.total == 15
    assert history.get(5, 15).tolist() == list(range(5, 15))
    assert history.get(0, 8).tolist() == [5, 6, 7]  # clipped to what is still held
    assert history.get(12, 40).tolist() == [12, 13, 14]
    history.push(np.arange(100, 130, dtype=np.int16))  # a block longer than the history
    assert history.total == 45 and history.get(35, 45).tolist() == list(range(120, 130))
    with pytest.raises(ValueError):
        SampleHistory(0)


def test_detections_without_a_speaker_model_have_no_speaker_field() -> None:
    event = Detection("m", "k", 0.9, 0.0, 1.0, 1.0)
    assert "speaker" not in event.to_dict()
    with_speaker = Detection("m", "k", 0.9, 0.0, 1.0, 1.0, {"name": "a", "score": 0.8})
    assert json.loads(with_speaker.to_json())["speaker"] == {"name": "a", "score": 0.8}


@pytest.fixture(scope="module")
def household(tiny_speaker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """alice enrolled from three WAV takes; a stream with alice and bob (not enrolled)."""
    from kws.speaker import SpeakerEncoder
    from training.tiny_speaker import Voice, speaker_stream, write_utterances

    folder = tmp_path_factory.mktemp("household")
    alice, bob = Voice(110, 0.85, 0.05), Voice(230, 1.2, 0.2)
    encoder = SpeakerEncoder(load_model(tiny_speaker["model"]))
    takes = [load_audio(p) for p in write_utterances(alice, 3, folder, seed=5, prefix="alice")]
    profile = Profile.from_embeddings("alice", encoder.model_id, [encoder.embed(t) for t in takes])
    stream = speaker_stream([alice, bob, alice, bob], ONSETS, 13.0, seed=9)
    wav = folder / "stream.wav"
    write_wav(wav, stream, 16000)
    return {"encoder": encoder, "profile": profile, "stream": stream, "wav": wav}


def detections(pipeline: Pipeline, audio: np.ndarray, block: int = 1600) -> list[Detection]:
    events = []
    for i in range(0, len(audio), block):
        events += pipeline.process(audio[i : i + block])
    return [e for e in events if isinstance(e, Detection)]


@pytest.mark.slow
@pytest.mark.parametrize("block", [320, 1600, 13 * 16000])
def test_detections_name_the_enrolled_speaker_and_null_for_others(household, block: int) -> None:
    pipeline = Pipeline(
        [load_model(KEYWORD)],
        PipelineConfig(thresholds=LOOSE),
        speaker=household["encoder"],
        profiles=[household["profile"]],
    )
    found = detections(pipeline, household["stream"], block)
    assert [round(d.start) for d in found] == [1, 4, 7, 10]
    assert all(d.start < onset + 0.2 for d, onset in zip(found, ONSETS, strict=True))
    names = [d.speaker["name"] for d in found]
    assert names == ["alice", None, "alice", None]
    threshold = pipeline.speaker_threshold
    for d in found:
        assert (d.speaker["score"] >= threshold) == (d.speaker["name"] == "alice")


@pytest.mark.slow
def test_nobody_enrolled_and_threshold_override(household) -> None:
    model = load_model(KEYWORD)
    nobody = Pipeline([model], PipelineConfig(thresholds=LOOSE), speaker=household["encoder"])
    assert [d.speaker for d in detections(nobody, household["stream"])] == [
        {"name": None, "score": None}
    ] * 4
    strict = Pipeline(
        [load_model(KEYWORD)],
        PipelineConfig(thresholds=LOOSE, speaker_threshold=1.0),
        speaker=household["encoder"],
        profiles=[household["profile"]],
    )
    assert [d.speaker["name"] for d in detections(strict, household["stream"])] == [None] * 4


@pytest.mark.slow
def test_profiles_of_another_model_and_speaker_models_as_keyword_models_are_refused(
    household, tiny_speaker
) -> None:
    foreign = Profile.from_embeddings("carol", "other:16:x", [np.ones(16)])
    with pytest.raises(ProfileError, match="'carol' was enrolled with speaker model"):
        Pipeline([load_model(KEYWORD)], speaker=household["encoder"], profiles=[foreign])
    with pytest.raises(ValueError, match=r"cannot run a speaker model.*--speaker-model"):
        Pipeline([load_model(tiny_speaker["model"])])


def listen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kws.listen", "--model", str(KEYWORD), *args],
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_listen_cli_adds_the_speaker_to_detections(household, tiny_speaker, tmp_path: Path) -> None:
    profiles = tmp_path / "speakers.json"
    save_profiles([household["profile"]], profiles)
    speaker = ["--speaker-model", str(tiny_speaker["model"]), "--profiles", str(profiles)]
    done = listen("--input", str(household["wav"]), "--threshold", "0.4", *speaker)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0]["info"]["speaker"]["profiles"] == ["alice"]
    found = [e for e in lines if e["type"] == "detection"]
    assert [e["speaker"]["name"] for e in found] == ["alice", None, "alice", None]
    override = listen("--input", str(household["wav"]), "--threshold", "0.4", *speaker,
                      "--speaker-threshold", "0.999")  # fmt: skip
    found = [json.loads(x) for x in override.stdout.splitlines() if '"detection"' in x]
    assert [e["speaker"]["name"] for e in found] == [None] * 4


@pytest.mark.slow
def test_listen_cli_speaker_errors_are_one_line(household, tiny_speaker, tmp_path: Path) -> None:
    profiles = tmp_path / "speakers.json"
    profiles.write_text("{broken")
    done = listen(
        "--input", str(household["wav"]), "--speaker-model", str(tiny_speaker["model"]),
        "--profiles", str(profiles),
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith(f"kws.listen: error: {profiles}")
    assert profiles.read_text() == "{broken"
    done = listen("--input", str(household["wav"]), "--profiles", str(profiles))
    assert done.returncode == 2 and "--profiles needs --speaker-model" in done.stderr
    done = listen("--input", str(household["wav"]), "--speaker-model", str(KEYWORD))
    assert done.returncode == 2 and "not a speaker model" in done.stderr
