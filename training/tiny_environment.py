"""A tiny but real environment classifier, trained in seconds on generated sounds, for tests.

Three class-distinct "rooms" — steady ``noise`` (white/pink), steady ``tone`` (one or two
sinusoids) and repeated ``chirp`` sweeps — plus quiet clips (a faint noise floor) trained toward
the uniform distribution (outlier exposure, Hendrycks et al. 2019), so that a quiet room gives
no confident class and the runtime reports "unknown". The registry's CRNN, exported in window
form with a hop of half a window (``stride_frames`` larger than the conv stride).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kws.atomic import atomic_write_bytes
from kws.metadata import ModelMetadata, Threshold
from kws.wavfile import write_wav
from training.core import synthetic
from training.core.seeding import seed_training
from training.core.tflite import export_tflite
from training.core.tiny_models import FEATURES, clip_features
from training.data import signals
from training.models import get_model
from training.models.crnn import CRNNConfig

LABELS = ("noise", "tone", "chirp")
QUIET = "quiet"
"""Not a label: clips of a faint noise floor, trained toward equal scores for every label."""
ENV_CRNN = CRNNConfig(
    conv_filters=8,
    kernel=(5, 8),
    stride=(2, 4),
    rnn_layers=1,
    rnn_units=16,
    cell="gru",
    fc_units=16,
    window_frames=100,
)
HOP_FRAMES = 50
"""The model is invoked every 0.5 s over the last 1 s."""
CLIP_SAMPLES = (ENV_CRNN.window_frames - 1) * FEATURES.frame_step + FEATURES.frame_length
SMOOTHING_S = 1.0
THRESHOLD = 0.6
STREAM_SEGMENTS = (
    (QUIET, 0.0, 3.0),
    ("noise", 3.0, 9.0),
    ("tone", 9.0, 15.0),
    ("chirp", 15.0, 21.0),
    (QUIET, 21.0, 24.0),
)
"""(kind, start s, end s) of the generated test stream."""


def _sound(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of float audio of one kind at unit RMS (``quiet``: zeros)."""
    seconds = n / synthetic.SAMPLE_RATE
    if kind == "noise":
        x = signals.white(seconds, rng) if rng.random() < 0.5 else signals.pink(seconds, rng)
    elif kind == "tone":
        t = np.arange(n) / synthetic.SAMPLE_RATE
        freqs = rng.uniform(300, 3000, size=int(rng.integers(1, 3)))
        x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) for f in freqs)
    elif kind == "chirp":
        sweeps = []
        while sum(map(len, sweeps)) < n:
            make = synthetic.keyword if rng.random() < 0.5 else synthetic.NEGATIVES["falling_chirp"]
            sweeps.append(make(rng))
            sweeps.append(np.zeros(int(rng.uniform(0.0, 0.1) * synthetic.SAMPLE_RATE)))
        x = np.concatenate(sweeps)
        x = np.roll(x, -int(rng.integers(0, len(x))))
    elif kind == QUIET:
        return np.zeros(n)
    else:
        raise ValueError(f"unknown sound kind {kind!r}")
    x = np.asarray(x, dtype=np.float64)[:n]
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _floor(n: int, rng: np.random.Generator, dbfs: float) -> np.ndarray:
    return synthetic.pink_noise(rng, n) * synthetic.FULL_SCALE * 10 ** (dbfs / 20)


def make_clip(kind: str, rng: np.random.Generator, n: int = CLIP_SAMPLES) -> np.ndarray:
    """One int16 clip: the sound at -30..-8 dBFS over a -75..-60 dBFS floor (quiet: floor only)."""
    level = synthetic.FULL_SCALE * 10 ** (rng.uniform(-30, -8) / 20)
    audio = _floor(n, rng, rng.uniform(-75, -60)) + level * _sound(kind, n, rng)
    return np.clip(np.rint(audio), -32768, 32767).astype(np.int16)


