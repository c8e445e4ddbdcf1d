"""A tiny but real speaker encoder, trained in seconds on generated "voices", for tests and demos.

Each synthetic speaker has a pitch (f0), a vocal-tract length (formant scale) and a breathiness;
saying the wake word is a short voiced syllable (vowel /a/ gliding to /i/ through formant
resonators) followed by the chirp keyword of :mod:`training.core.synthetic`, so the tiny chirp model
detects it and the speaker's identity sits inside the detection window. The encoder (two strided
convolutions, mean over time, dense, L2 normalization) is trained with a normalized-softmax
classifier over the training speakers; its threshold is the equal-error-rate point on held-out
speakers. Exported window form, task ``speaker``, output ``embedding``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
from scipy.signal import lfilter

from kws.atomic import atomic_write_bytes
from kws.metadata import ModelMetadata, Threshold
from kws.wavfile import write_wav
from training.core import synthetic
from training.core.seeding import seed_training
from training.core.tflite import export_tflite
from training.core.tiny_models import FEATURES, clip_features
from training.models.layers import FeatureNormalization
from training.models.registry import MODELS, register_model

SR = synthetic.SAMPLE_RATE
VOWELS = {"a": (730.0, 1090.0, 2440.0), "i": (270.0, 2290.0, 3010.0)}
"""Average adult formants F1..F3 (Hz) of the two vowels the syllable glides between."""


@dataclass(frozen=True)
class TinySpeakerConfig:
    """The tiny encoder's size."""

    window_frames: int = 98
    filters: tuple[int, int] = (16, 32)
    embedding_dim: int = 16


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker."""

    f0: float
    """Mean pitch, Hz."""
    formant_scale: float
    """Vocal-tract length factor applied to every formant."""
    breath: float
    """Aspiration noise relative to the voiced source."""


def build_encoder(
    config: TinySpeakerConfig, num_features: int, num_labels: int, *, unroll: bool = False
) -> keras.Model:
    """frames [batch, window_frames, F] -> unit embedding [batch, num_labels]."""
    frames = keras.Input((config.window_frames, num_features), name="frames")
    x = FeatureNormalization(num_features, name="normalize")(frames)
    x = keras.layers.Reshape((config.window_frames, num_features, 1))(x)
    for i, filters in enumerate(config.filters):
        x = keras.layers.Conv2D(filters, 3, strides=2, activation="relu", name=f"conv{i}")(x)
    x = keras.layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]))(x)
    x = keras.layers.GlobalAveragePooling1D()(x)  # over time only: keep the spectral layout
    x = keras.layers.Dense(num_labels, name="project")(x)
    return keras.Model(frames, keras.layers.UnitNormalization(name="l2")(x), name="tiny_speaker")


if "tiny_speaker" not in MODELS:  # re-importing the module must not register twice
    register_model("tiny_speaker", TinySpeakerConfig)(build_encoder)

DEFAULT = TinySpeakerConfig()


def random_voice(rng: np.random.Generator) -> Voice:
    return Voice(
        float(rng.uniform(85, 260)), float(rng.uniform(0.8, 1.25)), float(rng.uniform(0.02, 0.3))
    )


def _resonate(x: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    r = np.exp(-np.pi * bandwidth / SR)
    a = [1.0, -2 * r * np.cos(2 * np.pi * freq / SR), r * r]
    return lfilter([1 - r], a, x)


def syllable(voice: Voice, rng: np.random.Generator, seconds: float = 0.4) -> np.ndarray:
    """The voiced part of the wake word as said by ``voice``, float peak ~1."""
    n = int(seconds * SR)
    f0 = voice.f0 * rng.uniform(0.96, 1.04) * np.linspace(1.06, 0.94, n)
    phase = np.cumsum(f0) / SR
    source = 2 * (phase % 1.0) - 1  # sawtooth glottal source
    source = source + voice.breath * rng.standard_normal(n)
    half = n // 2
    out = np.zeros(n)
    for vowel, part in (("a", slice(0, half)), ("i", slice(half, n))):
        y = source[part]
        for k, formant in enumerate(VOWELS[vowel]):
            y = _resonate(y, formant * voice.formant_scale, 80.0 + 40 * k)
        out[part] = y
    ramp = np.minimum(1.0, np.minimum(np.arange(n), n - np.arange(n)) / (0.03 * SR))
    out *= ramp
    return out / (np.max(np.abs(out)) + 1e-12)


def utterance(voice: Voice, rng: np.random.Generator) -> np.ndarray:
    """The whole wake word: the speaker's syllable, a short gap, then the chirp keyword."""
    gap = np.zeros(int(rng.uniform(0.02, 0.06) * SR))
    return np.concatenate([syllable(voice, rng), gap, synthetic.keyword(rng)])


def place(
    sound: np.ndarray, n: int, offset: int, rng: np.random.Generator, dbfs: float
) -> np.ndarray:
    """``sound`` at ``dbfs`` peak, starting at sample ``offset`` (may be negative) of ``n``
    samples of a faint noise floor; int16."""
    audio = synthetic.pink_noise(rng, n) * synthetic.FULL_SCALE * 10 ** (rng.uniform(-70, -55) / 20)
    level = synthetic.FULL_SCALE * 10 ** (dbfs / 20)
    lo, hi = max(0, offset), min(n, offset + len(sound))
    if hi > lo:
        audio[lo:hi] += level * sound[lo - offset : hi - offset]
    return np.clip(np.rint(audio), -32768, 32767).astype(np.int16)


