"""training.paper_grid: the committed page is what the script generates, the closed-form count
is the builder's count, the grid is the paper's 26 rows, the totals fit the stated convention,
and a sweep's results fill our columns."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest

from training import paper_grid as paper_grid_command
from training.core import paper_grid
from training.models.crnn import CRNNConfig
from training.reports.paper_grid import over_budget, render

pytest.importorskip("tensorflow")

CSV_NAME = "shared/data/arik2017-crnn-grid.csv"


@pytest.fixture(scope="module")
def grid() -> paper_grid.PaperGrid:
    """The committed grid, every row (uni and bi) built and checked against the closed form."""
    return paper_grid.load_rows(paper_grid.GRID, paper_grid.PAPER, paper_grid.RESULTS)


def test_committed_page_is_generated(grid: paper_grid.PaperGrid) -> None:
    assert paper_grid.DOC.read_text() == render(grid), (
        "docs/crnn-paper-grid.md is stale: run python -m training.paper_grid"
    )


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


def test_the_grid_is_the_papers_26_rows(grid: paper_grid.PaperGrid) -> None:
    assert [r.name for r in grid.rows] == [f"paper{i:02d}" for i in range(1, 27)]
    assert all(r.paper is not None and not r.config.bidirectional for r in grid.rows)
    paper15 = grid.rows[14]
    assert (paper15.config.conv_filters, paper15.config.rnn_units) == (32, 32)
    assert paper15.paper == paper_grid.PaperRow(229_000, 2.85, 3.79)


def test_the_grid_matches_the_csv(grid: paper_grid.PaperGrid) -> None:
    found = [p / CSV_NAME for p in paper_grid.ROOT.parents if (p / CSV_NAME).is_file()]
    if not found:
        pytest.skip(f"{CSV_NAME} is not beside this checkout")
    with open(found[0], newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(grid.rows) == 26
    for line, row in zip(table, grid.rows, strict=True):
        c, p = row.config, row.paper
        assert p is not None
        assert (c.conv_filters, c.kernel, c.stride) == (
            int(line["n_c"]),
            (int(line["l_t"]), int(line["l_f"])),
            (int(line["s_t"]), int(line["s_f"])),
        ), row.name
        assert (c.rnn_layers, c.rnn_units, c.cell, c.fc_units) == (
            int(line["r"]), int(line["n_r"]), line["cell"].lower(), int(line["n_f"]),
        ), row.name  # fmt: skip
        assert p.params == 1000 * int(line["params_k"]), row.name
        assert (p.frr_1fa_pct, p.frr_05fa_pct) == (
            float(line["frr_1fa_pct"]),
            float(line["frr_05fa_pct"]),
        ), row.name


def test_the_totals_fit_bidirectional_layers_read_out_over_all_steps(
    grid: paper_grid.PaperGrid,
) -> None:
    assert grid.convention == paper_grid.Convention(True, "same", "all", 1)
    assert paper_grid.fit(grid, grid.convention)["within"] == 23
    for convention in paper_grid.ALTERNATIVES:
        if not convention.bidirectional:
            assert paper_grid.fit(grid, convention)["within"] == 0
    off = [r.name for r in grid.rows if abs(r.delta(r.paper_convention) or 0) > paper_grid.MISFIT]
    assert off == ["paper10", "paper11", "paper12"]
    paper12 = grid.rows[11]
    assert paper_grid.single_changes(paper12, grid) == ["rnn_units = 8 gives 196,994"]
    # paper15: conv 32*101, bi GRU 2*3*32*(20*32+32+1) + 2*3*32*(64+32+1), FC (19*64+1)*64, out
    assert grid.rows[14].paper_convention == 3232 + 129216 + 18624 + 77888 + 130


def test_the_page_shows_the_papers_frr_and_what_was_not_run(grid: paper_grid.PaperGrid) -> None:
    page = render(grid)
    assert "| paper15 | 229,000 | 70,370 | 2.85% | 3.79% | 7 | not run | not run |" in page
    assert "Our FRR: **not run**" in page
    assert [r.name for r in over_budget(grid)] == [
        "paper12", "paper22", "paper23", "paper24", "paper25", "paper26",
    ]  # fmt: skip
    assert "--only paper21\n```" in page and "--only paper22" not in page


def _results(rows: list[paper_grid.Row], frr: list[float]) -> dict[str, object]:
    """A sweep's results.json (the fields paper_grid reads) for ``rows`` as swept."""
    out = []
    for i, (r, f) in enumerate(zip(rows, frr, strict=True)):
        params = {k: _toml(getattr(r.config, k)) for k in paper_grid.AXES}
        out.append(
            {
                "name": r.name,
                "config": {"params": {"window_frames": 144, "bidirectional": False, **params}},
                "frr": {"1": f, "0.5": f + 0.1},
                "bytes": 1000 + i,
            }
        )
    return {"rows": out}