def make_stream(seed: int = 0) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The test stream: :data:`STREAM_SEGMENTS` of generated sound, and its manifest."""
    rng = np.random.default_rng(seed)
    pieces = []
    for kind, start, end in STREAM_SEGMENTS:
        n = round((end - start) * synthetic.SAMPLE_RATE)
        level = synthetic.FULL_SCALE * 10 ** (-18 / 20)
        pieces.append(_floor(n, rng, -68) + level * _sound(kind, n, rng))
    audio = np.clip(np.rint(np.concatenate(pieces)), -32768, 32767).astype(np.int16)
    manifest = [{"kind": k, "start_s": s, "end_s": e} for k, s, e in STREAM_SEGMENTS]
    return audio, manifest


def environment_metadata(training: dict[str, Any]) -> ModelMetadata:
    """The environment metadata contract (docs/model-format.md) for this model."""
    return ModelMetadata(
        name="tiny_room",
        task="environment",
        labels=LABELS,
        features=FEATURES,
        window_frames=ENV_CRNN.window_frames,
        stride_frames=HOP_FRAMES,
        streaming=False,
        quantization="float32",
        thresholds={label: Threshold(THRESHOLD) for label in LABELS},
        smoothing_s=SMOOTHING_S,
        refractory_s=0.0,
        output_name="scores",
        training=training,
    )


def train_tiny_environment_model(
    out_dir: str | Path, seed: int = 0, *, clips_per_class: int = 160, epochs: int = 10
) -> dict[str, Path]:
    """Train and export the tiny environment model; returns ``model``, ``stream_wav``,
    ``stream_json`` paths. Held-out accuracy (labelled clips) is printed and kept in metadata."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_training(seed)
    rng = np.random.default_rng(seed)
    kinds = [*LABELS, QUIET]
    plan = [kinds[i % len(kinds)] for i in range(clips_per_class * len(kinds))]
    plan = [plan[i] for i in rng.permutation(len(plan))]
    x = clip_features([make_clip(kind, rng) for kind in plan])
    uniform = np.full(len(LABELS), 1 / len(LABELS))
    onehot = np.eye(len(LABELS))
    y = np.array(
        [uniform if k == QUIET else onehot[LABELS.index(k)] for k in plan], dtype=np.float32
    )
    split = int(0.8 * len(plan))
    model = get_model("crnn").build(ENV_CRNN, FEATURES.num_features, len(LABELS))
    model.get_layer("normalize").adapt(x[:split])
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="categorical_crossentropy")
    start = time.perf_counter()
    model.fit(x[:split], y[:split], batch_size=32, epochs=epochs, verbose=0, shuffle=True)
    train_s = time.perf_counter() - start
    probs = model.predict(x[split:], batch_size=100, verbose=0)
    labelled = np.array([k != QUIET for k in plan[split:]])
    accuracy = float(np.mean(probs[labelled].argmax(1) == y[split:][labelled].argmax(1)))
    quiet_max = float(probs[~labelled].max(axis=1).mean()) if (~labelled).any() else 0.0
    print(
        f"tiny environment model: held-out accuracy {accuracy:.3f}, mean top score on quiet "
        f"clips {quiet_max:.2f}, trained in {train_s:.1f} s"
    )
    summary = {
        "data": f"training.tiny_environment seed {seed}: {clips_per_class} clips per kind",
        "model": "crnn",
        "head": "softmax",
        "config": {k: getattr(ENV_CRNN, k) for k in ENV_CRNN.__dataclass_fields__},
        "heldout_accuracy": accuracy,
        "quiet_mean_top_score": quiet_max,
        "train_seconds": round(train_s, 2),
    }
    paths = {"model": out / "environment.tflite"}
    data = export_tflite(model, ENV_CRNN, environment_metadata(summary), "window")
    atomic_write_bytes(paths["model"], data)
    audio, manifest = make_stream(seed + 1)
    paths["stream_wav"] = out / "environment_stream.wav"
    paths["stream_json"] = out / "environment_stream.json"
    write_wav(paths["stream_wav"], audio, synthetic.SAMPLE_RATE)
    atomic_write_bytes(paths["stream_json"], json.dumps(manifest, indent=1).encode())
    return paths


def main(argv: list[str] | None = None) -> int:
    """``python -m training.tiny_environment --out DIR``: train and write the demo model."""
    from training.core.tiny_models import tiny_cli

    return tiny_cli(train_tiny_environment_model, main.__doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
