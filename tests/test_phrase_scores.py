"""benchmarks.phrase_scores: a phrase said by held-out voices through the real pipeline, its
peak keyword score against the shipped threshold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks import phrase_scores
from kws.model import load_model

ALEXA = Path(__file__).resolve().parent.parent / "firmware_models" / "alexa.tflite"


def test_the_wake_word_fires_and_silence_does_not(tmp_path: Path) -> None:
    argv = ["--model", str(ALEXA), "--phrase", "Alexa, turn on the lights.",
            "--phrase", "The candle flickered.", "--engines", "espeak-ng", "--voices", "2",
            "--out", str(tmp_path)]  # fmt: skip
    assert phrase_scores.main(argv) == 0
    saved = json.loads((tmp_path / "phrase_scores.json").read_text())
    rows = saved["rows"]
    assert len(rows) == 4 and {r["engine"] for r in rows} == {"espeak-ng"}
    said = [r for r in rows if r["phrase"].startswith("Alexa")]
    assert all(r["fires"] and r["peak"] >= r["threshold"] for r in said)
    assert all(0 <= r["peak"] <= 1 for r in rows)
    table = (tmp_path / "phrase_scores.md").read_text()
    assert f"| {saved['models'][0]} | Alexa, turn on the lights. | espeak-ng | 2 of 2 |" in table
    assert saved["keywords"] == {saved["models"][0]: ["alexa"]}
    assert f"| {saved['models'][0]} | 2 of 4 | 2 of 4 |" in table  # the per-engine summary
    model = load_model(ALEXA)
    (quiet,) = phrase_scores.peaks([model], np.zeros(16000, dtype=np.int16))
    assert quiet["alexa"] < model.metadata.thresholds["alexa"].threshold


def test_bad_options_are_one_line_errors(tmp_path: Path, capsys) -> None:
    base = ["--model", str(ALEXA), "--out", str(tmp_path)]
    assert phrase_scores.main([*base, "--voices", "0"]) == 2
    assert phrase_scores.main([*base, "--engines", "festival"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(
        line.startswith("benchmarks.phrase_scores: error:") for line in err
    )
    assert not (tmp_path / "phrase_scores.json").exists()


def test_a_peer_is_scored_at_its_default_threshold(tmp_path: Path) -> None:
    argv = ["--model", str(ALEXA), "--peer", "openwakeword:alexa", "--phrase",
            "Alexa, turn on the lights.", "--engines", "kokoro", "--voices", "1",
            "--out", str(tmp_path)]  # fmt: skip
    assert phrase_scores.main(argv) == 0
    saved = json.loads((tmp_path / "phrase_scores.json").read_text())
    assert saved["models"][1:] == ["openwakeword:alexa"]
    (peer,) = [r for r in saved["rows"] if r["model"] == "openwakeword:alexa"]
    assert peer["threshold"] == phrase_scores.OPENWAKEWORD_THRESHOLD and 0 <= peer["peak"] <= 1
    assert "--peer openwakeword:alexa" in (tmp_path / "phrase_scores.md").read_text()
    assert phrase_scores.main([*argv[:2], "--peer", "porcupine:alexa", "--out", str(tmp_path)]) == 2
