"""A Ray cluster on this machine that this process owns: one ``ray start --block`` child process
per node, stopped by terminating those processes.

Tests and benchmarks use it instead of ``ray.init`` in their own process and instead of
``ray stop``: a driver whose cluster dies exits its whole process (Ray's core worker ends it 60 s
after the GCS is gone), and ``ray stop`` stops every Ray process on the machine, other people's
clusters included. Each node keeps its own temporary folder (logs, sockets, spilled objects);
the cluster has its own authentication token, which :attr:`LocalCluster.env` hands to drivers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from kws.errors import KwsError

STARTED = "Ray runtime started"
"""What ``ray start`` prints once its node is up."""
START_TIMEOUT_S = 240.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalCluster:
    """Nodes of ``cpus`` CPUs each (the first is the head), started on enter, stopped on exit.

    ``address`` is the head's ``host:port`` for ``--ray``; run drivers with ``env`` (the token).
    """

    def __init__(self, cpus: Sequence[int] = (2,), root: Path | None = None) -> None:
        if not cpus or min(cpus) < 1:
            raise ValueError(f"a cluster needs nodes of at least one CPU, not {list(cpus)}")
        self.cpus = tuple(cpus)
        # short: Ray's unix sockets live under it (at most 107 bytes a path)
        self.root = Path(tempfile.mkdtemp(prefix="kws-ray-", dir=root or "/tmp"))
        self.port = free_port()
        self.address = ""
        self.env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self._nodes: list[tuple[subprocess.Popen, Path]] = []

    def _start_node(self, index: int, head: bool) -> None:
        temp = self.root / f"n{index}"
        temp.mkdir()
        ray = Path(sys.executable).with_name("ray")
        command = [
            str(ray), "start", "--block", "--disable-usage-stats", f"--temp-dir={temp}",
            f"--num-cpus={self.cpus[index]}", "--min-worker-port=0", "--max-worker-port=0",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}",
        ]  # fmt: skip
        if head:
            command += ["--head", f"--port={self.port}", "--include-dashboard=false"]
        else:
            command += [f"--address={self.address}"]
        log = temp / "ray_start.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True,  # its own process group: stopped with it, and only it
            )  # fmt: skip
        self._nodes.append((process, log))
        deadline = time.monotonic() + START_TIMEOUT_S
        while STARTED not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise KwsError(f"{log}: `ray start` did not start node {index}:\n{tail}")
            time.sleep(0.5)
        if head:
            self.address = (temp / "ray_current_cluster").read_text().strip()

    def __enter__(self) -> LocalCluster:
        try:
            for index in range(len(self.cpus)):
                self._start_node(index, head=index == 0)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the nodes, workers first: each ``ray start --block`` ends its own processes."""
        for process, _ in reversed(self._nodes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(60)
            # what is left of the node's process group (its own, started by us)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self._nodes = []
        shutil.rmtree(self.root, ignore_errors=True)
