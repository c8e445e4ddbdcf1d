"""kws.ring.RingBuffer: drop-oldest overruns, counters, timeouts, close, and threads."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kws.ring import RingBuffer


def arange(start: int, stop: int) -> np.ndarray:
    return np.arange(start, stop, dtype=np.int16)


def test_fifo_order_across_wraparound() -> None:
    ring = RingBuffer(8)
    ring.write(arange(0, 6))
    np.testing.assert_array_equal(ring.read(4, timeout=0), arange(0, 4))
    ring.write(arange(6, 12))  # wraps around the end of the array
    assert ring.available == 8
    np.testing.assert_array_equal(ring.read(100, timeout=0), arange(4, 12))
    assert ring.overruns == 0 and ring.dropped_samples == 0


def test_overrun_drops_oldest() -> None:
    ring = RingBuffer(10)
    ring.write(arange(0, 7))
    ring.write(arange(7, 12))  # 2 too many: 0 and 1 go
    assert ring.overruns == 1 and ring.dropped_samples == 2
    np.testing.assert_array_equal(ring.read(10, timeout=0), arange(2, 12))


def test_block_larger_than_capacity_keeps_its_tail() -> None:
    ring = RingBuffer(5)
    ring.write(arange(0, 3))
    ring.write(arange(100, 112))
    assert ring.overruns == 1 and ring.dropped_samples == 3 + 7
    np.testing.assert_array_equal(ring.read(10, timeout=0), arange(107, 112))
    ring.write(arange(0, 2))
    np.testing.assert_array_equal(ring.read(10, timeout=0), arange(0, 2))
    assert ring.overruns == 1


def test_note_overrun_counts_without_dropping() -> None:
    ring = RingBuffer(4)
    ring.note_overrun()
    assert ring.overruns == 1 and ring.dropped_samples == 0


def test_read_times_out_with_empty_array() -> None:
    ring = RingBuffer(4)
    started = time.monotonic()
    out = ring.read(4, timeout=0.05)
    assert time.monotonic() - started >= 0.04
    assert out.dtype == np.int16 and out.shape == (0,)


def test_reader_wakes_on_write() -> None:
    ring = RingBuffer(16)
    threading.Timer(0.05, ring.write, args=(arange(1, 4),)).start()
    np.testing.assert_array_equal(ring.read(16, timeout=5), arange(1, 4))


def test_close_wakes_reader_and_drains() -> None:
    ring = RingBuffer(16)
    results: list[np.ndarray] = []
    reader = threading.Thread(target=lambda: results.append(ring.read(4, timeout=None)))
    reader.start()
    time.sleep(0.05)
    ring.close()
    reader.join(timeout=2)
    assert not reader.is_alive() and len(results[0]) == 0

    ring = RingBuffer(16)
    ring.write(arange(0, 6))
    ring.close()
    ring.write(arange(50, 52))  # ignored after close
    np.testing.assert_array_equal(ring.read(4, timeout=None), arange(0, 4))
    np.testing.assert_array_equal(ring.read(4, timeout=None), arange(4, 6))
    assert len(ring.read(4, timeout=None)) == 0


def test_fast_producer_never_blocks_or_raises() -> None:
    ring = RingBuffer(1000)
    errors: list[BaseException] = []
    block = np.arange(160, dtype=np.int16)
    writes = 5000

    def produce() -> None:
        try:
            for _ in range(writes):
                ring.write(block)
        except BaseException as e:  # pragma: no cover - the assertion below reports it
            errors.append(e)

    received = 0

    def consume() -> None:
        nonlocal received
        while True:
            out = ring.read(64, timeout=0.5)
            if len(out) == 0 and ring.closed:
                return
            received += len(out)
            time.sleep(0.0005)

    consumer = threading.Thread(target=consume)
    consumer.start()
    started = time.monotonic()
    produce()
    produce_seconds = time.monotonic() - started
    ring.close()
    consumer.join(timeout=10)
    assert not errors
    assert produce_seconds < 5
    assert ring.overruns > 0
    assert received + ring.dropped_samples == writes * len(block)


@pytest.mark.parametrize("bad", [0, -3])
def test_capacity_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError):
        RingBuffer(bad)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 25)),
        st.tuples(st.just("read"), st.integers(0, 25)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(1, 16), ops=operations)
def test_holds_exactly_the_last_unread_samples(capacity: int, ops: list[tuple[str, int]]) -> None:
    """After any writes/reads: contents == the unread written samples, newest `capacity`."""
    ring = RingBuffer(capacity)
    unread: list[int] = []
    counter = 0
    dropped = overruns = 0
    for op, n in ops:
        if op == "write":
            block = [(counter + i) % 30000 for i in range(n)]
            counter += n
            ring.write(np.array(block, dtype=np.int16))
            unread.extend(block)
            excess = len(unread) - capacity
            if excess > 0:
                dropped += excess
                overruns += 1
                del unread[:excess]
        else:
            out = ring.read(n, timeout=0)
            assert out.tolist() == unread[: len(out)]
            assert len(out) == min(n, len(unread))
            del unread[: len(out)]
        assert ring.available == len(unread)
    assert ring.dropped_samples == dropped and ring.overruns == overruns
    assert ring.read(capacity, timeout=0).tolist() == unread
