"""``python tools/arm64_report.py --host H.json --arm64 A.json --out-dir DIR [...]``: compare
what tools/arm64_probe.py recorded on the host and in the emulated arm64 root, and write
``arm64_check.json`` and ``arm64_check.md`` (what matched, versions, timings).

Exit status 0 when the arm64 install is what a Pi needs and agrees with the host: the native
frontend was built and equals the numpy reference within the tests' tolerance, numpy, soxr and
ai-edge-litert came as aarch64 wheels, and ``kws.listen`` gives the host's detections (same
keywords and times, scores within :data:`SCORE_TOLERANCE`), and tests/test_features.py passed
in the root (when the setup JSON says it ran); 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes

SCORE_TOLERANCE = 1e-3
"""Largest score difference between two machines' detections accepted as the same detection."""
TIME_TOLERANCE_S = 1e-6
"""Detection times are whole hops; they must be equal (this only absorbs float printing)."""
WHEELS = ("numpy", "soxr", "ai-edge-litert")


def compare_detections(
    host: list[dict[str, Any]],
    other: list[dict[str, Any]],
    score_tolerance: float = SCORE_TOLERANCE,
) -> dict[str, Any]:
    """Pair two runs' detection events in order; they match when there are as many, each pair
    has the same model and keyword, equal start and end times, and scores within tolerance."""
    pairs = []
    for a, b in zip(host, other, strict=False):
        same = (
            a["model"] == b["model"]
            and a["keyword"] == b["keyword"]
            and abs(a["start"] - b["start"]) <= TIME_TOLERANCE_S
            and abs(a["end"] - b["end"]) <= TIME_TOLERANCE_S
            and abs(a["score"] - b["score"]) <= score_tolerance
        )
        pairs.append(
            {
                "keyword": a["keyword"],
                "host": {k: a[k] for k in ("start", "end", "score")},
                "arm64": {k: b[k] for k in ("keyword", "start", "end", "score")},
                "score_diff": abs(a["score"] - b["score"]),
                "match": same,
            }
        )
    return {
        "host_count": len(host),
        "arm64_count": len(other),
        "score_tolerance": score_tolerance,
        "pairs": pairs,
        "match": len(host) == len(other) and all(p["match"] for p in pairs),
    }


def compare_arrays(host: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> dict[str, Any]:
    """For each array both have: bit-identical or not, and the largest absolute difference."""
    out: dict[str, Any] = {}
    for name in sorted(set(host) & set(other)):
        a, b = host[name], other[name]
        if a.shape != b.shape:
            out[name] = {"identical": False, "shape_host": a.shape, "shape_arm64": b.shape}
            continue
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        out[name] = {
            "identical": bool(np.array_equal(a, b)),
            "max_abs_diff": float(diff.max(initial=0.0)),
            "values": int(a.size),
            "differing": int(np.count_nonzero(diff)),
        }
    return out


def wheel_checks(environment: dict[str, Any]) -> dict[str, bool]:
    """Each runtime dependency installed from a wheel built for this machine's architecture."""
    machine = environment["machine"]
    return {
        name: any(tag.endswith(machine) for tag in environment["packages"][name]["wheel_tags"])
        for name in WHEELS
    }


def build_report(
    host: dict[str, Any],
    arm64: dict[str, Any],
    host_arrays: dict[str, np.ndarray],
    arm64_arrays: dict[str, np.ndarray],
    setup: dict[str, Any],
) -> dict[str, Any]:
    """The comparison as one JSON-able dict, with ``checks`` (each a bool) and ``ok``."""
    env = arm64["environment"]
    backends = arm64["native_vs_numpy"]["configs"]
    detections = compare_detections(host["listen"]["detections"], arm64["listen"]["detections"])
    checks = {
        "arm64_machine": env["machine"] == "aarch64",
        "native_frontend_built": bool(env["native_frontend"])
        and arm64["listen"]["frontend"] == "native",
        "native_equals_numpy_reference": all(c["within_test_tolerance"] for c in backends.values()),
        **{f"{name}_aarch64_wheel": ok for name, ok in wheel_checks(env).items()},
        "litert_backend": arm64["listen"]["backend"] == "ai_edge_litert",
        "same_detections": detections["match"],
    }
    if "feature_tests" in setup:
        checks["feature_tests_pass"] = setup["feature_tests"]["returncode"] == 0
    listen = arm64["listen"]
    return {
        "ok": all(checks.values()),
        "checks": checks,
        "detections": detections,
        "host_vs_arm64_arrays": compare_arrays(host_arrays, arm64_arrays),
        "scored": arm64.get("scored", {}),
        "arm64_native_vs_numpy": arm64["native_vs_numpy"],
        "emulated_timings": {
            **setup.get("timings_s", {}),
            "listen_wall_s": listen["wall_s"],
            "listen_process_cpu_s": listen["process_cpu_s"],
            "listen_pipeline_cpu_s": listen["pipeline_cpu_s"],
            "audio_s": listen["audio_s"],
            "host_listen_wall_s": host["listen"]["wall_s"],
            "host_listen_pipeline_cpu_s": host["listen"]["pipeline_cpu_s"],
        },
        "setup": {k: v for k, v in setup.items() if k != "timings_s"},
        "host": host["environment"],
        "arm64": env,
        "command": arm64["listen"]["command"],
    }


def _fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.3g}"


