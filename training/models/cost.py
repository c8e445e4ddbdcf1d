"""Multiply-accumulates of a Keras model, counted from its layers' shapes.

The sweep reports compute as MACs per second of audio, the number that decides whether a model
fits a microcontroller's budget. Counted: Conv1D/Conv2D, Dense, GRU, LSTM (per time step, as
3 or 4 gate matrices over input and state), depthwise convolutions (one kernel per channel)
and Bidirectional wrappers; element-wise work (activations, normalization, biases) is ignored,
as is customary.
"""

from __future__ import annotations

import math
from typing import Any

import keras


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.shape[1:])


def _rnn_macs(layer: keras.layers.Layer, input_shape: tuple[int, ...]) -> int:
    steps, features = input_shape[-2], input_shape[-1]
    units = int(layer.units)
    gates = 3 if isinstance(layer, keras.layers.GRU) else 4
    return steps * gates * units * (features + units)


def layer_macs(layer: keras.layers.Layer, input_shape: tuple[int, ...], output: Any) -> int:
    """MACs of one call of ``layer`` on one example (batch dimension excluded)."""
    if isinstance(layer, keras.Sequential):
        total, shape = 0, input_shape
        for inner in layer.layers:
            out_shape = tuple(int(d) for d in inner.compute_output_shape((1, *shape))[1:])
            total += layer_macs(inner, shape, out_shape)
            shape = out_shape
        return total
    out_shape = output if isinstance(output, tuple) else _shape(output)
    if isinstance(layer, keras.layers.DepthwiseConv1D | keras.layers.DepthwiseConv2D):
        return math.prod(out_shape) * math.prod(layer.kernel_size)
    if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv1D):
        kernel = math.prod(layer.kernel_size)
        return math.prod(out_shape) * kernel * int(input_shape[-1])
    if isinstance(layer, keras.layers.Dense):
        return math.prod(out_shape) * int(input_shape[-1])
    if isinstance(layer, keras.layers.GRU | keras.layers.LSTM):
        return _rnn_macs(layer, input_shape)
    if isinstance(layer, keras.layers.Bidirectional):
        return 2 * _rnn_macs(layer.forward_layer, input_shape)
    return 0


def model_macs(model: keras.Model) -> int:
    """MACs of one forward pass of a functional ``model`` on one example."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inputs = layer.input if not isinstance(layer.input, list) else layer.input[0]
        output = layer.output
        if isinstance(output, list | tuple):
            output = output[0]
        total += layer_macs(layer, _shape(inputs), output)
    return total


def macs_per_second(model: keras.Model, calls_per_second: float) -> float:
    """MACs per second of audio when ``model`` runs ``calls_per_second`` times a second."""
    return model_macs(model) * calls_per_second
