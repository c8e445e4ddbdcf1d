"""Read and write the metadata table of a ``.tflite`` flatbuffer.

Reading is a small bounds-checked flatbuffer walk with no dependency, so a truncated or foreign
file gives a clear error instead of a crash. Writing re-packs the model with the TFLite schema's
object API (shipped by ai-edge-litert, or by TensorFlow where that is what is installed).
"""

from __future__ import annotations

import importlib
import stat
import struct
from pathlib import Path
from types import ModuleType

from kws.atomic import atomic_write_bytes
from kws.errors import ModelError
from kws.metadata import METADATA_NAME, ModelMetadata

FILE_IDENTIFIER = b"TFL3"
MAX_MODEL_BYTES = 256 * 2**20
"""Larger files are refused unread: keyword, environment and speaker models are kilobytes to a
few megabytes (openWakeWord's largest ONNX/TFLite files are under 20 MB)."""
# Field indices in tflite's schema.fbs.
_MODEL_BUFFERS = 4
_MODEL_METADATA = 6
_METADATA_NAME = 0
_METADATA_BUFFER = 1
_BUFFER_DATA = 0
_BUFFER_OFFSET = 1
_BUFFER_SIZE = 2


class _Corrupt(Exception):
    pass


class _Reader:
    """Just enough flatbuffer decoding to find metadata entries, with every offset checked."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _unpack(self, fmt: str, pos: int) -> int:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            raise _Corrupt(f"offset {pos} is past the end of the file ({len(self.data)} bytes)")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def root(self) -> int:
        return self._unpack("<I", 0)

    def field_pos(self, table: int, index: int) -> int | None:
        vtable = table - self._unpack("<i", table)
        vtable_size = self._unpack("<H", vtable)
        entry = 4 + 2 * index
        if entry >= vtable_size:
            return None
        offset = self._unpack("<H", vtable + entry)
        return table + offset if offset else None

    def deref(self, pos: int) -> int:
        return pos + self._unpack("<I", pos)

    def vector(self, table: int, index: int) -> tuple[int, int]:
        """(start of elements, length) of a vector field, or (0, 0) if absent."""
        pos = self.field_pos(table, index)
        if pos is None:
            return 0, 0
        vec = self.deref(pos)
        length = self._unpack("<I", vec)
        if vec + 4 + length > len(self.data):
            raise _Corrupt(f"a vector at {vec} runs past the end of the file")
        return vec + 4, length

    def table_at(self, element: int) -> int:
        return self.deref(element)

    def string(self, table: int, index: int) -> str:
        start, length = self.vector(table, index)
        return self.data[start : start + length].decode("utf-8", errors="replace")

    def scalar(self, table: int, index: int, fmt: str, default: int = 0) -> int:
        pos = self.field_pos(table, index)
        return default if pos is None else self._unpack(fmt, pos)


def read_metadata_entries(data: bytes) -> dict[str, bytes]:
    """Name -> bytes of every entry in the model's metadata table.

    Raises ValueError when ``data`` is not a TFLite flatbuffer or is cut short.
    """
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise ValueError("not a TFLite model (no TFL3 file identifier)")
    reader = _Reader(data)
    try:
        model = reader.root()
        buffers, n_buffers = reader.vector(model, _MODEL_BUFFERS)
        entries, n_entries = reader.vector(model, _MODEL_METADATA)
        out: dict[str, bytes] = {}
        for i in range(n_entries):
            entry = reader.table_at(entries + 4 * i)
            name = reader.string(entry, _METADATA_NAME)
            index = reader.scalar(entry, _METADATA_BUFFER, "<I")
            if index >= n_buffers:
                raise _Corrupt(f"metadata {name!r} points at buffer {index} of {n_buffers}")
            buffer = reader.table_at(buffers + 4 * index)
            offset = reader.scalar(buffer, _BUFFER_OFFSET, "<Q")
            if offset > 1:  # large-model layout: data outside the flatbuffer, in the same file
                size = reader.scalar(buffer, _BUFFER_SIZE, "<Q")
                if offset + size > len(data):
                    raise _Corrupt(f"metadata {name!r} runs past the end of the file")
                out[name] = bytes(data[offset : offset + size])
            else:
                start, length = reader.vector(buffer, _BUFFER_DATA)
                out[name] = bytes(data[start : start + length])
        return out
    except _Corrupt as exc:
        raise ValueError(f"truncated or corrupt TFLite file: {exc}") from None


def read_metadata(path: str | Path, data: bytes | None = None) -> ModelMetadata:
    """The model's metadata: embedded in the flatbuffer, else from a sidecar ``<stem>.json``."""
    path = Path(path)
    if data is None:
        data = read_model_bytes(path)
    try:
        entries = read_metadata_entries(data)
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}") from None
    raw = entries.get(METADATA_NAME)
    source = "embedded metadata"
    if raw is None:
        sidecar = path.with_suffix(".json")
        if not sidecar.is_file():
            raise ModelError(
                f"{path}: no kws metadata (neither embedded under {METADATA_NAME!r} nor in "
                f"{sidecar.name}); export it with training.export or add the sidecar JSON"
            )
        raw = sidecar.read_bytes()
        source = str(sidecar)
    try:
        return ModelMetadata.from_json(raw)
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{path}: invalid {source}: {exc}") from None


def read_model_bytes(path: str | Path) -> bytes:
    """The file's bytes, with one-line errors for missing, unreadable or empty files, and for
    what cannot be a model: not a regular file (``/dev/zero``, a pipe) or over
    :data:`MAX_MODEL_BYTES` (read whole, either would exhaust memory)."""
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):
            raise ModelError(f"{path}: not a regular file, not a .tflite model")
        if info.st_size > MAX_MODEL_BYTES:
            raise ModelError(
                f"{path}: {info.st_size:,} bytes, larger than any keyword model "
                f"({MAX_MODEL_BYTES // 2**20} MiB at most)"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a directory, not a .tflite model") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror})") from None
    if not data:
        raise ModelError(f"{path}: empty file, not a .tflite model")
    return data


def _schema() -> ModuleType:
    candidates = (
        "ai_edge_litert.schema_py_generated",
        "tensorflow.lite.python.schema_py_generated",
    )
    for name in candidates:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ModelError("writing metadata needs ai-edge-litert (pip install ai-edge-litert)")


def embed_metadata(data: bytes, metadata: ModelMetadata) -> bytes:
    """A copy of the flatbuffer ``data`` with ``metadata`` stored under :data:`METADATA_NAME`.

    An existing entry of that name is replaced; other metadata entries are kept.
    """
    import flatbuffers  # a dependency of ai-edge-litert and tensorflow
    import numpy as np

    read_metadata_entries(data)  # validates the input first
    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    payload = np.frombuffer(metadata.to_json().encode("utf-8"), dtype=np.uint8)
    model.metadata = model.metadata or []
    model.buffers = model.buffers or []
    for entry in model.metadata:
        name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        if name == METADATA_NAME:
            model.buffers[entry.buffer].data = payload
            break
    else:
        buffer = schema.BufferT()
        buffer.data = payload
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = len(model.buffers) - 1
        model.metadata.append(entry)
    builder = flatbuffers.Builder(len(data) + len(payload) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def write_model(path: str | Path, data: bytes, metadata: ModelMetadata) -> None:
    """Write ``data`` with ``metadata`` embedded to ``path``, atomically."""
    atomic_write_bytes(path, embed_metadata(data, metadata))
