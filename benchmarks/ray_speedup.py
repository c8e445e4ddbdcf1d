"""The same small sweep three ways, wall time and CPU time of every process each one starts:
``python -m benchmarks.ray_speedup --corpus data/ray/bench_corpus``.

(a) ``training.sweep --workers 1`` (one row at a time, TensorFlow on every core), (b)
``--workers 2`` (one thread a row) and (c) ``--ray`` on a cluster of two local nodes of one CPU
each (training.core.ray_cluster: two ``ray start`` processes with their own temporary folders,
``sweep.cpus_per_row = 1``; the cluster's start and stop are timed apart). The grid is
training/grids/ci.toml with ``[axes] params.conv_filters = [8, 16]``: four rows, each in a
fresh folder (nothing cached). CPU seconds are counted for every process the setup starts,
Ray's GCS, raylets, agents and workers included, by sampling the process tree below this one
(:class:`CpuSampler`; this process is a child subreaper, so the orphans of a stopped cluster
stay in its tree and are reaped here).

The corpus (``--corpus``) is rendered first if it is missing, and its feature cache filled by
one untimed row, so every setup starts from the same cache. Results go to
benchmarks/results/ray/speedup.{json,md}.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from training.core.ray_cluster import LocalCluster
from training.core.run import write_json

GRID = Path(__file__).parents[1] / "training/grids/ci.toml"
OUT = Path(__file__).parent / "results" / "ray"
SETTINGS = ["sweep.cost_seconds=5", "sweep.compare_float=false", "sweep.cpus_per_row=1",
            'sweep.quantization="int8_weights"', "sweep.budget_cpu_s_per_hour=1e9"]  # fmt: skip
MODEL = ("name", "params", "macs_per_second", "frr", "test_accuracy", "num_positives")
"""What a row's model is and scores (not its timings, nor its file size, which moves by a few
bytes of padding with the training seconds written into the metadata)."""
PR_SET_CHILD_SUBREAPER = 36


def corpus_config() -> Any:
    from training.data.corpus import CorpusConfig

    return CorpusConfig(
        keyword="hey jarvis", positives=300, confusables=100, speech=100, noise=40, music=20,
        silence=20, eval_positives=20, eval_snrs_db=(10.0,), eval_negative_hours=0.05,
        eval_sentences=20, eval_confusables=10, engines=("espeak-ng", "flite"),
    )  # fmt: skip


def grid_file(folder: Path, epochs: int) -> Path:
    """ci.toml with a conv_filters axis: four rows."""
    text = GRID.read_text() + '\n[axes]\n"params.conv_filters" = [8, 16]\n'
    path = folder / "ray_speedup.toml"
    path.write_text(text.replace("epochs = 2", f"epochs = {epochs}"))
    return path


class CpuSampler:
    """CPU seconds of every process below this one, sampled every ``period`` s: the last
    reading of each process counts (a process's final ``period`` s can be missed). Counting
    what ``wait`` reports is not enough: Ray's raylet reaps its workers without passing their
    CPU time on (2 rows of Ray work showed up as 15 CPU-s)."""

    def __init__(self, period: float = 0.2) -> None:
        import threading

        self.period = period
        self.seen: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            for process in me.children(recursive=True):
                try:
                    with process.oneshot():
                        times = process.cpu_times()
                        key = (process.pid, process.create_time())
                except psutil.Error:
                    continue
                self.seen[key] = times.user + times.system
            self._stop.wait(self.period)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())


def reap() -> None:
    """Wait for every child and adopted orphan, so their CPU is in RUSAGE_CHILDREN."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_setup(name: str, grid: Path, corpus: Path, out: Path, how: dict[str, Any]) -> dict:
    """One sweep into a fresh folder; wall and CPU seconds of everything it started."""
    command = [sys.executable, "-m", "training.sweep", str(grid), "--out", str(out)]
    command += [f"--set=base.corpus={corpus}", *(f"--set={s}" for s in SETTINGS)]
    cpu0, wall0 = children_cpu(), time.perf_counter()
    cluster_s = 0.0
    with CpuSampler() as sampled:
        if "nodes" in how:
            with LocalCluster(how["nodes"]) as cluster:
                cluster_s = time.perf_counter() - wall0
                sweep0 = time.perf_counter()
                done = subprocess.run([*command, "--ray", cluster.address], env=cluster.env)
                sweep_s = time.perf_counter() - sweep0
                stop0 = time.perf_counter()
            cluster_s += time.perf_counter() - stop0
        else:
            done = subprocess.run([*command, "--workers", str(how["workers"])])
            sweep_s = time.perf_counter() - wall0
        reap()
    if done.returncode != 0:
        raise SystemExit(f"{name}: training.sweep exited {done.returncode}")
    summary = json.loads((out / "results.json").read_text())
    return {
        "setup": name,
        **how,
        "sweep_wall_s": round(sweep_s, 1),
        "cluster_start_stop_s": round(cluster_s, 1),
        "total_wall_s": round(time.perf_counter() - wall0, 1),
        "cpu_s_all_processes": round(sampled.seconds, 1),
        "cpu_s_reaped": round(children_cpu() - cpu0, 1),
        "row_train_s": {r["name"]: r["train_seconds"] for r in summary["rows"]},
        "winner": summary["winner"],
        "measured": [{k: r[k] for k in MODEL} for r in summary["rows"]],
    }


def markdown(report: dict[str, Any]) -> str:
    base = report["setups"][0]
    lines = [
        "# The same sweep locally and on a two-node Ray cluster",
        "",
        f"`{report['command']}` on {report['machine']} ({report['cores']} cores, shared: the "
        f"load average was {report['load_before']} when it started). Four rows of "
        f"`training/grids/ci.toml` × conv_filters 8/16, {report['epochs']} epochs each, on a "
        f"corpus of {report['clips']} clips; no row cached (the corpus's feature cache filled "
        "beforehand). CPU: every process the setup started (Ray's GCS, raylets, agents and "
        "workers included). `--workers 1` trains with two TensorFlow threads, the others with one.",
        "",
        "| setup | sweep wall s | cluster start+stop s | CPU s | speed-up (sweep wall) | "
        "same table as (a) |",
        "|---|---|---|---|---|---|",
    ]
    for s in report["setups"]:
        lines.append(
            f"| {s['setup']} | {s['sweep_wall_s']:.0f} | {s['cluster_start_stop_s']:.0f} | "
            f"{s['cpu_s_all_processes']:.0f} | {base['sweep_wall_s'] / s['sweep_wall_s']:.2f}× | "
            f"{'yes' if s['measured'] == base['measured'] else 'no'} |"
        )
    return "\n".join([*lines, "", report["note"], ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_speedup", description=__doc__)
    parser.add_argument(
        "--corpus", type=Path, required=True, help="corpus folder (made if missing)"
    )
    parser.add_argument("--work", type=Path, help="sweep folders (default: CORPUS/../ray_speedup)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("benchmarks.ray_speedup: cannot become a child subreaper (Linux only)")
    if not (args.corpus / "manifest.jsonl").is_file():
        from training.data.generate import generate

        generate(corpus_config(), args.corpus, workers=os.cpu_count())
        reap()
    work = args.work or args.corpus.parent / "ray_speedup"
    work.mkdir(parents=True, exist_ok=True)
    grid = grid_file(work, args.epochs)
    if not (args.corpus / "features").is_dir():  # the feature cache, as every setup finds it
        warm = [sys.executable, "-m", "training.sweep", str(grid), "--out", str(work / "warmup")]
        warm += [f"--set=base.corpus={args.corpus}", *(f"--set={s}" for s in SETTINGS)]
        subprocess.run([*warm, "--only", "gru16-conv_filters8"], check=True)
        reap()
    load = os.getloadavg()[0]
    started = time.time()
    setups = []
    for name, how in [
        ("(a) local, --workers 1", {"workers": 1}),
        ("(b) local, --workers 2", {"workers": 2}),
        ("(c) Ray, 2 nodes × 1 CPU", {"nodes": [1, 1]}),
    ]:
        out = work / f"run-{started:.0f}-{len(setups)}"
        setups.append(run_setup(name, grid, args.corpus, out, how))
        print(json.dumps({k: v for k, v in setups[-1].items() if k != "measured"}), flush=True)
    clips = sum(1 for _ in (args.corpus / "manifest.jsonl").open())
    report = {
        "command": "nice -n 15 python -m benchmarks.ray_speedup --corpus "
        f"{args.corpus} --epochs {args.epochs}",
        "machine": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_before": round(load, 1),
        "epochs": args.epochs,
        "clips": clips,
        "setups": setups,
        "note": (
            "This machine has 2 cores, so no setup can gain beyond 2×: (c) against (a) is the "
            "speed-up a second one-CPU node brings, measured here as two nodes on one machine; "
            "(b) is what the same two cores give without Ray. The machine was shared with other "
            "jobs while this ran, so wall times are upper bounds."
        ),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "speedup.json", report)
    (args.out / "speedup.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
