"""benchmarks.runtime_cost: figures that can be read and the command that made them."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.runtime_cost import import_time, main

ROOT = Path(__file__).resolve().parents[1]


def test_import_time_is_timed_inside_the_interpreter() -> None:
    times = import_time("json", 3)
    assert len(times) == 3 and all(0 <= t < 5 for t in times)


def test_the_page_records_the_command_and_every_figure_is_a_cost(tmp_path: Path) -> None:
    model = ROOT / "firmware_models" / "hey_jarvis.tflite"
    argv = ["--model", str(model), "--minutes", "0.05", "--repeats", "1", "--out", str(tmp_path)]
    assert main(argv) == 0
    page = (tmp_path / "runtime_cost.md").read_text()
    assert f"Reproduce: `python -m benchmarks.runtime_cost --model {model} --minutes 0.05" in page
    rows = json.loads((tmp_path / "runtime_cost.json").read_text())["rows"]
    assert any("hey_jarvis" in r["what"] for r in rows)
    assert all(r["min"] >= 0 for r in rows)
