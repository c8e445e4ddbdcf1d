"""End-to-end: the real ``python -m kws.listen`` CLI on generated audio and bad input."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soxr

from kws.wavfile import load_audio, write_wav

pytestmark = pytest.mark.slow


def listen(
    *args: str, stdin: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kws.listen", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )


def events(done: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def detections(done: subprocess.CompletedProcess) -> list[dict]:
    return [e for e in events(done) if e["type"] == "detection"]


def manifest(tiny_models) -> list[tuple[float, float]]:
    data = json.loads(Path(tiny_models["stream_json"]).read_text())
    return [(e["onset_s"], e["offset_s"]) for e in data["events"]]


def assert_hits_every_keyword(found: list[dict], truth: list[tuple[float, float]]) -> None:
    """One detection per keyword, each between its onset and 1 s after its offset."""
    assert len(found) == len(truth), found
    for event, (onset, offset) in zip(found, truth, strict=True):
        assert onset <= event["end"] <= offset + 1.0, (event, onset, offset)
        assert event["start"] < event["end"]


@pytest.mark.parametrize("form", ["window", "streaming"])
def test_detects_every_keyword_in_a_wav_file(tiny_models, form: str) -> None:
    done = listen("--model", str(tiny_models[form]), "--input", str(tiny_models["stream_wav"]))
    assert done.returncode == 0, done.stderr
    out = events(done)
    assert out[0]["type"] == "status" and out[0]["state"] == "started"
    assert out[0]["info"]["models"][0]["backend"] == "ai_edge_litert"
    assert out[-1] == {**out[-1], "state": "stopped", "reason": "end_of_input", "detections": 4}
    assert out[-1]["t"] == pytest.approx(20.0)
    found = detections(done)
    assert {(e["model"], e["keyword"]) for e in found} == {("chirp", "chirp")}
    assert all(0.5 <= e["score"] <= 1 and e["latency_ms"] >= 0 for e in found)
    assert_hits_every_keyword(found, manifest(tiny_models))


def test_raw_pcm_on_stdin_gives_the_same_detections(tiny_models) -> None:
    pcm = load_audio(tiny_models["stream_wav"]).astype("<i2").tobytes()
    from_stdin = listen("--model", str(tiny_models["streaming"]), "--input", "-", stdin=pcm)
    from_file = listen(
        "--model", str(tiny_models["streaming"]), "--input", str(tiny_models["stream_wav"])
    )
    assert from_stdin.returncode == 0, from_stdin.stderr
    strip = lambda es: [{k: v for k, v in e.items() if k != "latency_ms"} for e in es]  # noqa: E731
    assert strip(detections(from_stdin)) == strip(detections(from_file))


def _feed_fifo(fifo: Path, data: bytes) -> None:
    """Write ``data`` into a named pipe from a thread, in pieces, as a live writer would."""
    import threading

    def write() -> None:
        with open(fifo, "wb") as f:
            for start in range(0, len(data), 3001):
                f.write(data[start : start + 3001])
                f.flush()

    threading.Thread(target=write, daemon=True).start()


@pytest.mark.parametrize("kind", ["wav", "raw"])
def test_a_named_pipe_is_read_as_a_stream(tiny_models, tmp_path: Path, kind: str) -> None:
    """A FIFO fed by arecord or a satellite: a WAV stream (44.1 kHz stereo, its data size
    unknown to the writer) or raw s16le PCM gives the detections of the file itself."""
    audio = load_audio(tiny_models["stream_wav"])
    if kind == "wav":
        variant = tmp_path / "variant.wav"
        write_variant(variant, audio, 44100, 2, "pcm32")
        data = bytearray(variant.read_bytes())
        data[40:44] = struct.pack("<I", 0xFFFFFFFF)  # a live writer's placeholder data size
        reference = listen("--model", str(tiny_models["window"]), "--input", str(variant))
    else:
        data = bytearray(audio.astype("<i2").tobytes())
        reference = listen(
            "--model", str(tiny_models["window"]), "--input", str(tiny_models["stream_wav"])
        )
    fifo = tmp_path / "audio.fifo"
    os.mkfifo(fifo)
    _feed_fifo(fifo, bytes(data))
    done = listen("--model", str(tiny_models["window"]), "--input", str(fifo))
    assert done.returncode == 0, done.stderr
    strip = lambda es: [{k: v for k, v in e.items() if k != "latency_ms"} for e in es]  # noqa: E731
    assert strip(detections(done)) == strip(detections(reference))
    assert_hits_every_keyword(detections(done), manifest(tiny_models))


def write_variant(path: Path, audio: np.ndarray, rate: int, channels: int, kind: str) -> None:
    """Write ``audio`` (int16, 16 kHz) as a WAV of another encoding, rate and channel count."""
    x = audio.astype(np.float64) / 32768
    if rate != 16000:
        x = soxr.resample(x, 16000, rate)
    x = np.repeat(x[:, None], channels, axis=1)
    if kind == "float32":
        tag, bits, data = 3, 32, x.astype("<f4").tobytes()
    elif kind == "pcm8":
        tag, bits, data = 1, 8, np.clip(x * 128 + 128, 0, 255).astype(np.uint8).tobytes()
    elif kind == "pcm24":
        ints = np.clip(x * 2**23, -(2**23), 2**23 - 1).astype("<i4")
        tag, bits, data = 1, 24, ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:  # pcm32
        tag, bits = 1, 32
        data = np.clip(x * 2**31, -(2**31), 2**31 - 1).astype("<i4").tobytes()
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data))
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data)


@pytest.mark.parametrize(
    ("rate", "channels", "kind"),
    [(44100, 2, "pcm24"), (48000, 1, "float32"), (22050, 1, "pcm32"), (16000, 2, "pcm8")],
)
def test_other_encodings_rates_and_channels_are_converted(
    tiny_models, tmp_path: Path, rate: int, channels: int, kind: str
) -> None:
    path = tmp_path / f"stream_{rate}_{channels}_{kind}.wav"
    write_variant(path, load_audio(tiny_models["stream_wav"]), rate, channels, kind)
    # The window form: the tiny streaming model's GRU state, never trained past 1 s windows,
    # lets a distractor just after a keyword fire on resampled audio (a model weakness).
    done = listen("--model", str(tiny_models["window"]), "--input", str(path))
    assert done.returncode == 0, done.stderr
    assert_hits_every_keyword(detections(done), manifest(tiny_models))


def test_two_models_share_one_frontend_and_emit_scores(tiny_models) -> None:
    done = listen(
        "--model", str(tiny_models["window"]),
        "--model", str(tiny_models["streaming"]),
        "--input", str(tiny_models["stream_wav"]),
        "--emit-scores",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = events(done)
    scores = [e for e in out if e["type"] == "score"]
    assert set(scores[0]["scores"]) == {"_background_", "chirp"}
    # 20 s give 1998 frames. Streaming form: a call every 2 frames (999); window form: the
    # first call once 98 frames are in, then every 2 frames (951).
    assert len(scores) == 999 + 951
    assert len(detections(done)) == 8


def test_threshold_override_changes_what_fires(tiny_models) -> None:
    model, wav = str(tiny_models["streaming"]), str(tiny_models["stream_wav"])
    strict = listen("--model", model, "--input", wav, "--threshold", "chirp=1.0")
    assert strict.returncode == 0 and detections(strict) == []
    started = events(strict)[0]
    assert started["info"]["models"][0]["thresholds"] == {"chirp": 1.0}
    assert started["info"]["models"][0]["frontend"] == "native"
    lax = listen("--model", model, "--input", wav, "--threshold", "0.3")
    assert len(detections(lax)) >= 4


def test_config_file_maps_onto_the_same_settings(tiny_models, tmp_path: Path) -> None:
    config = tmp_path / "listen.toml"
    config.write_text(
        f'models = ["{tiny_models["streaming"]}"]\ninput = "{tiny_models["stream_wav"]}"\n'
        "[pipeline]\nthresholds = {chirp = 1.0}\nstatus_interval_s = 5.0\n"
    )
    done = listen("--config", str(config))
    assert done.returncode == 0, done.stderr
    states = [e["state"] for e in events(done) if e["type"] == "status"]
    assert states == ["started", "running", "running", "running", "running", "stopped"]
    assert detections(done) == []
    config.write_text("modles = []\n")
    bad = listen("--config", str(config))
    assert bad.returncode == 2 and b"config has unknown keys: modles" in bad.stderr


def test_help_explains_every_option() -> None:
    done = listen("--help")
    assert done.returncode == 0
    text = done.stdout.decode()
    for option in (
        "--model", "--input", "--device", "--list-devices", "--threshold", "--emit-scores",
        "--realtime", "--block-ms", "--status-interval", "--backend", "--config",
    ):  # fmt: skip
        assert option in text


def test_realtime_paces_like_a_microphone(tiny_models, tmp_path: Path) -> None:
    short = tmp_path / "short.wav"
    write_wav(short, load_audio(tiny_models["stream_wav"])[: 16000 * 2], 16000)
    start = time.monotonic()
    done = listen("--model", str(tiny_models["streaming"]), "--input", str(short), "--realtime")
    assert done.returncode == 0
    assert time.monotonic() - start >= 1.9


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_end_with_a_summary(tiny_models, stop: signal.Signals) -> None:
    """Started with SIGINT ignored, as a shell starts background jobs (and CI ran this): Python
    then installs no Ctrl-C handler of its own, so the listener must install one."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kws.listen", "--model", str(tiny_models["streaming"]),
         "--input", str(tiny_models["stream_wav"]), "--realtime"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_ignore_sigint,
    )  # fmt: skip
    first = proc.stdout.readline()
    assert json.loads(first)["state"] == "started"
    time.sleep(1.0)
    proc.send_signal(stop)
    out, _ = proc.communicate(timeout=30)
    last = json.loads(out.decode().splitlines()[-1])
    assert proc.returncode == 0
    assert last["state"] == "stopped" and last["reason"] == "interrupted"
    assert 0.5 < last["t"] < 19


