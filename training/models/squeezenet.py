"""A SqueezeNet-style clip classifier (Iandola et al. 2016): a 3x3 stem, then fire modules
(a 1x1 'squeeze' convolution feeding parallel 1x1 and 3x3 'expand' convolutions, concatenated),
max-pooling after every ``pool_every`` fires, and SqueezeNet's classifier: a 1x1 convolution to
one channel per label, global average pooling, softmax or sigmoid.

Input: frames [batch, window_frames, num_features] -> fixed normalization -> image
(time, features, 1); the stem is followed by one max-pool.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from training.models.classify import check_fields, pooled_size, raise_problems
from training.models.layers import FeatureNormalization
from training.models.registry import register_model


@dataclass(frozen=True)
class SqueezeNetConfig:
    """Hyper-parameters of the SqueezeNet-style network."""

    stem_filters: int = 32
    """Channels of the first 3x3 convolution."""
    squeeze: tuple[int, ...] = (8, 8, 16, 16)
    """Squeeze (1x1) channels of each fire module; one module per entry."""
    expand: tuple[int, ...] = (32, 32, 64, 64)
    """Expand channels of each fire module, per branch (the output has twice as many)."""
    pool: tuple[int, int] = (2, 2)
    """Max-pool after the stem and after every ``pool_every`` fires, in (frames, features)."""
    pool_every: int = 2
    """Fires between max-pools."""
    dropout: float = 0.3
    """Dropout before the classifier convolution (training only)."""
    head: str = "softmax"
    """'softmax' (one label per clip) or 'sigmoid' (independent tags)."""
    window_frames: int = 128
    """Frames in the input window."""

    def __post_init__(self) -> None:
        problems = check_fields(
            "SqueezeNetConfig",
            self,
            ("stem_filters", "pool_every", "window_frames"),
            ("squeeze", "expand", "pool"),
        )
        raise_problems("SqueezeNetConfig", problems)
        if len(self.squeeze) != len(self.expand) or not self.squeeze:
            problems.append(
                f"squeeze and expand must list the same number (>= 1) of fire modules, got "
                f"{len(self.squeeze)} and {len(self.expand)}"
            )
        if len(self.pool) != 2:
            problems.append(f"pool must be (frames, features), got {self.pool!r}")
        elif pooled_size(self.window_frames, [self.pool[0]] * self.pools) < 1:
            problems.append(
                f"pool {self.pool} applied {self.pools} times (pool_every) is larger than the "
                f"input's window_frames {self.window_frames}"
            )
        raise_problems("SqueezeNetConfig", problems)

    @property
    def pools(self) -> int:
        """Max-pools in the network: after the stem and after every pool_every-th fire but the
        last."""
        return 1 + (len(self.squeeze) - 1) // self.pool_every

    def check_input(self, num_features: int) -> None:
        """Raise ValueError if the pools shrink ``num_features`` features to nothing."""
        if pooled_size(num_features, [self.pool[1]] * self.pools) < 1:
            raise ValueError(
                f"invalid SqueezeNetConfig: pool {self.pool} applied {self.pools} times "
                f"(pool_every) is larger than the input's {num_features} features"
            )


def _fire(x: keras.KerasTensor, index: int, squeeze: int, expand: int) -> keras.KerasTensor:
    s = keras.layers.Conv2D(squeeze, 1, activation="relu", name=f"fire{index}_squeeze")(x)
    e1 = keras.layers.Conv2D(expand, 1, activation="relu", name=f"fire{index}_expand1")(s)
    e3 = keras.layers.Conv2D(
        expand, 3, padding="same", activation="relu", name=f"fire{index}_expand3"
    )(s)
    return keras.layers.Concatenate(name=f"fire{index}")([e1, e3])


@register_model("squeezenet", SqueezeNetConfig)
def build_squeezenet(
    config: SqueezeNetConfig, num_features: int, num_labels: int, *, unroll: bool = False
) -> keras.Model:
    """Window model: frames [batch, window_frames, num_features] -> scores [batch, labels]."""
    config.check_input(num_features)
    frames = keras.Input((config.window_frames, num_features), name="frames")
    x = FeatureNormalization(num_features, name="normalize")(frames)
    x = keras.layers.Reshape((config.window_frames, num_features, 1))(x)
    x = keras.layers.Conv2D(config.stem_filters, 3, padding="same", activation="relu", name="stem")(
        x
    )
    x = keras.layers.MaxPooling2D(config.pool, name="pool_stem")(x)
    fires = len(config.squeeze)
    for i, (squeeze, expand) in enumerate(zip(config.squeeze, config.expand, strict=True)):
        x = _fire(x, i, squeeze, expand)
        if (i + 1) % config.pool_every == 0 and i + 1 < fires:
            x = keras.layers.MaxPooling2D(config.pool, name=f"pool{i}")(x)
    x = keras.layers.Dropout(config.dropout)(x)
    x = keras.layers.Conv2D(num_labels, 1, name="classifier")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    scores = keras.layers.Activation(config.head, name="output")(x)
    return keras.Model(frames, scores, name="squeezenet")
