"""benchmarks.commands_variants: command models of one corpus side by side, chosen on validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.commands_variants import main

COMMANDS = ("yes", "no")


def _history(frrs: list[float]) -> list[dict[str, object]]:
    return [
        {"epoch": i + 1, "loss": 1.0, "val_frr": {c: {"0.5": 1.0, "1": f} for c in COMMANDS}}
        for i, f in enumerate(frrs)
    ]


def _variant(root: Path, name: str, frrs: list[float], best: int, failed: bool) -> Path:
    folder = root / name
    (folder / "run").mkdir(parents=True)
    (folder / "results").mkdir()
    (folder / "run/history.json").write_text(json.dumps(_history(frrs)))
    (folder / "run/metrics.json").write_text(json.dumps({"selection": {"best_epoch": best}}))
    point = {"frr": 0.4, "threshold": 0.9, "fa_per_hour": 1.0}
    shipped = {"frr": 0.5, "fa_per_hour": 3.0 if failed else 1.5, "threshold": 0.9}
    evaluation = {
        "yes": {"at": {"1": point}, "shipped_threshold_on_test": shipped},
        "no": {"at": {"1": None}, "shipped_threshold_on_test": shipped},  # never that quiet
    }
    problems = ["'yes' gives 3.00 FA/h on the test negatives"] if failed else []
    results = {
        "test_accuracy": 0.8,
        "test_accuracy_by_engine": {"piper": {"accuracy": 0.9, "examples": 10}},
        "evaluation": evaluation,
        "build": {"failed": failed, "problems": problems},
        "bytes": 1234,
        "cpu_s_per_audio_hour": 2.5,
    }
    (folder / "results/commands.json").write_text(json.dumps(results))
    return folder


def test_variants_are_tabled_by_the_kept_epoch_with_failed_builds_named(tmp_path: Path) -> None:
    small = _variant(tmp_path, "small", [0.9, 0.6, 0.7], best=2, failed=True)
    wide = _variant(tmp_path / "w", "model", [0.8, 0.5, 0.3], best=3, failed=False)
    contexts = [  # benchmarks.frr_fa's results: each command's misses by how it was said
        {"alone": {"misses": 2, "positives": 10}, "sentence": {"misses": 6, "positives": 10}},
        {"alone": {"misses": 3, "positives": 10}, "sentence": {"misses": 4, "positives": 10}},
    ]
    streams = {"models": [{"breakdown": {"context": c}} for c in contexts]}
    (wide / "results/results.json").write_text(json.dumps(streams))
    out = tmp_path / "out"
    assert main([str(small), f"wide={wide}", "--out", str(out)]) == 0
    rows = {r["variant"]: r for r in json.loads((out / "variants.json").read_text())}
    assert rows["wide"]["test_frr_at_1_by_context"] == {
        "alone": {"misses": 5, "positives": 20, "frr": 0.25},
        "sentence": {"misses": 10, "positives": 20, "frr": 0.5},
    }
    assert rows["small"]["test_frr_at_1_by_context"] == {}
    # the kept epoch's validation figure, not the last one
    assert rows["small"]["kept_epoch"] == 2 and rows["small"]["validation_mean_frr_at_1"] == 0.6
    assert rows["wide"]["validation_mean_frr_at_1"] == 0.3
    # a command with no threshold that quiet counts as missing everything
    assert rows["wide"]["test_mean_frr_at_1"] == (0.4 + 1.0) / 2
    assert rows["wide"]["test_worst"] == ["no", 1.0]
    assert rows["small"]["test_max_fa_per_hour_at_shipped"] == 3.0
    table = (out / "variants.md").read_text()
    assert "| small | 3 (2) | 60.0% | 0.800 | piper 0.900 |" in table
    assert "| 70.0% | alone 25.0% (5/20), sentence 50.0% (10/20) | no 100.0% |" in table
    assert "| 70.0% | - | no 100.0% |" in table  # small: every command said alone
    assert "| failed |" in table and "| passed |" in table
    assert "- small: 'yes' gives 3.00 FA/h" in table and "- wide:" not in table
    assert (out / "validation.png").stat().st_size > 1000


def _one_line_error(capsys: pytest.CaptureFixture[str], *names: str) -> None:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(name in err for name in names), err


def test_a_folder_that_is_not_a_command_run_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, str(tmp_path), "history.json")


def test_corrupt_or_foreign_results_are_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _variant(tmp_path, "broken", [0.5], best=1, failed=False)
    (broken / "run/metrics.json").write_text("{not json")
    assert main([str(broken), "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, str(broken / "run/metrics.json"), "JSON")
    foreign = _variant(tmp_path, "foreign", [0.5], best=1, failed=False)
    (foreign / "results/commands.json").write_text(json.dumps({"test_accuracy": 0.8}))
    assert main([str(foreign), "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, str(foreign), "not the results of python -m training.commands")
    assert not (tmp_path / "out").exists()  # nothing half-written
