"""A real mosquitto broker on a free localhost port, and a paho subscriber that records what it
receives: shared by the MQTT and daemon tests."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
OPENSSL = shutil.which("openssl")
PASSWD = shutil.which("mosquitto_passwd") or shutil.which("mosquitto_passwd", path="/usr/sbin")
needs_broker = pytest.mark.skipif(
    MOSQUITTO is None,
    reason="the mosquitto broker is not installed (apt-get install mosquitto; tools/setup.sh)",
)
USER, PASSWORD = "kws", "s3cret-pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """A mosquitto process with a generated config in ``root``; persistence keeps a subscriber's
    session (and the messages queued for it) across a restart."""

    def __init__(self, root: Path, password: bool = False, tls: bool = False) -> None:
        self.root, self.port = root, free_port()
        lines = [
            f"listener {self.port} 127.0.0.1",
            *(make_certificates(root) if tls else []),
            f"allow_anonymous {'false' if password else 'true'}",
            "persistence true",
            f"persistence_location {root}/",
            f"user {getpass.getuser()}",  # as root, stay root (the files are in tmp_path)
        ]
        if password:
            assert PASSWD is not None
            users = root / "passwords"
            subprocess.run([PASSWD, "-b", "-c", str(users), USER, PASSWORD], check=True)
            lines.append(f"password_file {users}")
        (root / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert MOSQUITTO is not None
        log = open(self.root / "mosquitto.log", "ab")  # noqa: SIM115 - the process owns it
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.root / "mosquitto.conf")], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError((self.root / "mosquitto.log").read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def make_certificates(root: Path) -> list[str]:
    """A CA (``ca.pem``) and a server certificate for 127.0.0.1 signed by it; mosquitto's
    listener lines that use them."""
    assert OPENSSL is not None

    def run(*args: str) -> None:
        subprocess.run([OPENSSL, *args], cwd=root, check=True, capture_output=True)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=kws test CA")  # fmt: skip
    run("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (root / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf")  # fmt: skip
    return [f"cafile {root}/ca.pem", f"certfile {root}/server.pem", f"keyfile {root}/server.key"]


class Watcher:
    """A paho subscriber that records (topic, payload, retain) of everything it receives."""

    def __init__(
        self,
        port: int,
        topics: list[str],
        client_id: str = "",
        auth: bool = False,
        ca_file: Path | None = None,
    ):
        from paho.mqtt.client import CallbackAPIVersion, Client

        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not client_id
        )
        if auth:
            self.client.username_pw_set(USER, PASSWORD)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
        self.client.reconnect_delay_set(1, 1)
        subscribed = threading.Semaphore(0)

        def on_connect(client, userdata, flags, reason, properties) -> None:  # type: ignore[no-untyped-def]
            for topic in topics:
                client.subscribe(topic, qos=1)

        def on_subscribe(client, userdata, mid, reasons, properties) -> None:  # type: ignore[no-untyped-def]
            subscribed.release()

        def on_message(client, userdata, message) -> None:  # type: ignore[no-untyped-def]
            with self.lock:
                self.messages.append((message.topic, message.payload, bool(message.retain)))

        self.client.on_connect, self.client.on_message = on_connect, on_message
        self.client.on_subscribe = on_subscribe
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        for _ in topics:  # every SUBACK: from here on, nothing published is missed
            assert subscribed.acquire(timeout=5)

    def payloads(self, prefix: str) -> list[dict]:
        with self.lock:
            return [json.loads(p) for t, p, _ in self.messages if t.startswith(prefix)]

    def wait_for(self, done: Callable[[Watcher], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not done(self) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done(self), self.messages

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
