"""Keras layers shared by model families."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

# Feature dimensions whose spread is below this are centred but not scaled (e.g. a constant
# filterbank channel), so the normalization never divides by ~0.
MIN_STD = 1e-3


@keras.saving.register_keras_serializable(package="kws")
class FeatureNormalization(keras.layers.Layer):
    """Fixed per-feature ``(x - mean) * scale``, with statistics taken from training data.

    The statistics are non-trainable weights, so they travel with the model into both export
    forms; until :meth:`adapt` is called the layer is the identity.
    """

    def __init__(self, num_features: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_features = num_features
        self.mean = self.add_weight(
            name="mean", shape=(num_features,), initializer="zeros", trainable=False
        )
        self.scale = self.add_weight(
            name="scale", shape=(num_features,), initializer="ones", trainable=False
        )

    def adapt(self, features: np.ndarray) -> None:
        """Set mean and 1/std per feature from ``features`` of shape [..., num_features]."""
        flat = np.asarray(features, dtype=np.float64).reshape(-1, self.num_features)
        std = flat.std(axis=0)
        self.mean.assign(flat.mean(axis=0).astype(np.float32))
        self.scale.assign((1.0 / np.maximum(std, MIN_STD)).astype(np.float32))

    def call(self, inputs: Any) -> Any:
        return (inputs - self.mean) * self.scale

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_features": self.num_features}
