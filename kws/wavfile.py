"""A small RIFF/WAVE reader and writer, and `load_audio` (any WAV → 16 kHz mono int16).

Files are validated by :func:`open_wav` from their headers alone; :func:`iter_mono_int16` then
decodes and resamples block by block, so a long recording streams in constant memory, and
:func:`read_wav`/:func:`load_audio` are the same steps over the whole file at once.
:class:`MonoConverter` is those steps for audio pushed in pieces (a Wyoming client's chunks).

Hand-written because the stdlib ``wave`` module (Python 3.11) reads neither IEEE float nor
WAVE_FORMAT_EXTENSIBLE files, which is what most recording tools write. Every problem a user can
cause raises :class:`~kws.errors.AudioFileError` with a one-line message starting with the path.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import soxr

from kws.atomic import atomic_write_bytes
from kws.errors import AudioFileError, EmptyAudioError

FORMAT_PCM = 0x0001
FORMAT_IEEE_FLOAT = 0x0003
FORMAT_EXTENSIBLE = 0xFFFE

# The 14 bytes that follow the 2-byte format code in a KSDATAFORMAT_SUBTYPE_* GUID.
_SUBFORMAT_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

# Data sizes that streaming writers leave in the header when the length is not known yet
# (0 and 0xFFFFFFFF: common placeholders; 0x7FFFFFFF: arecord; 0x7FFFF000: sox).
_UNKNOWN_DATA_SIZES = frozenset({0, 0x7FFFF000, 0x7FFFFFFF, 0xFFFFFFFF})

_FORMAT_NAMES = {
    0x0002: "MS ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0050: "MPEG",
    0x0055: "MP3",
}


@dataclass(frozen=True)
class WavAudio:
    """The decoded contents of a WAV file."""

    samples: np.ndarray
    """float32 array of shape (frames, channels), nominally in [-1, 1]."""
    sample_rate: int
    """Frames per second (Hz) as declared by the file."""
    channels: int
    """Number of interleaved channels."""
    encoding: str
    """Sample encoding in the file: 'pcm8', 'pcm16', 'pcm24', 'pcm32', 'float32' or 'float64'."""

    @property
    def duration_seconds(self) -> float:
        """Length of the audio in seconds."""
        return self.samples.shape[0] / self.sample_rate


@dataclass(frozen=True)
class _Format:
    code: int  # FORMAT_PCM or FORMAT_IEEE_FLOAT (after resolving EXTENSIBLE)
    channels: int
    sample_rate: int
    sample_bytes: int  # container width of one sample


@dataclass(frozen=True)
class WavInfo:
    """A validated WAV file: its format and where its whole frames of audio lie."""

    path: str
    sample_rate: int
    channels: int
    encoding: str
    """'pcm8', 'pcm16', 'pcm24', 'pcm32', 'float32' or 'float64'."""
    frames: int
    """Whole frames in the data chunk (a trailing partial frame is ignored)."""
    data_offset: int
    frame_bytes: int
    format: _Format

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate


def _fail(path: str | os.PathLike[str], problem: str) -> AudioFileError:
    return AudioFileError(f"{os.fspath(path)}: {problem}")


def _parse_fmt(path: str | os.PathLike[str], body: bytes) -> _Format:
    """Decode a fmt chunk body, resolving WAVE_FORMAT_EXTENSIBLE to its subformat."""
    if len(body) < 16:
        raise _fail(path, f"fmt chunk is {len(body)} bytes, expected at least 16")
    code, channels, rate, _byte_rate, _block_align, bits = struct.unpack_from("<HHIIHH", body)
    if code == FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise _fail(path, f"extensible fmt chunk is {len(body)} bytes, expected 40")
        guid = body[24:40]
        if guid[2:] != _SUBFORMAT_GUID_TAIL:
            raise _fail(path, f"unsupported WAV encoding: extensible subformat {guid.hex()}")
        code = struct.unpack_from("<H", guid)[0]
    if code not in (FORMAT_PCM, FORMAT_IEEE_FLOAT):
        name = _FORMAT_NAMES.get(code, "unknown")
        raise _fail(path, f"unsupported WAV encoding: format tag 0x{code:04X} ({name})")
    if channels == 0:
        raise _fail(path, "fmt chunk declares 0 channels")
    if rate == 0:
        raise _fail(path, "fmt chunk declares a sample rate of 0 Hz")
    sample_bytes = (bits + 7) // 8
    supported = (1, 2, 3, 4) if code == FORMAT_PCM else (4, 8)
    if bits == 0 or sample_bytes not in supported:
        kind = "PCM" if code == FORMAT_PCM else "float"
        raise _fail(path, f"unsupported WAV encoding: {bits}-bit {kind}")
    return _Format(code, channels, rate, sample_bytes)


def _encoding(fmt: _Format) -> str:
    kind = "float" if fmt.code == FORMAT_IEEE_FLOAT else "pcm"
    return f"{kind}{8 * fmt.sample_bytes}"


def _decode(fmt: _Format, raw: bytes) -> np.ndarray:
    """Turn whole frames of raw sample bytes into float32 (frames, channels)."""
    width = fmt.sample_bytes
    if fmt.code == FORMAT_IEEE_FLOAT:
        values = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8")
        samples = np.clip(np.nan_to_num(values.astype(np.float32)), -1.0, 1.0)
    elif width == 1:  # 8-bit WAV is unsigned, centred on 128
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:  # place the 3 bytes in the top of an int32 so the sign comes for free
        padded = np.zeros((len(raw) // 3, 4), dtype=np.uint8)
        padded[:, 1:] = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        samples = (padded.view("<i4")[:, 0] / 2.0**31).astype(np.float32)
    else:
        ints = np.frombuffer(raw, dtype=f"<i{width}")
        samples = (ints / float(2 ** (8 * width - 1))).astype(np.float32)
    return samples.reshape(-1, fmt.channels)


def _read_chunks(path: str | os.PathLike[str], f: BinaryIO, size: int) -> tuple[_Format, int, int]:
    """Walk the chunks after the RIFF header; return the format and the data chunk's offset
    and size in bytes."""
    fmt: _Format | None = None
    data: tuple[int, int] | None = None
    pos = 12
    while (fmt is None or data is None) and pos + 8 <= size:
        f.seek(pos)
        chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
        printable = all(32 <= b < 127 for b in chunk_id)
        name = chunk_id.decode("ascii").strip() if printable else f"0x{chunk_id.hex()}"
        body_start = pos + 8
        remaining = size - body_start
        if chunk_id == b"data" and (
            chunk_size == 0 or (chunk_size > remaining and chunk_size in _UNKNOWN_DATA_SIZES)
        ):
            chunk_size = remaining  # streamed file: the data runs to the end of the file
        if chunk_size > remaining:
            declares = f"{name} chunk declares {chunk_size} bytes"
            raise _fail(path, f"truncated: {declares} but only {remaining} follow")
        if chunk_id == b"data":
            data = (body_start, chunk_size)
        elif chunk_id == b"fmt ":
            fmt = _parse_fmt(path, f.read(chunk_size))
        pos = body_start + chunk_size + (chunk_size & 1)  # chunks are padded to even sizes
    if fmt is None:
        raise _fail(path, "no fmt chunk (not a complete WAV file)")
    if data is None:
        raise _fail(path, "no data chunk (not a complete WAV file)")
    return fmt, data[0], data[1]


def open_wav(path: str | os.PathLike[str]) -> WavInfo:
    """Validate a PCM (8/16/24/32-bit) or IEEE float (32/64-bit) WAV file, plain or extensible,
    from its headers; raise AudioFileError naming the file and the problem otherwise.

    Unknown chunks (LIST, fact, cue…) are skipped. A data chunk whose size is a streaming
    placeholder (0, 0xFFFFFFFF, …) runs to the end of the file; a trailing partial frame is
    dropped.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise _fail(path, "empty file (0 bytes)")
            header = f.read(12)
            if header[:4] == b"RF64":
                raise _fail(path, "RF64 (64-bit) WAV files are not supported")
            if header[:4] == b"RIFX":
                raise _fail(path, "big-endian (RIFX) WAV files are not supported")
            if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                raise _fail(path, "not a WAV file (no RIFF/WAVE header)")
            fmt, offset, data_bytes = _read_chunks(path, f, size)
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except IsADirectoryError:
        raise _fail(path, "is a directory, not a WAV file") from None
    except PermissionError:
        raise _fail(path, "permission denied") from None
    except OSError as e:
        raise _fail(path, f"cannot read ({e.strerror or e})") from None

    frame_bytes = fmt.sample_bytes * fmt.channels
    frames = data_bytes // frame_bytes
    if frames == 0:
        raise EmptyAudioError(f"{os.fspath(path)}: contains no audio samples")
    return WavInfo(
        os.fspath(path), fmt.sample_rate, fmt.channels, _encoding(fmt), frames, offset,
        frame_bytes, fmt,
    )  # fmt: skip


