"""``python -m training.speaker CONFIG.toml --out RUN_DIR``: train a speaker encoder with triplet
or softmax + center loss on whole held-out speakers, calibrate its threshold and export it.

Data: any speaker-folder layout a loader of :mod:`training.data.loaders` reads (``source``:
``folders`` for ``python -m training.data asterisk``'s output, ``librispeech``, ``voxceleb``);
label = speaker. Speakers, never utterances, are split: the loader's split where every speaker
sits in one split and validation is non-empty, else a seeded hash of the speaker id.

Each step draws ``batch_speakers`` training speakers × ``batch_utterances`` utterances and a
random crop of ``window_frames`` frames from each (tiled when shorter, as :mod:`kws.speaker`
does), from the clean features and ``augment_copies`` augmented versions per utterance
(``augmentation = "room"``: room reverberation, noise at an SNR, gain; ``"channel"``: also an
equalizer, band limit, codec and real impulse responses, :mod:`training.speaker.channel`; never
speed or pitch, which change who is speaking).
Every ``eval_every`` steps, the validation EER is measured on seeded validation trials with the
runtime's embedding path (windows every ``stride_frames``, averaged unit vectors); the best
weights are kept. Then, with ``cepstral_numcep``, cepstral statistics are fitted on the training
speakers and fused at the weight the validation trials prefer (:mod:`training.speaker.cepstral`),
and with ``cohort_utterances`` a cohort of training-speaker means makes every score S-normalized
(:func:`kws.verification.s_norm`). The threshold written into the metadata is the score at which
the validation false-accept rate is at most ``target_far``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kws.atomic import atomic_write_bytes
from kws.errors import KwsError
from kws.features import FeatureConfig, Frontend
from kws.metadata import CepstralStats, ModelMetadata, Threshold
from kws.paths import portable_path
from kws.schema import field_names, reject_unknown_keys
from kws.speaker import l2_normalize, windows_of
from kws.verification import (
    enroll_vector,
    equal_error_rate,
    make_trials,
    min_dcf,
    s_norm,
    threshold_for_far,
)
from training.core.seeding import seed_training
from training.core.toml_config import read_toml
from training.speaker.cepstral import (
    choose_weight,
    fit_cepstral_stats,
    fused_embeddings,
    metadata_values,
)

LOSSES = ("triplet", "center")
SOURCES = ("folders", "librispeech", "voxceleb")
AUGMENTATIONS = ("room", "channel")
CALIBRATION_WINDOWS = 400
ROOM_BANK = 64
"""Simulated rooms the 'channel' augmentation draws from."""


@dataclass(frozen=True)
class SpeakerTrainConfig:
    """One speaker-encoder training run (keys of the TOML file)."""

    name: str
    """Model name in metadata, e.g. 'speaker'."""
    data: str
    """Dataset root (for ``folders``: the output of ``python -m training.data asterisk``).
    A relative path is taken from the current directory (run commands from the checkout);
    an absolute one inside it is kept relative (:func:`kws.paths.portable_path`), so the config
    recorded in results and metadata reads the same in every clone."""
    source: str = "folders"
    """Loader of :mod:`training.data.loaders`: 'folders', 'librispeech' or 'voxceleb'."""
    loss: str = "triplet"
    """'triplet' (FaceNet, semi-hard negatives) or 'center' (softmax + center loss)."""
    model: str = "speaker_encoder"
    params: dict[str, Any] = field(default_factory=dict)
    """The model family's config values (channels, embedding_dim, window_frames, ...)."""
    features: dict[str, Any] = field(default_factory=dict)
    """FeatureConfig values."""
    steps: int = 3000
    batch_speakers: int = 16
    batch_utterances: int = 4
    learning_rate: float = 1e-3
    margin: float = 0.2
    """Triplet margin α on squared distances of unit vectors (FaceNet used 0.2)."""
    center_weight: float = 0.01
    """λ of L_S + λ L_C (L_C summed over the batch, as in Wen et al.)."""
    center_alpha: float = 0.5
    """Rate α of the center update."""
    softmax_scale: float = 10.0
    """The classifier sees the unit embedding times this (unit vectors alone give logits too
    small for a confident softmax early in training)."""
    augment_copies: int = 1
    """Augmented versions of each training utterance, besides the clean one."""
    augmentation: str = "room"
    """'room' (reverberation, noise, gain) or 'channel' (:mod:`training.speaker.channel`: also
    a random equalizer, band limit and codec per copy, and real impulse responses)."""
    rirs: str = ""
    """A folder written by ``python -m training.data recordings``: its training impulse
    responses join the synthetic rooms of the 'channel' augmentation (empty: synthetic only)."""
    max_utterances: int = 400
    """At most this many utterances per speaker are used (seeded choice)."""
    validation_fraction: float = 0.1
    test_fraction: float = 0.15
    """Speaker shares for the hash split (used only when the loader's split is unusable)."""
    eval_every: int = 250
    validation_trials: int = 2000
    enroll_utterances: int = 3
    target_far: float = 0.01
    """False-accept rate on validation trials at which the shipped threshold is calibrated."""
    cepstral_numcep: int = 0
    """Cepstra c1..c(N-1) whose utterance mean and spread are fused into the embedding
    (:mod:`training.speaker.cepstral`); 0: the network's embedding alone."""
    cepstral_wccn: float = 0.1
    """Diagonal loading of the within-speaker scatter before it is whitened (standardized units)."""
    fusion_weights: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
    """Weights of the statistics tried on the validation trials, besides 0 (network alone)."""
    cohort_utterances: int = 0
    """Scores are S-normalized against the training speakers, each one vector: the mean of this
    many of its clean utterances' embeddings (seeded choice); 0: plain cosines."""
    seed: int = 0
    quantizations: tuple[str, ...] = ("float32", "int8")

    def __post_init__(self) -> None:
        problems = []
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.augmentation not in AUGMENTATIONS:
            problems.append(
                f"augmentation must be one of {AUGMENTATIONS}, got {self.augmentation!r}"
            )
        if self.source not in SOURCES:
            problems.append(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.batch_speakers < 2 or self.batch_utterances < 2:
            problems.append("batch_speakers and batch_utterances must be at least 2")
        if self.steps < 1 or self.eval_every < 1:
            problems.append("steps and eval_every must be positive")
        nfilt = self.feature_config().nfilt
        if self.cepstral_numcep == 1 or not 0 <= self.cepstral_numcep <= nfilt:
            problems.append(f"cepstral_numcep must be 0 or 2..nfilt, got {self.cepstral_numcep}")
        if self.cohort_utterances < 0:
            problems.append(f"cohort_utterances must be >= 0, got {self.cohort_utterances}")
        if self.cepstral_wccn < 0 or any(not w > 0 for w in self.fusion_weights):
            problems.append("cepstral_wccn must be >= 0 and fusion_weights positive")
        if not 0 < self.target_far < 1:
            problems.append(f"target_far must be in (0, 1), got {self.target_far}")
        if problems:
            raise ValueError("invalid speaker training config: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeakerTrainConfig:
        reject_unknown_keys("speaker training config", data, field_names(cls))
        values = dict(data)
        for key in ("quantizations", "fusion_weights"):
            if key in values:
                values[key] = tuple(values[key])
        if "data" in values:
            values["data"] = portable_path(values["data"])
        return cls(**values)

    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_dict(self.features)


def load_config(path: Path, overrides: list[str]) -> SpeakerTrainConfig:
    return SpeakerTrainConfig.from_dict(read_toml(path, overrides, "training config"))


def _hash_split(speaker: str, seed: int, validation: float, test: float) -> str:
    u = int.from_bytes(hashlib.sha256(f"{seed}/{speaker}".encode()).digest()[:8], "big") / 2**64
    return "test" if u < test else "validation" if u < test + validation else "train"


def speaker_splits(config: SpeakerTrainConfig) -> dict[str, dict[str, list[Path]]]:
    """split -> speaker -> audio files, whole speakers per split (see the module docstring)."""
    from training.data.loaders import DATASETS

    rng = np.random.default_rng(config.seed)
    by_speaker: dict[str, dict[str, list[Path]]] = {}
    for example in DATASETS[config.source](config.data):
        by_speaker.setdefault(example.label, {}).setdefault(example.split, []).append(example.path)
    usable = all(len(s) == 1 for s in by_speaker.values()) and any(
        "validation" in s for s in by_speaker.values()
    )
    splits: dict[str, dict[str, list[Path]]] = {"train": {}, "validation": {}, "test": {}}
    for speaker, parts in sorted(by_speaker.items()):
        split = next(iter(parts)) if usable else _hash_split(
            speaker, config.seed, config.validation_fraction, config.test_fraction
        )  # fmt: skip
        paths = sorted(p for ps in parts.values() for p in ps)
        if len(paths) > config.max_utterances:
            paths = [paths[i] for i in sorted(rng.permutation(len(paths))[: config.max_utterances])]
        splits.setdefault(split, {})[speaker] = paths
    for split in ("train", "validation"):
        if len(splits[split]) < 2:
            raise KwsError(f"{config.data}: {split} has {len(splits[split])} speakers, need 2+")
    return splits


def load_audio(path: Path) -> np.ndarray:
    """16 kHz int16 mono of any file the dataset loaders read (WAV, FLAC for LibriSpeech, ...)."""
    from kws.wavfile import to_mono_int16
    from training.data.loaders import read_audio

    return to_mono_int16(read_audio(path), 16000)


def _features(
    frontend: Frontend, paths: dict[str, list[Path]], desc: str
) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for speaker, files in tqdm(paths.items(), desc=desc, unit="speaker"):
        feats = [frontend.compute(load_audio(p)) for p in files]
        out[speaker] = [f for f in feats if len(f)]
    return out


def _rirs(folder: str) -> list[np.ndarray]:
    """The training-split impulse responses of a recordings folder (none for '')."""
    if not folder:
        return []
    from training.data.recordings import impulse_responses

    return impulse_responses(folder, "train")


def _augmented_features(
    frontend: Frontend, paths: dict[str, list[Path]], config: SpeakerTrainConfig
) -> dict[str, list[np.ndarray]]:
    """Features of ``augment_copies`` augmented versions of each file (reverb, noise, gain, and
    for 'channel' equalizer, band limit, codec; no speed or pitch: they change the voice).
    Noise is pink, brown, music-like or babble of 3-8 training talkers (whose voices are then
    in the background, not the foreground)."""
    from training.data import signals
    from training.data.augment import AugmentConfig, augment
    from training.speaker.channel import channel_augment, room_bank

    room = AugmentConfig(speed_p=0.0, pitch_p=0.0, shift_p=0.0, snr_db=(5.0, 25.0))
    rirs = _rirs(config.rirs) if config.augmentation == "channel" else []
    copies = config.augment_copies
    rng = np.random.default_rng(config.seed)
    files = [f for fs in paths.values() for f in fs]
    clips = [load_audio(files[i]) for i in rng.permutation(len(files))[:40]]
    backgrounds = [
        *(signals.babble(clips, 20.0, rng) for _ in range(3)),
        *(noise(20.0, rng) for noise in (signals.pink, signals.brown, signals.music)),
    ]
    rooms = room_bank(ROOM_BANK, rng) if config.augmentation == "channel" else []
    out: dict[str, list[np.ndarray]] = {}
    for speaker, files in tqdm(paths.items(), desc="augmenting", unit="speaker"):
        out[speaker] = []
        for path in files:
            audio = load_audio(path)
            for _ in range(copies):
                if config.augmentation == "channel":
                    noisy = channel_augment(
                        audio, rng, rirs=rirs, backgrounds=backgrounds, rooms=rooms
                    )
                else:
                    noisy = augment(audio, rng, room, backgrounds)
                out[speaker].append(frontend.compute(signals.to_int16(noisy)))
    return out


def _crop(frames: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    if len(frames) <= window:
        return windows_of(frames, window, window)[0]
    start = int(rng.integers(len(frames) - window + 1))
    return frames[start : start + window]


class Batches:
    """P speakers × K utterances per batch, a random window crop of each."""

    def __init__(
        self, pools: dict[str, list[np.ndarray]], config: SpeakerTrainConfig, window: int
    ) -> None:
        self.speakers = sorted(s for s, p in pools.items() if p)
        self.pools = [pools[s] for s in self.speakers]
        self.config = config
        self.window = window
        self.rng = np.random.default_rng(config.seed)

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        chosen = self.rng.choice(len(self.speakers), c.batch_speakers, replace=False)
        x, y = [], []
        for label in chosen:
            pool = self.pools[label]
            picks = self.rng.choice(
                len(pool), c.batch_utterances, replace=len(pool) < c.batch_utterances
            )
            for i in picks:
                x.append(_crop(pool[i], self.window, self.rng))
                y.append(label)
        return np.stack(x).astype(np.float32), np.asarray(y, np.int32)


def embed_utterances(
    model: Any, features: list[np.ndarray], window: int, stride: int
) -> np.ndarray:
    """[n, D] utterance embeddings by the runtime's rule (kws.speaker), with a Keras model."""
    windows = [windows_of(f, window, stride) for f in features]
    flat = np.concatenate(windows)
    out = l2_normalize(np.asarray(model.predict(flat, batch_size=256, verbose=0)))
    bounds = np.cumsum([0, *(len(w) for w in windows)])
    return l2_normalize(np.stack([out[a:b].mean(axis=0) for a, b in itertools.pairwise(bounds)]))


def score_trials(
    embeddings: dict[str, list[np.ndarray]], trials: list[Any], cohort: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Scores (cosine, or S-normalized against ``cohort`` as the runtime does) and same-speaker
    flags of trials over (speaker, index) keys."""
    scores, same = [], []
    for trial in trials:
        enroll = enroll_vector(np.stack([embeddings[s][i] for s, i in trial.enroll]))
        test = embeddings[trial.test[0]][trial.test[1]]
        scores.append(float(enroll @ test) if cohort is None else s_norm(enroll, test, cohort))
        same.append(trial.same)
    return np.asarray(scores), np.asarray(same)


def speaker_cohort(
    model: Any,
    clean: dict[str, list[np.ndarray]],
    config: SpeakerTrainConfig,
    window: int,
    stride: int,
    stats: CepstralStats | None,
) -> np.ndarray:
    """One unit vector per training speaker: the mean embedding (fused as the runtime fuses it)
    of ``cohort_utterances`` of its clean utterances, as the metadata will store it."""
    rng = np.random.default_rng(config.seed)
    chosen = {
        s: [f[i] for i in sorted(rng.permutation(len(f))[: config.cohort_utterances])]
        for s, f in sorted(clean.items())
        if f
    }
    emb = {s: list(embed_utterances(model, f, window, stride)) for s, f in chosen.items()}
    if stats is not None:
        emb = fused_embeddings(emb, chosen, stats, stats.weight)
    means = l2_normalize(np.stack([np.mean(e, axis=0) for e in emb.values()]))
    return np.asarray([metadata_values(v) for v in means])


def train(config: SpeakerTrainConfig, out: Path) -> dict[str, Any]:
    """Train, calibrate, export; write the run folder; return the metrics."""
    import keras
    import tensorflow as tf

    from training.models import get_model
    from training.models.registry import config_from_dict
    from training.speaker.losses import CenterLoss, triplet_semihard_loss

    features = config.feature_config()
    spec = get_model(config.model)
    model_config = config_from_dict(config.model, config.params)
    model_config.check_input(features.num_features)
    window, stride = model_config.window_frames, model_config.stride_frames
    splits = speaker_splits(config)
    frontend = Frontend(features)
    clean = _features(frontend, splits["train"], "train features")
    pools = {s: list(f) for s, f in clean.items()}
    if config.augment_copies:
        for s, f in _augmented_features(frontend, splits["train"], config).items():
            pools[s] += f
    val = _features(frontend, splits["validation"], "validation features")
    if len(pools) < config.batch_speakers:
        raise KwsError(
            f"{config.data}: {len(pools)} training speakers, fewer than batch_speakers "
            f"{config.batch_speakers}"
        )
    val_index = {s: [(s, i) for i in range(len(f))] for s, f in val.items()}
    trials = make_trials(val_index, config.validation_trials, config.enroll_utterances, config.seed)

    seed_training(config.seed)
    model = spec.build(model_config, features.num_features)
    sample = np.concatenate([f for fs in clean.values() for f in fs[:20]])
    model.get_layer("normalize").adapt(sample)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    num_speakers = len(pools)
    dim = model_config.embedding_dim
    classifier = keras.layers.Dense(num_speakers, name="classifier")
    classifier.build((None, dim))
    center = CenterLoss(num_speakers, dim, config.center_weight, config.center_alpha)
    variables = model.trainable_variables + (
        classifier.trainable_variables if config.loss == "center" else []
    )

    @tf.function
    def step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            emb = model(x, training=True)
            if config.loss == "triplet":
                loss = triplet_semihard_loss(y, emb, config.margin)
            else:
                loss = center(y, emb, classifier(emb * config.softmax_scale))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        if config.loss == "center":
            center.update(y, emb)
        return loss

    batches = Batches(pools, config, window)
    history: list[dict[str, float]] = []
    best = (np.inf, model.get_weights(), 0)
    start = time.perf_counter()
    losses: list[float] = []
    progress = tqdm(range(1, config.steps + 1), desc=f"training ({config.loss})", unit="step")
    for n in progress:
        x, y = batches()
        losses.append(float(step(tf.constant(x), tf.constant(y))))
        if n % config.eval_every == 0 or n == config.steps:
            emb = {s: list(embed_utterances(model, f, window, stride)) for s, f in val.items()}
            scores, same = score_trials(emb, trials)
            eer, _ = equal_error_rate(scores, same)
            row = {"step": n, "loss": float(np.mean(losses)), "val_eer": eer}
            history.append(row)
            losses = []
            progress.write(f"step {n}: loss {row['loss']:.4f} val EER {100 * eer:.2f}%")
            if eer < best[0]:
                best = (eer, model.get_weights(), n)
    model.set_weights(best[1])
    train_s = time.perf_counter() - start

    emb = {s: list(embed_utterances(model, f, window, stride)) for s, f in val.items()}
    stats, weight, fusion_eers = None, 0.0, {}
    if config.cepstral_numcep:
        fitted = fit_cepstral_stats(
            clean, config.cepstral_numcep, features.ceplifter, config.cepstral_wccn
        )

        def fused_eer(w: float) -> float:
            fused = fused_embeddings(emb, val, fitted, w)
            return equal_error_rate(*score_trials(fused, trials))[0]

        weight, fusion_eers = choose_weight((0.0, *config.fusion_weights), fused_eer)
        if weight > 0:
            stats = dataclasses.replace(fitted, weight=weight)
            emb = fused_embeddings(emb, val, stats, weight)
            print(f"cepstral statistics fused at weight {weight:g}: validation EER "
                  f"{100 * fusion_eers[0.0]:.2f}% -> {100 * fusion_eers[weight]:.2f}%")  # fmt: skip
    cohort = None
    if config.cohort_utterances:
        cohort = speaker_cohort(model, clean, config, window, stride, stats)
    scores, same = score_trials(emb, trials, cohort)
    eer, _ = equal_error_rate(scores, same)
    dcf, _ = min_dcf(scores, same)
    point = threshold_for_far(scores, same, config.target_far)
    threshold = float(np.clip(point.threshold, 0.0, 1.0))
    out.mkdir(parents=True, exist_ok=True)
    model.save_weights(out / "model.weights.h5")
    metrics = {
        "validation_eer": eer,
        "validation_min_dcf": dcf,
        "threshold": threshold,
        "threshold_target_far": config.target_far,
        "validation_far_at_threshold": point.far,
        "validation_frr_at_threshold": point.frr,
        "best_step": best[2],
        "fusion_weight": weight,
        "cohort_speakers": 0 if cohort is None else len(cohort),
        "fusion_validation_eers": {f"{w:g}": e for w, e in fusion_eers.items()},
        "train_seconds": round(train_s, 1),
        "params": int(model.count_params()),
        "speakers": {s: sorted(v) for s, v in splits.items()},
        "utterances": {s: sum(len(p) for p in v.values()) for s, v in splits.items()},
    }
    summary = {
        "data": f"{portable_path(config.data)} ({config.source})",
        "config": dataclasses.asdict(config),
        "metrics": {k: v for k, v in metrics.items() if k != "speakers"},
        "held_out_speakers": {s: sorted(splits[s]) for s in ("validation", "test")},
    }
    rng = np.random.default_rng(config.seed)
    crops = [_crop(f, window, rng) for fs in clean.values() for f in fs]
    representative = np.stack([crops[i] for i in rng.permutation(len(crops))[:CALIBRATION_WINDOWS]])
    metrics["files"] = export_run(
        model, model_config, config, threshold, representative, summary, out, stats, cohort
    )
    write_json(out / "metrics.json", metrics)
    write_json(out / "history.json", history)
    write_json(out / "config.json", dataclasses.asdict(config))
    return metrics


def export_run(
    model: Any,
    model_config: Any,
    config: SpeakerTrainConfig,
    threshold: float,
    representative: np.ndarray,
    summary: dict[str, Any],
    out: Path,
    stats: CepstralStats | None = None,
    cohort: np.ndarray | None = None,
) -> dict[str, str]:
    """Write ``<name>_<quantization>.tflite`` (window form) per quantization."""
    from training.core.tflite import export_tflite

    files = {}
    for quantization in config.quantizations:
        metadata = ModelMetadata(
            name=config.name,
            task="speaker",
            labels=("embedding",),
            features=config.feature_config(),
            window_frames=model_config.window_frames,
            stride_frames=model_config.stride_frames,
            streaming=False,
            quantization=quantization,
            thresholds={"embedding": Threshold(threshold)},
            output_name="embedding",
            training=summary,
            cepstral_stats=stats,
            cohort=() if cohort is None else tuple(tuple(float(x) for x in v) for v in cohort),
        )
        data = export_tflite(model, model_config, metadata, "window", quantization, representative)
        path = out / f"{config.name}_{quantization}.tflite"
        atomic_write_bytes(path, data)
        files[quantization] = path.name
        print(f"wrote {path} ({len(data)} bytes)")
    return files


def write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, json.dumps(value, indent=1).encode())
