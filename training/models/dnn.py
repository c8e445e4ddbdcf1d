"""DNN keyword baseline (Chen, Parada and Heigold 2014, "Small-footprint keyword spotting using
deep neural networks", ICASSP): stacked feature frames -> fully connected ReLU layers -> softmax.

The paper stacks 30 past and 10 future frames of 40 log-mel energies around each frame (41
frames) and feeds three hidden layers of 128 ReLU units. A streaming runtime cannot look ahead,
so here the stack is ``window_frames`` frames that all end at the newest frame: with the default
41 the input is the paper's, and the posterior for frame t is what the paper emits for frame
t - 10 (a fixed 100 ms delay, no information lost). Posterior smoothing, the paper's second
stage, is the runtime detector's job (metadata ``smoothing_s``), not part of the graph.

Window form: frames [batch, T, F] -> fixed normalization -> flatten -> hidden layers -> softmax.
Streaming form: S_T new frames plus a state holding the previous T - S_T *normalized* frames in,
scores plus the updated state out; once T frames have passed it equals the window form on the
last T frames (before that, the zero state stands for frames at the normalization mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from kws.metadata import StateTensor
from training.models.layers import FeatureNormalization
from training.models.registry import copy_weights, register_model

FRAMES_STATE = "state_frames"


@dataclass(frozen=True)
class DNNConfig:
    """Hyper-parameters of the stacked-frame DNN."""

    window_frames: int = 41
    """Frames stacked into one input (T); the paper's 30 past + current + 10 future = 41."""
    stride_t: int = 1
    """New frames per streaming call (S_T); the paper scores every 10 ms frame."""
    hidden_layers: int = 3
    """Fully connected ReLU layers."""
    hidden_units: int = 128
    """Units per hidden layer."""

    def __post_init__(self) -> None:
        problems = [
            f"{key} must be a positive integer, got {getattr(self, key)!r}"
            for key in ("window_frames", "stride_t", "hidden_layers", "hidden_units")
            if not isinstance(getattr(self, key), int)
            or isinstance(getattr(self, key), bool)
            or getattr(self, key) < 1
        ]
        if not problems and self.stride_t > self.window_frames:
            problems.append(
                f"stride_t {self.stride_t} exceeds window_frames {self.window_frames} "
                "(frames would be skipped)"
            )
        if problems:
            raise ValueError("invalid DNNConfig: " + "; ".join(problems))

    @property
    def buffer_frames(self) -> int:
        """Past frames the streaming state keeps (T - S_T)."""
        return self.window_frames - self.stride_t

    @property
    def streamable(self) -> bool:
        return self.buffer_frames > 0

    def check_input(self, num_features: int) -> None:
        """Raise ValueError if ``num_features`` is not a usable feature width."""
        if num_features < 1:
            raise ValueError(f"invalid DNNConfig: the input has {num_features} features")


def dnn_state_tensors(config: DNNConfig) -> tuple[StateTensor, ...]:
    """The streaming form's one state: the buffer of past normalized frames."""
    return (StateTensor(FRAMES_STATE, f"{FRAMES_STATE}_out"),)


def _classifier(config: DNNConfig, num_labels: int) -> keras.Sequential:
    hidden = [
        keras.layers.Dense(config.hidden_units, activation="relu", name=f"hidden{i}")
        for i in range(config.hidden_layers)
    ]
    output = keras.layers.Dense(num_labels, activation="softmax", name="output")
    return keras.Sequential([keras.layers.Flatten(), *hidden, output], name="classifier")


def build_dnn_streaming(config: DNNConfig, window_model: keras.Model) -> keras.Model:
    """The streaming form of a (trained) window model, with its weights copied over.

    Inputs (batch 1, float32, zeros initially): ``frames`` [1, S_T, F] and ``state_frames``
    [1, T - S_T, F]. Outputs: ``scores`` [1, labels] and ``state_frames_out``.
    """
    if not config.streamable:
        raise ValueError(
            "invalid DNNConfig: stride_t equal to window_frames leaves no state; "
            "the window form already is the streaming model"
        )
    num_features = int(window_model.inputs[0].shape[-1])
    num_labels = int(window_model.outputs[0].shape[-1])
    frames = keras.Input((config.stride_t, num_features), batch_size=1, name="frames")
    buffer = keras.Input((config.buffer_frames, num_features), batch_size=1, name=FRAMES_STATE)
    x = FeatureNormalization(num_features, name="normalize")(frames)
    x = keras.layers.Concatenate(axis=1)([buffer, x])
    new_buffer = keras.layers.Cropping1D((config.stride_t, 0))(x)
    scores = _classifier(config, num_labels)(x)
    model = keras.Model(
        {"frames": frames, FRAMES_STATE: buffer},
        {"scores": scores, f"{FRAMES_STATE}_out": new_buffer},
        name="dnn_streaming",
    )
    copy_weights(window_model, model)
    return model


@register_model("dnn", DNNConfig, streaming=build_dnn_streaming, state_tensors=dnn_state_tensors)
def build_dnn(
    config: DNNConfig, num_features: int, num_labels: int, *, unroll: bool = False
) -> keras.Model:
    """The window form: frames [batch, window_frames, num_features] -> scores [batch, labels].

    ``unroll`` is accepted for the registry's signature; the DNN has no loop to unroll.
    """
    config.check_input(num_features)
    frames = keras.Input((config.window_frames, num_features), name="frames")
    x = FeatureNormalization(num_features, name="normalize")(frames)
    scores = _classifier(config, num_labels)(x)
    return keras.Model(frames, scores, name="dnn")