def iter_frames(info: WavInfo, block_frames: int) -> Iterator[np.ndarray]:
    """Decoded float32 (frames, channels) blocks of at most ``block_frames`` frames."""
    try:
        with open(info.path, "rb") as f:
            f.seek(info.data_offset)
            for start in range(0, info.frames, block_frames):
                count = min(block_frames, info.frames - start)
                raw = f.read(count * info.frame_bytes)
                if len(raw) < count * info.frame_bytes:
                    raise _fail(info.path, "file shrank while being read")
                yield _decode(info.format, raw)
    except OSError as e:
        raise _fail(info.path, f"cannot read ({e.strerror or e})") from None


def read_wav(path: str | os.PathLike[str]) -> WavAudio:
    """Read a whole WAV file (see :func:`open_wav` for what is accepted)."""
    info = open_wav(path)
    (samples,) = iter_frames(info, info.frames)
    return WavAudio(samples, info.sample_rate, info.channels, info.encoding)


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int) -> None:
    """Write int16 samples, shape (n,) for mono or (n, channels), as a 16-bit PCM WAV file.

    The file appears atomically (see :func:`kws.atomic.atomic_write_bytes`), so a reader never
    sees half a file; a write failure raises KwsError.
    """
    array = np.asarray(samples)
    if array.dtype != np.int16:
        raise ValueError(f"write_wav needs int16 samples, got {array.dtype}")
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"write_wav needs shape (n,) or (n, channels), got {array.shape}")
    channels = array.shape[1]
    data = array.astype("<i2").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        FORMAT_PCM,
        channels,
        sample_rate,
        sample_rate * channels * 2,
        channels * 2,
        16,
        b"data",
        len(data),
    )
    atomic_write_bytes(path, header + data)


