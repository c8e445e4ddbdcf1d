"""Clips from a fold dataset, their model inputs (with background-mixed copies), random training
crops with mixup, and the evaluation crops a clip's prediction averages over.

A clip's "view" is a [steps, width] array: log-mel frames from :func:`kws.features.
compute_features` (the runtime's frontend), or, for a raw-audio front end, the audio cut into
hops of ``frontend_stride`` samples. Crops are ``window_frames`` steps of a view; crops never
start in a clip's trailing padding (ESC-50 pads short clips with digital silence).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from kws.errors import KwsError
from kws.features import FeatureConfig, compute_features
from training.data.augment import mix_at_snr, spec_augment
from training.data.loaders import iter_audio, load_dataset
from training.data.signals import BACKGROUNDS, as_float32, to_int16

BACKGROUND_KINDS = ("white", "pink", "brown", "music", "chords", "drums")
"""Generated backgrounds mixed into training copies (indoor hum, wind-like, music)."""
SILENCE_PEAK = 1e-4
"""A trailing stretch whose |sample| stays below this (float) is padding, not sound."""


@dataclass(frozen=True)
class Clips:
    """Decoded clips of a fold dataset (int16, 16 kHz) with labels and folds."""

    audio: list[np.ndarray]
    labels: np.ndarray
    """Class index per clip, into ``classes``."""
    folds: np.ndarray
    classes: tuple[str, ...]
    names: tuple[str, ...]
    """File names, for reports."""


def load_clips(dataset: str, root: str | os.PathLike[str]) -> Clips:
    """Every decodable clip of ``dataset`` at ``root`` (classes sorted by name)."""
    pairs = list(tqdm(iter_audio(load_dataset(dataset, root)), desc="clips", unit="clip"))
    if not pairs:
        raise KwsError(f"{root}: no clips found for dataset {dataset}")
    classes = tuple(sorted({e.label for e, _ in pairs}))
    return Clips(
        audio=[a for _, a in pairs],
        labels=np.array([classes.index(e.label) for e, _ in pairs]),
        folds=np.array([e.fold for e, _ in pairs]),
        classes=classes,
        names=tuple(e.path.name for e, _ in pairs),
    )


def gain_kind(features: FeatureConfig, model_config: Any) -> str:
    """How a level change shows in a view (see :func:`training_batch`)."""
    if getattr(model_config, "frontend", "features") == "raw":
        return "raw"
    return "logmel" if features.numcep == 0 else "none"


def view(audio: np.ndarray, features: FeatureConfig, model_config: Any) -> np.ndarray:
    """A clip's model input over its whole length, [steps, width] float32."""
    if getattr(model_config, "frontend", "features") == "raw":
        hop = model_config.frontend_stride
        samples = as_float32(audio)
        steps = len(samples) // hop
        return samples[: steps * hop].reshape(steps, hop)
    return compute_features(features, audio).astype(np.float32)


def active_steps(audio: np.ndarray, steps: int) -> int:
    """Steps of a view up to the last non-silent sample (at least 1)."""
    loud = np.flatnonzero(np.abs(as_float32(audio)) > SILENCE_PEAK)
    if not len(loud):
        return 1
    return max(1, min(steps, int(np.ceil((loud[-1] + 1) / len(audio) * steps))))


def pad_steps(x: np.ndarray, steps: int) -> np.ndarray:
    """``x`` zero-padded at the end to at least ``steps`` rows."""
    if len(x) >= steps:
        return x
    return np.concatenate([x, np.zeros((steps - len(x), x.shape[1]), x.dtype)])


def normalize_loudness(audio: np.ndarray, dbfs: float) -> np.ndarray:
    """``audio`` (int16) scaled so that its sounding part (up to the last non-silent sample) has
    an RMS of ``dbfs``, without letting its peak exceed full scale; silence is returned as is."""
    samples = as_float32(audio)
    loud = np.flatnonzero(np.abs(samples) > SILENCE_PEAK)
    if not len(loud):
        return audio
    rms = float(np.sqrt(np.mean(np.square(samples[: loud[-1] + 1], dtype=np.float64))))
    gain = min(10.0 ** (dbfs / 20.0) / max(rms, 1e-9), 0.99 / float(np.max(np.abs(samples))))
    return to_int16(samples * gain)


