"""benchmarks.latency: keyword-end-to-event latency in a paced run, and its matching rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.latency import match_latencies
from benchmarks.streams import EvalStream, Positive
from kws.events import Detection

ROOT = Path(__file__).resolve().parent.parent


def _detection(end: float) -> Detection:
    return Detection(model="m", keyword="k", score=0.9, start=end - 1, end=end, latency_ms=1.0)


def test_latency_is_wall_time_from_keyword_end_to_first_detection_in_its_window() -> None:
    stream = EvalStream(Path("x.wav"), (Positive(2.0, 3.0), Positive(10.0, 11.0), Positive(20, 21)))
    started = 100.0
    detections = [
        (103.25, _detection(3.2)),  # first hit for keyword 1: 250 ms after its end
        (103.50, _detection(3.4)),  # a later hit of the same keyword does not count
        (110.90, _detection(10.9)),  # fired before the keyword ended: -100 ms
        (130.00, _detection(29.0)),  # outside every window: ignored
    ]
    latencies, misses = match_latencies(stream, detections, started)
    assert latencies == pytest.approx([250.0, -100.0])
    assert misses == 1


@pytest.mark.slow
def test_paced_run_on_the_tiny_model(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    from tests.test_frr_fa import make_eval_data

    data = make_eval_data(tmp_path / "data")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.latency", "--model", str(tiny_models["streaming"]),
         "--positives", str(data["positives"]), "--seconds", "20", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = json.loads((out / "latency.json").read_text())["models"]
    assert row["keywords"] >= 2 and row["detected"] >= 1
    assert row["audio_seconds"] <= 40
    # Paced: the run cannot be much faster than the audio it played.
    assert row["real_time_factor"] >= 0.95
    assert -1000 < row["latency_ms"]["median"] < 2000
    assert row["bytes"] == tiny_models["streaming"].stat().st_size and row["peak_rss_mib"] > 10
    assert "latency p50" in (out / "latency.md").read_text()


def test_missing_manifest_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.latency", "--model", "m.tflite", "--positives",
         str(tmp_path / "nope.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "nope.json" in done.stderr