def render_markdown(report: dict[str, Any]) -> str:
    """The report for people: verdict, detections, feature agreement, versions, timings."""
    host, arm, setup, t = (
        report["host"],
        report["arm64"],
        report["setup"],
        report["emulated_timings"],
    )
    verdict = "all checks passed" if report["ok"] else "FAILED"
    lines = [
        "# kws on arm64 under emulation (tools/arm64_check.sh)",
        "",
        f"Verdict: **{verdict}**. An arm64 Debian {arm['debian']} root run by "
        f"{setup.get('qemu', 'qemu-user')} ({setup.get('binfmt', '')}) on an {host['machine']} "
        f"Debian {host['debian']} host; checkout {setup.get('commit', '?')}.",
        "Timings below are of the emulation, not of a Raspberry Pi.",
        "",
        "| check | result |",
        "|---|---|",
        *(f"| {name} | {'yes' if ok else 'NO'} |" for name, ok in report["checks"].items()),
        "",
        "## Detections on the demo recording",
        "",
        f"`{' '.join(report['command'])}` in the root; the same on the host.",
        "",
        f"Score tolerance {report['detections']['score_tolerance']}; times must be equal.",
        "",
        "| keyword | host start–end (s) | host score | arm64 start–end (s) | arm64 score | match |",
        "|---|---|---|---|---|---|",
    ]
    for p in report["detections"]["pairs"]:
        h, a = p["host"], p["arm64"]
        lines.append(
            f"| {p['keyword']} | {h['start']}–{h['end']} | {h['score']} | {a['start']}–{a['end']} "
            f"| {a['score']} | {'yes' if p['match'] else 'NO'} |"
        )
    arrays = report["host_vs_arm64_arrays"]
    lines += [
        "",
        "## Bit for bit, host against arm64",
        "",
        "`scores_M`: every invocation's float output of model M over the recording (fed the "
        "features its machine computed); `features_C`: the native frontend's output for config C.",
        "",
        "| array | quantization | identical | values differing | max abs diff |",
        "|---|---|---|---|---|",
    ]
    for name, v in arrays.items():
        quantization = report["scored"].get(name.removeprefix("scores_"), {}).get("quantization")
        lines.append(
            f"| {name} | {quantization or ''} | {'yes' if v['identical'] else 'no'} "
            f"| {v.get('differing', '?')} of {v.get('values', '?')} "
            f"| {_fmt(v.get('max_abs_diff', -1))} |"
        )
    lines += [
        "",
        "The frontend is C in double precision built with -ffp-contract=off, so its bits can "
        "match across machines; the TFLite interpreter picks its kernels per CPU, so scores can "
        "differ in the last bits (float32) or by output quantization steps (int8). Detections are "
        "therefore compared with the tolerance above.",
        "",
        "## Native frontend against the numpy reference, on arm64",
        "",
        f"tests/test_features.py's tolerance: atol {report['arm64_native_vs_numpy']['atol']}, "
        f"rtol {report['arm64_native_vs_numpy']['rtol']}; input: the 36 s demo recording.",
        *(
            [
                "",
                "`tests/test_features.py` run with pytest in the arm64 root (against the installed "
                f"kws): {tests['summary']} (exit status {tests['returncode']}).",
            ]
            if (tests := setup.get("feature_tests"))
            else []
        ),
        "",
        "| config | frames × features | max abs diff | identical | native CPU s | numpy CPU s |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in report["arm64_native_vs_numpy"]["configs"].items():
        lines.append(
            f"| {name} | {c['frames']} × {c['features']} | {_fmt(c['max_abs_diff'])} "
            f"| {'yes' if c['identical'] else 'no'} | {c['native_cpu_s']:.2f} "
            f"| {c['numpy_cpu_s']:.2f} |"
        )
    lines += ["", "## Versions", "", "| | host | arm64 |", "|---|---|---|"]
    lines.append(f"| machine | {host['machine']} | {arm['machine']} |")
    lines.append(f"| Debian | {host['debian']} | {arm['debian']} |")
    lines.append(f"| Python | {host['python']} | {arm['python']} |")
    lines.append(f"| gcc | {host['gcc']} | {arm['gcc']} |")
    for name in host["packages"]:
        cells = [
            f"{env['packages'][name]['version']} ({', '.join(env['packages'][name]['wheel_tags'])})"
            for env in (host, arm)
        ]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    lines.append(f"| native module | {host['native_module']} | {arm['native_module']} |")
    if setup.get("downloads"):
        lines += ["", "Wheels pip installed in the arm64 root (from its report):", ""]
        lines += [f"- {d['name']} {d['version']}: {d['url']}" for d in setup["downloads"]]
    lines += [
        "",
        "## Timings (emulated arm64; not Raspberry Pi speeds)",
        "",
        "| step | seconds |",
        "|---|---|",
        *(f"| {name} | {value:.2f} |" for name, value in t.items()),
        *(
            f"| {name} (when the root was made) | {value:.2f} |"
            for name, value in setup.get("root_setup_timings_s", {}).items()
        ),
        "",
    ]
    return "\n".join(lines)


def pip_downloads(pip_report: dict[str, Any]) -> list[dict[str, str]]:
    """Name, version and source URL of everything a ``pip install --report`` installed."""
    return [
        {
            "name": item["metadata"]["name"],
            "version": item["metadata"]["version"],
            "url": item["download_info"]["url"],
        }
        for item in pip_report.get("install", [])
    ]


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for side in ("host", "arm64"):
        parser.add_argument(f"--{side}", type=Path, required=True, help="probe JSON")
        parser.add_argument(f"--{side}-arrays", type=Path, required=True, help="probe .npz")
    parser.add_argument("--setup", type=Path, help="JSON from arm64_check.sh (versions, timings)")
    parser.add_argument("--pip-report", type=Path, help="pip install --report of the arm64 root")
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    setup = json.loads(args.setup.read_text()) if args.setup else {}
    if args.pip_report:
        setup["downloads"] = pip_downloads(json.loads(args.pip_report.read_text()))
    report = build_report(
        json.loads(args.host.read_text()),
        json.loads(args.arm64.read_text()),
        _load_npz(args.host_arrays),
        _load_npz(args.arm64_arrays),
        setup,
    )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(
        args.out_dir / "arm64_check.json", (json.dumps(report, indent=1) + "\n").encode()
    )
    atomic_write_bytes(args.out_dir / "arm64_check.md", render_markdown(report).encode())
    failed = [name for name, ok in report["checks"].items() if not ok]
    print("arm64 check: " + ("all checks passed" if not failed else "FAILED: " + ", ".join(failed)))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
