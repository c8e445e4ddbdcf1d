"""``--ray``: a real Ray cluster on this machine renders the same corpus bytes and trains the same
sweep rows as local worker processes, and runs a task again when its worker process dies.

The cluster is ``ray start --block`` child processes (training.core.ray_cluster) and every Ray
driver runs in a process of its own (the CLI, or tests/ray_driver.py): pytest never connects to
Ray, so a cluster that dies fails a test instead of ending the test run (a driver whose GCS is
gone is ended by Ray itself, exit 1; `ray stop` anywhere on the machine does that).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("ray")

from tests.ray_driver import ANSWER_FILE, TINY  # noqa: E402
from training.core.ray_cluster import LocalCluster  # noqa: E402
from training.data.generate import generate  # noqa: E402

ROOT = Path(__file__).parents[1]
CI_GRID = ROOT / "training/grids/ci.toml"
TIMINGS = ("wall_seconds", "train_seconds", "invoke_us_median", "cpu_s_per_hour", "file")
"""Result fields that measure this run's speed or name its folder, not the model."""
SIZES = ("bytes", "float32_bytes")
"""File sizes: the metadata inside holds the training seconds, so they may differ by the
flatbuffer's padding of one more digit (8 bytes seen: 9.x s on one side, 10.x s on the other)."""
SWEEP_SETTINGS = ["base.epochs=1", "sweep.cost_seconds=5", "sweep.compare_float=false",
                  "sweep.budget_cpu_s_per_hour=1e9", "sweep.cpus_per_row=1",
                  'sweep.quantization="int8_weights"']  # fmt: skip
