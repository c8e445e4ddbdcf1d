"""Real recordings in negative streams are heard once per draw, never looped: a two-second
prompt repeated for half a minute is no sound a home makes, and a prompt that makes a model
fire would fire once per loop (the shipped okay_nabu's 3.48 FA/h on test came from two such
stretches: 13 and 7 firings)."""

from __future__ import annotations

import itertools
import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from training.data.eval_sets import RealAudio, recorded_sources, recording_source
from training.data.streams import write_negative_streams


def _runs(x: np.ndarray) -> list[tuple[float, int]]:
    """(value, length) of each run of equal samples."""
    edges = np.flatnonzero(np.diff(x)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(x)]])
    return [(float(x[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)]


@given(
    st.lists(st.integers(min_value=400, max_value=8000), min_size=2, max_size=6),
    st.floats(min_value=0.01, max_value=1.0),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_a_chained_excerpt_never_repeats_a_recording_back_to_back(
    lengths: list[int], seconds: float, seed: int
) -> None:
    # recording i holds only the value (i + 1) / 100: runs of the output say which one sounds
    arrays = [np.full(n, (i + 1) / 100, dtype=np.float32) for i, n in enumerate(lengths)]
    draw = recording_source(arrays, chain=True)
    out = draw(seconds, np.random.default_rng(seed))
    assert len(out) == round(seconds * 16000)
    runs = _runs(out)
    for value, length in runs:
        assert length <= lengths[round(value * 100) - 1]  # never longer than the recording
    assert all(a[0] != b[0] for a, b in itertools.pairwise(runs))


def test_without_chain_a_short_recording_wraps_as_a_background_does() -> None:
    draw = recording_source([np.full(800, 0.5, dtype=np.float32)])
    out = draw(1.0, np.random.default_rng(0))
    assert len(out) == 16000 and np.all(out == 0.5)


def test_real_kinds_of_negative_streams_play_each_recording_once_per_draw(tmp_path) -> None:
    """The evaluation sets' recorded speech, music and ambience: no stretch holds one recording
    longer than it lasts (speech whole and with pauses, music and ambience chained)."""
    from kws.wavfile import load_audio

    def short(offset: int) -> tuple[np.ndarray, ...]:  # 0.5 s recordings of distinct levels
        return tuple(np.full(8000, 1000 * (i + offset), dtype=np.int16) for i in range(1, 11))

    real = RealAudio(by_kind={"speech": short(0), "music": short(10), "ambient": short(20)})
    sources = recorded_sources(real)
    assert sorted(sources) == ["recorded_ambient", "recorded_music", "recorded_speech"]
    path = write_negative_streams(sources, tmp_path, 0.2, seed=3, file_seconds=60)
    for entry in json.loads(path.read_text())["files"]:
        audio = load_audio(path.parent / entry["file"]).astype(np.float64)
        for segment in entry["segments"]:
            stretch = audio[segment["onset_sample"] : segment["offset_sample"]]
            level = np.round(stretch / np.abs(stretch).max(), 2)
            longest = max(n for v, n in _runs(level) if v != 0)
            assert longest <= 8000, segment["kind"]
