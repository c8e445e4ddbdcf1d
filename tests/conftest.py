"""Shared fixtures. ``tiny_models`` trains the synthetic chirp model once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run: a fresh clone cannot fail by the luck of
# the draw (one did, on a score exactly at the threshold). Explore with --hypothesis-seed=N.
settings.register_profile("repeatable", derandomize=True)
settings.load_profile("repeatable")


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


@pytest.fixture(scope="session")
def tiny_environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A freshly trained tiny environment model (noise / tone / chirp, unknown when quiet):
    ``model`` (.tflite, window form, hop half a window), ``stream_wav`` (24 s: quiet, noise,
    tone, chirp, quiet) and ``stream_json`` (its segments). Needs TensorFlow: mark tests slow."""
    pytest.importorskip("tensorflow")
    from training.tiny_environment import train_tiny_environment_model

    return train_tiny_environment_model(tmp_path_factory.mktemp("tiny_environment"), seed=0)


@pytest.fixture(scope="session")
def tiny_speaker(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A freshly trained tiny speaker encoder on synthetic voices: ``model`` (.tflite path),
    ``threshold`` (its calibrated cosine) and ``eer`` (held-out). Needs TensorFlow: mark slow."""
    pytest.importorskip("tensorflow")
    from training.tiny_speaker import train_tiny_speaker_model

    return train_tiny_speaker_model(tmp_path_factory.mktemp("tiny_speaker"), seed=0)
