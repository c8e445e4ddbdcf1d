"""Audio sources: WAV files, raw PCM on stdin, and the microphone, all as 16 kHz mono int16 blocks.

Every source is an iterable of 1-D int16 numpy blocks (the runtime's boundary format), resampled
once at the source when needed. The microphone's PortAudio callback only copies into a
:class:`~kws.ring.RingBuffer`; resampling happens in the consuming thread.
"""

from __future__ import annotations

import atexit
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO, Protocol, runtime_checkable

import numpy as np
import soxr

from kws.errors import DeviceError, KwsError
from kws.ring import RingBuffer
from kws.wavfile import (
    is_wav_start,
    iter_mono_int16,
    open_wav,
    read_exactly,
    stream_mono_int16,
)

SAMPLE_RATE = 16000  # Hz, the runtime's only rate
WAV_BLOCK_SAMPLES = 1600  # 100 ms
MIC_BLOCK_SAMPLES = 320  # 20 ms
MIC_STALL_SECONDS = 5.0  # no callback for this long means the device is gone
CLOSE_TIMEOUT_S = 1.0  # how long closing a capture stream may take before it is left to exit

_INSTALL_HINT = "install the mic extra: pip install 'kws[mic]'; and libportaudio2"


@runtime_checkable
class AudioSource(Protocol):
    """An iterable of 1-D int16 blocks of 16 kHz mono audio, with loss counters."""

    @property
    def sample_rate(self) -> int:
        """Samples per second (Hz) of the yielded blocks; always 16000."""
        ...

    @property
    def description(self) -> str:
        """Human-readable origin, e.g. ``wav:/a.wav (44100 Hz stereo pcm24, resampled)``."""
        ...

    @property
    def overruns(self) -> int:
        """Times audio was lost because the consumer fell behind (0 for files)."""
        ...

    @property
    def dropped_samples(self) -> int:
        """Input samples lost to overruns (0 for files)."""
        ...

    def __iter__(self) -> Iterator[np.ndarray]: ...

    def close(self) -> None:
        """Release the source; iteration stops."""
        ...


class _Source:
    """Shared plumbing: fixed rate, zero loss counters, context-manager support."""

    sample_rate = SAMPLE_RATE
    description = ""
    _closed = False

    @property
    def overruns(self) -> int:
        return 0

    @property
    def dropped_samples(self) -> int:
        return 0

    def close(self) -> None:
        self._closed = True

    def _reblocked(self, pieces: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
        """``pieces`` of any length as blocks of ``size`` samples (the last may be shorter),
        stopping once the source is closed."""
        pending = np.empty(0, dtype=np.int16)
        done = False
        while not done:
            piece = next(pieces, None)
            if piece is None:
                done = True
            else:
                pending = np.concatenate([pending, piece]) if len(pending) else piece
            while len(pending) >= size or (done and len(pending)):
                if self._closed:
                    return
                block, pending = pending[:size].copy(), pending[size:]
                yield block

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}-channel")


class WavSource(_Source):
    """A WAV file, validated when opened, then decoded and resampled as it is read and yielded
    in blocks of ``block_samples`` (memory does not grow with the file; iterating again
    re-reads it).

    With ``realtime=True`` blocks are paced by the wall clock like a live microphone: a block is
    yielded no earlier than the moment its last sample would have been captured.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        block_samples: int = WAV_BLOCK_SAMPLES,
        realtime: bool = False,
    ) -> None:
        if block_samples <= 0:
            raise ValueError(f"block_samples must be positive, got {block_samples}")
        self.info = open_wav(path)
        self.block_samples = block_samples
        self.realtime = realtime
        resampled = ", resampled" if self.info.sample_rate != SAMPLE_RATE else ""
        self.description = (
            f"wav:{os.fspath(path)} ({self.info.sample_rate} Hz {_layout(self.info.channels)} "
            f"{self.info.encoding}{resampled})"
        )

    @property
    def duration_s(self) -> float:
        """Length of the file's audio in seconds."""
        return self.info.duration_seconds

    def __iter__(self) -> Iterator[np.ndarray]:
        started = time.monotonic()
        emitted = 0
        pieces = iter_mono_int16(self.info, SAMPLE_RATE)
        for block in self._reblocked(pieces, self.block_samples):
            emitted += len(block)
            if self.realtime:
                delay = started + emitted / SAMPLE_RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield block