def real_background(ambience: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples (float32) of a random clip of ``ambience`` from a random offset, repeated
    to length (recordings are loops or long ambiences)."""
    clip = as_float32(ambience[int(rng.integers(len(ambience)))])
    loud = np.flatnonzero(np.abs(clip) > SILENCE_PEAK)
    clip = clip[: loud[-1] + 1] if len(loud) else clip
    start = int(rng.integers(len(clip)))
    return np.resize(np.roll(clip, -start), n)


def background_copy(
    audio: np.ndarray,
    rng: np.random.Generator,
    snr_db: tuple[float, float],
    ambience: list[np.ndarray] | None = None,
):
    """``audio`` (int16) mixed at a random SNR with a background, int16: half the time (when
    ``ambience`` clips are given) a real one from them, otherwise a generated one."""
    if ambience and rng.random() < 0.5:
        noise = real_background(ambience, len(audio), rng)
    else:
        kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
        noise = BACKGROUNDS[kind](len(audio) / 16000, rng)[: len(audio)]
    signal = as_float32(audio)
    if not np.any(signal) or not np.any(noise):
        return audio
    return to_int16(mix_at_snr(signal, noise, float(rng.uniform(*snr_db))))


@dataclass
class Views:
    """Per clip: the clean view first, then background-mixed copies; and the active steps."""

    views: list[list[np.ndarray]]
    active: np.ndarray

    def subset(self, indices: np.ndarray) -> Views:
        return Views([self.views[i] for i in indices], self.active[indices])


def make_views(
    clips: Clips,
    indices: np.ndarray,
    features: FeatureConfig,
    model_config: Any,
    copies: int,
    snr_db: tuple[float, float],
    rng: np.random.Generator,
    ambience: list[np.ndarray] | None = None,
    loudness_dbfs: float | None = None,
) -> Views:
    """Views of the clips ``indices`` with ``copies`` background-mixed variants each (real
    backgrounds drawn from ``ambience`` half the time), each clip first brought to
    ``loudness_dbfs`` if given."""
    window = model_config.window_frames
    views, active = [], []
    for i in tqdm(indices, desc="views", unit="clip", leave=False):
        audio = clips.audio[i]
        if loudness_dbfs is not None:
            audio = normalize_loudness(audio, loudness_dbfs)
        variants = [audio] + [background_copy(audio, rng, snr_db, ambience) for _ in range(copies)]
        clip_views = [pad_steps(view(a, features, model_config), window) for a in variants]
        views.append(clip_views)
        active.append(active_steps(audio, len(clip_views[0])))
    return Views(views, np.array(active))


def training_batch(
    views: Views,
    targets: np.ndarray,
    window: int,
    crops_per_clip: int,
    rng: np.random.Generator,
    mixup_alpha: float,
    masks: bool,
    freq_masks: bool = True,
    gain_db: tuple[float, float] = (0.0, 0.0),
    gain: str = "none",
    channel_db: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of random crops (a random variant, a start within the active part), with a
    random gain, a random channel (log-mel only, see :func:`random_channel`), SpecAugment masks
    and mixup; ``targets`` are one-hot rows, mixed like the inputs. ``gain`` says how a gain
    acts on a view: 'logmel' adds its log power ratio to every band, 'raw' scales the samples,
    'none' (MFCC) skips it."""
    xs, ys = [], []
    for clip, target, active in zip(views.views, targets, views.active, strict=True):
        for _ in range(crops_per_clip):
            v = clip[int(rng.integers(len(clip)))]
            last = max(0, min(active, len(v)) - window // 2, 0)
            start = int(rng.integers(0, min(last, len(v) - window) + 1))
            crop = v[start : start + window]
            db = rng.uniform(*gain_db)
            if gain == "logmel":
                crop = crop + np.float32(db * np.log(10.0) / 10.0)
            elif gain == "raw":
                crop = crop * np.float32(10.0 ** (db / 20.0))
            if channel_db > 0 and gain == "logmel":
                crop = random_channel(crop, channel_db, rng)
            if masks:
                crop = spec_augment(crop, rng, freq_masks=2 if freq_masks else 0)
            xs.append(crop)
            ys.append(target)
    x, y = np.stack(xs), np.stack(ys).astype(np.float32)
    if mixup_alpha > 0:
        lam = rng.beta(mixup_alpha, mixup_alpha, size=len(x)).astype(np.float32)
        lam = np.maximum(lam, 1 - lam)  # the first clip dominates
        partner = rng.permutation(len(x))
        x = lam[:, None, None] * x + (1 - lam[:, None, None]) * x[partner]
        y = lam[:, None] * y + (1 - lam[:, None]) * y[partner]
    return x.astype(np.float32), y


def random_channel(crop: np.ndarray, tilt_db: float, rng: np.random.Generator) -> np.ndarray:
    """A log-mel crop [frames, bands] (natural-log power) heard through another channel: a
    linear tilt of up to +-``tilt_db`` dB from the lowest band to the highest and, half the
    time, the bands from a random cutoff in the upper half up set to the crop's minimum (a
    band-limited recording)."""
    bands = crop.shape[1]
    tilt = rng.uniform(-tilt_db, tilt_db) * np.log(10.0) / 10.0
    out = crop + (tilt * np.linspace(-0.5, 0.5, bands)).astype(crop.dtype)
    if rng.random() < 0.5:
        cutoff = int(rng.integers(bands // 2, bands))
        out[:, cutoff:] = out.min()
    return out


def eval_crops(v: np.ndarray, active: int, window: int, hop: int) -> np.ndarray:
    """Crops every ``hop`` steps covering the clip's active part: [n, window, width]."""
    last = max(0, min(active, len(v)) - window)
    starts = list(range(0, last + 1, hop))
    if starts[-1] != last:
        starts.append(last)
    return np.stack([v[s : s + window] for s in starts])
