"""kws.wavfile against WAV bytes packed by hand with struct (not by the code under test)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from kws.errors import AudioFileError
from kws.wavfile import load_audio, read_wav, write_wav

PCM, FLOAT, EXTENSIBLE = 1, 3, 0xFFFE
GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def chunk(chunk_id: bytes, body: bytes, pad: bool = True) -> bytes:
    """A RIFF chunk, padded to an even size as the spec requires."""
    return (
        struct.pack("<4sI", chunk_id, len(body))
        + body
        + (b"\x00" if pad and len(body) % 2 else b"")
    )


def fmt_body(tag: int, channels: int, rate: int, bits: int) -> bytes:
    align = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)


def extensible_fmt(subformat: int, channels: int, rate: int, bits: int) -> bytes:
    guid = struct.pack("<H", subformat) + GUID_TAIL
    return fmt_body(EXTENSIBLE, channels, rate, bits) + struct.pack("<HHI", 22, bits, 0) + guid


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return struct.pack("<4sI", b"RIFF", len(body)) + body


def simple_wav(fmt: bytes, data: bytes) -> bytes:
    return riff(chunk(b"fmt ", fmt), chunk(b"data", data))


def write(tmp_path: Path, content: bytes, name: str = "a.wav") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


# Values exactly representable in every encoding, in [-1, 1).
VALUES = np.array([0.0, 0.5, -0.5, -1.0, 0.25, -0.25], dtype=np.float64)


@pytest.mark.parametrize(
    ("bits", "encode", "encoding"),
    [
        (8, lambda v: bytes(int(x * 128 + 128) for x in v), "pcm8"),
        (16, lambda v: struct.pack(f"<{len(v)}h", *(int(x * 2**15) for x in v)), "pcm16"),
        (
            24,
            lambda v: b"".join(struct.pack("<i", int(x * 2**23))[:3] for x in v),
            "pcm24",
        ),
        (32, lambda v: struct.pack(f"<{len(v)}i", *(int(x * 2**31) for x in v)), "pcm32"),
    ],
)
def test_pcm_bit_depths(tmp_path: Path, bits: int, encode, encoding: str) -> None:
    path = write(tmp_path, simple_wav(fmt_body(PCM, 1, 16000, bits), encode(VALUES)))
    audio = read_wav(path)
    assert audio.encoding == encoding
    assert audio.sample_rate == 16000 and audio.channels == 1
    assert audio.samples.dtype == np.float32 and audio.samples.shape == (len(VALUES), 1)
    np.testing.assert_array_equal(audio.samples[:, 0], VALUES.astype(np.float32))


@pytest.mark.parametrize(("bits", "code"), [(32, "f"), (64, "d")])
def test_ieee_float(tmp_path: Path, bits: int, code: str) -> None:
    data = struct.pack(f"<{len(VALUES)}{code}", *VALUES)
    audio = read_wav(write(tmp_path, simple_wav(fmt_body(FLOAT, 1, 22050, bits), data)))
    assert audio.encoding == f"float{bits}"
    assert audio.sample_rate == 22050
    np.testing.assert_array_equal(audio.samples[:, 0], VALUES.astype(np.float32))


def test_float_out_of_range_is_clipped(tmp_path: Path) -> None:
    data = struct.pack("<3f", 2.0, -3.0, 0.5)
    audio = read_wav(write(tmp_path, simple_wav(fmt_body(FLOAT, 1, 16000, 32), data)))
    np.testing.assert_array_equal(audio.samples[:, 0], [1.0, -1.0, 0.5])


@pytest.mark.parametrize(
    ("subformat", "bits", "data", "encoding"),
    [
        (PCM, 24, b"".join(struct.pack("<i", int(x * 2**23))[:3] for x in VALUES), "pcm24"),
        (FLOAT, 32, struct.pack(f"<{len(VALUES)}f", *VALUES), "float32"),
    ],
)
def test_extensible(tmp_path: Path, subformat: int, bits: int, data: bytes, encoding: str) -> None:
    # 2 channels: the same values on both, interleaved.
    frames = len(VALUES)
    width = bits // 8
    stereo = b"".join(data[i * width : (i + 1) * width] * 2 for i in range(frames))
    path = write(tmp_path, simple_wav(extensible_fmt(subformat, 2, 48000, bits), stereo))
    audio = read_wav(path)
    assert audio.encoding == encoding and audio.channels == 2 and audio.sample_rate == 48000
    np.testing.assert_array_equal(audio.samples, np.repeat(VALUES[:, None], 2, 1).astype("f4"))


def test_extensible_unknown_subformat(tmp_path: Path) -> None:
    fmt = fmt_body(EXTENSIBLE, 1, 16000, 16) + struct.pack("<HHI", 22, 16, 0) + b"\x01" * 16
    path = write(tmp_path, simple_wav(fmt, b"\x00\x00"))
    with pytest.raises(AudioFileError, match="unsupported WAV encoding"):
        read_wav(path)


def test_many_channels_keep_order(tmp_path: Path) -> None:
    frames = [[100 * f + c for c in range(6)] for f in range(4)]
    data = struct.pack("<24h", *(v for frame in frames for v in frame))
    audio = read_wav(write(tmp_path, simple_wav(fmt_body(PCM, 6, 16000, 16), data)))
    np.testing.assert_array_equal(np.rint(audio.samples * 32768), np.array(frames))


def test_stereo_is_downmixed_by_averaging(tmp_path: Path) -> None:
    left, right = [1000, -2000, 300], [3000, 2000, -301]
    data = struct.pack("<6h", *(v for pair in zip(left, right, strict=True) for v in pair))
    path = write(tmp_path, simple_wav(fmt_body(PCM, 2, 16000, 16), data))
    out = load_audio(path)
    assert out.dtype == np.int16 and out.ndim == 1
    np.testing.assert_array_equal(out, [2000, 0, 0])  # -0.5 rounds to even (0)


@pytest.mark.parametrize("rate", [44100, 8000])
def test_resampled_sine_keeps_its_frequency(tmp_path: Path, rate: int) -> None:
    x = sine(1000, rate, 1.0)
    data = struct.pack(f"<{len(x)}h", *np.rint(x * 32767).astype(int))
    out = load_audio(write(tmp_path, simple_wav(fmt_body(PCM, 1, rate, 16), data)))
    assert out.dtype == np.int16
    assert abs(len(out) - 16000) <= 1
    assert abs(peak_hz(out, 16000) - 1000) <= 2
    # Zero crossings of the steady part: 2 per cycle.
    middle = out[2000:14000].astype(np.int32)
    crossings = np.count_nonzero(np.signbit(middle[1:]) != np.signbit(middle[:-1]))
    assert abs(crossings - 1500) <= 4


def test_no_resampling_at_16k_is_exact(tmp_path: Path) -> None:
    ints = np.array([0, 1, -1, 32767, -32768, 12345], dtype=np.int16)
    path = write(tmp_path, simple_wav(fmt_body(PCM, 1, 16000, 16), ints.astype("<i2").tobytes()))
    np.testing.assert_array_equal(load_audio(path), ints)


def test_list_chunk_before_data_and_odd_padding(tmp_path: Path) -> None:
    ints = [1, 2, 3]
    content = riff(
        chunk(b"fmt ", fmt_body(PCM, 1, 16000, 16)),
        chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00kws!\x00"),  # 17 bytes: odd, one pad byte
        chunk(b"junk", b"abc"),  # odd again
        chunk(b"data", struct.pack("<3h", *ints)),
        chunk(b"LIST", b"after data is ignored"),
    )
    np.testing.assert_array_equal(load_audio(write(tmp_path, content)), ints)


def test_odd_sized_8bit_data_with_pad_byte(tmp_path: Path) -> None:
    content = riff(chunk(b"fmt ", fmt_body(PCM, 1, 8000, 8)), chunk(b"data", bytes([128, 192, 64])))
    audio = read_wav(write(tmp_path, content))
    np.testing.assert_array_equal(audio.samples[:, 0], [0.0, 0.5, -0.5])


def test_fmt_after_data(tmp_path: Path) -> None:
    content = riff(
        chunk(b"data", struct.pack("<2h", 5, 6)), chunk(b"fmt ", fmt_body(PCM, 1, 16000, 16))
    )
    np.testing.assert_array_equal(load_audio(write(tmp_path, content)), [5, 6])


@pytest.mark.parametrize("placeholder", [0, 0xFFFFFFFF, 0x7FFFFFFF])
def test_streamed_data_size_reads_to_end_of_file(tmp_path: Path, placeholder: int) -> None:
    data = struct.pack("<4h", 1, 2, 3, 4) + b"\x07"  # a trailing half sample is dropped
    content = (
        struct.pack("<4sI4s", b"RIFF", placeholder, b"WAVE")
        + chunk(b"fmt ", fmt_body(PCM, 1, 16000, 16))
        + struct.pack("<4sI", b"data", placeholder)
        + data
    )
    np.testing.assert_array_equal(load_audio(write(tmp_path, content)), [1, 2, 3, 4])


def test_write_wav_roundtrip_and_header(tmp_path: Path) -> None:
    stereo = np.array([[1, -1], [32767, -32768], [0, 7]], dtype=np.int16)
    path = tmp_path / "out.wav"
    write_wav(path, stereo, 22050)
    raw = path.read_bytes()
    assert raw[:4] == b"RIFF" and raw[8:16] == b"WAVEfmt "
    assert struct.unpack_from("<HHIIHH", raw, 20) == (1, 2, 22050, 22050 * 4, 4, 16)
    assert struct.unpack_from("<4sI", raw, 36) == (b"data", 12)
    assert len(raw) == 44 + 12
    audio = read_wav(path)
    np.testing.assert_array_equal(np.rint(audio.samples * 32768).astype(np.int16), stereo)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temporary file left


def test_write_wav_mono_and_rejects_floats(tmp_path: Path) -> None:
    write_wav(tmp_path / "m.wav", np.array([3, 4], dtype=np.int16), 16000)
    np.testing.assert_array_equal(load_audio(tmp_path / "m.wav"), [3, 4])
    with pytest.raises(ValueError, match="int16"):
        write_wav(tmp_path / "f.wav", np.zeros(3), 16000)


# --- errors: type, path in the message, one line ------------------------------------------


def assert_error(path: Path, match: str) -> None:
    with pytest.raises(AudioFileError, match=match) as info:
        read_wav(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "\n" not in message


def test_text_file_is_not_a_wav(tmp_path: Path) -> None:
    assert_error(
        write(tmp_path, b"hello, I am text\n", "notes.txt"), r"not a WAV file \(no RIFF/WAVE"
    )


def test_riff_but_not_wave(tmp_path: Path) -> None:
    assert_error(write(tmp_path, b"RIFF\x04\x00\x00\x00AVI "), "not a WAV file")


def test_empty_file(tmp_path: Path) -> None:
    assert_error(write(tmp_path, b""), "empty file")


def test_truncated_header(tmp_path: Path) -> None:
    full = simple_wav(fmt_body(PCM, 1, 16000, 16), b"\x00\x00" * 10)
    assert_error(write(tmp_path, full[:20], "cut20.wav"), "truncated: fmt chunk declares 16 bytes")
    assert_error(write(tmp_path, full[:12], "cut12.wav"), "no fmt chunk")
    assert_error(write(tmp_path, full[:8], "cut8.wav"), "not a WAV file")
    assert_error(write(tmp_path, full[:40], "cut40.wav"), "no data chunk")


def test_truncated_data(tmp_path: Path) -> None:
    full = simple_wav(fmt_body(PCM, 1, 16000, 16), b"\x01\x00" * 100)
    assert_error(
        write(tmp_path, full[:-50]), "truncated: data chunk declares 200 bytes but only 150 follow"
    )


def test_missing_data_chunk(tmp_path: Path) -> None:
    assert_error(
        write(tmp_path, riff(chunk(b"fmt ", fmt_body(PCM, 1, 16000, 16)))), "no data chunk"
    )


def test_missing_fmt_chunk(tmp_path: Path) -> None:
    assert_error(write(tmp_path, riff(chunk(b"data", b"\x00\x00"))), "no fmt chunk")


def test_zero_samples(tmp_path: Path) -> None:
    assert_error(
        write(tmp_path, simple_wav(fmt_body(PCM, 1, 16000, 16), b"")), "contains no audio samples"
    )
    # Less than one whole frame of a stereo 16-bit file is no samples either.
    assert_error(
        write(tmp_path, simple_wav(fmt_body(PCM, 2, 16000, 16), b"\x01\x00"), "b.wav"),
        "contains no audio samples",
    )


@pytest.mark.parametrize(
    ("fmt", "match"),
    [
        (fmt_body(7, 1, 8000, 8), r"format tag 0x0007 \(mu-law\)"),
        (fmt_body(PCM, 1, 16000, 40), "40-bit PCM"),
        (fmt_body(FLOAT, 1, 16000, 16), "16-bit float"),
        (fmt_body(PCM, 0, 16000, 16), "0 channels"),
        (fmt_body(PCM, 1, 16000, 16)[:12], "fmt chunk is 12 bytes"),
    ],
)
def test_unsupported_formats(tmp_path: Path, fmt: bytes, match: str) -> None:
    assert_error(write(tmp_path, simple_wav(fmt, b"\x00" * 16)), match)


def test_missing_file(tmp_path: Path) -> None:
    assert_error(tmp_path / "nope.wav", "no such file")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "dir.wav").mkdir()
    assert_error(tmp_path / "dir.wav", "is a directory")


def test_atomic_writes_keep_permissions_and_survive_a_full_disk(tmp_path, monkeypatch) -> None:
    import errno
    import os

    from kws.atomic import atomic_write_bytes
    from kws.errors import KwsError

    path = tmp_path / "model.bin"
    atomic_write_bytes(path, b"first")
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    path.chmod(0o640)
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second" and path.stat().st_mode & 0o777 == 0o640

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(KwsError, match="disk full") as exc:
        atomic_write_bytes(path, b"third")
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]  # no temp file left


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
