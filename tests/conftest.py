"""Shared fixtures. ``tiny_models`` trains the synthetic chirp model once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Paths of a freshly trained tiny keyword model: ``window``, ``streaming`` (float32),
    ``window_int8``, ``streaming_int8`` (.tflite, metadata embedded), ``stream_wav`` (20 s,
    4 keywords) and ``stream_json`` (its manifest).

    Needs TensorFlow (the ``train`` extra); tests using it should be marked ``slow``.
    """
    pytest.importorskip("tensorflow")
    from training.tiny import train_tiny_keyword_model

    return train_tiny_keyword_model(tmp_path_factory.mktemp("tiny_models"), seed=0, int8=True)
