"""Where the heavy loops run: this machine's worker processes, or a Ray cluster (``--ray``).

:func:`open_pool` gives either a ``multiprocessing`` pool (fork) or a :class:`RayPool` with the
same ``imap`` / ``imap_unordered`` methods, so the corpus generator runs one code path on both.
The sweep uses :meth:`RayPool.outcomes`, which reports each item's result or error on its own.
Every task runs in the driver's working directory (when the node has it: shared storage mounted
at the same path), so relative paths and the paths written into results are the local run's.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from kws.errors import KwsError

RAY_HELP = (
    "run on a Ray cluster: 'auto' (the cluster `ray start` runs on this machine, or RAY_ADDRESS), "
    "'local' (a throwaway cluster in this process) or the head's ADDRESS (host:port); "
    "default: worker processes on this machine"
)
MAX_RETRIES = 3
"""Times Ray runs a task again when the process running it dies (a node lost, OOM-killed)."""


def add_ray_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ray", metavar="auto|local|ADDRESS", help=RAY_HELP)


def connect(address: str) -> Any:
    """The ``ray`` module, connected to ``address`` (a connection this process has is kept)."""
    try:
        import ray
    except ImportError:
        raise KwsError("--ray needs Ray: pip install -e '.[ray]' (the ray extra)") from None
    if not ray.is_initialized():
        try:
            if address == "local":
                ray.init(address="local", include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise KwsError(
                f"--ray {address}: cannot connect to a Ray cluster ({exc}); a cluster that "
                "`ray start` runs asks for its token: RAY_AUTH_MODE=token and the head's "
                "~/.ray/auth_token"
            ) from None
    return ray


def _in_directory(cwd: str, fn: Callable[..., Any], batch: Sequence[Any]) -> list[Any]:
    """Run ``fn`` on each item of ``batch`` from the driver's working directory (a Ray task)."""
    if os.path.isdir(cwd):
        os.chdir(cwd)
    return [fn(item) for item in batch]


class RayPool:
    """Batches of ``fn(item)`` as Ray tasks, each asking ``num_cpus`` CPUs of the cluster.

    ``fresh_process`` gives every task its own worker process (as the sweep's local pool does:
    a row redirects its output and sets TensorFlow's threads); a task whose process dies is run
    again up to ``max_retries`` times.
    """

    def __init__(
        self,
        address: str,
        num_cpus: float = 1,
        max_retries: int = MAX_RETRIES,
        fresh_process: bool = False,
    ) -> None:
        self._ray = connect(address)
        options: dict[str, Any] = {"num_cpus": num_cpus, "max_retries": max_retries}
        if fresh_process:
            options["max_calls"] = 1
        self._task = self._ray.remote(**options)(_in_directory)
        self._cwd = os.getcwd()
        self._refs: list[Any] = []

    def _submit(self, fn: Callable[[Any], Any], items: Iterable[Any], chunksize: int) -> list:
        listed = list(items)
        batches = [listed[i : i + chunksize] for i in range(0, len(listed), max(1, chunksize))]
        refs = [self._task.remote(self._cwd, fn, batch) for batch in batches]
        self._refs += refs
        return refs

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any], chunksize: int = 1) -> Iterator:
        """``fn(item)`` for every item, in order (a task's error is raised here)."""
        for ref in self._submit(fn, items, chunksize):
            yield from self._ray.get(ref)

    def imap_unordered(
        self, fn: Callable[[Any], Any], items: Iterable[Any], chunksize: int = 1
    ) -> Iterator:
        """``fn(item)`` for every item, batch by batch as they finish."""
        pending = self._submit(fn, items, chunksize)
        while pending:
            done, pending = self._ray.wait(pending, num_returns=1)
            yield from self._ray.get(done[0])

    def outcomes(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any, BaseException | None]]:
        """(index, result, None) or (index, None, error) per item, as they finish: one item's
        failure (after its retries) does not stop the others."""
        refs = self._submit(fn, items, 1)
        index = {ref: i for i, ref in enumerate(refs)}
        pending = list(refs)
        while pending:
            done, pending = self._ray.wait(pending, num_returns=1)
            try:
                yield index[done[0]], self._ray.get(done[0])[0], None
            except Exception as exc:  # a task's error, or its worker died too often
                yield index[done[0]], None, exc

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        """After an error or Ctrl-C left the loop, cancel the tasks not finished yet.

        Only then, and never a finished one: Ray 2.60 cancelling finished tasks ends this
        process on a failed internal check (``task_manager.cc: Tried to complete task that was
        not pending``, exit 1, no Python error) in about one pool in ten.
        """
        refs, self._refs = self._refs, []
        if exc_type is None or not refs:
            return
        _, pending = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in pending:
            self._ray.cancel(ref, force=True)


class InlinePool:
    """One worker: the calls run in this process, in order (a pool's ``imap`` and
    ``imap_unordered`` without a process to start or to pickle for)."""

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any], chunksize: int = 1) -> Iterator:
        return map(fn, items)

    imap_unordered = imap

    def __enter__(self) -> InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def open_pool(workers: int, ray: str | None) -> AbstractContextManager[Any]:
    """``workers`` processes on this machine (one: this process), or, with ``ray``, a
    :class:`RayPool`.

    The processes come from a fork server, not from forking the caller: a worker forked from a
    process that already ran onnxruntime (Piper, Kokoro) could hang for good creating its own
    session, on a lock a thread of the parent held at the fork (seen: a test run stuck 50 min
    in ``InferenceSession``). What the workers run is pickled, as for Ray."""
    if ray:
        return RayPool(ray)
    if workers <= 1:
        return InlinePool()
    import multiprocessing

    return multiprocessing.get_context("forkserver").Pool(workers)
