"""``python -m kws.enroll``: take checks, recording with retries, and the CLI round trip."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from kws import enroll
from kws.enroll import TakeCheck, check_take
from kws.profiles import Profile, load_profiles, save_profiles

SR = 16000


def take(
    level_dbfs: float = -20.0, voiced_s: float = 0.6, at_s: float = 0.8, total_s: float = 2.5
) -> np.ndarray:
    """A faint noise floor with a harmonic burst of ``voiced_s`` at RMS ``level_dbfs``."""
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(int(total_s * SR)) * 32768 * 10 ** (-70 / 20)
    t = np.arange(int(voiced_s * SR)) / SR
    burst = np.sin(2 * np.pi * 150 * t) + 0.5 * np.sin(2 * np.pi * 450 * t)
    burst *= 32768 * 10 ** (level_dbfs / 20) / np.sqrt(np.mean(burst**2))
    start = int(at_s * SR)
    burst = burst[: len(audio) - start]  # a take may be cut off by the end of the recording
    audio[start : start + len(burst)] += burst
    return np.clip(np.rint(audio), -32768, 32767).astype(np.int16)


def test_a_good_take_passes_and_is_trimmed_to_its_voiced_part() -> None:
    report = check_take(take())
    assert report.ok, report.problem
    assert report.voiced_s == pytest.approx(0.6, abs=0.05)
    assert report.rms_dbfs == pytest.approx(-20, abs=1.5)
    assert report.start == pytest.approx(0.7 * SR, abs=400)  # 0.1 s margin before the voice
    assert report.end == pytest.approx(1.5 * SR, abs=400)


@pytest.mark.parametrize(
    ("audio", "problem"),
    [
        (take(level_dbfs=-50), "too quiet"),
        (take(level_dbfs=3), "too loud"),  # peaks beyond full scale: clipped
        (take(voiced_s=0.1), "too short"),
        (take(voiced_s=2.2, at_s=0.1), "too long"),
        (take(at_s=2.2), "cut off"),
        (np.zeros(40000, dtype=np.int16), "nothing was heard"),
        (np.zeros(10, dtype=np.int16), "no audio"),
    ],
)
def test_bad_takes_are_rejected_with_a_reason(audio: np.ndarray, problem: str) -> None:
    report = check_take(audio)
    assert not report.ok and problem in report.problem


class FakeMicrophone:
    """Stands in for kws.audio's microphone: yields a prepared take in 20 ms blocks."""

    opened: ClassVar[list[FakeMicrophone]] = []

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = audio
        self.closed = False

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(0, len(self.audio), 320):
            yield self.audio[i : i + 320]

    def close(self) -> None:
        self.closed = True


def fake_microphone(monkeypatch: pytest.MonkeyPatch, takes: list[np.ndarray]) -> None:
    queue = list(takes)

    def open_source(input: str | None, device: str | None = None, *args: object) -> FakeMicrophone:
        assert input is None  # the microphone, not a file
        mic = FakeMicrophone(queue.pop(0))
        FakeMicrophone.opened.append(mic)
        return mic

    monkeypatch.setattr("kws.audio.open_source", open_source)


def test_record_takes_retries_bad_takes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_microphone(monkeypatch, [take(-50), take(), take(voiced_s=0.1), take(3), take()])
    takes = enroll.record_takes(2, TakeCheck(), None, sys.stderr)
    err = capsys.readouterr().err
    assert len(takes) == 2 and all(0.7 < len(t) / SR < 0.9 for t in takes)
    assert err.count("say the wake word now") == 5
    assert "too quiet" in err and "too short" in err and "too loud" in err
    assert all(mic.closed for mic in FakeMicrophone.opened)


def test_record_takes_gives_up_after_the_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_microphone(monkeypatch, [take(-50)] * 3)
    with pytest.raises(enroll.KwsError, match="take 1: no usable recording after 3 tries"):
        enroll.record_takes(1, TakeCheck(), None, sys.stderr, retries=2)


def test_help_explains_every_option() -> None:
    text = enroll.build_parser().format_help()
    for option in ("--model", "--name", "--record", "--device", "--seconds", "--profiles"):
        assert option in text
    assert "--list" in text and "--remove" in text and "FILE" in text


