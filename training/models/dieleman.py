"""The network of Dieleman & Schrauwen 2014 ("End-to-end learning for music audio"), with
either of its two front ends, for the front-end experiment.

Front end 'features': the input is spectrogram frames [batch, window_frames, num_features]
(log-mel, window = filter length, hop = stride), normalized per feature. Front end 'raw': the
input is raw audio cut into non-overlapping hops, [batch, window_frames, frontend_stride]
samples (float, full scale 1); it is flattened and a learned strided 1-D convolution
(``frontend_filters`` filters of ``frontend_length`` samples, stride ``frontend_stride``,
causal padding so it yields window_frames steps) with a log(1 + ReLU) compression stands in for
the mel filterbank. Both continue through the same layers: ``conv_layers`` x (Conv1D(
``conv_filters``, ``kernel``, 'same' padding), ReLU, MaxPool1D(``pool``)), global average
pooling, a dense layer and the softmax or sigmoid head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

from kws.features import FeatureConfig
from training.models.classify import check_fields, output_layer, pooled_size, raise_problems
from training.models.layers import FeatureNormalization
from training.models.registry import register_model

FRONTENDS = ("features", "raw")


@keras.saving.register_keras_serializable(package="kws")
class LogCompression(keras.layers.Layer):
    """``log(1 + ReLU(x))``: the amplitude compression a log-mel spectrogram applies, learned
    filters in front of it."""

    def call(self, inputs: Any) -> Any:
        return keras.ops.log(1.0 + keras.ops.relu(inputs))


@dataclass(frozen=True)
class DielemanConfig:
    """Hyper-parameters; the paper's values are 2 layers of 32 filters of length 8, pool 4."""

    frontend: str = "features"
    """'features' (spectrogram frames in) or 'raw' (raw audio hops in)."""
    frontend_length: int = 512
    """Raw front end: filter length in samples (the spectrogram's window for 'features')."""
    frontend_stride: int = 256
    """Raw front end: stride in samples = samples per input frame (the spectrogram's hop)."""
    frontend_filters: int = 40
    """Raw front end: learned filters (the mel bands' counterpart)."""
    conv_filters: int = 32
    kernel: int = 8
    """Conv1D kernel in frames."""
    pool: int = 4
    """Max-pool after each convolution, in frames."""
    conv_layers: int = 2
    fc_units: int = 100
    dropout: float = 0.3
    head: str = "softmax"
    window_frames: int = 96
    """Input frames (spectrogram frames, or raw hops of frontend_stride samples)."""

    def __post_init__(self) -> None:
        ints = (
            "frontend_length", "frontend_stride", "frontend_filters", "conv_filters", "kernel",
            "pool", "conv_layers", "fc_units", "window_frames",
        )  # fmt: skip
        problems = check_fields("DielemanConfig", self, ints)
        raise_problems("DielemanConfig", problems)
        if self.frontend not in FRONTENDS:
            problems.append(f"frontend must be one of {FRONTENDS}, got {self.frontend!r}")
        if self.frontend_stride > self.frontend_length:
            problems.append(
                f"frontend_stride {self.frontend_stride} exceeds frontend_length "
                f"{self.frontend_length} (samples would be skipped)"
            )
        if self.frontend_length % self.frontend_stride:
            problems.append(
                f"frontend_length {self.frontend_length} is not a multiple of frontend_stride "
                f"{self.frontend_stride}"
            )
        if self.kernel > self.window_frames:
            problems.append(
                f"kernel {self.kernel} is larger than the input's window_frames "
                f"{self.window_frames}"
            )
        elif pooled_size(self.window_frames, [self.pool] * self.conv_layers) < 1:
            problems.append(
                f"pool {self.pool} over {self.conv_layers} conv_layers is larger than the "
                f"input's window_frames {self.window_frames}"
            )
        raise_problems("DielemanConfig", problems)

    def input_width(self, features: FeatureConfig) -> int:
        """Values per input frame: the features' count, or samples per hop for 'raw'."""
        return self.frontend_stride if self.frontend == "raw" else features.num_features

    def check_input(self, num_features: int) -> None:
        if self.frontend == "raw" and num_features != self.frontend_stride:
            raise ValueError(
                f"invalid DielemanConfig: a raw front end takes frontend_stride "
                f"{self.frontend_stride} samples per frame, got {num_features}"
            )


@register_model("dieleman", DielemanConfig)
def build_dieleman(
    config: DielemanConfig, num_features: int, num_labels: int, *, unroll: bool = False
) -> keras.Model:
    """Window model: [batch, window_frames, num_features] -> scores [batch, labels]."""
    config.check_input(num_features)
    frames = keras.Input((config.window_frames, num_features), name="frames")
    x = FeatureNormalization(num_features, name="normalize")(frames)
    if config.frontend == "raw":
        samples = config.window_frames * config.frontend_stride
        x = keras.layers.Reshape((samples, 1))(x)
        pad = config.frontend_length - config.frontend_stride
        if pad:
            x = keras.layers.ZeroPadding1D((pad, 0))(x)
        x = keras.layers.Conv1D(
            config.frontend_filters,
            config.frontend_length,
            strides=config.frontend_stride,
            name="frontend",
        )(x)
        x = LogCompression(name="compress")(x)
        x = keras.layers.BatchNormalization(name="frontend_bn")(x)
    for layer in range(config.conv_layers):
        x = keras.layers.Conv1D(
            config.conv_filters,
            config.kernel,
            padding="same",
            activation="relu",
            name=f"conv{layer}",
        )(x)
        x = keras.layers.MaxPooling1D(config.pool, name=f"pool{layer}")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(config.fc_units, activation="relu", name="fc")(x)
    x = keras.layers.Dropout(config.dropout)(x)
    return keras.Model(frames, output_layer(config.head, num_labels)(x), name="dieleman")
