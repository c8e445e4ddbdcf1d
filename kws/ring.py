"""`RingBuffer`: the hand-off between the audio callback thread and the processing thread.

The producer (a PortAudio callback) must never wait for the consumer, so a full buffer drops the
oldest samples and counts an overrun instead of blocking or raising. The lock is held only for
index arithmetic and one or two slice copies into a preallocated array.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    """A fixed-capacity int16 FIFO for one producer thread and one consumer thread."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"ring buffer capacity must be positive, got {capacity}")
        self._buffer = np.zeros(capacity, dtype=np.int16)
        self._start = 0  # index of the oldest unread sample
        self._size = 0  # number of unread samples
        self._closed = False
        self._overruns = 0
        self._dropped_samples = 0
        self._ready = threading.Condition(threading.Lock())

    @property
    def capacity(self) -> int:
        """Maximum number of unread samples held."""
        return len(self._buffer)

    @property
    def available(self) -> int:
        """Number of unread samples right now."""
        return self._size

    @property
    def overruns(self) -> int:
        """Writes that had to drop samples, plus overflows reported by :meth:`note_overrun`."""
        return self._overruns

    @property
    def dropped_samples(self) -> int:
        """Samples discarded unread because the buffer was full."""
        return self._dropped_samples

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    def write(self, block: np.ndarray) -> None:
        """Append samples; if they do not fit, drop the oldest. Never blocks on the reader."""
        data = np.asarray(block, dtype=np.int16).reshape(-1)
        n = len(data)
        if n == 0:
            return
        capacity = len(self._buffer)
        with self._ready:
            if self._closed:
                return
            overflow = self._size + n - capacity
            if overflow > 0:
                self._overruns += 1
                self._dropped_samples += overflow
                if n >= capacity:  # the block alone fills the buffer: keep its tail
                    data = data[n - capacity :]
                    n = capacity
                    self._start, self._size = 0, 0
                else:
                    self._start = (self._start + overflow) % capacity
                    self._size -= overflow
            end = (self._start + self._size) % capacity
            first = min(n, capacity - end)
            self._buffer[end : end + first] = data[:first]
            self._buffer[: n - first] = data[first:]
            self._size += n
            self._ready.notify()

    def note_overrun(self) -> None:
        """Count an overflow that happened upstream (e.g. PortAudio's input_overflow flag)."""
        with self._ready:
            self._overruns += 1

    def read(self, max_samples: int, timeout: float | None = None) -> np.ndarray:
        """Remove and return up to ``max_samples`` of the oldest samples (a new int16 array).

        Waits up to ``timeout`` seconds (None: forever) for at least one sample; returns an empty
        array on timeout, or once the buffer is closed and drained.
        """
        with self._ready:
            if self._size == 0 and not self._closed:
                self._ready.wait_for(lambda: self._size > 0 or self._closed, timeout)
            n = min(self._size, max(max_samples, 0))
            out = np.empty(n, dtype=np.int16)
            first = min(n, len(self._buffer) - self._start)
            out[:first] = self._buffer[self._start : self._start + first]
            out[first:] = self._buffer[: n - first]
            self._start = (self._start + n) % len(self._buffer)
            self._size -= n
            return out

    def close(self) -> None:
        """Stop accepting writes and wake a waiting reader; unread samples stay readable."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()


class SampleHistory:
    """The last ``capacity`` int16 samples of a stream, addressed by stream sample index.

    The pipeline keeps one so that a detection's audio (its ``[start, end]``) can be cut out after
    the fact, e.g. to embed the speaker. Single-threaded: the processing thread writes and reads.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"history capacity must be positive, got {capacity}")
        self._buffer = np.zeros(capacity, dtype=np.int16)
        self.total = 0
        """Samples pushed since the start of the stream."""

    @property
    def capacity(self) -> int:
        return len(self._buffer)

    def push(self, block: np.ndarray) -> None:
        """Append samples, forgetting the oldest beyond ``capacity``."""
        data = np.asarray(block, dtype=np.int16).reshape(-1)
        capacity = len(self._buffer)
        if len(data) >= capacity:
            self.total += len(data) - capacity
            data = data[len(data) - capacity :]
        at = self.total % capacity
        first = min(len(data), capacity - at)
        self._buffer[at : at + first] = data[:first]
        self._buffer[: len(data) - first] = data[first:]
        self.total += len(data)

    def get(self, start: int, end: int) -> np.ndarray:
        """Samples ``[start, end)`` of the stream (a copy), clipped to what is still held."""
        start = max(start, self.total - len(self._buffer), 0)
        end = min(end, self.total)
        if end <= start:
            return np.zeros(0, dtype=np.int16)
        capacity = len(self._buffer)
        index = np.arange(start, end) % capacity
        return self._buffer[index]
