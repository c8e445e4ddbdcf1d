"""The daemon: one TOML config runs a live stream through the models to stdout and MQTT, and a
Wyoming server beside it, in one process; SIGTERM stops all of it with a ``stopped`` status.
The systemd unit is checked by systemd itself where it is installed."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kws.errors import KwsError
from kws.listen import ListenConfig
from kws.model import load_model
from kws.pipeline import Pipeline
from kws.wavfile import load_audio
from tests.mqtt_broker import Broker, Watcher, needs_broker

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware_models"
DEMO = FIRMWARE / "demo" / "wake_words.wav"
STOP_WITHIN_S = 2.0


def wyoming_detections(port: int, audio: bytes) -> list[tuple[str, int]]:
    """One satellite turn at 16 kHz mono: detect, audio, audio-stop; its detections."""
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient
    from wyoming.ping import Ping, Pong
    from wyoming.wake import Detect, Detection

    async def turn() -> list[tuple[str, int]]:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Detect().event())
            await client.write_event(AudioStart(16000, 2, 1).event())
            for i in range(0, len(audio), 3200):
                await client.write_event(AudioChunk(16000, 2, 1, audio[i : i + 3200]).event())
            await client.write_event(AudioStop().event())
            await client.write_event(Ping().event())  # answered in order: marks the end
            found = []
            while True:
                event = await asyncio.wait_for(client.read_event(), 30)
                assert event is not None
                if Detection.is_type(event.type):
                    d = Detection.from_event(event)
                    found.append((d.name or "", d.timestamp or 0))
                elif Pong.is_type(event.type):
                    return found

    return asyncio.run(turn())


@needs_broker
def test_one_config_runs_stream_mqtt_and_wyoming_and_stops_on_sigterm(tmp_path: Path) -> None:
    pytest.importorskip("paho.mqtt")
    pytest.importorskip("wyoming")
    demo = load_audio(DEMO)
    model = load_model(FIRMWARE / "hey_jarvis.tflite")
    truth = [e for e in Pipeline([model]).process(demo) if e.type == "detection"]
    assert truth  # the shipped hey_jarvis catches the demo's first "hey jarvis"
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    watcher = Watcher(broker.port, ["kws/test/#"])
    config = tmp_path / "kws.toml"
    config.write_text(
        f'models = ["{FIRMWARE / "hey_jarvis.tflite"}"]\ninput = "-"\n'
        "[pipeline]\nstatus_interval_s = 0\n"
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{broker.port}"\nprefix = "kws/test"\n'
        '[wyoming]\nuri = "tcp://127.0.0.1:0"\n'
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "kws.listen", "--config", str(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        assert daemon.stdout is not None and daemon.stdin is not None
        daemon.stdin.write(DEMO.read_bytes())  # the live stream; stdin stays open
        daemon.stdin.flush()
        lines: list[dict] = []
        reader = threading.Thread(
            target=lambda: lines.extend(json.loads(line) for line in daemon.stdout), daemon=True
        )
        reader.start()
        watcher_deadline = time.monotonic() + 30
        while not lines and time.monotonic() < watcher_deadline:
            time.sleep(0.05)
        started = lines[0]
        assert started["state"] == "started", started
        uri = started["info"]["wyoming"]
        assert uri.startswith("tcp://127.0.0.1:")

        # A Home Assistant satellite meanwhile: the server's own pipeline, the same detections.
        heard = wyoming_detections(int(uri.rsplit(":", 1)[1]), demo.tobytes())
        assert heard == [("hey_jarvis", round(d.end * 1000)) for d in truth]

        # Both streams' detections reach MQTT; the satellite's carry their source.
        topic = "kws/test/detection/"
        watcher.wait_for(lambda w: len(w.payloads(topic)) == 2 * len(truth), timeout=30)
        own = [p for p in watcher.payloads(topic) if "source" not in p]
        ends = [p["end"] for p in own]
        assert ends == pytest.approx([d.end for d in truth], abs=0.02)
        relayed = [p for p in watcher.payloads(topic) if "source" in p]
        assert [round(p["end"] * 1000) for p in relayed] == [ms for _, ms in heard]
        assert all(p["source"].startswith("wyoming 127.0.0.1:") for p in relayed)

        asked = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        took = time.monotonic() - asked
        reader.join(timeout=10)
        assert daemon.stderr is not None
        err = daemon.stderr.read().decode()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
        watcher_messages = list(watcher.messages)
        watcher.close()
        broker.stop()
    assert daemon.returncode == 0, err
    assert lines[-1]["state"] == "stopped" and lines[-1]["reason"] == "interrupted"
    detections = [e for e in lines if e["type"] == "detection"]
    assert [e["end"] for e in detections if "source" not in e] == ends
    assert [e for e in detections if "source" in e] == relayed
    statuses = [json.loads(p) for t, p, _ in watcher_messages if t == "kws/test/status"]
    assert statuses[-1]["state"] == "stopped"
    availability = [p for t, p, _ in watcher_messages if t == "kws/test/availability"]
    assert availability[-1] == b"offline"
    assert took < STOP_WITHIN_S, f"stopped {took:.2f} s after SIGTERM; stderr: {err[-2000:]}"


def test_the_config_reads_the_wyoming_table_and_rejects_a_bad_one(tmp_path: Path) -> None:
    config = tmp_path / "kws.toml"
    config.write_text('models = ["a.tflite"]\n[wyoming]\nuri = "tcp://127.0.0.1:10400"\n')
    loaded = ListenConfig.from_toml(config)
    assert loaded.wyoming is not None and loaded.wyoming.uri == "tcp://127.0.0.1:10400"
    assert loaded.wyoming.models == ()  # the server serves the listener's models
    assert ListenConfig.from_toml(_write(tmp_path, 'models = ["a.tflite"]\n')).wyoming is None
    with pytest.raises(KwsError, match=r"\[wyoming\] has unknown keys: port"):
        ListenConfig.from_toml(_write(tmp_path, "[wyoming]\nport = 10400\n"))
    with pytest.raises(KwsError, match=r"\[wyoming\] must be a table"):
        ListenConfig.from_toml(_write(tmp_path, 'wyoming = "tcp://127.0.0.1:10400"\n'))
    with pytest.raises(KwsError, match="bad uri"):
        ListenConfig.from_toml(_write(tmp_path, '[wyoming]\nuri = "10400"\n'))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "other.toml"
    path.write_text(text)
    return path


def test_the_example_config_is_a_valid_config() -> None:
    loaded = ListenConfig.from_toml(ROOT / "tools" / "kws.toml.example")
    assert loaded.mqtt.url is not None and loaded.wyoming is not None
    assert [Path(m).name for m in loaded.models] == ["hey_jarvis.tflite", "environment.tflite"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = (ROOT / "tools" / "kws.service").read_text()
    assert "ExecStart=/opt/kws/.venv/bin/python -m kws.listen --config /etc/kws/kws.toml" in unit
    # verify checks that ExecStart's binary exists: point it at this interpreter, run as root.
    local = unit.replace("/opt/kws/.venv/bin/python", sys.executable)
    local = local.replace("User=kws", "User=root").replace("Group=kws", "Group=root")
    (tmp_path / "kws.service").write_text(local)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "kws.service")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    problems = [line for line in done.stderr.splitlines() if "kws.service" in line]
    assert done.returncode == 0 and not problems, done.stderr
    assert "NoNewPrivileges=yes" in unit and "ProtectSystem=strict" in unit
