"""training.sweep: grids as data, parallel rows, resumable cache, results table, winners."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from training.core.grid import load_grid, parse_grid
from training.reports.sweep import pareto_front, pick_winner

CI_GRID = Path(__file__).parents[1] / "training/grids/ci.toml"


def _row(name: str, frr1: float | None, params: int, size: int) -> dict:
    return {"name": name, "frr": {"0.5": None, "1": frr1}, "params": params, "bytes": size}


def test_winner_is_lowest_frr_within_budget_and_ties_go_to_fewer_params() -> None:
    rows = [
        _row("big", 0.05, 900_000, 400_000),  # best FRR but over budget
        _row("a", 0.20, 50_000, 90_000),
        _row("b", 0.10, 80_000, 120_000),
        _row("b_small", 0.10, 60_000, 110_000),
        _row("never", None, 1_000, 10_000),  # never reaches the target rate
    ]
    assert pick_winner(rows, 1.0, 250_000)["name"] == "b_small"
    assert pick_winner(rows, 1.0, 1_000_000)["name"] == "big"
    assert pick_winner(rows, 1.0, 50_000) is None
    costly = [{**r, "cpu_s_per_hour": 9.5 if r["name"] == "b_small" else 4.0} for r in rows]
    assert pick_winner(costly, 1.0, 250_000, 8.0)["name"] == "b"  # b_small costs too much
    assert pick_winner(costly, 1.0, 250_000, 20.0)["name"] == "b_small"


def test_pareto_front_keeps_only_undominated_rows() -> None:
    rows = [
        _row("a", 0.20, 50_000, 1),
        _row("b", 0.10, 80_000, 1),
        _row("c", 0.15, 90_000, 1),  # dominated by b
        _row("d", 0.20, 60_000, 1),  # dominated by a
        _row("e", 0.05, 500_000, 1),
    ]
    assert sorted(pareto_front(rows, 1.0)) == ["a", "b", "e"]


def test_grid_rows_merge_params_and_axes_expand() -> None:
    grid = parse_grid(
        {
            "base": {"name": "g", "corpus": "c", "params": {"rnn_units": 16, "window_frames": 96}},
            "run": [{"name": "r1"}, {"name": "r2", "params": {"cell": "lstm"}, "epochs": 3}],
            "axes": {"params.conv_filters": [8, 16]},
        },
        "grid.toml",
    )
    names = [n for n, _ in grid.runs]
    assert names == ["r1-conv_filters8", "r1-conv_filters16", "r2-conv_filters8",
                     "r2-conv_filters16"]  # fmt: skip
    r2 = dict(grid.runs)["r2-conv_filters16"]
    assert r2["params"] == {"rnn_units": 16, "window_frames": 96, "cell": "lstm",
                            "conv_filters": 16}  # fmt: skip
    assert r2["epochs"] == 3 and r2["name"] == "g"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("base.epochz=3", "epochz"),
        ("base.params.kernel=[200, 5]", "window_frames"),
        ("base.params.kernel=[10, 50]", "features"),
        ("base.params.stride=[5, 2]", "multiple"),
        ("base.params.bidirectional=true", "streaming"),
        ("sweep.budget=3", "budget"),
    ],
)
def test_bad_grids_fail_before_training_naming_the_problem(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_grid(CI_GRID, [override])


def test_a_grid_without_rows_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text('[base]\nname = "empty"\ncorpus = "data/x"\nmodel = "crnn"\n')
    with pytest.raises(ValueError, match="no \\[\\[run\\]\\] rows"):
        load_grid(empty)


def test_the_paper_grid_is_a_valid_sweep_of_26_streaming_rows() -> None:
    grid = load_grid(Path(__file__).parents[1] / "training/grids/arik2017.toml")
    assert [name for name, _ in grid.runs] == [f"paper{i:02d}" for i in range(1, 27)]
    assert all(not config["params"]["bidirectional"] for _, config in grid.runs)
    assert grid.options.budget_bytes == 250_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tensorflow")
    from training.data.corpus import CorpusConfig
    from training.data.generate import generate

    out = tmp_path_factory.mktemp("sweep_corpus")
    config = CorpusConfig(
        keyword="hey jarvis", positives=120, confusables=40, speech=40, noise=30, music=20,
        silence=10, eval_positives=6, eval_snrs_db=(10.0,), eval_negative_hours=0.01,
        eval_sentences=10, eval_confusables=6, engines=("espeak-ng", "flite"),
    )  # fmt: skip
    generate(config, out, workers=2)
    return out


@pytest.mark.slow
def test_sweep_cli_trains_rows_in_parallel_then_resumes_from_cache(
    corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "training.sweep", str(CI_GRID), "--out", str(out),
           "--workers", "2", "--set", f"base.corpus={corpus}"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results["rows"]] == ["gru16", "lstm16"]
    seeds = set()
    for row in results["rows"]:
        assert row["params"] > 0 and row["macs_per_second"] > 0
        assert 0 < row["bytes"] < row["float32_bytes"]
        assert row["num_positives"] == 6 and row["negative_hours"] > 0
        assert set(row["frr"]) == {"0.5", "1"} and set(row["frr_float32"]) == {"0.5", "1"}
        run_dir = Path(row["file"]).parent
        assert (run_dir / "config.json").is_file() and (run_dir / "metrics.json").is_file()
        assert Path(row["file"]).name.endswith("_streaming_int8.tflite")
        seeds.add(row["config"]["seed"])
    assert len(seeds) == 2, "each row trains with its own seed"
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert "| gru16" in (out / "results.md").read_text()
    assert results["winner"] in {"gru16", "lstm16", None}
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2 cached, 0 to train" in again.stdout
    assert json.loads((out / "results.json").read_text())["rows"] == results["rows"]
