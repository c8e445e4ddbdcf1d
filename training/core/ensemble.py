"""The mean of several trained runs of one recipe as one model file: their networks side by side
on the same feature frames, one ``scores`` output that averages theirs.

Runs of one recipe that differ only in their training seed land a few points of FRR apart, and
the mean of their scores misses fewer wake words than any of them (benchmarks/results/retrained/
alexa/ensemble_of_seeds). One file keeps the runtime's contract: one frontend, one interpreter
call per stride, each member's streaming state carried under its own ``m<i>_`` names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kws.errors import KwsError
from kws.metadata import ModelMetadata, StateTensor
from kws.paths import portable_path
from training.core.config import TrainConfig
from training.core.run import (
    CALIBRATION_WINDOWS,
    load_run,
    run_features,
    run_metadata,
    test_engines,
    test_metrics,
)

SHARED = ("features", "window_frames", "stride_frames", "labels", "smoothing_s", "refractory_s")
"""What the members' exports must agree on to be averaged: the frames they hear, the labels they
score and how the detector smooths them."""


def member_state(index: int, state: StateTensor) -> StateTensor:
    """A member's state under the ensemble's names: ``m<index>_<name>``."""
    return StateTensor(f"m{index}_{state.input}", f"m{index}_{state.output}")


def mean_graph(members: Sequence[keras.Model], metadatas: Sequence[ModelMetadata]) -> keras.Model:
    """One Keras graph averaging the ``scores`` of built inference graphs of one form (window
    graphs: frames in, scores out; streaming graphs: dicts of frames and states)."""
    streaming = metadatas[0].streaming
    for index, member in enumerate(members):
        member.name = f"member{index}"  # nested graphs need names unique in the whole
    if not streaming:
        frames = keras.Input(tuple(members[0].inputs[0].shape[1:]), name="frames")
        scores = [member(frames) for member in members]
        return keras.Model(frames, keras.layers.Average(name="mean")(scores), name="mean")
    frames = keras.Input(tuple(members[0].input["frames"].shape[1:]), batch_size=1, name="frames")
    inputs: dict[str, Any] = {"frames": frames}
    outputs: dict[str, Any] = {}
    scores = []
    for index, (member, md) in enumerate(zip(members, metadatas, strict=True)):
        feeds: dict[str, Any] = {"frames": frames}
        for state in md.state_tensors:
            renamed = member_state(index, state)
            shape = tuple(member.input[state.input].shape[1:])
            feeds[state.input] = inputs[renamed.input] = keras.Input(
                shape, batch_size=1, name=renamed.input
            )
        out = member(feeds)
        scores.append(out["scores"])
        for state in md.state_tensors:
            outputs[member_state(index, state).output] = out[state.output]
    return keras.Model(
        inputs, {"scores": keras.layers.Average(name="mean")(scores), **outputs}, name="mean"
    )


def mean_metadata(metadatas: Sequence[ModelMetadata], training: dict[str, Any]) -> ModelMetadata:
    """The mean's metadata: the first member's, with every member's states under its own names
    and ``training`` as the record."""
    states = tuple(member_state(i, s) for i, md in enumerate(metadatas) for s in md.state_tensors)
    return dataclasses.replace(metadatas[0], state_tensors=states, training=training)


def _check_members(runs: Sequence[Path], metadatas: Sequence[ModelMetadata]) -> None:
    if len(runs) < 2:
        raise KwsError("a mean of runs needs at least two runs")
    first = metadatas[0]
    for run, md in zip(runs[1:], metadatas[1:], strict=True):
        differ = [k for k in SHARED if getattr(md, k) != getattr(first, k)]
        if differ:
            raise KwsError(
                f"{run}: its {', '.join(differ)} differ from {runs[0]}'s; only runs that hear "
                "the same frames and score the same labels can be averaged"
            )


def export_mean(
    runs: Sequence[Path], form: str, quantization: str
) -> tuple[bytes, TrainConfig, dict[str, Any]]:
    """The ``.tflite`` bytes of the mean of finished ``runs`` in ``form`` and ``quantization``,
    and the training config and metrics its record carries: the first run's config, and the
    mean's own test-clip metrics with each member's run, seed and metrics."""
    from training.core.tflite import convert_graph, inference_graph
    from training.models.registry import config_from_dict

    loaded = [load_run(run) for run in runs]
    metadatas = [
        run_metadata(config, corpus.labels, form, quantization, {})
        for config, _, corpus, _ in loaded
    ]
    _check_members(runs, metadatas)
    graphs = [
        inference_graph(model, config_from_dict(config.model, config.params), form, quantization)
        for config, model, _, _ in loaded
    ]
    config, _, corpus, _ = loaded[0]
    x, labels = run_features(config, corpus)
    probs = np.mean(
        [model.predict(x["test"], batch_size=256, verbose=0) for _, model, _, _ in loaded], axis=0
    )
    metrics = {
        **test_metrics(
            corpus.labels, probs, labels["test"], test_engines(corpus, len(labels["test"]))
        ),
        "clips": {split: len(values) for split, values in labels.items()},
        "train_seconds": round(sum(m["train_seconds"] for *_, m in loaded), 1),
        "params": int(sum(model.count_params() for _, model, _, _ in loaded)),
        "members": [
            {"run": portable_path(run), "seed": c.seed, "params": c.params, "metrics": m}
            for run, (c, _, _, m) in zip(runs, loaded, strict=True)
        ],
    }
    record = {
        "data": portable_path(config.corpus),
        "config": dataclasses.asdict(config),
        "metrics": metrics,
    }
    metadata = mean_metadata(metadatas, record)
    rng = np.random.default_rng(config.seed)
    representative = x["train"][rng.permutation(len(x["train"]))[:CALIBRATION_WINDOWS]]
    graph = mean_graph(graphs, metadatas)
    return convert_graph(graph, metadata, form, quantization, representative), config, metrics
