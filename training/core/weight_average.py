"""An exponential moving average of the weights over training updates (Polyak averaging).

The raw weights after an epoch are one noisy point of a trajectory: validation FRR at 1 FA/h
jumped 38-90 % between epochs of the same run, so the checkpoint kept was partly luck. The
average over the last few hundred updates moves slowly and generalises at least as well, so
the loop evaluates, keeps and exports the average while training goes on from the raw weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class WeightAverage:
    """``decay`` per update, warmed up as TensorFlow's ExponentialMovingAverage with
    ``num_updates`` (min(decay, (1 + n) / (10 + n))) so early averages are not stuck at the
    initial weights."""

    def __init__(self, model: Any, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"[train] weight_average must be within (0, 1), got {decay}")
        self.model = model
        self.decay = decay
        self.updates = 0
        self.average = [np.array(w, dtype=np.float64) for w in model.get_weights()]

    def restart(self) -> None:
        """Average from the model's current weights on (a new mining round)."""
        self.updates = 0
        self.average = [np.array(w, dtype=np.float64) for w in self.model.get_weights()]

    def update(self) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for avg, w in zip(self.average, self.model.get_weights(), strict=True):
            avg *= d
            avg += (1.0 - d) * w

    def weights(self) -> list[np.ndarray]:
        """The averaged weights in the model's dtypes."""
        current = self.model.get_weights()
        return [a.astype(w.dtype) for a, w in zip(self.average, current, strict=True)]

    def callback(self) -> Any:
        """A Keras callback that updates the average after every training batch."""
        import keras

        owner = self

        class _Update(keras.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
                owner.update()

        return _Update()