class RawPcmSource(_Source):
    """Raw little-endian signed 16-bit mono 16 kHz PCM from a binary stream (e.g. stdin).

    Short reads are gathered into whole blocks; at end of stream the remainder is yielded and an
    odd trailing byte (half a sample) is dropped. The stream is not closed by :meth:`close`.
    """

    def __init__(self, stream: BinaryIO, block_samples: int = WAV_BLOCK_SAMPLES) -> None:
        if block_samples <= 0:
            raise ValueError(f"block_samples must be positive, got {block_samples}")
        self.stream = stream
        self.block_samples = block_samples
        name = getattr(stream, "name", None)
        self.description = (
            f"raw:{name if isinstance(name, str) else 'stream'} (16000 Hz mono s16le)"
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        want = 2 * self.block_samples
        at_end = False
        while not at_end and not self._closed:
            buffer = bytearray()
            while len(buffer) < want:
                chunk = self.stream.read(want - len(buffer))
                if not chunk:
                    at_end = True
                    break
                buffer += chunk
            usable = len(buffer) - len(buffer) % 2
            if usable:
                yield np.frombuffer(bytes(buffer[:usable]), dtype="<i2").astype(np.int16)


class _Prefixed:
    """A binary stream with bytes already read from it put back in front."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self.prefix, self.stream = prefix, stream
        self.name = getattr(stream, "name", None)

    def read(self, n: int) -> bytes:
        if self.prefix:
            out, self.prefix = self.prefix[:n], self.prefix[n:]
            return out
        return self.stream.read(n)


class StreamSource(_Source):
    """Audio arriving on a stream that cannot seek: stdin, or a named pipe fed by ``arecord``
    or a satellite. A stream that starts with a RIFF/WAVE header is read as a WAV stream (any
    rate, width and channel count, converted as it arrives; the data size is ignored); anything
    else is raw little-endian s16 16 kHz mono PCM (:class:`RawPcmSource`). The first 12 bytes
    are read when the source is made, so it waits for the writer."""

    def __init__(
        self,
        stream: BinaryIO,
        name: str,
        block_samples: int = WAV_BLOCK_SAMPLES,
        owned: bool = False,
    ) -> None:
        if block_samples <= 0:
            raise ValueError(f"block_samples must be positive, got {block_samples}")
        self.name, self.block_samples, self._owned, self._stream = (
            name,
            block_samples,
            owned,
            stream,
        )
        head = read_exactly(stream, 12)
        self.wav = is_wav_start(head)
        if self.wav:
            self._blocks = stream_mono_int16(name, stream, SAMPLE_RATE)
            self.description = f"wav stream:{name} (converted to 16000 Hz mono as it arrives)"
        else:
            self._raw = RawPcmSource(_Prefixed(head, stream), block_samples)  # type: ignore[arg-type]
            self.description = f"raw:{name} (16000 Hz mono s16le)"

    def __iter__(self) -> Iterator[np.ndarray]:
        if not self.wav:
            for block in self._raw:
                if self._closed:
                    return
                yield block
            return
        yield from self._reblocked(self._blocks, self.block_samples)

    def close(self) -> None:
        super().close()
        if self._owned:
            self._stream.close()


def _is_stream(path: str) -> bool:
    """A named pipe, character device or socket: read as it arrives, never as a file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def _import_sounddevice() -> Any:
    """Import sounddevice lazily; a missing module or PortAudio library is a DeviceError."""
    try:
        import sounddevice
    except (ImportError, OSError) as e:
        reason = " ".join(str(e).split())
        raise DeviceError(f"microphone input unavailable ({reason}); {_INSTALL_HINT}") from None
    return sounddevice


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def list_input_devices() -> list[dict[str, Any]]:
    """Input-capable audio devices: index, name, channels, default_samplerate, hostapi, default."""
    sd = _import_sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_input = sd.default.device[0]
    except (sd.PortAudioError, ValueError) as e:
        raise DeviceError(f"cannot list audio devices: {_one_line(e)}") from None
    return [
        {
            "index": index,
            "name": info["name"],
            "channels": int(info["max_input_channels"]),
            "default_samplerate": float(info["default_samplerate"]),
            "hostapi": hostapis[info["hostapi"]]["name"],
            "default": index == default_input,
        }
        for index, info in enumerate(devices)
        if info["max_input_channels"] > 0
    ]


def _describe_inputs(devices: list[dict[str, Any]]) -> str:
    listed = ", ".join(f"{d['index']} {d['name']!r}" for d in devices)
    return f"input devices: {listed}" if listed else "there are no input devices"


def resolve_input_device(device: str | int | None) -> int | None:
    """Turn an index, a digit string or a case-insensitive name fragment into a device index.

    None means the system default input. A name must match exactly one input device (an exact
    name match wins); otherwise DeviceError lists the input devices.
    """
    if device is None:
        return None
    inputs = list_input_devices()
    if isinstance(device, int) or device.strip().isdigit():
        index = int(device)
        if not any(d["index"] == index for d in inputs):
            raise DeviceError(
                f"audio device {index}: no input device with that index; {_describe_inputs(inputs)}"
            )
        return index
    wanted = device.strip().lower()
    matches = [d for d in inputs if wanted in d["name"].lower()]
    exact = [d for d in matches if d["name"].lower() == wanted]
    if len(exact) == 1:
        matches = exact
    if not matches:
        raise DeviceError(
            f"audio device {device!r}: no input device matches; {_describe_inputs(inputs)}"
        )
    if len(matches) > 1:
        raise DeviceError(
            f"audio device {device!r}: matches several input devices, give the "
            f"index or a longer name; {_describe_inputs(matches)}"
        )
    return int(matches[0]["index"])


class MicrophoneSource(_Source):
    """Live input through PortAudio (sounddevice), at 16 kHz if the device allows it.

    The PortAudio callback only copies into a ring buffer (a full buffer drops the oldest audio
    and counts an overrun). If the device refuses 16 kHz it runs at its default rate and the
    consuming thread resamples with a streaming soxr resampler.
    """

    def __init__(
        self,
        device: str | int | None = None,
        block_samples: int = MIC_BLOCK_SAMPLES,
        ring_seconds: float = 5.0,
    ) -> None:
        if block_samples <= 0:
            raise ValueError(f"block_samples must be positive, got {block_samples}")
        sd = _import_sounddevice()
        self._sd = sd
        self.block_samples = block_samples
        self._ring_seconds = ring_seconds
        self._index = resolve_input_device(device)
        label = "default input" if self._index is None else f"audio device {self._index}"
        try:
            info = sd.query_devices(self._index, "input")
        except (sd.PortAudioError, ValueError) as e:
            if self._index is None:
                raise DeviceError(
                    f"no default input device: no sound card or sound server answered "
                    f"({_one_line(e)}); see --list-devices"
                ) from None
            raise DeviceError(f"{label}: not usable ({_one_line(e)})") from None
        self.device_rate = SAMPLE_RATE
        try:
            self._stream = self._open(SAMPLE_RATE)
        except (sd.PortAudioError, ValueError) as e:
            native = round(float(info["default_samplerate"]))
            if native in (0, SAMPLE_RATE):
                raise DeviceError(
                    f"{label}: cannot open for 16 kHz input ({_one_line(e)})"
                ) from None
            try:
                self._stream = self._open(native)
            except (sd.PortAudioError, ValueError) as e2:
                raise DeviceError(
                    f"{label}: cannot open at 16000 or {native} Hz ({_one_line(e2)})"
                ) from None
            self.device_rate = native
        self._started = False
        resampled = ", resampled" if self.device_rate != SAMPLE_RATE else ""
        where = "default" if self._index is None else str(self._index)
        self.description = f"mic:{where} {info['name']!r} ({self.device_rate} Hz mono{resampled})"

    def _open(self, rate: int) -> Any:
        self._ring = RingBuffer(max(1, round(self._ring_seconds * rate)))
        self._device_block = max(1, round(self.block_samples * rate / SAMPLE_RATE))
        return self._sd.InputStream(
            samplerate=rate,
            channels=1,
            dtype="int16",
            blocksize=self._device_block,
            device=self._index,
            callback=self._callback,
        )

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # Runs on PortAudio's thread: copy and count, nothing else.
        if getattr(status, "input_overflow", False):
            self._ring.note_overrun()
        self._ring.write(indata[:, 0])

    @property
    def overruns(self) -> int:
        return self._ring.overruns

    @property
    def dropped_samples(self) -> int:
        return self._ring.dropped_samples

    def __iter__(self) -> Iterator[np.ndarray]:
        if not self._started and not self._closed:
            try:
                self._stream.start()
            except self._sd.PortAudioError as e:
                raise DeviceError(f"{self.description}: cannot start ({_one_line(e)})") from None
            self._started = True
        resampler = None
        if self.device_rate != SAMPLE_RATE:
            resampler = soxr.ResampleStream(
                self.device_rate, SAMPLE_RATE, 1, dtype="int16", quality="HQ"
            )
        pending = np.empty(0, dtype=np.int16)
        last_audio = time.monotonic()
        while True:
            raw = self._ring.read(self._device_block, timeout=0.25)
            if len(raw) == 0:
                if self._ring.closed:
                    return
                if time.monotonic() - last_audio > MIC_STALL_SECONDS:
                    raise DeviceError(
                        f"{self.description}: no audio for {MIC_STALL_SECONDS:g} s "
                        "(device unplugged or stopped?)"
                    )
                continue
            last_audio = time.monotonic()
            if resampler is not None:
                raw = resampler.resample_chunk(raw)
            pending = np.concatenate([pending, raw]) if len(pending) else raw
            while len(pending) >= self.block_samples:
                yield pending[: self.block_samples]
                pending = pending[self.block_samples :]

    def close(self) -> None:
        """Wake a reader waiting for audio, then abort and close the stream, waiting at most
        :data:`CLOSE_TIMEOUT_S`.

        Abort, not stop: a capture stream has nothing to drain, and Pa_StopStream waiting for
        the host's pending buffers can hang on PulseAudio's ALSA plugin after Ctrl-C. If the host
        API still does not return, the stream is left to the process's exit (and PortAudio's own
        exit handler, which would wait on it too, is skipped), so Ctrl-C always ends a listener."""
        if self._closed:
            return
        self._closed = True
        self._ring.close()
        done = threading.Event()

        def shut() -> None:
            try:
                self._stream.abort()
                self._stream.close()
            except self._sd.PortAudioError:
                pass  # closing a stream whose device vanished; nothing left to release
            finally:
                done.set()

        threading.Thread(target=shut, name="portaudio-close", daemon=True).start()
        if not done.wait(CLOSE_TIMEOUT_S):
            atexit.unregister(self._sd._exit_handler)
            print(
                f"kws: {self.description}: PortAudio did not close the stream within "
                f"{CLOSE_TIMEOUT_S:g} s; leaving it to the process's exit",
                file=sys.stderr,
            )


def open_source(
    input: str | None,
    device: str | int | None = None,
    realtime: bool = False,
    block_samples: int | None = None,
) -> AudioSource:
    """Pick the source for ``--input``: None → microphone, ``-`` → stdin and a named pipe →
    :class:`StreamSource` (a WAV stream, else raw PCM), else a WAV file.

    ``block_samples`` None means the source's default (20 ms for the microphone, 100 ms
    otherwise). ``realtime`` paces WAV files like a microphone; live sources ignore it.
    """
    if input is None:
        return MicrophoneSource(device, block_samples or MIC_BLOCK_SAMPLES)
    if device is not None:
        raise KwsError(f"audio device {device!r} only applies to microphone input, not {input}")
    if input == "-":
        return StreamSource(sys.stdin.buffer, "stdin", block_samples or WAV_BLOCK_SAMPLES)
    if _is_stream(input):
        try:
            stream = open(input, "rb")  # noqa: SIM115 - the source owns and closes it
        except OSError as exc:
            raise KwsError(f"{input}: cannot open ({exc.strerror or exc})") from None
        return StreamSource(stream, input, block_samples or WAV_BLOCK_SAMPLES, owned=True)
    return WavSource(input, block_samples or WAV_BLOCK_SAMPLES, realtime)
