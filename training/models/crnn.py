"""CRNN keyword model (Arik et al. 2017, "Convolutional Recurrent Neural Networks for
Small-Footprint Keyword Spotting"), in a window form and a streaming form with shared weights.

Window form: frames [batch, T, F] -> fixed normalization -> Conv2D over (time, freq) with causal
time padding (L_T - S_T zero frames on the left, valid in frequency), stride (S_T, S_F), ReLU ->
(time, freq * channels) -> R recurrent layers -> last step -> Dense(N_F, relu) -> softmax.

Streaming form: S_T new frames plus state in, scores plus new state out. The conv buffer holds the
previous L_T - S_T *normalized* frames, so its zero initial value is exactly the window form's
zero padding; each recurrent layer's state starts at zero as in the window form. Run from zero
state over a window, S_T frames per call, its last call equals the window form on that window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras

from kws.metadata import StateTensor
from training.models.classify import HEADS
from training.models.layers import FeatureNormalization
from training.models.registry import copy_weights, register_model

CELLS = ("gru", "lstm")
CONV_STATE = "state_conv"


@dataclass(frozen=True)
class CRNNConfig:
    """Hyper-parameters on the axes of the paper's grid (its symbols in brackets)."""

    conv_filters: int = 32
    """Convolution output channels (N_C)."""
    kernel: tuple[int, int] = (20, 5)
    """Convolution kernel in (frames, features) (L_T, L_F)."""
    stride: tuple[int, int] = (8, 2)
    """Convolution stride in (frames, features) (S_T, S_F); S_T is the model's frame stride."""
    rnn_layers: int = 2
    """Stacked recurrent layers (R)."""
    rnn_units: int = 32
    """Units per recurrent layer and direction (N_R)."""
    cell: str = "gru"
    """Recurrent cell: 'gru' (reset_after=True) or 'lstm'."""
    bidirectional: bool = False
    """Bidirectional recurrence; only unidirectional models have a streaming form."""
    fc_units: int = 64
    """Units of the fully connected layer before the output (N_F)."""
    window_frames: int = 96
    """Frames in the window form's input (T); a multiple of stride_t."""
    head: str = "softmax"
    """Output activation: 'softmax' (one label) or 'sigmoid' (independent tags)."""
    gate_max: float = 1.0
    """Recurrent gates are ``gate_max * sigmoid``. Below 1, a GRU unit keeps at most this share
    of its state per step (an LSTM cell through its forget gate), so whatever it heard fades:
    at 0.99 and 80 ms steps, by e^-1 every 8 s at the slowest. Trained on 1.44 s clips, a plain
    cell may learn units that hold their state for twenty minutes at run time; 1.0 is the plain
    cell."""

    def __post_init__(self) -> None:
        problems = []
        for key in ("conv_filters", "rnn_layers", "rnn_units", "fc_units", "window_frames"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                problems.append(f"{key} must be a positive integer, got {value!r}")
        for key in ("kernel", "stride"):
            value = getattr(self, key)
            if len(value) != 2 or not all(isinstance(v, int) and v >= 1 for v in value):
                problems.append(f"{key} must be two positive integers (time, freq), got {value!r}")
        if problems:  # the checks below need well-formed values
            raise ValueError("invalid CRNNConfig: " + "; ".join(problems))
        if not 0.0 < self.gate_max <= 1.0:
            problems.append(f"gate_max must be in (0, 1], got {self.gate_max!r}")
        if self.head not in HEADS:
            problems.append(f"head must be one of {HEADS}, got {self.head!r}")
        if self.cell not in CELLS:
            problems.append(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.stride_t > self.kernel_t:
            problems.append(
                f"stride time {self.stride_t} exceeds kernel time {self.kernel_t} "
                "(frames would be skipped)"
            )
        if self.kernel_t > self.window_frames:
            problems.append(
                f"kernel time {self.kernel_t} is larger than the input's "
                f"window_frames {self.window_frames}"
            )
        if self.window_frames % self.stride_t:
            problems.append(
                f"window_frames {self.window_frames} is not a multiple of stride time "
                f"{self.stride_t}"
            )
        if problems:
            raise ValueError("invalid CRNNConfig: " + "; ".join(problems))

    @property
    def kernel_t(self) -> int:
        return self.kernel[0]

    @property
    def kernel_f(self) -> int:
        return self.kernel[1]

    @property
    def stride_t(self) -> int:
        return self.stride[0]

    @property
    def stride_f(self) -> int:
        return self.stride[1]

    @property
    def buffer_frames(self) -> int:
        """Past frames the convolution needs besides the S_T new ones (L_T - S_T)."""
        return self.kernel_t - self.stride_t

    @property
    def streamable(self) -> bool:
        return not self.bidirectional

    def conv_out_features(self, num_features: int) -> int:
        """Frequency bins after the convolution, for ``num_features`` input features."""
        self.check_input(num_features)
        return (num_features - self.kernel_f) // self.stride_f + 1

    def check_input(self, num_features: int) -> None:
        """Raise ValueError if the kernel does not fit ``num_features`` features per frame."""
        if self.kernel_f > num_features:
            raise ValueError(
                f"invalid CRNNConfig: kernel freq {self.kernel_f} is larger than the input's "
                f"{num_features} features"
            )


def _rnn_layer(config: CRNNConfig, index: int, unroll: bool, **kwargs: Any) -> keras.layers.Layer:
    cls = keras.layers.GRU if config.cell == "gru" else keras.layers.LSTM
    extra: dict[str, Any] = {"reset_after": True} if config.cell == "gru" else {}
    if config.gate_max < 1.0:
        extra["recurrent_activation"] = _bounded_sigmoid(config.gate_max)
    return cls(config.rnn_units, unroll=unroll, name=f"rnn{index}", **extra, **kwargs)


def _bounded_sigmoid(limit: float) -> Callable[[Any], Any]:
    """A gate activation that never reaches 1: ``limit * sigmoid(x)``."""

    def gate(x: Any) -> Any:
        return keras.ops.sigmoid(x) * limit

    return gate


def _rnn_state_names(config: CRNNConfig, index: int) -> tuple[str, ...]:
    if config.cell == "gru":
        return (f"state_rnn{index}",)
    return (f"state_rnn{index}_h", f"state_rnn{index}_c")


def crnn_state_tensors(config: CRNNConfig) -> tuple[StateTensor, ...]:
    """The streaming form's states in order: conv buffer (if L_T > S_T), then per layer h (, c)."""
    names = [CONV_STATE] if config.buffer_frames else []
    for i in range(config.rnn_layers):
        names.extend(_rnn_state_names(config, i))
    return tuple(StateTensor(name, f"{name}_out") for name in names)


def build_crnn_streaming(config: CRNNConfig, window_model: keras.Model) -> keras.Model:
    """The streaming form of a (trained) window model, with its weights copied over.

    Inputs (batch 1, float32, zeros initially): ``frames`` [1, S_T, F]; ``state_conv``
    [1, L_T - S_T, F] (absent when L_T == S_T); GRU ``state_rnn{i}`` [1, N_R], or LSTM
    ``state_rnn{i}_h`` and ``state_rnn{i}_c`` [1, N_R]. Outputs: ``scores`` [1, labels] and
    ``<state>_out`` for every state input.
    """
    if not config.streamable:
        raise ValueError("invalid CRNNConfig: bidirectional models have no streaming form")
    num_features = int(window_model.inputs[0].shape[-1])
    num_labels = int(window_model.outputs[0].shape[-1])
    freq_out = config.conv_out_features(num_features)
    frames = keras.Input((config.stride_t, num_features), batch_size=1, name="frames")
    inputs: dict[str, Any] = {"frames": frames}
    outputs: dict[str, Any] = {}
    x = FeatureNormalization(num_features, name="normalize")(frames)
    if config.buffer_frames:
        buffer = keras.Input((config.buffer_frames, num_features), batch_size=1, name=CONV_STATE)
        inputs[CONV_STATE] = buffer
        x = keras.layers.Concatenate(axis=1)([buffer, x])
        outputs[f"{CONV_STATE}_out"] = keras.layers.Cropping1D((config.stride_t, 0))(x)
    x = keras.layers.Reshape((config.kernel_t, num_features, 1))(x)
    x = _conv(config)(x)
    x = keras.layers.Reshape((1, freq_out * config.conv_filters))(x)
    for i in range(config.rnn_layers):
        names = _rnn_state_names(config, i)
        states = [keras.Input((config.rnn_units,), batch_size=1, name=n) for n in names]
        inputs.update(zip(names, states, strict=True))
        layer = _rnn_layer(config, i, unroll=True, return_sequences=True, return_state=True)
        x, *new_states = layer(x, initial_state=states)
        outputs.update({f"{n}_out": s for n, s in zip(names, new_states, strict=True)})
    x = keras.layers.Reshape((config.rnn_units,))(x)
    scores = _head(config, num_labels)(x)
    model = keras.Model(inputs, {"scores": scores, **outputs}, name="crnn_streaming")
    copy_weights(window_model, model)
    return model


def _conv(config: CRNNConfig) -> keras.layers.Layer:
    return keras.layers.Conv2D(
        config.conv_filters, config.kernel, strides=config.stride, activation="relu", name="conv"
    )


def _head(config: CRNNConfig, num_labels: int) -> keras.Sequential:
    return keras.Sequential(
        [
            keras.layers.Dense(config.fc_units, activation="relu", name="fc"),
            keras.layers.Dense(num_labels, activation=config.head, name="output"),
        ],
        name="head",
    )


def _body(
    config: CRNNConfig,
    num_features: int,
    num_labels: int,
    frames: int | None,
    per_step: bool,
    unroll: bool = False,
) -> keras.Model:
    """Normalize -> causal conv -> recurrences -> head, over ``frames`` frames (None: any
    multiple of S_T); ``per_step`` keeps every recurrent step and applies the head to each."""
    freq_out = config.conv_out_features(num_features)
    inputs = keras.Input((frames, num_features), name="frames")
    x = FeatureNormalization(num_features, name="normalize")(inputs)
    x = keras.layers.Reshape((-1, num_features, 1))(x)
    if config.buffer_frames:
        x = keras.layers.ZeroPadding2D(((config.buffer_frames, 0), (0, 0)))(x)
    x = _conv(config)(x)
    x = keras.layers.Reshape((-1, freq_out * config.conv_filters))(x)
    for i in range(config.rnn_layers):
        last = i == config.rnn_layers - 1
        layer = _rnn_layer(config, i, unroll, return_sequences=per_step or not last)
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"birnn{i}")
        x = layer(x)
    scores = _head(config, num_labels)(x)
    return keras.Model(inputs, scores, name="crnn_sequence" if per_step else "crnn")


def build_crnn_sequence(config: CRNNConfig, num_features: int, num_labels: int) -> keras.Model:
    """The sequence form: [batch, frames, F] -> [batch, frames / S_T, labels]; step j equals
    the streaming form's j-th call from zero state (same layers, hence the same weights)."""
    if not config.streamable:
        raise ValueError("invalid CRNNConfig: bidirectional models cannot be trained as streams")
    return _body(config, num_features, num_labels, None, per_step=True)


@register_model(
    "crnn",
    CRNNConfig,
    streaming=build_crnn_streaming,
    state_tensors=crnn_state_tensors,
    sequence=build_crnn_sequence,
)
def build_crnn(
    config: CRNNConfig, num_features: int, num_labels: int, *, unroll: bool = False
) -> keras.Model:
    """The window form: frames [batch, window_frames, num_features] -> scores [batch, labels].

    ``unroll=False`` keeps the recurrence a loop, which traces ~10x faster for training and
    converts to one builtin WHILE op (float32 and int8_weights exports: 3-7x smaller files);
    ``unroll=True`` emits the cell once per step, which full-int8 export needs (the converter's
    calibration crashes on a WHILE body). The ``normalize`` layer is the identity until
    ``adapt``-ed on training features.
    """
    return _body(config, num_features, num_labels, config.window_frames, False, unroll)
