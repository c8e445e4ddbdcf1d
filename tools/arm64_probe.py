"""``python tools/arm64_probe.py --model M --input WAV --out probe.json --arrays probe.npz``:
what one machine's installed kws does with a recording, for tools/arm64_check.sh to compare.

Run as a script path (not ``-m tools...``) so that ``kws`` is whatever the interpreter has
installed. It records versions and wheel tags, runs ``python -m kws.listen`` on the recording
(its events and timings), scores the recording with the model and any others given (raw float
scores, for a bit-for-bit comparison between machines) and computes the recording's features
with the native frontend and the numpy reference under several configs (their largest
difference here, and the arrays, for a comparison between machines). Imports only kws and
numpy.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from kws.atomic import atomic_write_bytes
from kws.features import FeatureConfig, Frontend
from kws.features.frontend import native_available
from kws.model import load_model
from kws.paths import portable_path
from kws.wavfile import load_audio

DISTRIBUTIONS = ("kws", "numpy", "soxr", "ai-edge-litert")
ATOL, RTOL = 1e-5, 1e-6
"""The native-vs-numpy tolerance of
tests/test_features.py::test_native_kernel_equals_numpy_reference."""


def feature_configs(model_config: FeatureConfig) -> dict[str, FeatureConfig]:
    """The model's own frontend plus variants over window, FFT size, MFCC and pre-emphasis."""
    return {
        "model": model_config,
        "logmel26": FeatureConfig(nfilt=26),
        "mfcc13": FeatureConfig(numcep=13, nfilt=26),
        "hamming_1024": FeatureConfig(
            winlen=0.032, winstep=0.016, nfft=1024, nfilt=64, winfunc="hamming"
        ),
        "hann_mfcc20_no_energy": FeatureConfig(
            numcep=20, nfilt=40, ceplifter=0, append_energy=False, winfunc="hann"
        ),
        "no_preemph_band": replace(model_config, preemph=0.0, lowfreq=300, highfreq=3400),
    }


def _wheel_tags(name: str) -> list[str]:
    """The Tag lines of an installed distribution's WHEEL file (the platform it was built for)."""
    try:
        text = metadata.distribution(name).read_text("WHEEL") or ""
    except metadata.PackageNotFoundError:
        return []
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _command_output(*args: str) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else None


def environment() -> dict[str, Any]:
    """Machine, OS, interpreter and package versions, with each package's wheel tags."""
    import kws
    from kws.features import frontend

    debian = Path("/etc/debian_version")
    native = getattr(frontend, "_native", None)
    return {
        "machine": platform.machine(),
        "platform": platform.platform(),
        "debian": debian.read_text().strip() if debian.exists() else None,
        "python": platform.python_version(),
        "gcc": _command_output("gcc", "-dumpfullversion"),
        "packages": {
            name: {"version": _version(name), "wheel_tags": _wheel_tags(name)}
            for name in DISTRIBUTIONS
        },
        "kws_path": portable_path(Path(kws.__file__).parent),
        "native_frontend": native_available(),
        "native_module": Path(native.__file__).name if native is not None else None,
    }


def run_listen(model: Path, recording: Path) -> dict[str, Any]:
    """``python -m kws.listen --model M --input WAV`` as a user runs it: events and timings."""
    command = [sys.executable, "-m", "kws.listen", "--model", str(model), "--input", str(recording)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"kws.listen failed ({done.returncode}): {done.stderr.strip()}")
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    stopped = next(e for e in events if e["type"] == "status" and e["state"] == "stopped")
    return {
        "command": ["python", *command[1:]],
        "detections": [e for e in events if e["type"] == "detection"],
        "backend": events[0]["info"]["models"][0]["backend"],
        "frontend": events[0]["info"]["models"][0]["frontend"],
        "wall_s": wall,
        "process_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "pipeline_cpu_s": stopped["cpu_s"],
        "audio_s": stopped["t"],
    }


def raw_scores(model_path: Path, audio: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """Every invocation's float scores of a model over the recording (features by its own
    frontend, native where built), with its quantization and the CPU seconds it took."""
    model = load_model(model_path)
    start = time.process_time()
    features = Frontend(model.metadata.features).compute(audio)
    calls = model.runner().push(features)
    seconds = time.process_time() - start
    scores = np.stack([s for _, s in calls]).astype(np.float32)
    summary = {
        "quantization": model.metadata.quantization,
        "streaming": model.metadata.streaming,
        "calls": int(scores.shape[0]),
        "outputs": int(scores.shape[1]),
        "cpu_s": seconds,
    }
    return summary, scores


def compare_backends(
    configs: dict[str, FeatureConfig], audio: np.ndarray
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Native against numpy features for each config: the largest differences, whether they
    pass the tests' tolerance, the CPU seconds of each, and the native arrays."""
    results: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, config in configs.items():
        timings = {}
        out = {}
        for backend in ("native", "numpy"):
            start = time.process_time()
            out[backend] = Frontend(config, backend).compute(audio)
            timings[backend] = time.process_time() - start
        native, reference = out["native"].astype(np.float64), out["numpy"].astype(np.float64)
        difference = np.abs(native - reference)
        results[name] = {
            "frames": int(native.shape[0]),
            "features": int(native.shape[1]),
            "max_abs_diff": float(difference.max(initial=0.0)),
            "max_rel_diff": float((difference / np.maximum(np.abs(reference), 1e-30)).max()),
            "identical": bool(np.array_equal(out["native"], out["numpy"])),
            "within_test_tolerance": bool(np.allclose(native, reference, rtol=RTOL, atol=ATOL)),
            "native_cpu_s": timings["native"],
            "numpy_cpu_s": timings["numpy"],
        }
        arrays[f"features_{name}"] = out["native"]
    return results, arrays


def probe(
    model: Path, recording: Path, also_score: list[Path]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Everything this machine says about the model on the recording, and the arrays behind it;
    ``also_score`` models are scored on the same recording (other quantizations, to see which
    interpreter kernels give the same bits on both machines)."""
    start = time.perf_counter()
    audio = load_audio(recording)
    scored, arrays = {}, {}
    for path in [model, *also_score]:
        scored[path.stem], arrays[f"scores_{path.stem}"] = raw_scores(path, audio)
    config = load_model(model).metadata.features
    backends, features = compare_backends(feature_configs(config), audio)
    report = {
        "environment": environment(),
        "model": str(model),
        "recording": str(recording),
        "listen": run_listen(model, recording),
        "scored": scored,
        "native_vs_numpy": {"atol": ATOL, "rtol": RTOL, "configs": backends},
        "probe_wall_s": time.perf_counter() - start,
    }
    return report, {**arrays, **features}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True, help="a 16 kHz mono WAV recording")
    parser.add_argument("--out", type=Path, required=True, help="JSON report")
    parser.add_argument("--arrays", type=Path, required=True, help=".npz of scores and features")
    parser.add_argument(
        "--also-score", type=Path, action="append", default=[], help="another model to score"
    )
    args = parser.parse_args(argv)
    extra = [path.resolve() for path in args.also_score]
    report, arrays = probe(args.model.resolve(), args.input.resolve(), extra)
    args.arrays.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.arrays, **arrays)
    atomic_write_bytes(args.out, (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
