"""One way to seed a training process: the same seed gives the same weights and the same metrics.

Keras' global seed fixes initialisers, dropout and shuffling; TensorFlow's op determinism makes
the kernels themselves (multi-threaded reductions on the CPU among them) give the same sums on
every run, so a three-epoch model in a test cannot pass on one run and fail on the next.
"""

from __future__ import annotations


def seed_training(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
