"""kws.audio sources: WAV, raw PCM and a microphone driven by a fake `sounddevice` module."""

from __future__ import annotations

import io
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kws.audio import (
    AudioSource,
    MicrophoneSource,
    RawPcmSource,
    StreamSource,
    WavSource,
    list_input_devices,
    open_source,
    resolve_input_device,
)
from kws.errors import AudioFileError, DeviceError, KwsError
from kws.wavfile import load_audio, write_wav


def assert_one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# --- WAV ----------------------------------------------------------------------------------


@pytest.fixture
def stereo_44k(tmp_path: Path) -> Path:
    t = np.arange(int(44100 * 0.55)) / 44100
    left = 8000 * np.sin(2 * np.pi * 440 * t)
    right = 4000 * np.sin(2 * np.pi * 1000 * t)
    path = tmp_path / "stereo.wav"
    write_wav(path, np.stack([left, right], axis=1).astype(np.int16), 44100)
    return path


def test_wav_blocks_concatenate_to_load_audio(stereo_44k: Path) -> None:
    source = WavSource(stereo_44k, block_samples=1600)
    blocks = list(source)
    assert all(b.dtype == np.int16 and b.ndim == 1 for b in blocks)
    assert [len(b) for b in blocks[:-1]] == [1600] * (len(blocks) - 1)
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(stereo_44k))
    assert source.description == f"wav:{stereo_44k} (44100 Hz stereo pcm16, resampled)"
    assert source.sample_rate == 16000 and source.overruns == 0 and source.dropped_samples == 0
    assert isinstance(source, AudioSource)


def test_wav_close_stops_iteration(stereo_44k: Path) -> None:
    source = WavSource(stereo_44k, block_samples=160)
    seen = 0
    for _ in source:
        seen += 1
        if seen == 3:
            source.close()
    assert seen == 3


