"""The environment benchmarks' data handling: the shared-class corpus for leave-one-package-out
and the unknown-threshold benchmark's source arguments (no model runs here)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benchmarks.environment_lopo import prepare, shared_classes
from benchmarks.environment_unknown import main as unknown_main

ROWS = [
    {"filename": "1-1-A-0.wav", "fold": "1", "category": "dog", "package": "a"},
    {"filename": "2-2-A-0.wav", "fold": "2", "category": "dog", "package": "b"},
    {"filename": "1-3-A-1.wav", "fold": "1", "category": "rain", "package": "a"},
    {"filename": "1-4-A-1.wav", "fold": "1", "category": "rain", "package": "a"},
]


def test_only_classes_of_two_packages_are_kept(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "meta").mkdir(parents=True)
    (corpus / "audio").mkdir()
    with open(corpus / "meta/esc50.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    assert shared_classes(ROWS) == {"dog"}  # rain: two clips, one package
    assert prepare(corpus, tmp_path / "shared") == 2
    with open(tmp_path / "shared/meta/esc50.csv") as f:
        assert [r["filename"] for r in csv.DictReader(f)] == ["1-1-A-0.wav", "2-2-A-0.wav"]
    assert (tmp_path / "shared/audio").resolve() == (corpus / "audio").resolve()


def test_a_bad_source_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "m.tflite"
    args = ["--model", str(model), "--out", str(tmp_path), "--calibration"]
    assert unknown_main([*args, "speech"]) == 2
    assert capsys.readouterr().err.strip() == (
        "benchmarks.environment_unknown: error: speech: expected NAME=DIR with an existing folder"
    )
    assert unknown_main([*args, f"speech={tmp_path / 'missing'}"]) == 2
    assert "expected NAME=DIR" in capsys.readouterr().err


@pytest.mark.slow  # the tiny environment model needs TensorFlow to train
def test_a_trained_model_is_scored_on_packages_it_never_heard(
    tiny_environment: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import json

    import numpy as np

    from benchmarks.environment_lopo import main as lopo_main
    from benchmarks.environment_lopo import unseen
    from kws.wavfile import write_wav
    from training.tiny_environment import make_clip

    rng = np.random.default_rng(3)
    corpus = tmp_path / "corpus"
    (corpus / "meta").mkdir(parents=True)
    (corpus / "audio").mkdir()
    plan = [("p1", "noise", "noise")] * 3 + [("p1", "tone", "tone")] * 2
    plan += [("p2", "chirp", "chirp")] * 2 + [("p2", "rain", "noise")]  # rain: no label of it
    plan += [("p3", "noise", "noise")]  # a package not asked for
    rows = []
    for i, (package, category, kind) in enumerate(plan):
        name = f"{i}.wav"
        write_wav(corpus / "audio" / name, make_clip(kind, rng, 2 * 16000), 16000)
        row = {"filename": name, "fold": package[1], "category": category, "package": package}
        rows.append(row)
    with open(corpus / "meta/esc50.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = unseen(corpus, tiny_environment["model"], ["p1", "p2"], tmp_path / "out")
    p1, p2 = result["per_package"]["p1"], result["per_package"]["p2"]
    assert (p1["clips"], p1["known_clips"], p2["clips"], p2["known_clips"]) == (5, 5, 3, 2)
    assert result["per_class"]["rain"] == {"clips": 1, "right": 0, "known_clips": 0}
    assert "p3" not in result["per_package"]
    right = p1["right"] + p2["right"]
    assert result["pooled_accuracy"] == right / 8
    assert result["pooled_accuracy_known_classes"] == right / 7
    assert right >= 5  # the tiny model tells its three generated kinds apart
    saved = json.loads((tmp_path / "out/unseen.json").read_text())
    assert saved["per_package"] == result["per_package"]
    assert "| rain | 1 | 0.00 | no |" in (tmp_path / "out/unseen.md").read_text()
    capsys.readouterr()
    args = ["unseen", str(corpus), "--model", str(tiny_environment["model"])]
    assert lopo_main([*args, "--package", "nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no clips of nope" in err and "esc50.csv" in err
