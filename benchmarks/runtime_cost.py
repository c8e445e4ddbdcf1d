"""Runtime cost on this machine: frontend and frontend+model CPU-seconds per hour of audio,
``import kws`` time, and peak RSS of ``kws.listen``.

    python -m benchmarks.runtime_cost [--model M.tflite ...] [--environment-model E.tflite ...]
        [--minutes 10] [--repeats 5]

Without ``--model`` the shipped demo models (window and streaming forms) are measured; without
``--environment-model`` the shipped environment model, if there is one. Each environment model
is measured alone and next to the first keyword model (sharing its frontend when they match).
Prints a table and writes benchmarks/results/runtime_cost.{json,md}. Figures are medians of
``--repeats`` runs of ``--minutes`` of audio, on one thread, measured with process CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kws.features import FeatureConfig, Frontend, StreamingFrontend
from kws.features.frontend import native_available
from kws.model import load_model
from kws.pipeline import Pipeline, PipelineConfig
from kws.wavfile import write_wav

RESULTS = Path(__file__).parent / "results"
FIRMWARE = Path(__file__).resolve().parent.parent / "firmware_models"
DEFAULT_MODELS = [FIRMWARE / "chirp_demo_streaming.tflite", FIRMWARE / "chirp_demo.tflite"]
DEFAULT_ENVIRONMENT = FIRMWARE / "environment.tflite"
SAMPLE_RATE = 16000


def test_signal(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise with a slowly varying level: stands in for an hour of room audio."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    level = 300 + 2000 * (0.5 + 0.5 * np.sin(2 * np.pi * np.arange(n) / (SAMPLE_RATE * 7)))
    return np.clip(rng.standard_normal(n) * level, -32768, 32767).astype(np.int16)


def cpu_per_hour(fn, audio: np.ndarray, chunk: int, repeats: int) -> list[float]:
    """CPU-seconds per hour of audio for ``fn(chunk)`` over the audio, one value per repeat."""
    hours = len(audio) / SAMPLE_RATE / 3600
    chunks = [audio[i : i + chunk] for i in range(0, len(audio), chunk)]
    values = []
    for _ in range(repeats):
        consume = fn()
        start = time.process_time()
        for block in chunks:
            consume(block)
        values.append((time.process_time() - start) / hours)
    return values


def frontend_cost(
    config: FeatureConfig, audio: np.ndarray, chunk_ms: int, repeats: int, backend: str
) -> list[float]:
    return cpu_per_hour(
        lambda: StreamingFrontend(config, Frontend(config, backend)).push,
        audio,
        SAMPLE_RATE * chunk_ms // 1000,
        repeats,
    )


def pipeline_cost(model_paths: list[Path], audio: np.ndarray, chunk_ms: int, repeats: int):
    """Frontend(s) + models in one pipeline (an environment model counts like any other)."""
    models = [load_model(path, num_threads=1) for path in model_paths]
    config = PipelineConfig(status_interval_s=0)
    return cpu_per_hour(
        lambda: Pipeline(models, config).process, audio, SAMPLE_RATE * chunk_ms // 1000, repeats
    )


def import_time(module: str, repeats: int) -> list[float]:
    """Wall seconds a fresh interpreter takes to import ``module``, timed inside it (timing the
    whole process and subtracting a bare start-up gave negative figures for a fast import)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return [
        float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True).stdout.split()[-1])
        for _ in range(repeats)
    ]  # fmt: skip


