"""Load a self-describing ``.tflite`` model and run it on feature frames.

A :class:`Model` checks its metadata against the interpreter's tensors once, at load time, and
hands out :class:`Runner` objects: each keeps one stream's context (the last window of frames,
or the streaming state tensors) and turns pushed frames into score vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kws.errors import ModelError
from kws.interpreter import make_interpreter
from kws.metadata import ModelMetadata
from kws.tflite_file import read_metadata, read_model_bytes


@dataclass(frozen=True)
class TensorPort:
    """One signature input or output: tensor index, shape, dtype and affine quantization."""

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int

    @classmethod
    def from_details(cls, name: str, details: dict[str, Any]) -> TensorPort:
        scale, zero_point = details.get("quantization", (0.0, 0))
        return cls(
            name=name,
            index=int(details["index"]),
            shape=tuple(int(d) for d in details["shape"]),
            dtype=np.dtype(details["dtype"]),
            scale=float(scale),
            zero_point=int(zero_point),
        )

    @property
    def quantized(self) -> bool:
        return self.dtype.kind in "iu" and self.scale > 0

    def quantize(self, values: np.ndarray) -> np.ndarray:
        """Float values in the tensor's dtype (rounded and clipped when it is quantized)."""
        if not self.quantized:
            return values.astype(self.dtype, copy=False).reshape(self.shape)
        info = np.iinfo(self.dtype)
        q = np.rint(values / self.scale) + self.zero_point
        return np.clip(q, info.min, info.max).astype(self.dtype).reshape(self.shape)

    def dequantize(self, values: np.ndarray) -> np.ndarray:
        if not self.quantized:
            return values.astype(np.float32, copy=False)
        return ((values.astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)

    def zeros(self) -> np.ndarray:
        """The tensor's encoding of an all-zero value (the zero point when quantized)."""
        return self.quantize(np.zeros(self.shape, dtype=np.float32))


class Model:
    """A loaded model: metadata, interpreter backend, and validated signature ports."""

    def __init__(self, path: str | Path, backend: str | None = None, num_threads: int = 1):
        self.path = Path(path)
        data = read_model_bytes(self.path)
        self.metadata: ModelMetadata = read_metadata(self.path, data)
        try:
            self.interpreter, self.backend = make_interpreter(data, backend, num_threads)
        except ValueError as exc:
            raise ModelError(f"{self.path}: the interpreter rejects the model ({exc})") from None
        self.size_bytes = len(data)
        self._bind()

    @property
    def name(self) -> str:
        return self.metadata.name

    def _bind(self) -> None:
        md = self.metadata
        signatures = self.interpreter.get_signature_list()
        if not signatures:
            raise ModelError(f"{self.path}: the model has no SignatureDef; re-export it")
        key = next(iter(signatures))
        runner = self.interpreter.get_signature_runner(key)
        inputs = runner.get_input_details()
        outputs = runner.get_output_details()

        def port(kind: str, table: dict[str, Any], name: str) -> TensorPort:
            if name not in table:
                raise ModelError(
                    f"{self.path}: metadata names {kind} {name!r} but the model's {kind}s are "
                    f"{', '.join(sorted(table))}"
                )
            return TensorPort.from_details(name, table[name])

        self.frames_port = port("input", inputs, md.input_name)
        self.scores_port = port("output", outputs, md.output_name)
        self.state_ports = [
            (port("input", inputs, s.input), port("output", outputs, s.output))
            for s in md.state_tensors
        ]
        expected = (1, md.input_frames, md.features.num_features)
        if self.frames_port.shape != expected:
            form = "streaming" if md.streaming else "window"
            raise ModelError(
                f"{self.path}: metadata describes a {form} model taking {expected} "
                f"(frames, features) but input {md.input_name!r} has shape {self.frames_port.shape}"
            )
        if md.task != "speaker" and self.scores_port.shape != (1, len(md.labels)):
            raise ModelError(
                f"{self.path}: metadata lists {len(md.labels)} labels but output "
                f"{md.output_name!r} has shape {self.scores_port.shape}"
            )
        for state_in, state_out in self.state_ports:
            if state_in.shape != state_out.shape:
                raise ModelError(
                    f"{self.path}: state {state_in.name!r} has shape {state_in.shape} but "
                    f"{state_out.name!r} returns {state_out.shape}"
                )
        extra = set(inputs) - {md.input_name} - {s.input for s in md.state_tensors}
        if extra:
            raise ModelError(
                f"{self.path}: model inputs {', '.join(sorted(extra))} are not in the metadata"
            )

    def runner(self) -> Runner:
        """A fresh per-stream context (window history or zeroed streaming state)."""
        return Runner(self)

    def invoke(self, frames: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list]:
        """One interpreter call: float frames (and raw state tensors) in, float scores out."""
        it = self.interpreter
        it.set_tensor(self.frames_port.index, self.frames_port.quantize(frames))
        for (state_in, _), value in zip(self.state_ports, states, strict=True):
            it.set_tensor(state_in.index, value)
        it.invoke()
        scores = self.scores_port.dequantize(it.get_tensor(self.scores_port.index)).reshape(-1)
        new_states = []
        for state_in, state_out in self.state_ports:
            value = it.get_tensor(state_out.index)
            if (state_in.dtype, state_in.scale, state_in.zero_point) != (
                state_out.dtype,
                state_out.scale,
                state_out.zero_point,
            ):
                value = state_in.quantize(state_out.dequantize(value))
            new_states.append(value)
        return scores, new_states


class Runner:
    """Feeds one stream's frames to a model; invokes it every ``stride_frames`` frames.

    Window form: once ``window_frames`` frames have arrived, the last window is scored every
    stride. Streaming form: each stride of new frames is scored with the carried state.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        md = model.metadata
        self._stride = md.stride_frames
        self._window = md.input_frames
        self._history = np.zeros((0, md.features.num_features), dtype=np.float32)
        self._states = [state_in.zeros() for state_in, _ in model.state_ports]
        self.frames_seen = 0
        self._next_call = self._window if not md.streaming else self._stride

    def push(self, frames: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Add frames; return (frames seen at the call, scores) for every invocation they allow."""
        out: list[tuple[int, np.ndarray]] = []
        history = np.concatenate([self._history, frames]) if len(self._history) else frames
        end = self.frames_seen + len(frames)
        start = end - len(history)  # stream index of history[0]
        while self._next_call <= end:
            stop = self._next_call - start
            scores, self._states = self.model.invoke(
                history[stop - self._window : stop], self._states
            )
            out.append((self._next_call, scores))
            self._next_call += self._stride
        # The next call's input starts at most window - 1 frames before the current end.
        self._history = history[max(0, len(history) - self._window + 1) :]
        self.frames_seen = end
        return out


def load_model(path: str | Path, backend: str | None = None, num_threads: int = 1) -> Model:
    """Load a ``.tflite`` with embedded kws metadata; raises ModelError with a one-line reason."""
    return Model(path, backend=backend, num_threads=num_threads)
