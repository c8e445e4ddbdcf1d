"""Where false accepts come from: firings counted per kind of negative segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.fa_by_kind import false_accepts_by_kind, firings_by_stretch
from benchmarks.streams import EvalStream
from kws.evaluation import Timeline


def test_firings_are_counted_in_the_segment_they_fall_in() -> None:
    times = np.arange(0.0, 60.0, 0.1)
    scores = np.zeros_like(times)
    for t in (5.0, 5.3, 20.0, 45.0):  # 5.3 is within the 1 s refractory of 5.0
        scores[round(t * 10)] = 0.9
    stream = EvalStream(
        Path("n.wav"), segments=((0.0, 30.0, "confusable"), (30.0, 60.0, "recorded_speech"))
    )
    timeline = Timeline(times, scores, 60.0, ())
    cells = false_accepts_by_kind([timeline], [stream], threshold=0.5, refractory_s=1.0)
    assert cells["confusable"]["false_accepts"] == 2
    assert cells["recorded_speech"]["false_accepts"] == 1
    assert cells["confusable"]["fa_per_hour"] == pytest.approx(2 / (30 / 3600))
    assert (
        false_accepts_by_kind([timeline], [stream], 0.95, 1.0)["confusable"]["false_accepts"] == 0
    )
    stretches = firings_by_stretch([timeline], [stream], threshold=0.5, refractory_s=1.0)
    assert [(s["kind"], s["onset_s"], s["firings"]) for s in stretches] == [
        ("confusable", 0.0, 2),
        ("recorded_speech", 30.0, 1),
    ]
    assert firings_by_stretch([timeline], [stream], 0.95, 1.0) == []


def test_recordings_a_model_fires_on_are_named_per_package_and_file(tmp_path: Path) -> None:
    """``--recordings``: the test split's speech played back to back; the firings are counted
    per package and per recording, and a recording whose transcript says the keyword is left
    out, as the evaluation sets leave it out. The shipped chirp model (a fixed file, not one
    trained here) listens to seeded chirps."""
    import json

    from benchmarks.fa_by_kind import main
    from kws.wavfile import write_wav
    from training.core.synthetic import keyword

    rng = np.random.default_rng(0)
    gap = np.zeros(32000)
    chirps = np.concatenate([np.concatenate([gap, 0.5 * keyword(rng)]) for _ in range(3)] + [gap])
    files = {  # (package, name): (audio, transcript)
        ("pkg-quiet", "hum.wav"): (0.01 * rng.standard_normal(16000 * 10), None),
        ("pkg-loud", "beeps.wav"): (chirps, "three beeps"),
        ("pkg-loud", "says.wav"): (chirps, "a chirp, said"),
    }
    root = tmp_path / "recordings"
    entries = []
    for (package, name), (audio, text) in files.items():
        path = f"test/speech/{package}/{name}"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        write_wav(root / path, np.round(audio * 32000).astype(np.int16), 16000)
        entries.append({
            "path": path, "package": package, "version": "1", "path_in_package": name,
            "licence": "CC0", "kind": "speech", "language": "en", "split": "test",
            "seconds": len(audio) / 16000, "text": text,
        })  # fmt: skip
    (root / "recordings.json").write_text(json.dumps({"recordings": entries}))

    out = tmp_path / "out"
    model = str(Path(__file__).parents[1] / "firmware_models" / "chirp_demo_streaming.tflite")
    assert main(["--recordings", str(root), "--model", model, "--out", str(out)]) == 0
    data = json.loads((out / "fa_by_kind.json").read_text())
    (row,) = data["engines"].values()
    assert set(row["packages"]) == {"pkg-quiet", "pkg-loud"}  # says.wav left out
    assert row["kinds"]["pkg-loud/beeps.wav"]["false_accepts"] == 3
    assert row["packages"]["pkg-quiet"]["false_accepts"] == 0
    assert data["texts"]["pkg-loud/beeps.wav"] == "three beeps"
    report = (out / "fa_by_kind.md").read_text()
    assert "| 3 | pkg-loud/beeps.wav | three beeps |" in report

    assert main(["--recordings", str(root), "--split", "validation", "--model", model,
                 "--out", str(out)]) == 2  # fmt: skip

    import shutil

    runs = []  # two runs of one word: both files are <label>.tflite, each gets its own row
    for run in ("seed0", "seed1"):
        (tmp_path / run).mkdir()
        runs += ["--model", str(shutil.copy(model, tmp_path / run / "chirp.tflite"))]
    assert main(["--recordings", str(root), *runs, "--out", str(out)]) == 0
    rows = json.loads((out / "fa_by_kind.json").read_text())["engines"]
    assert [name.split("/")[-2] for name in rows] == ["seed0", "seed1"]


def test_a_recordings_folder_without_its_index_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.fa_by_kind import main

    model = str(Path(__file__).parents[1] / "firmware_models" / "chirp_demo_streaming.tflite")
    none = tmp_path / "none"
    assert main(["--recordings", str(none), "--model", model, "--out", str(tmp_path / "o")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no recordings.json" in line and str(none) in line
    assert not (tmp_path / "o").exists()
