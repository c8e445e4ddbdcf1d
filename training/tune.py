"""``python -m training.tune SPACE.toml``: hyper-parameter search with Ray Tune and ASHA.

A search space is data (training/grids/tune_*.toml): ``[base]`` is a training config and
``[sweep]`` the sweep's options (size and CPU budget, target FA/h, quantization, CPUs per
trial), as in a grid file; ``[space]`` maps dotted config keys to what a trial draws: a list
(one of its values), or a table ``{ loguniform = [LO, HI] }``, ``{ uniform = [LO, HI] }`` or
``{ randint = [LO, HI] }`` (HI included); ``[tune]`` sets the number of trials, ASHA's grace
period and reduction factor, and the seed of the draws.

Each trial trains in a Ray actor asking ``[sweep] cpus_per_row`` CPUs, exactly as a sweep row
(training.core.sweep_rows.run_one: same run folder, cache key, export and evaluation). After
every epoch it reports FRR at ``[train.validation] target_fa_per_hour`` (1 FA/h) on the corpus's
validation streams, which the training loop measures anyway; ASHA stops the trials that trail
the others at its rungs. The trials that finish are ranked as sweep rows are (results.json,
results.md, pareto.png: the lowest FRR at the target among rows under the size and CPU
budget), so the winner's run folder ships with ``training.wakeword --from-run``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kws.errors import KwsError
from kws.paths import portable_path
from kws.schema import field_names, reject_unknown_keys
from training.core.grid import Grid, SweepOptions, parse_grid
from training.core.ray_pool import MAX_RETRIES, RAY_HELP
from training.core.run import write_json
from training.core.toml_config import add_override_option, read_toml, set_path

RANGES = ("loguniform", "uniform", "randint")
"""The tables a ``[space]`` key may hold instead of a list of values."""


@dataclass(frozen=True)
class TuneOptions:
    """The ``[tune]`` table."""

    trials: int = 16
    """Configurations drawn from the space (each trains unless ASHA stops it)."""
    grace_epochs: int = 2
    """Epochs every trial trains before ASHA may stop it."""
    reduction_factor: int = 3
    """At each of ASHA's rungs (grace_epochs times a power of this) only the best
    1/reduction_factor of the trials that reached it go on."""
    seed: int = 0
    """Seed of the draws: the same seed draws the same trials, and a finished trial's run
    folder is reused (the sweep's cache key)."""

    def __post_init__(self) -> None:
        if self.trials < 1 or self.grace_epochs < 1 or self.reduction_factor < 2:
            raise ValueError("[tune] trials and grace_epochs >= 1, reduction_factor >= 2")


@dataclass(frozen=True)
class Search:
    """A parsed search-space file."""

    name: str
    base: dict[str, Any]
    sweep: dict[str, Any]
    space: dict[str, Any]
    options: SweepOptions
    tune: TuneOptions = field(default_factory=TuneOptions)

    def resolve(self, drawn: dict[str, Any], name: str) -> dict[str, Any]:
        """The validated training config of one trial (ValueError naming what is wrong)."""
        base = copy.deepcopy(self.base)
        for key, value in drawn.items():
            set_path(base, key, value)
        grid = parse_grid({"base": base, "sweep": self.sweep, "run": [{"name": name}]}, name)
        return grid.runs[0][1]

    def max_epochs(self) -> int:
        """The most epochs a trial can train (ASHA's horizon)."""
        spec = self.space.get("epochs", [self.base.get("epochs", 30)])
        epochs = max(spec) if isinstance(spec, list) else spec[next(iter(spec))][1]
        rounds = int(self.base.get("mining", {}).get("rounds", 0))
        return int(epochs) * (1 + rounds)


def _check_space(where: str, space: Any) -> None:
    if not isinstance(space, dict) or not space:
        raise ValueError(f"{where}: needs a [space] table of dotted keys to draw")
    for key, spec in space.items():
        if isinstance(spec, list) and spec:
            continue
        if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in RANGES:
            bounds = next(iter(spec.values()))
            if (
                isinstance(bounds, list)
                and len(bounds) == 2
                and all(isinstance(b, int | float) for b in bounds)
                and bounds[0] < bounds[1]
                and (next(iter(spec)) != "loguniform" or bounds[0] > 0)
            ):
                continue
        raise ValueError(
            f"{where}: [space] {key!r} must be a non-empty list of values or one of "
            f"{{ {' | '.join(RANGES)} = [LO, HI] }} with LO < HI, got {spec!r}"
        )


def _corners(spec: Any) -> list[Any]:
    """The values of a space entry that validation tries: every listed value, or both bounds."""
    if isinstance(spec, list):
        return spec
    kind, (low, high) = next(iter(spec.items()))
    return [int(low), int(high)] if kind == "randint" else [low, high]


def parse_search(data: dict[str, Any], where: str) -> Search:
    """Read and check a search space: every key, and each value it may take, is validated on
    the base config before any trial trains."""
    reject_unknown_keys(where, data, {"base", "sweep", "tune", "space"})
    base_grid = parse_grid(
        {"base": data.get("base"), "sweep": data.get("sweep", {}), "run": [{"name": "base"}]},
        where,
    )
    tune_table = data.get("tune", {})
    reject_unknown_keys(f"{where} [tune]", tune_table, field_names(TuneOptions))
    space = data.get("space")
    _check_space(where, space)
    search = Search(
        base_grid.name, data["base"], data.get("sweep", {}), space, base_grid.options,
        TuneOptions(**tune_table),
    )  # fmt: skip
    for key, spec in space.items():
        for value in _corners(spec):
            try:
                search.resolve({key: value}, "base")
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: [space] {key} = {value!r}: {exc}") from None
    return search


def load_search(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> Search:
    return parse_search(read_toml(path, overrides, "search space"), str(path))


def domains(space: dict[str, Any]) -> dict[str, Any]:
    """Ray Tune's sampling domains for the ``[space]`` entries."""
    from ray import tune

    out = {}
    for key, spec in space.items():
        if isinstance(spec, list):
            out[key] = tune.choice(spec)
            continue
        kind, (low, high) = next(iter(spec.items()))
        if kind == "randint":
            out[key] = tune.randint(int(low), int(high) + 1)
        else:
            out[key] = getattr(tune, kind)(float(low), float(high))
    return out


def run_trial(drawn: dict[str, Any], search: Search, out: str, cwd: str, corpus: str) -> None:
    """One trial, in a Tune actor: resolve its config, then train, export and evaluate it as a
    sweep row, reporting validation FRR after every epoch."""
    from ray import tune

    from training.core.fit import mean_frr_at
    from training.core.sweep_rows import run_key, run_one

    os.chdir(cwd)  # Tune starts trials in a folder of its own; paths are the command's
    index = int(tune.get_context().get_trial_id().rsplit("_", 1)[-1])
    name = f"trial{index:03d}"
    about: dict[str, Any] = {"row": name}
    try:  # a trial that raises is reported failed, not run again (Tune retries lost workers)
        config = search.resolve(drawn["space"], name)
        run = Path(out) / "runs" / f"{name}-{run_key(config, search.options, corpus)}"
        target = float(config["validation"]["target_fa_per_hour"])
        about["run"] = str(run)
        if not (run / "result.json").is_file():

            def report(row: dict[str, Any]) -> None:
                if "val_frr" in row:
                    frr = mean_frr_at(row["val_frr"], target)
                    tune.report({"frr": frr, "epoch": row["epoch"], **about})

            options = asdict(search.options)
            run_one(name, config, options, str(run), search.options.cpus_per_row, report)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        tune.report({"frr": 1.0, "error": error, **about})
        return
    metrics = json.loads((run / "metrics.json").read_text())
    best = metrics["selection"]["best"].get("val_frr")  # the kept checkpoint's figures
    frr = mean_frr_at(best, target) if best else 1.0
    tune.report({"frr": frr, "epoch": metrics["selection"]["best_epoch"], "finished": 1, **about})


def tune_search(search: Search, out: Path, ray: str) -> dict[str, Any]:
    """Run the search on the Ray cluster ``ray``; write the sweep's results of the finished
    trials and tune.json (every trial: what it drew, how far it got); return the summary."""
    from training.core.ray_pool import connect
    from training.core.sweep_rows import corpus_fingerprint, eval_eval_manifests
    from training.reports.sweep import write_results

    config = search.resolve({}, "base")
    corpus = Path(config["corpus"])
    fingerprint = corpus_fingerprint(corpus)
    eval_eval_manifests(config, search.options)
    if not config["validation"]["streams"] or not (corpus / "eval" / "validation").is_dir():
        raise KwsError(
            f"{corpus}: training.tune stops trials on validation-stream FRR: the corpus needs "
            "eval/validation (training.data generate writes it) and [train.validation] streams"
        )
    connect(ray)
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    out = out.resolve()
    trainable = tune.with_resources(
        tune.with_parameters(
            run_trial, search=search, out=str(out), cwd=os.getcwd(), corpus=fingerprint
        ),
        {"cpu": search.options.cpus_per_row},
    )
    asha = ASHAScheduler(
        time_attr="training_iteration",
        max_t=search.max_epochs() + 1,  # + the report after the export: never cut by max_t
        grace_period=search.tune.grace_epochs,
        reduction_factor=search.tune.reduction_factor,
    )
    tuner = tune.Tuner(
        trainable,
        param_space={"space": domains(search.space)},
        tune_config=tune.TuneConfig(
            metric="frr", mode="min", num_samples=search.tune.trials, scheduler=asha,
            search_alg=BasicVariantGenerator(random_state=search.tune.seed),
        ),
        run_config=tune.RunConfig(
            name=search.name, storage_path=str(out / "tune"), verbose=0,
            failure_config=tune.FailureConfig(max_failures=MAX_RETRIES),
        ),
    )  # fmt: skip
    results = tuner.fit()
    trials, rows, failures = [], [], {}
    for result in results:
        metrics = result.metrics or {}
        name = metrics.get("row") or f"trial-{str(result.path).rsplit('_', 1)[-1]}"
        run = Path(metrics["run"]) if "run" in metrics else None
        finished = run is not None and (run / "result.json").is_file() and metrics.get("finished")
        error = metrics.get("error") or result.error
        if error is not None:
            failures[name] = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            failures[name] = failures[name].splitlines()[0]
            state = "failed"
        else:
            state = "finished" if finished else "stopped by ASHA"
        if finished:
            assert run is not None
            rows.append(json.loads((run / "result.json").read_text()))
        trials.append(
            {
                "name": name,
                "drawn": result.config["space"],
                "state": state,
                "epochs_reported": metrics.get("epoch"),
                "validation_frr": metrics.get("frr"),
                "run": portable_path(run) if run else None,
            }
        )
    trials.sort(key=lambda t: t["name"])
    rows.sort(key=lambda r: r["name"])
    summary = write_results(Grid(search.name, (), search.options), rows, failures, out)
    winner = next((r for r in rows if r["name"] == summary["winner"]), None)
    summary["winner_run"] = portable_path(Path(winner["file"]).parent) if winner else None
    write_json(
        out / "tune.json",
        {
            "search": search.name,
            "tune": asdict(search.tune),
            "space": search.space,
            "winner": summary["winner"],
            "winner_run": summary["winner_run"],
            "trials": trials,
        },
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.tune", description=__doc__)
    parser.add_argument(
        "space", type=Path, help="search space (TOML), e.g. training/grids/tune_crnn.toml"
    )
    parser.add_argument("--out", type=Path, help="search folder (default runs/tune/<name>)")
    parser.add_argument(
        "--ray", metavar="auto|local|ADDRESS", default="local",
        help=RAY_HELP.replace("default: worker processes on this machine", "default: local"),
    )  # fmt: skip
    add_override_option(parser, "--set base.corpus=data/hey_jarvis --set tune.trials=8")
    parser.add_argument("--dry-run", action="store_true", help="validate the space and stop")
    args = parser.parse_args(argv)
    try:
        search = load_search(args.space, args.set)
        if args.dry_run:
            print(json.dumps({"name": search.name, "space": search.space, **asdict(search.tune)}))
            return 0
        out = args.out or Path("runs/tune") / search.name
        summary = tune_search(search, out, args.ray)
    except (KwsError, ValueError) as exc:
        print(f"training.tune: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: summary.get(k) for k in ("winner", "winner_run", "failed")}, indent=1))
    if summary.get("winner_run"):
        print(f'ship it: python -m training.wakeword "PHRASE" --from-run {summary["winner_run"]}')
    return 0 if summary.get("winner") else 1


if __name__ == "__main__":
    sys.exit(main())
