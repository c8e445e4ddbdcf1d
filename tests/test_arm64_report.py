"""tools.arm64_report: how tools/arm64_check.sh decides that arm64 agrees with the host (the
emulated run itself is too slow for the test suite; this checks the judgement on hand-made
probes)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tools.arm64_report import (
    SCORE_TOLERANCE,
    build_report,
    compare_arrays,
    compare_detections,
    main,
)


def detection(score: float = 0.9897, start: float = 1.44, end: float = 2.895) -> dict[str, Any]:
    return {"type": "detection", "model": "hey_jarvis", "keyword": "hey_jarvis", "score": score,
            "start": start, "end": end, "latency_ms": 0.1}  # fmt: skip


def probe(machine: str, detections: list[dict[str, Any]]) -> dict[str, Any]:
    tag = f"cp311-cp311-manylinux_2_17_{machine}"
    packages = {
        name: {"version": "1", "wheel_tags": [tag]} for name in ("numpy", "soxr", "ai-edge-litert")
    }
    packages["kws"] = {"version": "0.1.0", "wheel_tags": [f"cp311-cp311-linux_{machine}"]}
    config = {"frames": 10, "features": 40, "max_abs_diff": 0.0, "max_rel_diff": 0.0,
              "identical": True, "within_test_tolerance": True, "native_cpu_s": 0.1,
              "numpy_cpu_s": 0.2}  # fmt: skip
    return {
        "environment": {
            "machine": machine,
            "debian": "12.11",
            "python": "3.11.2",
            "gcc": "12.2.0",
            "packages": packages,
            "native_frontend": True,
            "native_module": f"_native.{machine}.so",
        },
        "listen": {
            "command": ["python", "-m", "kws.listen"],
            "detections": detections,
            "backend": "ai_edge_litert",
            "frontend": "native",
            "wall_s": 1.0,
            "process_cpu_s": 1.0,
            "pipeline_cpu_s": 0.5,
            "audio_s": 36.0,
        },
        "native_vs_numpy": {"atol": 1e-5, "rtol": 1e-6, "configs": {"model": config}},
    }


def test_same_detections_within_tolerance_match() -> None:
    host = [detection(), detection(0.9869, 32.4, 33.855)]
    arm = [detection(0.9897 + SCORE_TOLERANCE / 2), detection(0.9869, 32.4, 33.855)]
    result = compare_detections(host, arm)
    assert result["match"]
    assert result["pairs"][0]["score_diff"] == pytest.approx(SCORE_TOLERANCE / 2)


@pytest.mark.parametrize(
    "arm",
    [
        [detection(0.9897 + 2 * SCORE_TOLERANCE)],  # score beyond tolerance
        [detection(start=1.45, end=2.905)],  # one hop later
        [],  # missed
        [detection(), detection()],  # an extra one
        [{**detection(), "keyword": "alexa"}],
    ],
)
def test_any_difference_is_a_mismatch(arm: list[dict[str, Any]]) -> None:
    assert not compare_detections([detection()], arm)["match"]


def test_arrays_compared_bit_for_bit() -> None:
    a = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    b = a.copy()
    b[1, 2] = np.nextafter(b[1, 2], np.float32(2))
    result = compare_arrays({"x": a, "y": a, "only_host": a}, {"x": a, "y": b, "z": a})
    assert set(result) == {"x", "y"}
    assert result["x"] == {"identical": True, "max_abs_diff": 0.0, "values": 12, "differing": 0}
    assert not result["y"]["identical"]
    assert result["y"]["differing"] == 1
    assert 0 < result["y"]["max_abs_diff"] < 1e-7


def test_report_fails_on_an_x86_wheel_a_missing_native_frontend_or_failed_tests() -> None:
    host, arm = probe("x86_64", [detection()]), probe("aarch64", [detection()])
    assert build_report(host, arm, {}, {}, {})["ok"]
    sdist = copy.deepcopy(arm)
    sdist["environment"]["packages"]["soxr"]["wheel_tags"] = []
    assert build_report(host, sdist, {}, {}, {})["checks"]["soxr_aarch64_wheel"] is False
    numpy_only = copy.deepcopy(arm)
    numpy_only["listen"]["frontend"] = "numpy"
    assert not build_report(host, numpy_only, {}, {}, {})["checks"]["native_frontend_built"]
    failed_tests = {"feature_tests": {"returncode": 1, "summary": "1 failed, 36 passed"}}
    assert not build_report(host, arm, {}, {}, failed_tests)["checks"]["feature_tests_pass"]
    not_arm = build_report(host, probe("x86_64", [detection()]), {}, {}, {})
    assert not not_arm["checks"]["arm64_machine"]


def test_main_writes_json_and_markdown_and_exits_1_on_a_mismatch(tmp_path: Path) -> None:
    host, arm = probe("x86_64", [detection()]), probe("aarch64", [])
    paths = {}
    for name, value in {"host": host, "arm64": arm}.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(value))
        np.savez(tmp_path / f"{name}.npz", scores_m=np.zeros((2, 2), dtype=np.float32))
    args = [f"--out-dir={tmp_path / 'out'}"]
    for name in ("host", "arm64"):
        args += [f"--{name}={paths[name]}", f"--{name}-arrays={tmp_path / f'{name}.npz'}"]
    assert main(args) == 1
    report = json.loads((tmp_path / "out" / "arm64_check.json").read_text())
    assert report["checks"]["same_detections"] is False
    assert report["host_vs_arm64_arrays"]["scores_m"]["identical"]
    markdown = (tmp_path / "out" / "arm64_check.md").read_text()
    assert "FAILED" in markdown
    assert "| same_detections | NO |" in markdown
