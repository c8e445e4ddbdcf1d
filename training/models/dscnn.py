"""DS-CNN keyword model: a strided time convolution, then depthwise-separable blocks of causal,
dilated time convolutions (features as channels, as in microWakeWord's MixedNet and TC-ResNet),
pooled over the last steps, in a window form and a streaming form with shared weights.

Window form: frames [batch, T, F] -> fixed normalization -> the first (T - L) mod S frames
cropped -> Conv1D (kernel L, stride S, valid) -> BN -> ReLU -> per block: depthwise Conv1D
(kernel k, dilation d, valid) -> BN -> ReLU -> pointwise Conv1D -> BN -> ReLU -> the steps left
(``head_steps``) average-pooled or flattened -> Dense -> softmax. Every convolution is valid, so
the model sees exactly its window and no padding reaches the scores.

Streaming form: S new frames plus state in, scores plus new state out. Each convolution keeps the
inputs it still needs as a ring buffer (the first: L - S normalized frames; block i:
(k_i - 1) * d_i steps; the head: head_steps - 1 steps), so one call computes one step per layer.
Because the memory is finite, the streaming form at every call equals the window form on the last
T frames -- not only from zero state, also after hours of audio. Before T frames have arrived the
state is still partly its zero start (frames at the normalization mean, silent activations),
which no training window holds: scores of those first calls are not the window form's.

Sequence form (for training on long sequences): any multiple of S frames in, one score per step
out. Each convolution's input is left-padded with zeros as long as its streaming buffer and the
head averages or concatenates a sliding window of head_steps steps behind head_steps - 1 zeros, so
step j is the streaming form's j-th call from zero state, warm-up included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

from kws.metadata import StateTensor
from training.models.classify import check_fields, raise_problems
from training.models.layers import FeatureNormalization
from training.models.registry import copy_weights, register_model

POOLS = ("average", "flatten")
CONV_STATE = "state_conv"
HEAD_STATE = "state_head"
BN_MOMENTUM = 0.9
"""Batch-norm statistics follow the last ~10 batches (Keras' 0.99: ~100), so that a short run's
moving averages, which inference uses, have left their initial values."""


@dataclass(frozen=True)
class DSCNNConfig:
    """Hyper-parameters of the DS-CNN (times in feature frames or in steps of S frames)."""

    filters: int = 48
    """Output channels of the first, full convolution."""
    kernel: int = 5
    """Time kernel of the first convolution, in frames (L)."""
    stride_t: int = 3
    """Time stride of the first convolution (S): frames per step and per streaming call."""
    block_filters: tuple[int, ...] = (48, 48, 48, 48)
    """Pointwise output channels of each depthwise-separable block."""
    block_kernels: tuple[int, ...] = (5, 5, 5, 5)
    """Depthwise time kernel of each block, in steps."""
    block_dilations: tuple[int, ...] = (1, 2, 4, 2)
    """Depthwise dilation of each block, in steps."""
    pool: str = "average"
    """How the head joins the last block's steps: 'average' or 'flatten' (keeps their order)."""
    window_frames: int = 144
    """Frames in the window form's input (T); a multiple of stride_t."""
    head: str = "softmax"
    """Output activation: 'softmax' (one label) or 'sigmoid' (independent tags)."""

    def __post_init__(self) -> None:
        problems = check_fields(
            "DSCNNConfig",
            self,
            ("filters", "kernel", "stride_t", "window_frames"),
            ("block_filters", "block_kernels", "block_dilations"),
        )
        raise_problems("DSCNNConfig", problems)  # the checks below need well-formed values
        counts = {len(self.block_filters), len(self.block_kernels), len(self.block_dilations)}
        if len(counts) != 1:
            problems.append(
                "block_filters, block_kernels and block_dilations must have one entry per block, "
                f"got {len(self.block_filters)}, {len(self.block_kernels)}, "
                f"{len(self.block_dilations)}"
            )
        if self.pool not in POOLS:
            problems.append(f"pool must be one of {POOLS}, got {self.pool!r}")
        if self.stride_t > self.kernel:
            problems.append(
                f"stride_t {self.stride_t} exceeds kernel {self.kernel} (frames would be skipped)"
            )
        if self.window_frames % self.stride_t:
            problems.append(
                f"window_frames {self.window_frames} is not a multiple of stride_t {self.stride_t}"
            )
        if not problems and self.head_steps < 1:
            problems.append(
                f"window_frames {self.window_frames} is shorter than the receptive field of one "
                f"step ({self.kernel + self.stride_t * self.block_span} frames)"
            )
        raise_problems("DSCNNConfig", problems)

    @property
    def blocks(self) -> int:
        return len(self.block_filters)

    @property
    def block_span(self) -> int:
        """Past steps the blocks look back over: sum of (k - 1) * d."""
        return sum(
            (k - 1) * d for k, d in zip(self.block_kernels, self.block_dilations, strict=True)
        )

    @property
    def crop_frames(self) -> int:
        """Leading window frames the first convolution cannot use ((T - L) mod S)."""
        return (self.window_frames - self.kernel) % self.stride_t

    @property
    def conv_steps(self) -> int:
        """Steps the first convolution yields over the window."""
        return (self.window_frames - self.kernel) // self.stride_t + 1

    @property
    def head_steps(self) -> int:
        """Steps of the last block the head pools: what the valid convolutions leave."""
        return self.conv_steps - self.block_span

    @property
    def receptive_field_frames(self) -> int:
        """Frames the scores depend on: the window less the cropped frames."""
        return self.window_frames - self.crop_frames

    @property
    def buffer_frames(self) -> int:
        """Past frames the first convolution needs besides the S new ones (L - S)."""
        return self.kernel - self.stride_t

    @property
    def streamable(self) -> bool:
        return True

    def check_input(self, num_features: int) -> None:
        """Raise ValueError if ``num_features`` is not a usable feature width."""
        if num_features < 1:
            raise ValueError(f"invalid DSCNNConfig: the input has {num_features} features")


def _block_buffer(config: DSCNNConfig, index: int) -> int:
    return (config.block_kernels[index] - 1) * config.block_dilations[index]


def dscnn_state_tensors(config: DSCNNConfig) -> tuple[StateTensor, ...]:
    """The streaming form's ring buffers in order: first conv, blocks, head (empty ones left
    out)."""
    names = [CONV_STATE] if config.buffer_frames else []
    names += [f"state_block{i}" for i in range(config.blocks) if _block_buffer(config, i)]
    names += [HEAD_STATE] if config.head_steps > 1 else []
    return tuple(StateTensor(name, f"{name}_out") for name in names)


def _bn_relu(x: Any, name: str) -> Any:
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _first_conv(config: DSCNNConfig, x: Any) -> Any:
    conv = keras.layers.Conv1D(
        config.filters, config.kernel, strides=config.stride_t, use_bias=False, name="conv"
    )
    return _bn_relu(conv(x), "conv")


def _depthwise(config: DSCNNConfig, index: int, x: Any) -> Any:
    """Block ``index``'s depthwise convolution (valid, dilated) -> BN -> ReLU."""
    layer = keras.layers.DepthwiseConv1D(
        config.block_kernels[index],
        dilation_rate=config.block_dilations[index],
        use_bias=False,
        name=f"block{index}_dw",
    )
    return _bn_relu(layer(x), f"block{index}_dw")


def _pointwise(config: DSCNNConfig, index: int, x: Any) -> Any:
    layer = keras.layers.Conv1D(
        config.block_filters[index], 1, use_bias=False, name=f"block{index}_pw"
    )
    return _bn_relu(layer(x), f"block{index}_pw")


def _head(config: DSCNNConfig, num_labels: int, x: Any) -> Any:
    if config.pool == "average":
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    else:
        x = keras.layers.Flatten(name="pool")(x)
    return keras.layers.Dense(num_labels, activation=config.head, name="output")(x)


def build_dscnn_streaming(config: DSCNNConfig, window_model: keras.Model) -> keras.Model:
    """The streaming form of a (trained) window model, with its weights copied over.

    Inputs (batch 1, float32, zeros initially): ``frames`` [1, S, F]; ``state_conv``
    [1, L - S, F]; ``state_block{i}`` [1, (k_i - 1) * d_i, C_i-1]; ``state_head``
    [1, head_steps - 1, C_last] (each absent when empty). Outputs: ``scores`` [1, labels] and
    ``<state>_out`` for every state input.
    """
    num_features = int(window_model.inputs[0].shape[-1])
    num_labels = int(window_model.outputs[0].shape[-1])
    frames = keras.Input((config.stride_t, num_features), batch_size=1, name="frames")
    inputs: dict[str, Any] = {"frames": frames}
    outputs: dict[str, Any] = {}

    def ring(x: Any, name: str, steps: int, new: int) -> Any:
        """``x`` behind its state of ``steps`` past steps; the state output drops ``new``."""
        if not steps:
            return x
        state = keras.Input((steps, int(x.shape[-1])), batch_size=1, name=name)
        inputs[name] = state
        joined = keras.layers.Concatenate(axis=1, name=f"{name}_join")([state, x])
        outputs[f"{name}_out"] = keras.layers.Cropping1D((new, 0), name=f"{name}_next")(joined)
        return joined

    x = FeatureNormalization(num_features, name="normalize")(frames)
    x = _first_conv(config, ring(x, CONV_STATE, config.buffer_frames, config.stride_t))
    for i in range(config.blocks):
        x = _depthwise(config, i, ring(x, f"state_block{i}", _block_buffer(config, i), 1))
        x = _pointwise(config, i, x)
    x = ring(x, HEAD_STATE, config.head_steps - 1, 1)
    scores = _head(config, num_labels, x)
    model = keras.Model(inputs, {"scores": scores, **outputs}, name="dscnn_streaming")
    copy_weights(window_model, model)
    return model


def _zero_state(x: Any, steps: int, name: str) -> Any:
    """``x`` behind ``steps`` zero steps: what a zero-initialised ring buffer feeds its layer."""
    return keras.layers.ZeroPadding1D((steps, 0), name=name)(x) if steps else x


def _sequence_head(config: DSCNNConfig, num_labels: int, x: Any) -> Any:
    """Per step, the window head over that step and the head_steps - 1 before it (zeros before
    the start, as in ``state_head``): a sliding average, or the steps concatenated oldest first
    (the window form's Flatten order), then the same ``output`` Dense."""
    steps = config.head_steps
    x = _zero_state(x, steps - 1, "head_zero_state")
    if config.pool == "average":
        x = keras.layers.AveragePooling1D(steps, strides=1, name="pool")(x)
    elif steps > 1:
        shifted = [
            keras.layers.Cropping1D((t, steps - 1 - t), name=f"pool_step{t}")(x)
            for t in range(steps)
        ]
        x = keras.layers.Concatenate(axis=-1, name="pool")(shifted)
    return keras.layers.Dense(num_labels, activation=config.head, name="output")(x)


def build_dscnn_sequence(config: DSCNNConfig, num_features: int, num_labels: int) -> keras.Model:
    """The sequence form: frames [batch, frames, F] (a multiple of S) -> scores [batch,
    frames / S, labels]; step j equals the streaming form's j-th call from zero state, with the
    window form's layer names (hence its weights)."""
    config.check_input(num_features)
    frames = keras.Input((None, num_features), name="frames")
    x = FeatureNormalization(num_features, name="normalize")(frames)
    x = _first_conv(config, _zero_state(x, config.buffer_frames, "conv_zero_state"))
    for i in range(config.blocks):
        x = _zero_state(x, _block_buffer(config, i), f"block{i}_zero_state")
        x = _pointwise(config, i, _depthwise(config, i, x))
    scores = _sequence_head(config, num_labels, x)
    return keras.Model(frames, scores, name="dscnn_sequence")


@register_model(
    "dscnn",
    DSCNNConfig,
    streaming=build_dscnn_streaming,
    state_tensors=dscnn_state_tensors,
    sequence=build_dscnn_sequence,
)
def build_dscnn(
    config: DSCNNConfig, num_features: int, num_labels: int, *, unroll: bool = False
) -> keras.Model:
    """The window form: frames [batch, window_frames, num_features] -> scores [batch, labels].

    ``unroll`` is accepted for the registry's signature; the DS-CNN has no loop to unroll. The
    ``normalize`` layer is the identity until ``adapt``-ed on training features.
    """
    config.check_input(num_features)
    frames = keras.Input((config.window_frames, num_features), name="frames")
    x = FeatureNormalization(num_features, name="normalize")(frames)
    if config.crop_frames:
        x = keras.layers.Cropping1D((config.crop_frames, 0), name="crop")(x)
    x = _first_conv(config, x)
    for i in range(config.blocks):
        x = _pointwise(config, i, _depthwise(config, i, x))
    scores = _head(config, num_labels, x)
    return keras.Model(frames, scores, name="dscnn")