def test_usage_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profiles = str(tmp_path / "p.json")
    assert enroll.main(["--name", "a", "x.wav", "--profiles", profiles]) == 2
    assert "needs --model" in capsys.readouterr().err
    assert enroll.main(["--model", "m", "--name", "a", "--profiles", profiles]) == 2
    assert "either WAV FILEs or --record N" in capsys.readouterr().err
    assert enroll.main(["--remove", "zed", "--profiles", profiles]) == 2
    assert "nobody named 'zed'" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def run_enroll(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kws.enroll", *args], capture_output=True, text=True
    )


@pytest.mark.slow
def test_enrollment_round_trip_through_the_cli(tiny_speaker, tmp_path: Path) -> None:
    from training.tiny_speaker import Voice, write_utterances

    alice = write_utterances(Voice(110, 0.85, 0.05), 3, tmp_path / "alice", seed=1)
    bob = write_utterances(Voice(230, 1.2, 0.2), 2, tmp_path / "bob", seed=2)
    profiles = tmp_path / "speakers.json"
    model = str(tiny_speaker["model"])
    for name, files in (("alice", alice), ("bob", bob)):
        done = run_enroll(
            "--model", model, "--name", name, *map(str, files), "--profiles", str(profiles)
        )
        assert done.returncode == 0, done.stderr
        assert f"enrolled {name} from {len(files)} utterances" in done.stdout
    listed = run_enroll("--list", "--profiles", str(profiles)).stdout.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [
        ["alice", "3 utterances"],
        ["bob", "2 utterances"],
    ]
    stored = {p.name: np.array(p.embedding) for p in load_profiles(profiles)}
    assert np.linalg.norm(stored["alice"]) == pytest.approx(1, abs=1e-5)
    assert stored["alice"] @ stored["bob"] < tiny_speaker["threshold"]  # distinct voices
    # Enrolling alice again replaces her profile; removing her keeps bob.
    done = run_enroll(
        "--model", model, "--name", "alice", str(alice[0]), "--profiles", str(profiles)
    )
    assert done.returncode == 0
    assert [(p.name, p.utterances) for p in load_profiles(profiles)] == [("bob", 2), ("alice", 1)]
    assert run_enroll("--remove", "alice", "--profiles", str(profiles)).returncode == 0
    assert [p.name for p in load_profiles(profiles)] == ["bob"]
    assert json.loads(profiles.read_text())["schema_version"] == 1


@pytest.mark.slow
def test_enrolling_next_to_another_models_profile_is_refused(tiny_speaker, tmp_path: Path) -> None:
    from training.tiny_speaker import Voice, write_utterances

    profiles = tmp_path / "speakers.json"
    save_profiles([Profile.from_embeddings("bob", "other:16:x", [np.ones(16)])], profiles)
    before = profiles.read_bytes()
    files = write_utterances(Voice(110, 0.85, 0.05), 1, tmp_path, seed=1)
    done = run_enroll(
        "--model",
        str(tiny_speaker["model"]),
        "--name",
        "alice",
        str(files[0]),
        "--profiles",
        str(profiles),
    )
    assert done.returncode == 2
    assert "profile 'bob' was enrolled with speaker model 'other:16:x'" in done.stderr
    assert done.stderr.count("\n") == 1 and profiles.read_bytes() == before


@pytest.mark.slow
def test_record_enrolls_from_the_microphone(
    tiny_speaker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from training.tiny_speaker import Voice, place, utterance

    rng = np.random.default_rng(3)
    voice = Voice(110, 0.85, 0.05)
    good = [place(utterance(voice, rng), int(2.5 * SR), int(0.6 * SR), rng, -10) for _ in range(3)]
    fake_microphone(monkeypatch, [good[0], take(-55), good[1], good[2]])
    profiles = tmp_path / "speakers.json"
    argv = ["--model", str(tiny_speaker["model"]), "--name", "alice", "--record", "3"]
    assert enroll.main([*argv, "--profiles", str(profiles)]) == 0
    captured = capsys.readouterr()
    assert "too quiet" in captured.err and captured.err.count("ok:") == 3
    (alice,) = load_profiles(profiles)
    assert alice.name == "alice" and alice.utterances == 3


@pytest.mark.parametrize("module", ["kws.enroll", "kws.profiles", "kws.environment"])
def test_enrollment_and_environment_modules_stay_light(module: str) -> None:
    code = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for heavy in ("tensorflow", "keras", "scipy", "training", "sounddevice"):
        assert f"'{heavy}'" not in done.stdout, f"{module} imported {heavy}"
