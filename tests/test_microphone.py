"""The real microphone path without a sound card: PulseAudio null sink -> monitor -> PortAudio.

A private PulseAudio daemon (its own runtime folder, stopped afterwards) gets a null sink whose
monitor is the default source; ``paplay`` plays a WAV into the sink while ``kws.listen``
captures through sounddevice from the ``pulse`` device and must report the keywords.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kws.wavfile import load_audio, write_wav

pytestmark = pytest.mark.slow
SINK = "kws_test_sink"


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        message = f"{tool} is not installed (tools/setup.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing tool there is a broken set-up
        pytest.skip(message)


@pytest.fixture
def pulse(tmp_path: Path):
    """Environment for clients of a private PulseAudio daemon with a null sink."""
    for tool in ("pulseaudio", "pactl", "paplay"):
        need(tool)
    runtime = tmp_path / "pulse"
    runtime.mkdir()
    env = {
        **os.environ,
        "PULSE_RUNTIME_PATH": str(runtime),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "HOME": str(tmp_path),
    }
    env.pop("PULSE_SERVER", None)
    subprocess.run(
        [
            "pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n",
            "--load=module-native-protocol-unix",
            f"--load=module-null-sink sink_name={SINK}",
        ],
        env=env, check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    try:
        for _ in range(50):
            if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(
            ["pactl", "set-default-source", f"{SINK}.monitor"], env=env, check=True, timeout=10
        )
        yield env
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True, timeout=30)


def test_listen_detects_keywords_played_into_the_microphone(tiny_models, tmp_path, pulse) -> None:
    clip = tmp_path / "two_keywords.wav"  # keywords at 3.0 s and 7.5 s of the test stream
    write_wav(clip, load_audio(tiny_models["stream_wav"])[: 9 * 16000], 16000)

    devices = subprocess.run(
        [sys.executable, "-m", "kws.listen", "--list-devices"],
        env=pulse, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert devices.returncode == 0, devices.stderr
    assert "pulse" in devices.stdout

    listener = subprocess.Popen(
        [sys.executable, "-m", "kws.listen", "--model", str(tiny_models["window"]),
         "--device", "pulse", "--status-interval", "0"],
        env={**pulse, "PYTHONFAULTHANDLER": "1"},  # SIGABRT dumps every thread's stack
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        started = json.loads(listener.stdout.readline())
        assert started["state"] == "started", started
        assert "pulse" in started["info"]["source"]
        subprocess.run(["paplay", f"--device={SINK}", str(clip)], env=pulse, check=True, timeout=60)
        time.sleep(1.5)  # let the last block drain through the ring buffer
    finally:
        listener.send_signal(signal.SIGINT)
        asked = time.monotonic()
        try:
            out, err = listener.communicate(timeout=30)
            took = time.monotonic() - asked
        except subprocess.TimeoutExpired:  # say where it hangs, then fail
            listener.send_signal(signal.SIGABRT)
            _, err = listener.communicate(timeout=30)
            pytest.fail(f"kws.listen did not stop 30 s after SIGINT; its stacks:\n{err[-6000:]}")
    events = [json.loads(line) for line in out.splitlines()]
    assert listener.returncode == 0, err
    stopped = events[-1]
    assert stopped["state"] == "stopped" and stopped["reason"] == "interrupted"
    assert stopped["t"] > 9.0  # the whole clip was captured
    # PortAudio was capturing: closing it waits at most kws.audio.CLOSE_TIMEOUT_S (1 s)
    assert took < 2.0, f"stopped {took:.2f} s after SIGINT"
    found = [e for e in events if e["type"] == "detection"]
    assert [e["keyword"] for e in found] == ["chirp", "chirp"], found
    # Stream time starts when capture starts, before playback: keep the spacing of the two.
    assert found[1]["end"] - found[0]["end"] == pytest.approx(4.5, abs=0.3)
    assert all(e["latency_ms"] < 500 for e in found)