"""int8_weights: no calibration, half the CPU of a full-int8 export. One TensorFlow thread per
row in both runs (the local pool splits the cores among as many workers)."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """A one-node, two-CPU Ray cluster of `ray start` processes, stopped after the module."""
    with LocalCluster((2,)) as running:
        yield running


def drive(cluster: LocalCluster, *args: str, timeout: float = 600) -> str:
    """Run a Ray driver (``python -m ...``) from the checkout: its answer (tests/ray_driver.py
    writes one to a file), or its stderr as the failure."""
    with tempfile.TemporaryDirectory() as folder:
        answer = Path(folder) / "answer.json"
        done = subprocess.run(
            [sys.executable, "-m", *args], cwd=ROOT, env={**cluster.env, ANSWER_FILE: str(answer)},
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, (
            f"{' '.join(args[:2])} exited {done.returncode}:\n" + (done.stderr[-3000:])
        )
        return answer.read_text() if answer.is_file() else ""


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "summary.json"  # summary.json holds wall times
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "corpus"
    generate(TINY, out, workers=2)
    return out


def test_a_corpus_rendered_on_ray_is_byte_identical_and_resumes(
    cluster: LocalCluster, corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "corpus"
    summary = json.loads(drive(cluster, "tests.ray_driver", "corpus", cluster.address, str(out)))
    local = digests(corpus)
    assert summary["rendered_now"] == summary["clips"] > 0 and summary["ray"] == cluster.address
    assert digests(out) == local and len(local) > summary["clips"]  # clips, manifests, eval
    # interrupted: a lost clip and a lost evaluation set are rendered again, the same bytes
    clip = next((out / "clips").rglob("*.wav"))
    clip.unlink()
    (out / "eval/test/negatives/negatives.json").unlink()
    again = json.loads(drive(cluster, "tests.ray_driver", "corpus", cluster.address, str(out)))
    assert again["rendered_now"] == 1 and digests(out) == local


def test_a_sweep_on_ray_gives_the_local_table(
    cluster: LocalCluster, corpus: Path, tmp_path: Path
) -> None:
    pytest.importorskip("tensorflow")
    from training.core.grid import load_grid
    from training.sweep import sweep

    settings = [f"base.corpus={corpus}", *SWEEP_SETTINGS]
    local = sweep(load_grid(CI_GRID, settings), tmp_path / "local", workers=2, progress=False)
    args = [f"--set={s}" for s in settings]
    drive(cluster, "training.sweep", str(CI_GRID), "--out", str(tmp_path / "ray"), *args,
          "--ray", cluster.address)  # fmt: skip
    on_ray = json.loads((tmp_path / "ray/results.json").read_text())
    assert not local["failed"] and not on_ray["failed"]
    assert [r["name"] for r in on_ray["rows"]] == ["gru16", "lstm16"]

    def measured(summary: dict) -> dict[str, object]:
        return {
            f"{r['name']}.{k}": v for r in summary["rows"] for k, v in r.items() if k not in TIMINGS
        }

    local_measured = measured(json.loads(json.dumps(local)))
    differ = {k: (v, local_measured.get(k)) for k, v in measured(on_ray).items()
              if v != local_measured.get(k)}  # fmt: skip
    sizes = {k: v for k, v in differ.items() if k.endswith(SIZES) and abs(v[0] - v[1]) <= 16}
    assert not differ.keys() - sizes.keys(), differ  # (on Ray, local)
    assert (on_ray["winner"], on_ray["pareto"]) == (local["winner"], local["pareto"])
    for a, b in zip(local["rows"], on_ray["rows"], strict=True):
        assert Path(a["file"]).relative_to(tmp_path / "local") == Path(b["file"]).relative_to(
            tmp_path / "ray"
        )  # the same row folder: cached by the same key
    # the Ray run's rows are cached as local ones are: a local rerun trains nothing
    cached = sweep(load_grid(CI_GRID, settings), tmp_path / "ray", workers=1, progress=False)
    assert json.dumps(cached["rows"]) == json.dumps(on_ray["rows"])


def test_a_task_whose_worker_dies_runs_again(cluster: LocalCluster, tmp_path: Path) -> None:
    marker = tmp_path / "died"
    out = drive(cluster, "tests.ray_driver", "die", cluster.address, str(marker), "1", "3")
    assert marker.exists() and json.loads(out) == [[0, 2, None], [1, 4, None], [2, 6, None]]
    marker.unlink()
    out = drive(cluster, "tests.ray_driver", "die", cluster.address, str(marker), "0", "1")
    assert json.loads(out) == [[0, None, "WorkerCrashedError"]]


def test_a_search_on_ray_ships_its_best_trial(
    cluster: LocalCluster, corpus: Path, tmp_path: Path
) -> None:
    pytest.importorskip("tensorflow")
    from kws.model import load_model

    out = tmp_path / "tune"
    settings = [f"base.corpus={corpus}", "tune.trials=2", "sweep.cost_seconds=5",
                "sweep.compare_float=false", "sweep.budget_cpu_s_per_hour=1e9"]  # fmt: skip
    drive(cluster, "training.tune", str(ROOT / "training/grids/tune_ci.toml"), "--out", str(out),
          "--ray", cluster.address, *[f"--set={s}" for s in settings])  # fmt: skip
    searched = json.loads((out / "tune.json").read_text())
    results = json.loads((out / "results.json").read_text())
    trials = searched["trials"]
    assert [t["name"] for t in trials] == ["trial000", "trial001"] and not results["failed"]
    assert all(set(t["drawn"]) == set(searched["space"]) for t in trials)
    finished = [t["name"] for t in trials if t["state"] == "finished"]
    assert [r["name"] for r in results["rows"]] == finished  # ASHA may stop one, not both
    assert searched["winner"] == results["winner"] in finished
    # the best trial's run folder ships as a sweep winner's does
    model = tmp_path / "model"
    ship = subprocess.run(
        [sys.executable, "-m", "training.wakeword", "hey jarvis", "--from-run",
         searched["winner_run"], "--out", str(model), "--set", "ship.cost_minutes=0.1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert ship.returncode in (0, 3), ship.stderr[-3000:]  # 3: a failed build, still written
    assert load_model(model / "hey_jarvis.tflite").metadata.keywords == ("hey_jarvis",)
    assert f"--from-run {searched['winner_run']}" in (model / "hey_jarvis.md").read_text()