# --- bad input: one line on stderr naming the file and the problem, exit status 2 -----------


def assert_one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    err = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2, (done.returncode, err)
    assert len(err) == 1, err
    assert err[0].startswith("kws.listen: error: ")
    for needle in needles:
        assert needle in err[0], err[0]


def wav_bytes(tiny_models) -> bytes:
    return Path(tiny_models["stream_wav"]).read_bytes()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (lambda tm: b"hello, I am a text file\n", "not a WAV file"),
        (lambda tm: b"", "empty"),
        (lambda tm: wav_bytes(tm)[:30], "truncated"),
        (lambda tm: wav_bytes(tm)[: len(wav_bytes(tm)) // 2], "truncated"),
        (lambda tm: wav_bytes(tm)[:40] + b"\0\0\0\0", "no audio samples"),
    ],
    ids=["text", "empty", "truncated-header", "truncated-data", "no-samples"],
)
def test_bad_audio_files(tiny_models, tmp_path: Path, content, needle: str) -> None:
    path = tmp_path / "input.wav"
    path.write_bytes(content(tiny_models))
    done = listen("--model", str(tiny_models["streaming"]), "--input", str(path))
    assert_one_line_error(done, str(path), needle)


def test_missing_audio_file(tiny_models, tmp_path: Path) -> None:
    path = tmp_path / "nowhere.wav"
    done = listen("--model", str(tiny_models["streaming"]), "--input", str(path))
    assert_one_line_error(done, str(path))


