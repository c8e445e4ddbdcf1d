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
