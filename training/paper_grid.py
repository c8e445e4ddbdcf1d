"""``python -m training.paper_grid``: the paper grid of Arik et al. 2017 beside the project's CRNN.

Builds every row of ``training/grids/arik2017.toml`` through the model registry for the paper's
input (``training/grids/arik2017_paper.toml``: 151 frames x 40 channels), counts its parameters
in closed form (checked against the built model, so the page cannot drift from the builder),
fits the paper's printed totals with the counting conventions the paper might use, and writes
``docs/crnn-paper-grid.md`` (text in :mod:`training.reports.paper_grid`) with the paper's FRR beside
ours where a sweep over the grid has been run. ``--check`` exits 1 if the committed page differs."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from training.core.paper_grid import DOC, GRID, PAPER, RESULTS, load_rows


def main(argv: list[str] | None = None) -> int:
    from training.reports.paper_grid import render

    parser = argparse.ArgumentParser(prog="python -m training.paper_grid", description=__doc__)
    parser.add_argument("--grid", type=Path, default=GRID)
    parser.add_argument("--paper", type=Path, default=PAPER)
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="a sweep's results.json over the grid (default benchmarks/results/sweep_arik2017/"
        "results.json; absent: our FRR says 'not run')",
    )
    parser.add_argument("--out", type=Path, default=DOC)
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args(argv)
    try:
        if args.results != RESULTS and not args.results.is_file():
            raise ValueError(f"{args.results}: no such results file")
        text = render(load_rows(args.grid, args.paper, args.results))
    except (OSError, ValueError, KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run python -m training.paper_grid", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(text)} characters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