def test_wav_realtime_takes_at_least_the_audio_duration(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    write_wav(path, np.zeros(int(0.3 * 16000), dtype=np.int16), 16000)
    started = time.monotonic()
    blocks = list(WavSource(path, block_samples=1600, realtime=True))
    assert time.monotonic() - started >= 0.25
    assert sum(len(b) for b in blocks) == 4800


def test_long_wav_streams_in_constant_memory(tmp_path: Path) -> None:
    """A long recording is decoded as it is read: peak memory stays far below its size."""
    import tracemalloc

    path = tmp_path / "long.wav"
    rng = np.random.default_rng(0)
    write_wav(path, (rng.standard_normal((48000 * 40, 2)) * 3000).astype(np.int16), 48000)
    source = WavSource(path, block_samples=320)
    assert source.duration_s == 40.0
    tracemalloc.start()
    total = sum(len(block) for block in source)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == 40 * 16000
    assert peak < 2_000_000, peak  # the file is 7.7 MB; decoded to float32 it would be 15 MB


def test_wav_that_shrinks_while_read_fails_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "shrinking.wav"
    write_wav(path, np.zeros(16000 * 2, dtype=np.int16), 16000)
    source = WavSource(path)
    with open(path, "r+b") as f:
        f.truncate(20000)
    with pytest.raises(KwsError) as error:
        list(source)
    assert assert_one_line(error) == f"{path}: file shrank while being read"


def test_wav_source_missing_file_is_audio_file_error(tmp_path: Path) -> None:
    with pytest.raises(KwsError, match="no such file"):
        WavSource(tmp_path / "missing.wav")


# --- raw PCM ------------------------------------------------------------------------------


class Trickle(io.RawIOBase):
    """A binary stream that returns at most `chunk` bytes per read, like a pipe."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self._data = io.BytesIO(data)
        self._chunk = chunk

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, self._chunk) if size >= 0 else self._chunk)


def test_raw_pcm_short_reads_and_odd_trailing_byte() -> None:
    samples = np.arange(-500, 500, dtype=np.int16) * 7
    data = samples.astype("<i2").tobytes() + b"\x99"
    source = RawPcmSource(Trickle(data, chunk=37), block_samples=160)  # type: ignore[arg-type]
    blocks = list(source)
    assert [len(b) for b in blocks] == [160] * 6 + [40]
    np.testing.assert_array_equal(np.concatenate(blocks), samples)
    assert all(b.dtype == np.int16 for b in blocks)


def test_raw_pcm_from_bytesio_and_empty_stream() -> None:
    samples = np.array([1, -2, 32767, -32768], dtype=np.int16)
    blocks = list(RawPcmSource(io.BytesIO(samples.astype("<i2").tobytes()), block_samples=3))
    assert [b.tolist() for b in blocks] == [[1, -2, 32767], [-32768]]
    assert list(RawPcmSource(io.BytesIO(b""))) == []
    assert list(RawPcmSource(io.BytesIO(b"\x01"))) == []


def test_a_wav_stream_converts_as_it_arrives_like_the_file(stereo_44k: Path) -> None:
    data = bytearray(stereo_44k.read_bytes())
    data[40:44] = b"\xff\xff\xff\xff"  # the data size a live writer cannot know
    source = StreamSource(Trickle(bytes(data), chunk=37), "pipe", block_samples=160)  # type: ignore[arg-type]
    blocks = list(source)
    assert source.wav and all(len(b) == 160 for b in blocks[:-1])
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(stereo_44k))
    raw = StreamSource(io.BytesIO(b"\x05\x00\x06\x00"), "pipe", block_samples=1)
    assert not raw.wav and [b.tolist() for b in raw] == [[5], [6]]


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        (b"RIFF\x00\x00\x00\x00WAVE" + b"LIST" + (2**30).to_bytes(4, "little"), "LIST"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "ended in its header"),
        (b"RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00", "no fmt chunk"),
    ],
)
def test_a_broken_wav_stream_is_one_line_naming_it(header: bytes, needle: str) -> None:
    with pytest.raises(AudioFileError, match=needle) as info:
        list(StreamSource(io.BytesIO(header), "the-pipe"))
    assert str(info.value).startswith("the-pipe: ") and "\n" not in str(info.value)


def test_open_source_dispatch(
    stereo_44k: Path, monkeypatch: pytest.MonkeyPatch, fake_sd: FakeSoundDevice
) -> None:
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(b"\x05\x00")))
    stdin_source = open_source("-")
    assert isinstance(stdin_source, StreamSource) and not stdin_source.wav
    assert [b.tolist() for b in stdin_source] == [[5]]
    wav = open_source(str(stereo_44k), block_samples=400)
    assert isinstance(wav, WavSource) and wav.block_samples == 400
    mic = open_source(None, device="array")
    assert isinstance(mic, MicrophoneSource) and isinstance(mic, AudioSource)
    mic.close()
    with pytest.raises(KwsError, match="only applies to microphone input") as info:
        open_source(str(stereo_44k), device="array")
    assert_one_line(info)


# --- microphone (fake sounddevice) --------------------------------------------------------

DEVICES = [
    {"name": "Built-in Microphone", "max_input_channels": 2, "default_samplerate": 48000.0},
    {"name": "HDMI Output", "max_input_channels": 0, "default_samplerate": 48000.0},
    {"name": "USB Microphone", "max_input_channels": 1, "default_samplerate": 44100.0},
    {"name": "USB Microphone Array", "max_input_channels": 4, "default_samplerate": 48000.0},
]


class FakeSoundDevice(types.ModuleType):
    """Just enough of sounddevice: devices, host APIs, and an InputStream fed by a thread."""

    def __init__(self) -> None:
        super().__init__("sounddevice")
        self.supported_rates = {16000}
        self.callbacks = 200  # how many blocks a started stream delivers
        self.overflow_every = 0  # flag input_overflow on every n-th callback (0: never)
        self.signal: Callable[[int, int, int], np.ndarray] = lambda rate, start, n: np.arange(
            start, start + n
        ).astype(np.int16)
        self.streams: list[Any] = []
        self.default = types.SimpleNamespace(device=[0, 1])
        self.abort_hangs = threading.Event()  # set: abort() blocks until released
        self.release = threading.Event()
        self._exit_handler = lambda: None  # sounddevice's atexit hook (Pa_Terminate)
        fake = self

        class PortAudioError(Exception):
            pass

        class InputStream:
            def __init__(self, **kwargs: Any) -> None:
                assert kwargs["channels"] == 1 and kwargs["dtype"] == "int16"
                if kwargs["samplerate"] not in fake.supported_rates:
                    raise PortAudioError("Error opening InputStream: Invalid sample rate [-9997]")
                self.kwargs = kwargs
                self.stopped = threading.Event()
                self.done = threading.Event()
                self.thread = threading.Thread(target=self._run, daemon=True)
                fake.streams.append(self)

            def _run(self) -> None:
                n, rate = self.kwargs["blocksize"], self.kwargs["samplerate"]
                for k in range(fake.callbacks):
                    if self.stopped.is_set():
                        break
                    overflow = fake.overflow_every and (k + 1) % fake.overflow_every == 0
                    status = types.SimpleNamespace(input_overflow=bool(overflow))
                    block = fake.signal(rate, k * n, n).reshape(-1, 1)
                    self.kwargs["callback"](block, n, None, status)
                    time.sleep(0.0005)
                self.done.set()

            def start(self) -> None:
                self.thread.start()

            def abort(self) -> None:  # like sounddevice's: stop now, pending audio dropped
                if fake.abort_hangs.is_set():  # a host API that never returns
                    fake.release.wait()
                self.stopped.set()
                if self.thread.is_alive():
                    self.thread.join()

            def close(self) -> None:
                pass

        self.PortAudioError = PortAudioError
        self.InputStream = InputStream

    def query_devices(self, device: int | None = None, kind: str | None = None) -> Any:
        devices = [dict(d, hostapi=0, index=i) for i, d in enumerate(DEVICES)]
        if device is None and kind is None:
            return devices
        index = self.default.device[0] if device is None else device
        if index < 0 or index >= len(devices) or devices[index]["max_input_channels"] == 0:
            raise ValueError(f"No input device matching {device!r}")
        return devices[index]

    def query_hostapis(self) -> tuple[dict[str, Any], ...]:
        return ({"name": "ALSA"},)


@pytest.fixture
def fake_sd(monkeypatch: pytest.MonkeyPatch) -> FakeSoundDevice:
    fake = FakeSoundDevice()
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    return fake


def take(blocks: Iterator[np.ndarray], samples: int) -> np.ndarray:
    out: list[np.ndarray] = []
    while sum(len(b) for b in out) < samples:
        out.append(next(blocks))
    return np.concatenate(out)


def test_microphone_delivers_contiguous_blocks(fake_sd: FakeSoundDevice) -> None:
    source = MicrophoneSource(device=None, block_samples=320)
    assert source.description == "mic:default 'Built-in Microphone' (16000 Hz mono)"
    blocks = iter(source)
    first = [next(blocks) for _ in range(20)]
    assert all(len(b) == 320 and b.dtype == np.int16 for b in first)
    np.testing.assert_array_equal(np.concatenate(first), np.arange(20 * 320).astype(np.int16))
    stream = fake_sd.streams[-1]
    assert stream.kwargs["samplerate"] == 16000 and stream.kwargs["blocksize"] == 320
    source.close()
    assert stream.stopped.is_set()
    rest = list(blocks)  # close wakes the reader; whatever was buffered drains, then it ends
    assert all(len(b) == 320 for b in rest)
    assert source.overruns == 0 and source.dropped_samples == 0


def test_a_host_api_that_never_closes_does_not_hang_the_listener(
    fake_sd: FakeSoundDevice, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import atexit

    from kws import audio

    monkeypatch.setattr(audio, "CLOSE_TIMEOUT_S", 0.2)
    unregistered = []
    monkeypatch.setattr(atexit, "unregister", unregistered.append)
    source = MicrophoneSource(device=None, block_samples=320)
    blocks = iter(source)
    next(blocks)
    fake_sd.abort_hangs.set()
    started = time.monotonic()
    source.close()  # abort() blocks: close gives up after the timeout instead of hanging
    assert time.monotonic() - started < 2.0
    assert unregistered == [fake_sd._exit_handler]  # Pa_Terminate would wait on it at exit
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not close the stream within 0.2 s" in err
    assert all(len(b) == 320 for b in blocks)  # the reader was woken and ends
    fake_sd.release.set()


def test_microphone_counts_overruns_and_drops(fake_sd: FakeSoundDevice) -> None:
    fake_sd.callbacks = 50
    fake_sd.overflow_every = 10  # 5 PortAudio-reported overflows
    source = MicrophoneSource(block_samples=320, ring_seconds=0.1)  # ring holds 1600 samples
    blocks = iter(source)
    next(blocks)  # starts the stream; then the consumer stalls
    assert fake_sd.streams[-1].done.wait(5)
    # 50 blocks * 320 = 16000 samples written, 320 read; the ring keeps the newest 1600.
    assert source.dropped_samples == 16000 - 320 - 1600
    assert source.overruns >= 5 + 1
    kept = take(blocks, 1600)
    np.testing.assert_array_equal(kept, np.arange(14400, 16000).astype(np.int16))
    source.close()


def test_microphone_falls_back_to_device_rate_and_resamples(fake_sd: FakeSoundDevice) -> None:
    fake_sd.supported_rates = {48000}
    fake_sd.callbacks = 100
    fake_sd.signal = lambda rate, start, n: (
        10000 * np.sin(2 * np.pi * 1000 * np.arange(start, start + n) / rate)
    ).astype(np.int16)
    source = MicrophoneSource(device="built-in", block_samples=320)
    assert source.device_rate == 48000
    assert source.description == "mic:0 'Built-in Microphone' (48000 Hz mono, resampled)"
    stream = fake_sd.streams[-1]
    assert stream.kwargs["samplerate"] == 48000 and stream.kwargs["blocksize"] == 960
    audio = take(iter(source), 16000)[:16000].astype(np.float64)
    source.close()
    spectrum = np.abs(np.fft.rfft(audio[4000:] * np.hanning(12000)))
    assert abs(np.argmax(spectrum) * 16000 / 12000 - 1000) <= 2


def test_microphone_refused_at_every_rate(fake_sd: FakeSoundDevice) -> None:
    fake_sd.supported_rates = set()
    with pytest.raises(DeviceError, match=r"audio device 2: cannot open at 16000 or 44100") as info:
        MicrophoneSource(device=2)
    assert_one_line(info)


def test_device_resolution(fake_sd: FakeSoundDevice) -> None:
    assert resolve_input_device(None) is None
    assert resolve_input_device(3) == 3
    assert resolve_input_device("2") == 2
    assert resolve_input_device("built-IN") == 0
    assert resolve_input_device("usb microphone") == 2  # exact name beats the longer one
    assert resolve_input_device("array") == 3


@pytest.mark.parametrize(
    ("device", "match"),
    [
        ("nonexistent", r"'nonexistent': no input device matches; input devices: 0 'Built-in"),
        ("microphone", "matches several input devices"),
        ("1", "audio device 1: no input device with that index"),  # output-only
        (9, "audio device 9: no input device with that index"),
    ],
)
def test_unknown_device_is_device_error(
    fake_sd: FakeSoundDevice, device: str | int, match: str
) -> None:
    with pytest.raises(DeviceError, match=match) as info:
        MicrophoneSource(device=device)
    assert_one_line(info)
    assert not fake_sd.streams


def test_list_input_devices(fake_sd: FakeSoundDevice) -> None:
    devices = list_input_devices()
    assert [d["index"] for d in devices] == [0, 2, 3]
    assert devices[0] == {
        "index": 0,
        "name": "Built-in Microphone",
        "channels": 2,
        "default_samplerate": 48000.0,
        "hostapi": "ALSA",
        "default": True,
    }


def test_missing_sounddevice_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # makes `import sounddevice` fail
    with pytest.raises(DeviceError, match=r"pip install 'kws\[mic\]'; and libportaudio2") as info:
        MicrophoneSource()
    assert_one_line(info)
    with pytest.raises(DeviceError):
        list_input_devices()
