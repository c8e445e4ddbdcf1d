"""The moving average of the weights that training evaluates, keeps and exports."""

from __future__ import annotations

import numpy as np
import pytest


def _model():  # type: ignore[no-untyped-def]
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def test_average_follows_every_update_with_the_warm_up() -> None:
    import keras

    from training.core.weight_average import WeightAverage

    model = _model()
    average = WeightAverage(model, decay=0.9)
    trajectory = [[w.copy() for w in model.get_weights()]]

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            trajectory.append([w.copy() for w in model.get_weights()])

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[average.callback(), Record()])
    assert average.updates == 20

    expected = [w.astype(np.float64) for w in trajectory[0]]
    for n, weights in enumerate(trajectory[1:], start=1):
        d = min(0.9, (1 + n) / (10 + n))
        expected = [d * e + (1 - d) * w for e, w in zip(expected, weights, strict=True)]
    for got, want, raw in zip(average.weights(), expected, model.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
        assert got.dtype == raw.dtype
    assert not np.allclose(average.weights()[0], model.get_weights()[0])  # it lags the raw ones

    average.restart()
    for got, raw in zip(average.weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, raw)


def test_constant_weights_average_to_themselves() -> None:
    from training.core.weight_average import WeightAverage

    model = _model()
    average = WeightAverage(model, decay=0.999)
    for _ in range(50):
        average.update()
    for got, raw in zip(average.weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(got, raw, rtol=1e-6)


@pytest.mark.parametrize("decay", [1.0, -0.1, 1.5])
def test_a_decay_outside_zero_one_is_refused_before_training(decay: float) -> None:
    from training.core.config import TrainConfig

    with pytest.raises(ValueError, match="weight_average must be within"):
        TrainConfig.from_dict({"name": "x", "corpus": "c", "weight_average": decay})
