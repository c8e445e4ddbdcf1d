"""training.paper_grid: the committed page is what the script generates, the closed-form count
is the builder's count, and the preset stays in the sweep's format."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from training import paper_grid
from training.models.crnn import CRNNConfig

pytest.importorskip("tensorflow")


def test_committed_page_is_generated() -> None:
    assert paper_grid.DOC.read_text() == paper_grid.render(
        *paper_grid.load_rows(paper_grid.GRID, paper_grid.PAPER)
    ), "docs/crnn-paper-grid.md is stale: run python -m training.paper_grid"


@pytest.mark.parametrize(
    "config",
    [
        CRNNConfig(),
        CRNNConfig(cell="lstm", rnn_layers=1, kernel=(10, 3), stride=(5, 3), window_frames=150),
        CRNNConfig(bidirectional=True, rnn_layers=3, rnn_units=16, window_frames=144),
    ],
)
def test_closed_form_count_is_the_builders(config: CRNNConfig) -> None:
    closed = sum(paper_grid.count_params(config, 40, 2).values())
    assert paper_grid.build_count(config, 40, 2) == closed


def test_rows_are_built_for_the_papers_input(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        paper_grid.GRID.read_text()
        + '\n[[run]]\nname = "r1"\nparams = { conv_filters = 8, kernel = [20, 5], '
        'stride = [8, 2], rnn_layers = 1, rnn_units = 4, cell = "gru", fc_units = 4 }\n'
    )
    paper = tmp_path / "paper.toml"
    paper.write_text(paper_grid.PAPER.read_text() + "\n[row.r1]\nparams = 1000\n")
    _, rows, _ = paper_grid.load_rows(grid, paper)
    (row,) = rows
    assert row.config.window_frames == 144 and row.paper_params == 1000
    # conv 8*(100+1) + GRU 3*4*(18*8+4+2) + fc (4+1)*4 + output (4+1)*2
    assert row.ours == 808 + 1800 + 20 + 10 and row.paper_convention == row.ours - 12
    page = paper_grid.render(*paper_grid.load_rows(grid, paper))
    assert "| r1 | 8 | (20, 5) | (8, 2) | 1 | 4 | GRU | 4 | uni | 1,000 | 2,638 |" in page
    paper.write_text(paper_grid.PAPER.read_text() + "\n[row.r2]\nparams = 1\n")
    with pytest.raises(ValueError, match="rows without a \\[\\[run\\]\\]"):
        paper_grid.load_rows(grid, paper)


def test_preset_has_the_sweep_format() -> None:
    preset = tomllib.loads(paper_grid.GRID.read_text())
    assert set(preset) <= {"base", "sweep", "run"}
    assert preset["base"]["model"] == "crnn" and preset["sweep"]["budget_bytes"] > 0
    fields = set(CRNNConfig.__dataclass_fields__)
    for run in preset.get("run", []):
        assert set(run) == {"name", "params"} and set(run["params"]) <= fields


def test_check_flag_reports_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "page.md"
    stale.write_text("old\n")
    assert paper_grid.main(["--out", str(stale), "--check"]) == 1
    assert paper_grid.main(["--out", str(stale)]) == 0
    assert paper_grid.main(["--out", str(stale), "--check"]) == 0
