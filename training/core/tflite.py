"""Export a trained model to a self-describing ``.tflite`` file, in window or streaming form.

The graph is frozen (weights become constants; Keras' seed-generator variables disappear), then
converted with builtin ops only, so a Flex op is a conversion error rather than a runtime
surprise. The SignatureDef uses the metadata's names (``frames``, ``scores``, the state pairs),
batch is fixed to 1, and the result is checked by loading it with the LiteRT interpreter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from kws.metadata import ModelMetadata
from kws.tflite_file import embed_metadata
from training.core.config import FORMS
from training.models import spec_for_config
from training.models.registry import copy_weights

MAX_CALIBRATION_CALLS = 8000


def export_tflite(
    model: keras.Model,
    config: Any,
    metadata: ModelMetadata,
    form: str = "window",
    quantization: str = "float32",
    representative: np.ndarray | None = None,
    *,
    unroll: bool | None = None,
) -> bytes:
    """The ``.tflite`` bytes of ``model`` (a trained window model) in ``form``, metadata embedded.

    ``form='streaming'`` builds the streaming graph from the same weights via the model's
    registry entry. ``quantization='int8'`` is full-integer (int8 weights, activations, inputs
    and outputs, state tensors included), calibrated on ``representative``: real feature
    windows of shape [n, window_frames, num_features]. ``'int8_weights'`` stores int8 weights
    and keeps activations, inputs and streaming state in float32 (dynamic-range quantization):
    the CPU option when full-integer state costs accuracy.

    ``unroll`` (window form only) chooses how a recurrence is emitted: None keeps it one builtin
    WHILE loop for float32 and int8_weights and unrolls it for int8; True or False force it.
    int8 with a loop is refused: TF 2.21's calibrator crashes the process on a WHILE body.
    """
    spec = spec_for_config(config)
    _check_metadata(model, config, metadata, form, quantization)
    if form == "streaming" and spec.state_tensors is not None:
        expected = spec.state_tensors(config)
        if metadata.state_tensors != expected:
            raise ValueError(
                f"metadata state_tensors {metadata.state_tensors} differ from "
                f"the model's {expected}"
            )
    graph = inference_graph(model, config, form, quantization, unroll=unroll)
    return convert_graph(graph, metadata, form, quantization, representative)


def inference_graph(
    model: keras.Model, config: Any, form: str, quantization: str, *, unroll: bool | None = None
) -> keras.Model:
    """The graph that is converted: the streaming form built from the trained window model's
    weights, or the window form rebuilt with its recurrence as ``unroll`` says (see
    :func:`export_tflite`)."""
    spec = spec_for_config(config)
    if form == "streaming":
        if spec.build_streaming is None or spec.state_tensors is None:
            raise ValueError(f"model {spec.name!r} has no streaming form")
        return spec.build_streaming(config, model)
    # A WHILE loop keeps one copy of the recurrent cell (the tiny CRNN: 33 KB float32 instead
    # of 161 KB unrolled), but TF 2.21's full-integer calibration crashes the process on a
    # WHILE body, so int8 window files stay unrolled (docs/model-format.md).
    if unroll is None:
        unroll = quantization == "int8"
    if quantization == "int8" and not unroll:
        raise ValueError("int8 window export needs unroll=True (calibration crashes on WHILE)")
    graph = spec.build(config, model.inputs[0].shape[-1], model.outputs[0].shape[-1], unroll=unroll)
    copy_weights(model, graph)
    return graph


def convert_graph(
    graph: keras.Model,
    metadata: ModelMetadata,
    form: str,
    quantization: str,
    representative: np.ndarray | None = None,
) -> bytes:
    """The ``.tflite`` bytes of a built inference graph (window or streaming form, inputs and
    outputs named as :func:`export_tflite` describes), converted, metadata embedded, checked."""
    concrete = _frozen_signature(graph, metadata, form)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], tf.Module())
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "int8_weights":  # dynamic range: float state, no calibration needed
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "int8":
        if representative is None or len(representative) == 0:
            raise ValueError("int8 export needs representative feature windows")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        feeds = list(_calibration_feeds(graph, metadata, form, representative))
        converter.representative_dataset = lambda: iter(feeds)
    data = embed_metadata(converter.convert(), metadata)
    verify_signature(data, metadata)
    return data


def _check_metadata(
    model: keras.Model, config: Any, metadata: ModelMetadata, form: str, quantization: str
) -> None:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    problems = []
    if metadata.streaming != (form == "streaming"):
        problems.append(f"metadata streaming={metadata.streaming} but form={form!r}")
    if metadata.quantization != quantization:
        problems.append(f"metadata quantization {metadata.quantization!r} != {quantization!r}")
    if metadata.window_frames != config.window_frames:
        problems.append(f"metadata window_frames {metadata.window_frames} != config's")
    if form == "streaming" and metadata.stride_frames != config.stride_t:
        # A window model may be invoked at any hop; a streaming call consumes one conv stride.
        problems.append(f"metadata stride_frames {metadata.stride_frames} != config stride_t")
    # A config may take other values per frame than features (a raw-audio front end's samples).
    width_of = getattr(config, "input_width", None)
    width = width_of(metadata.features) if width_of else metadata.features.num_features
    if width != model.inputs[0].shape[-1]:
        problems.append("metadata features do not match the model's input width")
    if metadata.task != "speaker" and len(metadata.labels) != model.outputs[0].shape[-1]:
        # A speaker model's one label names its embedding output, whatever its width.
        problems.append("metadata labels do not match the model's output width")
    if problems:
        raise ValueError("cannot export: " + "; ".join(problems))


def _input_shapes(graph: keras.Model, metadata: ModelMetadata, form: str) -> dict[str, list[int]]:
    """Signature input name -> shape with batch 1, frames first."""
    if form == "window":
        return {metadata.input_name: [1, *graph.inputs[0].shape[1:]]}
    shapes = {metadata.input_name: [1, *graph.input["frames"].shape[1:]]}
    for state in metadata.state_tensors:
        shapes[state.input] = [1, *graph.input[state.input].shape[1:]]
    return shapes


def _call(graph: keras.Model, metadata: ModelMetadata, form: str, feeds: dict[str, Any]) -> Any:
    """Run ``graph`` on signature-named feeds; returns signature-named outputs."""
    if form == "window":
        return {metadata.output_name: graph(feeds[metadata.input_name], training=False)}
    inputs = {k: v for k, v in feeds.items() if k != metadata.input_name}
    inputs["frames"] = feeds[metadata.input_name]
    out = dict(graph(inputs, training=False))
    out[metadata.output_name] = out.pop("scores")
    return out


def _frozen_signature(graph: keras.Model, metadata: ModelMetadata, form: str) -> Any:
    """A concrete function with the metadata's input/output names and constant weights."""
    specs = {
        name: tf.TensorSpec(shape, tf.float32, name=name)
        for name, shape in _input_shapes(graph, metadata, form).items()
    }

    @tf.function(input_signature=[specs])
    def serve(feeds: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return _call(graph, metadata, form, feeds)

    live = serve.get_concrete_function()
    frozen = convert_variables_to_constants_v2(live)

    @tf.function(input_signature=[specs])
    def serve_frozen(feeds: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        flat = frozen(**feeds)
        return tf.nest.pack_sequence_as(live.structured_outputs, flat)

    return serve_frozen.get_concrete_function()


def _calibration_feeds(
    graph: keras.Model, metadata: ModelMetadata, form: str, windows: np.ndarray
) -> Iterator[dict[str, np.ndarray]]:
    """Representative inputs: whole windows, or each streaming call with its real state."""
    windows = np.asarray(windows, dtype=np.float32)
    if form == "window":
        for window in windows[:MAX_CALIBRATION_CALLS]:
            yield {metadata.input_name: window[None]}
        return
    shapes = _input_shapes(graph, metadata, form)
    stride = metadata.stride_frames
    calls = 0
    for window in windows:
        states = {s.input: np.zeros(shapes[s.input], np.float32) for s in metadata.state_tensors}
        for start in range(0, window.shape[0] - stride + 1, stride):
            feeds = {metadata.input_name: window[None, start : start + stride], **states}
            yield feeds
            calls += 1
            if calls >= MAX_CALIBRATION_CALLS:
                return
            out = _call(graph, metadata, form, feeds)
            states = {s.input: np.asarray(out[s.output]) for s in metadata.state_tensors}


def verify_signature(data: bytes, metadata: ModelMetadata) -> None:
    """Load ``data`` with the LiteRT interpreter and check its signature names against metadata."""
    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_content=data).get_signature_list()
    if len(signatures) != 1:
        raise ValueError(f"expected one signature, got {sorted(signatures)}")
    (signature,) = signatures.values()
    want_in = {metadata.input_name, *(s.input for s in metadata.state_tensors)}
    want_out = {metadata.output_name, *(s.output for s in metadata.state_tensors)}
    if set(signature["inputs"]) != want_in or set(signature["outputs"]) != want_out:
        raise ValueError(f"exported signature {signature} does not match metadata names")
