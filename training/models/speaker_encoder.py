"""Speaker encoder: log-mel frames of one window -> an L2-normalized d-vector.

Fixed feature normalization -> ``len(channels)`` blocks of Conv2D 3x3 (same padding) + batch
norm + ReLU + 2x2 max-pool over (time, frequency) -> (time, freq * channels) -> temporal mean
pooling (so the embedding summarises the whole window, not its last frames) -> Dense(hidden,
relu) -> Dense(embedding_dim) -> L2 normalization. Window form only: a speaker model is run on
windows every ``stride_frames`` and the unit vectors averaged (:mod:`kws.speaker`); it is
trained on crops of exactly ``window_frames`` frames so training sees what the runtime feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

from training.models.layers import FeatureNormalization
from training.models.registry import register_model


@keras.saving.register_keras_serializable(package="kws")
class L2Normalize(keras.layers.Layer):
    """Rows scaled to unit length (TFLite's L2_NORMALIZATION op after conversion)."""

    def call(self, inputs: Any) -> Any:
        return keras.ops.normalize(inputs, axis=-1, order=2)


@keras.saving.register_keras_serializable(package="kws")
class WindowMeanNorm(keras.layers.Layer):
    """[batch, time, bands] minus its mean over time (per band)."""

    def call(self, inputs: Any) -> Any:
        return inputs - keras.ops.mean(inputs, axis=1, keepdims=True)


@keras.saving.register_keras_serializable(package="kws")
class StatsPooling(keras.layers.Layer):
    """[batch, time, units] -> [batch, 2 * units]: mean and standard deviation over time."""

    def call(self, inputs: Any) -> Any:
        mean = keras.ops.mean(inputs, axis=1)
        var = keras.ops.mean(keras.ops.square(inputs), axis=1) - keras.ops.square(mean)
        return keras.ops.concatenate([mean, keras.ops.sqrt(keras.ops.maximum(var, 0.0) + 1e-5)], -1)


@dataclass(frozen=True)
class SpeakerEncoderConfig:
    """Hyper-parameters of the speaker encoder."""

    channels: tuple[int, ...] = (32, 48, 64)
    """Output channels of each conv block; each block halves time and frequency."""
    hidden_units: int = 128
    """Units of the dense layer after temporal pooling."""
    embedding_dim: int = 64
    """Size of the d-vector (the model's output width)."""
    window_frames: int = 96
    """Frames per window (T): training crops and runtime windows both have this length."""
    stride_frames: int = 48
    """Hop between windows when an utterance is embedded (metadata stride_frames)."""
    window_mean_norm: bool = False
    """Subtract each band's mean over the window before the convolutions (cepstral mean
    normalization: a fixed microphone or channel colouring is a constant per band in log-mel)."""
    stats_pooling: bool = False
    """Pool the mean and the standard deviation over time (x-vector statistics pooling), not
    only the mean."""

    def __post_init__(self) -> None:
        problems = []
        for key in ("hidden_units", "embedding_dim", "window_frames", "stride_frames"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                problems.append(f"{key} must be a positive integer, got {value!r}")
        if not self.channels or not all(isinstance(c, int) and c >= 1 for c in self.channels):
            problems.append(f"channels must be positive integers, got {self.channels!r}")
        if not problems and self.window_frames < 2 ** len(self.channels):
            problems.append(
                f"window_frames {self.window_frames} is too short for {len(self.channels)} "
                "pooling blocks"
            )
        if not problems and self.stride_frames > self.window_frames:
            problems.append("stride_frames must not exceed window_frames")
        if problems:
            raise ValueError("invalid SpeakerEncoderConfig: " + "; ".join(problems))

    def check_input(self, num_features: int) -> None:
        """Raise ValueError if ``num_features`` cannot be pooled by every block."""
        if num_features < 2 ** len(self.channels):
            raise ValueError(
                f"invalid SpeakerEncoderConfig: {num_features} features per frame are too few "
                f"for {len(self.channels)} pooling blocks"
            )


@register_model("speaker_encoder", SpeakerEncoderConfig)
def build_speaker_encoder(
    config: SpeakerEncoderConfig, num_features: int, num_labels: int = 0, *, unroll: bool = False
) -> keras.Model:
    """The window form: frames [batch, window_frames, num_features] -> embedding [batch, D].

    ``num_labels`` is accepted for the registry's signature; a speaker model's output width is
    ``embedding_dim`` (0 or ``embedding_dim`` are accepted). ``unroll`` has no effect (no loops).
    """
    del unroll
    config.check_input(num_features)
    if num_labels not in (0, config.embedding_dim):
        raise ValueError(
            f"speaker encoder output width is embedding_dim {config.embedding_dim}, "
            f"not {num_labels}"
        )
    frames = keras.Input((config.window_frames, num_features), name="frames")
    x = FeatureNormalization(num_features, name="normalize")(frames)
    if config.window_mean_norm:
        x = WindowMeanNorm(name="window_mean_norm")(x)
    x = keras.layers.Reshape((config.window_frames, num_features, 1))(x)
    for i, channels in enumerate(config.channels):
        x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    steps, freq, channels = x.shape[1], x.shape[2], x.shape[3]
    x = keras.layers.Reshape((steps, freq * channels))(x)
    if config.stats_pooling:
        x = StatsPooling(name="stats_pool")(x)
    else:
        x = keras.layers.GlobalAveragePooling1D(name="temporal_pool")(x)
    x = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(x)
    x = keras.layers.Dense(config.embedding_dim, name="embedding")(x)
    embedding = L2Normalize(name="l2_normalize")(x)
    return keras.Model(frames, embedding, name="speaker_encoder")
