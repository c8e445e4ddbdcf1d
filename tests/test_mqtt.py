"""MQTT output against a real mosquitto broker on a free localhost port: the CLI's events and
retained Home Assistant discovery arrive, a broker restart loses nothing the queue can hold, a
full queue drops its oldest events and counts them, a wrong password is one line and exit 2.
The URL, TOML and discovery tests need no broker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kws.discovery import discovery_messages, event_topic, slug
from kws.errors import KwsError
from kws.events import Detection, Environment, Status
from kws.listen import ListenConfig
from kws.model import load_model
from kws.mqtt import MqttPublisher
from kws.mqtt_config import MqttConfig, parse_url, read_password
from tests.mqtt_broker import (
    OPENSSL,
    PASSWORD,
    USER,
    Broker,
    Watcher,
    needs_broker,
)

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware_models"
DEMO = FIRMWARE / "demo" / "wake_words.wav"


def listen(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kws.listen", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)


def detection(i: int) -> Detection:
    return Detection(model="m", keyword="k", score=0.9, start=i, end=i, latency_ms=0.0)


# -- no broker needed ------------------------------------------------------------------------
def test_broker_urls_and_password_files(tmp_path: Path) -> None:
    assert str(parse_url("mqtt://host")) == "host:1883"
    broker = parse_url("mqtts://ann%40home@broker.lan:8884")
    assert (broker.host, broker.port, broker.username, broker.tls) == (
        "broker.lan", 8884, "ann@home", True
    )  # fmt: skip
    with pytest.raises(KwsError, match="holds a password") as refused:
        parse_url("mqtt://ann:hunter2@host")
    assert "hunter2" not in str(refused.value)
    for bad in ("http://host", "mqtt://", "mqtt://host:99999", "mqtt://host/topic"):
        with pytest.raises(KwsError):
            parse_url(bad)
    secret = tmp_path / "secret"
    secret.write_text("pass word\n")
    assert read_password(str(secret)) == "pass word"
    secret.write_text("\n")
    with pytest.raises(KwsError, match="empty"):
        read_password(str(secret))


def test_mqtt_table_in_the_listen_config(tmp_path: Path) -> None:
    config = tmp_path / "listen.toml"
    config.write_text(
        '[mqtt]\nurl = "mqtt://kws@hub:1883"\nprefix = "kws/kitchen"\n'
        'password_file = "/etc/kws/mqtt-password"\ntls = true\nqueue_size = 50\n'
    )
    mqtt = ListenConfig.from_toml(config).mqtt
    assert (mqtt.url, mqtt.topic_prefix, mqtt.tls, mqtt.queue_size) == (
        "mqtt://kws@hub:1883", "kws/kitchen", True, 50
    )  # fmt: skip
    assert ListenConfig().mqtt.url is None
    for table, needle in (
        ('url = "mqtt://h"\npasword_file = "x"', "[mqtt] has unknown keys: pasword_file"),
        ('url = "mqtt://h"\ntls = "yes"', "[mqtt] tls must be bool"),
        ('url = "mqtt://h"\nqos = 0', "[mqtt] qos must be 1 or 2"),
        ('prefix = "kws/#"', "must not contain '#'"),
    ):
        config.write_text(f"[mqtt]\n{table}\n")
        with pytest.raises(KwsError, match=needle.replace("[", r"\[").replace("]", r"\]")):
            ListenConfig.from_toml(config)


def test_topics_and_home_assistant_discovery() -> None:
    jarvis = load_model(FIRMWARE / "hey_jarvis.tflite").metadata
    commands = load_model(FIRMWARE / "commands.tflite").metadata
    environment = load_model(FIRMWARE / "environment.tflite").metadata
    assert event_topic("kws/den", detection(1)) == "kws/den/detection/m"
    assert event_topic("kws/den", Status(state="running", t=1.0)) == "kws/den/status"
    assert slug("hey_jarvis#2") == "hey_jarvis_2"
    models = [("hey_jarvis", jarvis), ("commands", commands), ("environment", environment)]
    configs = dict(discovery_messages("kws/den", "homeassistant", models, "0.1.0"))
    event = configs["homeassistant/event/kws_den/hey_jarvis/config"]
    assert event["event_types"] == ["hey_jarvis"]
    assert event["state_topic"] == "kws/den/detection/hey_jarvis"
    assert event["availability_topic"] == "kws/den/availability"
    assert event["device"]["identifiers"] == ["kws_den"]
    assert "hey_jarvis (keyword, int8_weights)" in event["device"]["model"]
    words = configs["homeassistant/event/kws_den/commands/config"]["event_types"]
    assert words == list(commands.keywords) and len(words) > 5
    sensor = configs["homeassistant/sensor/kws_den/environment/config"]
    assert sensor["options"] == [*environment.labels, "unknown"]
    assert (
        sensor["state_topic"]
        == sensor["json_attributes_topic"]
        == "kws/den/environment/environment"
    )
    assert len({c["unique_id"] for c in configs.values()}) == 3


def test_listen_needs_no_paho_without_mqtt_and_names_the_extra_with_it() -> None:
    code = (
        "import sys; sys.modules['paho'] = None\n"  # as if paho-mqtt were not installed
        "from kws.listen import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    base = [sys.executable, "-c", code, "--model", str(FIRMWARE / "hey_jarvis.tflite")]
    plain = subprocess.run([*base, "--input", str(DEMO)], capture_output=True, text=True, cwd=ROOT)
    assert plain.returncode == 0, plain.stderr
    assert '"type": "detection"' in plain.stdout
    mqtt = [*base, "--input", str(DEMO), "--mqtt", "mqtt://127.0.0.1:1"]
    missing = subprocess.run(mqtt, capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "pip install 'kws[mqtt]'" in missing.stderr
    assert "--mqtt-password-file" in listen("--help").stdout


def test_a_password_in_the_url_is_refused_without_echoing_it() -> None:
    done = listen(
        "--model", str(FIRMWARE / "hey_jarvis.tflite"), "--input", str(DEMO),
        "--mqtt", "mqtt://kws:hunter2@127.0.0.1:1",
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "holds a password" in done.stderr and "hunter2" not in done.stderr
    alone = listen("--model", str(FIRMWARE / "hey_jarvis.tflite"), "--mqtt-prefix", "kws/x")
    assert alone.returncode == 2 and "MQTT settings without a broker" in alone.stderr


# -- a real broker ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = Broker(tmp_path_factory.mktemp("mosquitto_auth"), password=True)
    broker.start()
    yield broker
    broker.stop()


@needs_broker
@pytest.mark.slow
def test_cli_publishes_every_event_and_retained_discovery(
    auth_broker: Broker, tmp_path: Path
) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD + "\n")
    watcher = Watcher(auth_broker.port, ["kws/test/#"], auth=True)
    done = listen(
        "--model", str(FIRMWARE / "hey_jarvis.tflite"),
        "--model", str(FIRMWARE / "environment.tflite"), "--input", str(DEMO),
        "--mqtt", f"mqtt://{USER}@127.0.0.1:{auth_broker.port}", "--mqtt-prefix", "kws/test",
        "--mqtt-password-file", str(secret),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    offline = ("kws/test/availability", b"offline")
    watcher.wait_for(lambda w: any((t, p) == offline for t, p, _ in w.messages))
    watcher.close()
    said = [e for e in printed if e["type"] == "detection"]
    # "hey jarvis" at 2.0 s; the one at 33.0 s, over music, the shipped model misses (0.72)
    assert [round(e["end"]) for e in said] == [3]
    assert watcher.payloads("kws/test/detection/hey_jarvis") == said
    heard = [e for e in printed if e["type"] == "environment"]
    assert heard and watcher.payloads("kws/test/environment/environment") == heard
    status = watcher.payloads("kws/test/status")
    assert [s["state"] for s in status] == ["started", "stopped"]
    # "queued" counts events still unacknowledged when the status was made (0 or a few, by
    # timing); nothing was dropped and every event arrived (above).
    mqtt_info = status[-1]["info"]["mqtt"]
    assert mqtt_info["connected"] is True and mqtt_info["dropped"] == 0
    # a subscriber arriving later gets the discovery configs, the availability and the room
    late = Watcher(auth_broker.port, ["homeassistant/#", "kws/test/#"], auth=True)
    late.wait_for(lambda w: len(w.messages) >= 4)
    time.sleep(0.2)  # and nothing more
    late.close()
    retained = {t: p for t, p, retain in late.messages if retain}
    assert set(retained) == {
        "homeassistant/event/kws_test/hey_jarvis/config",
        "homeassistant/sensor/kws_test/environment/config",
        "kws/test/availability",
        "kws/test/environment/environment",
    }
    assert retained["kws/test/availability"] == b"offline"
    config = json.loads(retained["homeassistant/event/kws_test/hey_jarvis/config"])
    assert config["event_types"] == ["hey_jarvis"]
    assert json.loads(retained["kws/test/environment/environment"]) == heard[-1]
    assert "Warning" not in done.stderr and PASSWORD not in done.stderr


@needs_broker
@pytest.mark.slow
def test_a_wrong_password_is_one_line_and_exit_2(auth_broker: Broker, tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("wrong-password\n")
    started = time.monotonic()
    done = listen(
        "--model", str(FIRMWARE / "hey_jarvis.tflite"), "--input", str(DEMO),
        "--mqtt", f"mqtt://{USER}@127.0.0.1:{auth_broker.port}",
        "--mqtt-password-file", str(secret),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "refused the connection (Not authorized)" in done.stderr
    assert "wrong-password" not in done.stderr and '"detection"' not in done.stdout
    assert time.monotonic() - started < 10


@pytest.fixture
def broker_and_watcher(tmp_path: Path) -> Iterator[tuple[Broker, Watcher]]:
    """A broker and a subscriber with a persistent session (client id and QoS 1): messages
    that arrive while it reconnects after a broker restart are kept for it."""
    broker = Broker(tmp_path)
    broker.start()
    watcher = Watcher(broker.port, ["kws/outage/#"], client_id="watcher")
    yield broker, watcher
    watcher.close()
    broker.stop()


def publisher(port: int, queue_size: int, logs: list[str]) -> MqttPublisher:
    config = MqttConfig(
        url=f"mqtt://127.0.0.1:{port}",
        prefix="kws/outage",
        discovery=False,
        queue_size=queue_size,
        reconnect_max_s=1.0,
        connect_timeout_s=1.0,
    )
    return MqttPublisher(config, log=logs.append)


@needs_broker
@pytest.mark.slow
def test_a_broker_restart_mid_stream_loses_no_event(
    broker_and_watcher: tuple[Broker, Watcher],
) -> None:
    broker, watcher = broker_and_watcher
    logs: list[str] = []
    out = publisher(broker.port, queue_size=100, logs=logs)
    out.start()

    def ends(w: Watcher) -> list[float]:
        return [e["end"] for e in w.payloads("kws/outage/detection")]

    for i in range(20):
        out.publish(detection(i))
    watcher.wait_for(lambda w: len(ends(w)) == 20)
    broker.stop()
    for i in range(20, 80):  # while the broker is away; some before paho notices
        out.publish(detection(i))
        time.sleep(0.005)
    broker.start()
    watcher.wait_for(lambda w: set(ends(w)) == set(range(80)), timeout=15)
    out.stop()
    got = ends(watcher)
    assert sorted(set(got), key=got.index) == list(range(80))  # in order (QoS 1 may repeat)
    assert out.dropped == 0
    assert any("lost the connection" in line for line in logs), logs
    assert any("reconnected to 127.0.0.1" in line for line in logs), logs


@needs_broker
@pytest.mark.slow
def test_a_full_queue_drops_the_oldest_and_counts_them(
    broker_and_watcher: tuple[Broker, Watcher],
) -> None:
    broker, watcher = broker_and_watcher
    broker.stop()  # unreachable at start: kws listens anyway and retries with backoff
    logs: list[str] = []
    out = publisher(broker.port, queue_size=5, logs=logs)
    out.start()
    assert "not reachable yet (Connection refused)" in logs[0]
    for i in range(12):
        out.publish(detection(i))
    assert out.stats() == {"connected": False, "queued": 5, "dropped": 7}
    out.publish(Environment(model="room", label="rain", score=0.8, start=0.0, end=1.0))
    broker.start()
    watcher.wait_for(lambda w: len(w.payloads("kws/outage/environment")) == 1, timeout=15)
    out.publish(Status(state="running", t=12.0))
    watcher.wait_for(lambda w: len(w.payloads("kws/outage/status")) == 1)
    out.stop()
    got = [e["end"] for e in watcher.payloads("kws/outage/detection")]
    assert sorted(set(got), key=got.index) == [8, 9, 10, 11]  # 0..7 dropped for the newest
    status = watcher.payloads("kws/outage/status")[0]
    assert status["info"]["mqtt"]["dropped"] == 8
    assert any("queue full (5 events)" in line for line in logs), logs
    assert any("8 events were dropped while it was away" in line for line in logs), logs


@needs_broker
@pytest.mark.slow
def test_discovery_is_sent_again_when_home_assistant_comes_online(tmp_path: Path) -> None:
    broker = Broker(tmp_path)
    broker.start()
    watcher = Watcher(broker.port, ["homeassistant/event/#"])
    jarvis = load_model(FIRMWARE / "hey_jarvis.tflite").metadata
    config = MqttConfig(url=f"mqtt://127.0.0.1:{broker.port}", prefix="kws/den")
    out = MqttPublisher(config, [("hey_jarvis", jarvis)], log=lambda line: None)
    try:
        out.start()
        watcher.wait_for(lambda w: len(w.messages) == 1)
        watcher.client.publish("homeassistant/status", b"online", qos=1)
        watcher.wait_for(lambda w: len(w.messages) == 2)
        assert watcher.messages[0][:2] == watcher.messages[1][:2]
        assert json.loads(watcher.messages[1][1])["event_types"] == ["hey_jarvis"]
    finally:
        out.stop()
        watcher.close()
        broker.stop()


@needs_broker
@pytest.mark.slow
@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed (tools/setup.sh installs it)")
def test_tls_and_the_mqtt_table_of_a_config_file(tmp_path: Path) -> None:
    broker = Broker(tmp_path, tls=True)
    broker.start()
    watcher = Watcher(broker.port, ["kws/tls/#"], ca_file=tmp_path / "ca.pem")
    config = tmp_path / "listen.toml"
    table = f'[mqtt]\nurl = "mqtts://127.0.0.1:{broker.port}"\nprefix = "kws/tls"\n'
    try:
        config.write_text(f'{table}ca_file = "{tmp_path / "ca.pem"}"\n')
        done = listen("--config", str(config), "--model", str(FIRMWARE / "hey_jarvis.tflite"),
                      "--input", str(DEMO))  # fmt: skip
        assert done.returncode == 0 and done.stderr == "", done.stderr
        said = sum(json.loads(line)["type"] == "detection" for line in done.stdout.splitlines())
        assert said
        watcher.wait_for(lambda w: len(w.payloads("kws/tls/detection")) == said)
        # without the CA the broker's certificate is not trusted: a set-up error, not an outage
        config.write_text(table)
        untrusted = listen("--config", str(config), "--model", str(FIRMWARE / "hey_jarvis.tflite"),
                           "--input", str(DEMO))  # fmt: skip
        assert untrusted.returncode == 2 and untrusted.stderr.count("\n") == 1
        assert "TLS certificate is not trusted" in untrusted.stderr
    finally:
        watcher.close()
        broker.stop()
