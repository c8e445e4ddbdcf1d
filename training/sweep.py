"""``python -m training.sweep GRID.toml``: train a grid of models, evaluate each the one way, and
pick winners by FRR at a fixed false-accept rate under a size budget.

A grid is data (training/grids/*.toml): ``[base]`` is a training config (the keys of
:class:`training.core.config.TrainConfig`), each ``[[run]]`` row overrides some of its keys
(``params`` merged key by key), and ``[axes]`` maps dotted keys to value lists whose Cartesian
product is applied to every row. Runs execute in worker processes, each with its own seed; a
finished run is cached under the hash of its resolved config and of the corpus, so an interrupted
sweep resumes where it stopped. Every run is evaluated on the corpus's held-out evaluation streams
by :mod:`benchmarks.frr_fa` (the runtime pipeline and :mod:`kws.evaluation`, as every benchmark;
:mod:`training.core.sweep_rows` runs one row).
With ``--ray`` each row is a Ray task asking ``sweep.cpus_per_row`` CPUs of a cluster, run again
if its process dies; the rows, their cache and the report are those of a local run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from kws.errors import KwsError
from training.core.grid import Grid, load_grid
from training.core.ray_pool import RayPool, add_ray_option
from training.core.sweep_rows import corpus_fingerprint, eval_eval_manifests, run_key, run_row
from training.core.toml_config import add_override_option


def row_outcomes(
    rows: Sequence[tuple[str, dict[str, Any], dict[str, Any], str, int]],
    workers: int,
    ray: str | None,
    cpus_per_row: int,
) -> Iterator[tuple[int, dict[str, Any] | None, BaseException | None]]:
    """(index, result, error) of each row as it finishes: each row in a fresh process, on
    ``workers`` local processes, or as a Ray task asking ``cpus_per_row`` CPUs of ``ray``."""
    if ray:
        with RayPool(ray, num_cpus=cpus_per_row, fresh_process=True) as pool:
            yield from pool.outcomes(run_row, rows)
        return
    context = get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {pool.submit(run_row, row): i for i, row in enumerate(rows)}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except Exception as exc:  # one bad row must not lose the others
                yield futures[future], None, exc


def sweep(
    grid: Grid,
    out: Path,
    workers: int = 1,
    only: Sequence[str] = (),
    progress: bool = True,
    ray: str | None = None,
) -> dict[str, Any]:
    """Run (or reuse) every row of ``grid`` into ``out/runs``, on ``workers`` local processes or
    on the Ray cluster ``ray`` (an address, 'auto' or 'local'); write results and the plot."""
    from tqdm import tqdm

    from training.reports.sweep import write_results

    # Each row's seed is fixed by its place in the grid, so --only reproduces the full sweep's row.
    seeded = [
        (name, {**config, "seed": int(config["seed"]) + index})
        for index, (name, config) in enumerate(grid.runs)
    ]
    runs = [(n, c) for n, c in seeded if not only or n in only]
    if only and len(runs) != len(set(only)):
        missing = sorted(set(only) - {n for n, _ in runs})
        raise KwsError(f"--only names rows the grid does not have: {', '.join(missing)}")
    corpora = {c["corpus"]: corpus_fingerprint(Path(c["corpus"])) for _, c in runs}
    for _, config in runs:
        eval_eval_manifests(config, grid.options)
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for name, config in runs:
        key = run_key(config, grid.options, corpora[config["corpus"]])
        run_dir = out / "runs" / f"{name}-{key}"
        done = run_dir / "result.json"
        if done.is_file():
            results[name] = json.loads(done.read_text())
        else:
            todo.append((name, config, run_dir))
    print(f"sweep {grid.name}: {len(runs)} rows, {len(results)} cached, {len(todo)} to train")
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    if ray:
        threads = grid.options.cpus_per_row
    options = dataclasses.asdict(grid.options)
    failures = {}
    if todo:
        rows = [(name, config, options, str(run_dir), threads) for name, config, run_dir in todo]
        bar = tqdm(total=len(rows), desc="rows", unit="row", disable=not progress)
        for i, result, error in row_outcomes(rows, workers, ray, grid.options.cpus_per_row):
            name, _, run_dir = todo[i]
            if error is None:
                assert result is not None
                results[name] = result
            else:
                error = getattr(error, "cause", None) or error  # a Ray task's own exception
                failures[name] = f"{type(error).__name__}: {error} (log: {run_dir / 'train.log'})"
                print(f"row {name} failed: {failures[name]}", file=sys.stderr)
            bar.update()
        bar.close()
    ordered = [results[n] for n, _ in runs if n in results]
    summary = write_results(grid, ordered, failures, out)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.sweep", description=__doc__)
    parser.add_argument("grid", type=Path, help="grid file (TOML), e.g. training/grids/ci.toml")
    parser.add_argument("--out", type=Path, help="sweep folder (default runs/sweeps/<name>)")
    parser.add_argument("--workers", type=int, default=1, help="parallel training processes")
    parser.add_argument("--only", action="append", default=[], metavar="ROW", help="run one row")
    add_ray_option(parser)
    add_override_option(parser, "--set base.corpus=data/hey_jarvis --set base.epochs=5")
    parser.add_argument("--dry-run", action="store_true", help="validate and list the rows")
    args = parser.parse_args(argv)
    try:
        if args.workers < 1:
            raise ValueError("--workers must be at least 1")
        grid = load_grid(args.grid, args.set)
        if args.dry_run:
            for name, config in grid.runs:
                print(name, json.dumps(config["params"], sort_keys=True))
            return 0
        out = args.out or Path("runs/sweeps") / grid.name
        summary = sweep(grid, out, args.workers, args.only, ray=args.ray)
    except (KwsError, ValueError) as exc:
        print(f"training.sweep: error: {exc}", file=sys.stderr)
        return 2
    winner = summary.get("winner")
    print(json.dumps({"winner": winner, "failed": summary["failed"]}, indent=1))
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