def test_bad_model_files(tiny_models, tmp_path: Path) -> None:
    wav = str(tiny_models["stream_wav"])
    missing = tmp_path / "missing.tflite"
    assert_one_line_error(listen("--model", str(missing), "--input", wav), str(missing), "no such")
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(Path(tiny_models["streaming"]).read_bytes()[:5000])
    assert_one_line_error(listen("--model", str(cut), "--input", wav), str(cut))
    text = tmp_path / "text.tflite"
    text.write_text("not a model")
    assert_one_line_error(listen("--model", str(text), "--input", wav), str(text), "TFLite")
    # Read whole, these would exhaust memory: refused before reading.
    assert_one_line_error(listen("--model", "/dev/zero", "--input", wav), "/dev/zero", "regular")
    huge = tmp_path / "huge.tflite"
    with open(huge, "wb") as f:
        f.truncate(300 * 2**20)  # sparse: no disk used
    assert_one_line_error(listen("--model", str(huge), "--input", wav), str(huge), "larger")


def test_no_model_given() -> None:
    assert_one_line_error(listen("--input", "x.wav"), "no model given")


@pytest.mark.parametrize("device", ["99", "no-such-microphone"])
def test_no_such_input_device(tiny_models, device: str) -> None:
    done = listen("--model", str(tiny_models["streaming"]), "--device", device, timeout=60)
    assert_one_line_error(done, device)


def test_no_audio_system_at_all(tiny_models, tmp_path: Path) -> None:
    """With no sound server and no sound card, the default microphone is a one-line error."""
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent"}
    done = subprocess.run(
        [sys.executable, "-m", "kws.listen", "--model", str(tiny_models["streaming"])],
        capture_output=True, timeout=60, env=env,
    )  # fmt: skip
    assert_one_line_error(done)
