"""A small VGG-style clip classifier (Simonyan & Zisserman 2015, scaled down for log-mel
patches as in Hershey et al. 2017): blocks of 3x3 convolutions, each block followed by
max-pooling, then global average pooling, one dense layer and a softmax or sigmoid head.

Input: frames [batch, window_frames, num_features] -> fixed normalization -> image
(time, features, 1). Each block has ``convs_per_block`` 3x3 'same' convolutions with batch
normalization and ReLU (BN folds into the convolution at export) and a ``pool`` max-pool.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from training.models.classify import check_fields, output_layer, pooled_size, raise_problems
from training.models.layers import FeatureNormalization
from training.models.registry import register_model

BN_MOMENTUM = 0.9
"""Batch-norm moving-average momentum: small datasets give few steps, and Keras' 0.99 would
leave the inference statistics near their initial values."""


@dataclass(frozen=True)
class VGGConfig:
    """Hyper-parameters of the VGG-style network."""

    channels: tuple[int, ...] = (16, 32, 64)
    """Output channels of each block's convolutions; one block per entry."""
    convs_per_block: int = 2
    """3x3 convolutions per block (VGG's configurations use 1 to 4)."""
    pool: tuple[int, int] = (2, 2)
    """Max-pool after each block, in (frames, features)."""
    fc_units: int = 64
    """Units of the dense layer before the output."""
    dropout: float = 0.3
    """Dropout before the dense layer and before the output (training only)."""
    head: str = "softmax"
    """'softmax' (one label per clip) or 'sigmoid' (independent tags)."""
    window_frames: int = 128
    """Frames in the input window."""

    def __post_init__(self) -> None:
        problems = check_fields(
            "VGGConfig",
            self,
            ("convs_per_block", "fc_units", "window_frames"),
            ("channels", "pool"),
        )
        raise_problems("VGGConfig", problems)
        if len(self.pool) != 2:
            problems.append(f"pool must be (frames, features), got {self.pool!r}")
        elif not self.channels:
            problems.append("channels must name at least one block")
        elif pooled_size(self.window_frames, [self.pool[0]] * len(self.channels)) < 1:
            problems.append(
                f"pool {self.pool} over {len(self.channels)} blocks (channels) is larger than "
                f"the input's window_frames {self.window_frames}"
            )
        raise_problems("VGGConfig", problems)

    def check_input(self, num_features: int) -> None:
        """Raise ValueError if the pools shrink ``num_features`` features to nothing."""
        if pooled_size(num_features, [self.pool[1]] * len(self.channels)) < 1:
            raise ValueError(
                f"invalid VGGConfig: pool {self.pool} over {len(self.channels)} blocks "
                f"(channels) is larger than the input's {num_features} features"
            )


@register_model("vgg", VGGConfig)
def build_vgg(
    config: VGGConfig, num_features: int, num_labels: int, *, unroll: bool = False
) -> keras.Model:
    """Window model: frames [batch, window_frames, num_features] -> scores [batch, labels]."""
    config.check_input(num_features)
    frames = keras.Input((config.window_frames, num_features), name="frames")
    x = FeatureNormalization(num_features, name="normalize")(frames)
    x = keras.layers.Reshape((config.window_frames, num_features, 1))(x)
    for b, channels in enumerate(config.channels):
        for c in range(config.convs_per_block):
            x = keras.layers.Conv2D(
                channels, 3, padding="same", use_bias=False, name=f"conv{b}_{c}"
            )(x)
            x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{b}_{c}")(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D(config.pool, name=f"pool{b}")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(config.dropout)(x)
    x = keras.layers.Dense(config.fc_units, activation="relu", name="fc")(x)
    x = keras.layers.Dropout(config.dropout)(x)
    return keras.Model(frames, output_layer(config.head, num_labels)(x), name="vgg")
