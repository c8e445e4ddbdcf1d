"""benchmarks.shipped: one command over firmware_models; models without a corpus are skipped
with the command that makes one, and the summary table says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.shipped import main, markdown, peers_for

pytestmark = pytest.mark.slow


def test_models_without_corpus_are_listed_as_skipped(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_models["streaming"], models / "chirp.tflite")
    out = tmp_path / "out"
    assert main(["--models", str(models), "--data", str(tmp_path / "data"), "--out", str(out)]) == 0
    (row,) = json.loads((out / "summary.json").read_text())
    assert row["name"] == "chirp" and "training.data generate" in row["skipped"]
    assert "skipped" in (out / "README.md").read_text()


def test_a_command_model_points_to_its_own_results(tmp_path: Path) -> None:
    """A model with several keywords has no single wake-word corpus: it used to be reported as
    missing the corpus of its first command ("yes")."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(Path("firmware_models/commands.tflite"), models / "commands.tflite")
    out = tmp_path / "out"
    assert main(["--models", str(models), "--data", str(tmp_path / "data"), "--out", str(out)]) == 0
    (row,) = json.loads((out / "summary.json").read_text())
    assert row["skipped"].startswith("10 keywords: a command model")
    assert "training.commands" in row["skipped"]


def test_peers_only_for_the_wake_words_they_ship() -> None:
    assert peers_for("chirp") == []
    for spec in peers_for("hey_jarvis"):
        assert spec.endswith(":hey_jarvis")


def test_markdown_puts_peers_under_our_row() -> None:
    row = {
        "name": "hey_jarvis", "bytes": 1000, "frr": {"0.5": 0.5, "1": 0.25},
        "latency_ms": {"median": 120.0, "p95": 300.0}, "cpu_s_per_audio_hour": 20.0,
        "at_shipped_threshold": {"fa_per_hour": 4.0, "frr": 0.2},
        "peers": {"openwakeword:hey_jarvis": {"frr": {"0.5": 0.9, "1": 0.8},
                                             "cpu_s_per_audio_hour": 150.0}},
    }  # fmt: skip
    text = markdown([row], "python -m benchmarks.shipped")
    ours, peer = [line for line in text.splitlines() if line.startswith("| hey_jarvis")]
    assert "| kws | 50.0% | 25.0% | 4.0, 20.0% | 20.0 | 120 ms | 300 ms | 1,000 |" in ours
    assert "openwakeword:hey_jarvis | 90.0% | 80.0% | | 150.0" in peer