def listen_peak_rss(model_path: Path, wav: Path) -> float:
    """Peak resident memory (MiB) of ``python -m kws.listen`` over a WAV file.

    Read from /proc/self/status (VmHWM), which exec resets; ru_maxrss would include the
    benchmark process's own peak, which a forked child inherits on Linux.
    """
    code = (
        "import sys, runpy\n"
        "sys.argv = ['kws.listen', '--model', sys.argv[1], '--input', sys.argv[2]]\n"
        "try:\n    runpy.run_module('kws.listen', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(int(hwm.split()[1]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(model_path), str(wav)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", type=Path, default=[])
    parser.add_argument("--environment-model", action="append", type=Path, default=[])
    parser.add_argument("--minutes", type=float, default=10.0, help="audio per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    reproduce = shlex.join(["python", "-m", "benchmarks.runtime_cost", *given])

    audio = test_signal(args.minutes * 60)
    rows: list[dict[str, object]] = []

    def record(what: str, chunk_ms: int | None, values: list[float], unit: str) -> None:
        row = {
            "what": what,
            "chunk_ms": chunk_ms,
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
            "unit": unit,
            "runs": values,
        }
        rows.append(row)
        chunk = f" ({chunk_ms} ms chunks)" if chunk_ms else ""
        print(f"{what}{chunk}: median {row['median']:.3f} {unit} (min {min(values):.3f})")

    backends = ["native", "numpy"] if native_available() else ["numpy"]
    for name, config in (("log-mel 40", FeatureConfig()), ("MFCC 13", FeatureConfig(numcep=13))):
        for backend in backends:
            for chunk_ms in (10, 20, 50, 100):
                values = frontend_cost(config, audio, chunk_ms, args.repeats, backend)
                record(f"frontend {name} ({backend})", chunk_ms, values, "CPU-s per audio hour")

    with tempfile.TemporaryDirectory() as tmp:
        models = args.model or DEFAULT_MODELS
        wav = Path(tmp) / "cost.wav"
        write_wav(wav, audio[: 60 * SAMPLE_RATE], SAMPLE_RATE)
        for model_path in models:
            md = load_model(model_path).metadata
            label = f"frontend + {md.name} ({'streaming' if md.streaming else 'window'}, "
            label += f"{md.quantization}, {model_path.stat().st_size} B)"
            for chunk_ms in (10, 20, 50):
                values = pipeline_cost([model_path], audio, chunk_ms, args.repeats)
                record(label, chunk_ms, values, "CPU-s per audio hour")
        environment = args.environment_model or [DEFAULT_ENVIRONMENT] * DEFAULT_ENVIRONMENT.exists()
        for env_path in environment:
            md = load_model(env_path).metadata
            hop = md.stride_frames * md.features.frame_step / md.features.sample_rate
            label = f"frontend + environment {md.name} (window {md.window_seconds:.2f} s, hop "
            label += f"{hop:.2f} s, {md.quantization}, {env_path.stat().st_size} B)"
            record(
                label,
                20,
                pipeline_cost([env_path], audio, 20, args.repeats),
                "CPU-s per audio hour",
            )
            shared = load_model(models[0]).metadata.features == md.features
            label = f"frontend + {load_model(models[0]).metadata.name} + environment {md.name} "
            label += "(one shared frontend)" if shared else "(two frontends)"
            values = pipeline_cost([models[0], env_path], audio, 20, args.repeats)
            record(label, 20, values, "CPU-s per audio hour")
        record("import kws", None, import_time("kws", args.repeats), "s")
        record("import kws.listen", None, import_time("kws.listen", args.repeats), "s")
        record("kws.listen peak RSS (1 min WAV)", None, [listen_peak_rss(models[0], wav)], "MiB")

    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.uname().machine,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pipeline_frontend": Frontend(FeatureConfig()).backend,
        "audio_minutes_per_run": args.minutes,
        "repeats": args.repeats,
        "date": time.strftime("%Y-%m-%d"),
    }
    (args.out / "runtime_cost.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "# Runtime cost",
        "",
        f"Median of {args.repeats} runs over {args.minutes:g} min of audio, one thread, "
        f"{meta['cpus']} CPUs, Python {meta['python']}, numpy {meta['numpy']}, {meta['date']}. "
        f"Pipelines use the {meta['pipeline_frontend']} frontend.",
        f"Reproduce: `{reproduce}`.",
        "",
        "| what | chunk | median | min | max | unit |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        chunk = f"{r['chunk_ms']} ms" if r["chunk_ms"] else ""
        lines.append(
            f"| {r['what']} | {chunk} | {r['median']:.3f} | {r['min']:.3f} | {r['max']:.3f} "
            f"| {r['unit']} |"
        )
    (args.out / "runtime_cost.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'runtime_cost.json'} and runtime_cost.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