class MonoConverter:
    """Float (frames, channels) blocks in, int16 mono at ``sample_rate`` out, block by block:
    downmix (channel average), one streaming soxr resampler whose state carries across
    :meth:`push` calls, int16. The concatenated output equals soxr.resample over the whole
    signal, so a stream converts the same however it is cut."""

    def __init__(self, rate: int, sample_rate: int = 16000) -> None:
        self.rate, self.sample_rate = rate, sample_rate
        self._resampler = None
        if rate != sample_rate:
            self._resampler = soxr.ResampleStream(
                rate, sample_rate, 1, dtype="float32", quality="HQ"
            )

    def push(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        """Convert one block; ``last`` flushes what the resampler still holds."""
        mono = block.mean(axis=1, dtype=np.float32)
        if self._resampler is not None:
            mono = self._resampler.resample_chunk(mono, last=last)
        return np.clip(np.rint(mono * 32768.0), -32768, 32767).astype(np.int16)


def decode_pcm(raw: bytes, width: int, channels: int) -> np.ndarray:
    """Whole frames of raw little-endian signed PCM (``width`` bytes a sample, 8-bit signed as
    in Python's audioop, unlike 8-bit WAV) as float32 (frames, channels)."""
    if width not in (1, 2, 3, 4) or channels < 1:
        raise ValueError(f"unsupported PCM layout: {width} bytes a sample, {channels} channels")
    if width == 1:  # signed to WAV's unsigned, so that one decoder serves both
        raw = (np.frombuffer(raw, dtype=np.uint8) ^ 0x80).tobytes()
    return _decode(_Format(FORMAT_PCM, channels, 1, width), raw)


def _mono_blocks(blocks: Iterator[np.ndarray], rate: int, sample_rate: int) -> Iterator[np.ndarray]:
    """The blocks through one :class:`MonoConverter` (the last one flushing it)."""
    converter = MonoConverter(rate, sample_rate)
    block = next(blocks, None)
    while block is not None:
        following = next(blocks, None)
        yield converter.push(block, last=following is None)
        block = following


MAX_STREAM_HEADER_CHUNK = 1 << 20
"""A header chunk of a WAV stream (LIST, fact…) larger than this is refused, not read."""


def read_exactly(stream: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes of ``stream``, fewer only at its end (a pipe returns short reads)."""
    out = bytearray()
    while len(out) < n:
        chunk = stream.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def is_wav_start(head: bytes) -> bool:
    """Whether the first 12 bytes of a file or stream are a RIFF/WAVE header."""
    return len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def stream_mono_int16(
    name: str, stream: BinaryIO, sample_rate: int = 16000, block_seconds: float = 0.02
) -> Iterator[np.ndarray]:
    """A WAV arriving on a stream that cannot seek (a pipe, stdin), its 12-byte RIFF header
    already read: the header chunks are read up to the data chunk, whose size is ignored (a
    live writer cannot know it); then int16 mono blocks at ``sample_rate`` until the stream
    ends, decoded and resampled as they arrive."""
    fmt: _Format | None = None
    while True:
        head = read_exactly(stream, 8)
        if len(head) < 8:
            raise _fail(name, "no data chunk (the WAV stream ended in its header)")
        chunk_id, size = struct.unpack("<4sI", head)
        if chunk_id == b"data":
            break
        if size > MAX_STREAM_HEADER_CHUNK:
            raise _fail(name, f"WAV stream header chunk {chunk_id!r} declares {size} bytes")
        body = read_exactly(stream, size + (size & 1))
        if len(body) < size:
            raise _fail(name, "no data chunk (the WAV stream ended in its header)")
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(name, body[:size])
    if fmt is None:
        raise _fail(name, "no fmt chunk before the data (not a WAV stream)")
    frame = fmt.sample_bytes * fmt.channels
    want = max(1, round(block_seconds * fmt.sample_rate)) * frame

    def frames(layout: _Format) -> Iterator[np.ndarray]:
        pending = b""
        while True:
            raw = stream.read(want)
            if not raw:
                return  # a trailing partial frame is dropped
            pending += raw
            usable = len(pending) - len(pending) % frame
            if usable:
                yield _decode(layout, pending[:usable])
                pending = pending[usable:]

    return _mono_blocks(frames(fmt), fmt.sample_rate, sample_rate)


def to_mono_int16(audio: WavAudio, sample_rate: int = 16000) -> np.ndarray:
    """Downmix (channel average), resample with soxr if needed, and convert to int16."""
    (mono,) = _mono_blocks(iter([audio.samples]), audio.sample_rate, sample_rate)
    return mono


def iter_mono_int16(
    info: WavInfo, sample_rate: int = 16000, block_seconds: float = 0.5
) -> Iterator[np.ndarray]:
    """A WAV file as int16 mono blocks at ``sample_rate`` Hz, decoded and resampled as it is
    read (memory does not grow with the file); the concatenation equals :func:`load_audio`."""
    block_frames = max(1, round(block_seconds * info.sample_rate))
    return _mono_blocks(iter_frames(info, block_frames), info.sample_rate, sample_rate)


def load_audio(path: str | os.PathLike[str], sample_rate: int = 16000) -> np.ndarray:
    """Read a WAV file as 1-D int16 mono at ``sample_rate`` Hz (the runtime's boundary format)."""
    return to_mono_int16(read_wav(path), sample_rate)