def _toml(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def test_a_sweeps_results_fill_our_columns(grid: paper_grid.PaperGrid, tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    picked = [grid.rows[0], grid.rows[14], grid.rows[18]]  # paper FRR@1 5.54, 2.85, 2.23
    results.write_text(json.dumps(_results(picked, [0.30, 0.20, 0.10])))
    swept = paper_grid.load_rows(paper_grid.GRID, paper_grid.PAPER, results, build=False)
    page = render(swept)
    assert (
        "| paper15 | 229,000 | 70,370 | 2.85% | 3.79% | 7 | 20.0% | 30.0% | 1,001 B | 2 |" in page
    )
    assert "over the 3 rows run: +1.00" in page
    assert "| paper02 | 68,000 | 23,746 | 6.17% | 7.68% | 26 | not run |" in page
    stale = _results(picked, [0.3, 0.2, 0.1])
    stale["rows"][1]["config"]["params"]["rnn_units"] = 64  # type: ignore[index]
    results.write_text(json.dumps(stale))
    with pytest.raises(ValueError, match="paper15 was trained with other params"):
        paper_grid.load_rows(paper_grid.GRID, paper_grid.PAPER, results, build=False)
    assert paper_grid_command.main(["--results", str(tmp_path / "none.json"), "--check"]) == 2


def test_ranks_share_ties_and_spearman_needs_three_rows() -> None:
    assert paper_grid.ranks({"a": 2.0, "b": 1.0, "c": 2.0}) == {"b": 1, "a": 2.5, "c": 2.5}
    assert paper_grid.spearman({"a": 1, "b": 2, "c": 3}, {"a": 3, "b": 2, "c": 1}) == -1
    assert paper_grid.spearman({"a": 1, "b": 2}, {"a": 1, "b": 2}) is None


def test_rows_are_built_for_the_papers_input(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        paper_grid.GRID.read_text()
        + '\n[[run]]\nname = "r1"\nparams = { conv_filters = 8, kernel = [20, 5], '
        'stride = [8, 2], rnn_layers = 1, rnn_units = 4, cell = "gru", fc_units = 4 }\n'
    )
    paper = tmp_path / "paper.toml"
    row_facts = "params = 1000\nfrr_1fa_pct = 5.0\nfrr_05fa_pct = 6.0\n"
    paper.write_text(paper_grid.PAPER.read_text() + "\n[row.r1]\n" + row_facts)
    loaded = paper_grid.load_rows(grid, paper, build=False)
    row = loaded.rows[-1]
    assert row.config.window_frames == 144 and row.paper == paper_grid.PaperRow(1000, 5.0, 6.0)
    # conv 8*(100+1) + GRU 3*4*(18*8+4+2) + fc (4+1)*4 + output (4+1)*2
    assert row.ours == 808 + 1800 + 20 + 10
    # bi GRU 2*3*4*(20*8+4+1), FC over 19 steps (19*8+1)*4
    assert row.paper_convention == 808 + 3960 + 612 + 10
    page = render(loaded)
    assert "| r1 | 8 | (20, 5) | (8, 2) | 1 | 4 | GRU | 4 | 1,000 | 5,390 (+439.0%) |" in page
    paper.write_text(paper_grid.PAPER.read_text() + "\n[row.r2]\n" + row_facts)
    with pytest.raises(ValueError, match="rows without a \\[\\[run\\]\\]"):
        paper_grid.load_rows(grid, paper, build=False)
    paper.write_text(paper_grid.PAPER.read_text().replace('padding = "same"', 'padding = "x"'))
    with pytest.raises(ValueError, match="\\[convention\\] needs exactly"):
        paper_grid.load_rows(grid, paper, build=False)


def test_preset_has_the_sweep_format() -> None:
    preset = tomllib.loads(paper_grid.GRID.read_text())
    assert set(preset) <= {"base", "sweep", "run"}
    assert preset["base"]["model"] == "crnn" and preset["sweep"]["budget_bytes"] > 0
    fields = set(CRNNConfig.__dataclass_fields__)
    for run in preset.get("run", []):
        assert set(run) == {"name", "params"} and set(run["params"]) <= fields


def test_check_flag_reports_a_stale_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def closed_form(config: CRNNConfig, features: int, labels: int) -> int:
        return sum(paper_grid.count_params(config, features, labels).values())

    monkeypatch.setattr(paper_grid, "build_count", closed_form)  # the fixture's rows were built
    stale = tmp_path / "page.md"
    stale.write_text("old\n")
    assert paper_grid_command.main(["--out", str(stale), "--check"]) == 1
    assert paper_grid_command.main(["--out", str(stale)]) == 0
    assert paper_grid_command.main(["--out", str(stale), "--check"]) == 0
