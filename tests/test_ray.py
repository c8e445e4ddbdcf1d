"""``--ray``: a real local Ray cluster renders the same corpus bytes and trains the same sweep rows
as local worker processes, and runs a task again when its worker process dies."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    # A clean-clone CI run ended inside these tests with pytest exiting 1 and no summary (two
    # other runs of the same commit passed): until that is understood they run on request only.
    pytest.mark.skipif(
        os.environ.get("KWS_TEST_RAY") != "1",
        reason="set KWS_TEST_RAY=1: one CI run died inside these tests (under investigation)",
    ),
]
ray = pytest.importorskip("ray")

from training.core.ray_pool import RayPool  # noqa: E402
from training.data.corpus import CorpusConfig  # noqa: E402
from training.data.generate import generate  # noqa: E402

CI_GRID = Path(__file__).parents[1] / "training/grids/ci.toml"
TINY = CorpusConfig(
    keyword="hey jarvis", positives=24, confusables=8, speech=8, noise=4, music=2, silence=2,
    eval_positives=4, eval_snrs_db=(10.0,), eval_negative_hours=0.005, eval_sentences=8,
    eval_confusables=4, engines=("espeak-ng", "flite"),
)  # fmt: skip
TIMINGS = ("wall_seconds", "train_seconds", "invoke_us_median", "cpu_s_per_hour", "file")
"""Result fields that measure this run's speed or name its folder, not the model."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A two-CPU Ray cluster of this test process, shut down after the module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


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
    cluster: None, corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "corpus"
    summary = generate(TINY, out, ray="auto")
    local = digests(corpus)
    assert summary["rendered_now"] == summary["clips"] > 0 and summary["ray"] == "auto"
    assert digests(out) == local and len(local) > summary["clips"]  # clips, manifests, eval
    # interrupted: a lost clip and a lost evaluation set are rendered again, the same bytes
    clip = next((out / "clips").rglob("*.wav"))
    clip.unlink()
    (out / "eval/test/negatives/negatives.json").unlink()
    again = generate(TINY, out, ray="auto")
    assert again["rendered_now"] == 1 and digests(out) == local


def test_a_sweep_on_ray_gives_the_local_table(cluster: None, corpus: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from training.core.grid import load_grid
    from training.sweep import sweep

    overrides = [f"base.corpus={corpus}", "base.epochs=1", "sweep.cost_seconds=5",
                 "sweep.compare_float=false", "sweep.budget_cpu_s_per_hour=1e9",
                 "sweep.cpus_per_row=1", 'sweep.quantization="int8_weights"']  # fmt: skip
    grid = load_grid(CI_GRID, overrides)
    # int8_weights: no calibration, half the CPU of a full-int8 export. One TensorFlow thread per
    # row in both runs (the local pool splits the cores among as many workers).
    local = sweep(grid, tmp_path / "local", workers=os.cpu_count() or 1, progress=False)
    on_ray = sweep(grid, tmp_path / "ray", progress=False, ray="auto")
    assert not local["failed"] and not on_ray["failed"]
    assert [r["name"] for r in on_ray["rows"]] == ["gru16", "lstm16"]

    def measured(summary: dict) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in TIMINGS} for r in summary["rows"]]

    assert measured(on_ray) == measured(local)
    assert (on_ray["winner"], on_ray["pareto"]) == (local["winner"], local["pareto"])
    for a, b in zip(local["rows"], on_ray["rows"], strict=True):
        assert Path(a["file"]).relative_to(tmp_path / "local") == Path(b["file"]).relative_to(
            tmp_path / "ray"
        )  # the same row folder: cached by the same key
    # the Ray run's rows are cached as local ones are: a local rerun trains nothing
    cached = sweep(grid, tmp_path / "ray", workers=1, progress=False)
    assert json.dumps(cached["rows"]) == json.dumps(on_ray["rows"])


def test_a_task_whose_worker_dies_runs_again(cluster: None, tmp_path: Path) -> None:
    marker = tmp_path / "died"

    def die_once(x: int) -> int:  # pickled by value: Ray's workers need not import this file
        if not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies, as when a node is lost or OOM-killed
        return 2 * x

    with RayPool("auto", fresh_process=True, max_retries=1) as pool:
        got = sorted(pool.outcomes(die_once, [1, 2, 3]), key=lambda o: o[0])
    assert marker.exists() and [(i, r, e) for i, r, e in got] == [
        (0, 2, None), (1, 4, None), (2, 6, None)
    ]  # fmt: skip
    marker.unlink()
    with RayPool("auto", fresh_process=True, max_retries=0) as pool:
        [(index, result, error)] = list(pool.outcomes(die_once, [5]))
    assert (index, result) == (0, None) and isinstance(error, ray.exceptions.WorkerCrashedError)