def window_clip(voice: Voice, rng: np.random.Generator, n: int) -> np.ndarray:
    """One training window: an utterance ending 0..0.15 s before the window's end (where the
    keyword detector cuts it)."""
    sound = utterance(voice, rng)
    offset = n - len(sound) - int(rng.uniform(0.0, 0.15) * SR)
    return place(sound, n, offset, rng, rng.uniform(-20, -6))


def _equal_error_threshold(same: np.ndarray, different: np.ndarray) -> tuple[float, float]:
    """(threshold, EER) where false accepts of ``different`` equal false rejects of ``same``."""
    best = (1.0, 0.5)
    gap = 2.0
    for t in np.unique(np.concatenate([same, different])):
        fr, fa = float(np.mean(same < t)), float(np.mean(different >= t))
        if abs(fr - fa) < gap:
            gap, best = abs(fr - fa), (float(t), (fr + fa) / 2)
    return best


def train_tiny_speaker_model(
    out_dir: str | Path,
    seed: int = 0,
    *,
    speakers: int = 24,
    per_speaker: int = 24,
    heldout: int = 8,
    epochs: int = 15,
    config: TinySpeakerConfig = DEFAULT,
) -> dict[str, Any]:
    """Train the encoder and export it; returns ``model`` (path), ``threshold``, ``eer``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_training(seed)
    rng = np.random.default_rng(seed)
    n = (config.window_frames - 1) * FEATURES.frame_step + FEATURES.frame_length
    voices = [random_voice(rng) for _ in range(speakers + heldout)]
    clips, ids = [], []
    for index, voice in enumerate(voices):
        for _ in range(per_speaker):
            clips.append(window_clip(voice, rng, n))
            ids.append(index)
    x = clip_features(clips)
    y = np.array(ids)
    train = y < speakers

    encoder = build_encoder(config, FEATURES.num_features, config.embedding_dim)
    encoder.get_layer("normalize").adapt(x[train])
    frames = keras.Input((config.window_frames, FEATURES.num_features))
    scaled = keras.layers.Rescaling(10.0)(encoder(frames))  # normalized softmax, scale 10
    logits = keras.layers.Dense(speakers, use_bias=False, activation="softmax")(scaled)
    classifier = keras.Model(frames, logits)
    classifier.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy"
    )
    start = time.perf_counter()
    classifier.fit(x[train], y[train], batch_size=32, epochs=epochs, verbose=0, shuffle=True)
    train_s = time.perf_counter() - start

    emb = encoder.predict(x[~train], batch_size=100, verbose=0)
    who = y[~train]
    sims = emb @ emb.T
    upper = np.triu(np.ones_like(sims, dtype=bool), k=1)
    same = sims[upper & (who[:, None] == who[None, :])]
    different = sims[upper & (who[:, None] != who[None, :])]
    threshold, eer = _equal_error_threshold(same, different)
    threshold = float(np.clip(threshold, 0.0, 1.0))
    print(
        f"tiny speaker encoder: held-out EER {eer:.3f} at cosine {threshold:.3f} "
        f"({heldout} unseen speakers), trained in {train_s:.1f} s"
    )
    summary = {
        "data": f"training.tiny_speaker seed {seed}: {speakers} speakers x {per_speaker} "
        f"utterances, {heldout} held out",
        "model": "tiny_speaker",
        "loss": "normalized softmax (scale 10)",
        "config": {"filters": list(config.filters), "embedding_dim": config.embedding_dim},
        "heldout_eer": eer,
        "fingerprint": f"tiny_speaker-seed{seed}",
        "train_seconds": round(train_s, 2),
    }
    metadata = ModelMetadata(
        name="tiny_speaker",
        task="speaker",
        labels=("embedding",),
        features=FEATURES,
        window_frames=config.window_frames,
        stride_frames=config.window_frames // 4,
        streaming=False,
        quantization="float32",
        thresholds={"embedding": Threshold(threshold)},
        output_name="embedding",
        training=summary,
    )
    path = out / "speaker.tflite"
    atomic_write_bytes(path, export_tflite(encoder, config, metadata, "window"))
    return {"model": path, "threshold": threshold, "eer": eer}


def write_utterances(
    voice: Voice, count: int, folder: str | Path, seed: int, prefix: str = "take"
) -> list[Path]:
    """``count`` WAV files of ``voice`` saying the wake word (1.2 s each), for enrollment."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        n = int(1.2 * SR)
        sound = utterance(voice, rng)
        audio = place(sound, n, int(0.1 * SR), rng, -10.0)
        paths.append(folder / f"{prefix}{i}.wav")
        write_wav(paths[-1], audio, SR)
    return paths


def speaker_stream(
    voices: list[Voice], onsets: list[float], seconds: float, seed: int
) -> np.ndarray:
    """``seconds`` of faint noise with ``voices[i]`` saying the wake word at ``onsets[i]``."""
    rng = np.random.default_rng(seed)
    total = int(seconds * SR)
    audio = place(np.zeros(1), total, 0, rng, -90.0).astype(np.float64)
    for voice, onset in zip(voices, onsets, strict=True):
        sound = utterance(voice, rng) * synthetic.FULL_SCALE * 10 ** (-10 / 20)
        start = int(onset * SR)
        audio[start : start + len(sound)] += sound
    return np.clip(np.rint(audio), -32768, 32767).astype(np.int16)


def main(argv: list[str] | None = None) -> int:
    """``python -m training.tiny_speaker --out DIR``: train and write the demo encoder."""
    from training.core.tiny_models import tiny_cli

    return tiny_cli(train_tiny_speaker_model, main.__doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
