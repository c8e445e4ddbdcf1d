"""benchmarks.speaker: trial lists from a speaker-folder layout, the MFCC-statistics baseline and
the report files, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.speaker import main, read_trials
from kws.wavfile import write_wav
from tests.speaker_voices import RATE, voice


@pytest.fixture(scope="module")
def speakers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench_speakers")
    rng = np.random.default_rng(1)
    for f0, tract in [(100, 0.9), (220, 1.2), (150, 1.05), (280, 0.95)]:
        folder = root / f"f{f0}" / "session"  # nested: any depth under the speaker folder
        folder.mkdir(parents=True)
        for n in range(6):
            write_wav(folder / f"{n}.wav", voice(f0, tract, rng.uniform(0.6, 1.2), rng), RATE)
    return root


def test_make_trials_then_baseline_report(speakers: Path, tmp_path: Path) -> None:
    trials = tmp_path / "trials.tsv"
    assert main(["make-trials", str(speakers), "--out", str(trials), "--count", "200"]) == 0
    parsed = read_trials(trials)
    assert len(parsed) == 200 and sum(t.same for t in parsed) == 100
    assert all(p.is_file() for t in parsed for p in (*t.enroll, t.test))
    out = tmp_path / "report"
    assert main(["--baseline", "mfcc-stats", "--trials", str(trials), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    (entry,) = results["systems"]
    assert entry["system"] == "mfcc-stats"
    # Pitch and formants differ a lot between these speakers: MFCC statistics separate them.
    assert entry["eer"] < 0.15
    assert 0 <= entry["min_dcf"] <= 1.0
    assert 2 <= len(entry["det"]["far"]) == len(entry["det"]["frr"]) <= 300
    assert results["speakers"] == 4 and results["dcf"]["p_target"] == 0.05
    assert (out / "det.png").read_bytes()[:4] == b"\x89PNG"
    assert "| mfcc-stats |" in (out / "results.md").read_text()


def test_bad_inputs_are_one_line_errors(
    speakers: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("same\tenroll\ttest\n2\ta.wav\tb.wav\n")
    assert main(["--baseline", "mfcc-stats", "--trials", str(bad), "--out", str(tmp_path)]) == 2
    assert f"{bad} line 2" in capsys.readouterr().err
    bad.write_text("hello\n")
    assert main(["--baseline", "mfcc-stats", "--trials", str(bad), "--out", str(tmp_path)]) == 2
    assert "not a trial list" in capsys.readouterr().err
    bad.write_text("same\tenroll\ttest\n1\tmissing.wav\tmissing2.wav\n0\tmissing.wav\tx.wav\n")
    assert main(["--baseline", "mfcc-stats", "--trials", str(bad), "--out", str(tmp_path)]) == 2
    assert "cannot load" in capsys.readouterr().err
    empty = tmp_path / "one_speaker"
    (empty / "a").mkdir(parents=True)
    assert main(["make-trials", str(empty), "--out", str(tmp_path / "t.tsv")]) == 2
    assert "need 2+" in capsys.readouterr().err
    trials = tmp_path / "t.tsv"
    assert main(["make-trials", str(speakers), "--out", str(trials), "--count", "20"]) == 0
    assert main(["--trials", str(trials), "--out", str(tmp_path / "r")]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err


def test_resemblyzer_without_its_virtualenv_is_one_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The Resemblyzer peer is never run in CI: only its missing-virtualenv message is checked
    (nothing is installed without --install-peers, and the trial list is not even read)."""
    venv = tmp_path / "no-venv"
    args = ["--baseline", "resemblyzer", "--resemblyzer-venv", str(venv)]
    assert main([*args, "--trials", str(tmp_path / "absent.tsv"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"benchmarks.speaker: error: resemblyzer: no virtualenv at {venv};")
    assert "--install-peers" in err and err.count("\n") == 1
    assert not venv.exists()


SHIPPED = Path(__file__).resolve().parent.parent / "firmware_models" / "speaker.tflite"


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped speaker model")
def test_shipped_speaker_model_embeds_and_names_its_held_out_speakers(speakers: Path) -> None:
    from kws.model import load_model
    from kws.speaker import SpeakerEncoder, cosine
    from kws.wavfile import load_audio

    encoder = SpeakerEncoder(load_model(SHIPPED))
    md = encoder.model.metadata
    assert md.task == "speaker" and md.quantization == "int8" and not md.streaming
    assert 0 < md.thresholds["embedding"].threshold < 1
    held_out = md.training["held_out_speakers"]
    assert {"june_wallack", "menardi_it"} <= set(held_out["test"])
    wavs = sorted(speakers.rglob("*.wav"))
    a, b = (encoder.embed(load_audio(w)) for w in wavs[:2])
    assert a.shape == (encoder.dim,) and abs(float(np.linalg.norm(a)) - 1) < 1e-5
    assert -1 <= cosine(a, b) <= 1
    # what the card promises: statistics fused, scores normalized by the 21 training voices
    assert md.cepstral_stats is not None and len(md.cohort) == 21
    assert 0 < encoder.score(a, b) < 1 and SHIPPED.stat().st_size <= 150_000
