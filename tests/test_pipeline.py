"""The pipeline: events do not depend on block size, frontends are shared, health is reported."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from kws.events import Detection, Event, Score, Status
from kws.model import load_model
from kws.pipeline import Pipeline, PipelineConfig
from kws.tflite_file import read_metadata, write_model
from kws.wavfile import load_audio

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware_models"
WINDOW = FIRMWARE / "chirp_demo.tflite"
STREAMING = FIRMWARE / "chirp_demo_streaming.tflite"
AUDIO = load_audio(FIRMWARE / "demo" / "chirp_demo.wav")


def detections(pipeline: Pipeline, block: int) -> list[tuple[str, str, float, float]]:
    out = []
    for i in range(0, len(AUDIO), block):
        out += [
            (e.model, e.keyword, e.end, round(e.score, 5))
            for e in pipeline.process(AUDIO[i : i + block])
            if isinstance(e, Detection)
        ]
    return out


@pytest.mark.parametrize("block", [1, 160, 333, 1600, 16000])
def test_events_do_not_depend_on_block_size(block: int) -> None:
    models = [load_model(WINDOW), load_model(STREAMING)]
    reference = detections(Pipeline(models), 4000)
    assert len(reference) == 8
    assert detections(Pipeline([load_model(WINDOW), load_model(STREAMING)]), block) == reference


def test_models_with_one_feature_config_share_one_frontend(tmp_path: Path) -> None:
    md = read_metadata(WINDOW)
    hamming = dataclasses.replace(
        md, name="chirp_hamming", features=dataclasses.replace(md.features, winfunc="hamming")
    )
    other = tmp_path / "hamming.tflite"
    write_model(other, WINDOW.read_bytes(), hamming)
    pipeline = Pipeline([load_model(WINDOW), load_model(STREAMING), load_model(other)])
    assert len(pipeline.feature_configs) == 2


def test_callback_receives_every_event_and_scores_name_labels() -> None:
    seen: list[Event] = []
    pipeline = Pipeline(
        [load_model(STREAMING)], PipelineConfig(emit_scores=True), on_event=seen.append
    )
    returned = pipeline.process(AUDIO[: 16000 * 4])
    assert returned == seen
    scores = [e for e in seen if isinstance(e, Score)]
    assert len(scores) == (398 // 2)  # 4 s = 398 frames, a call every 2 frames
    assert set(scores[0].scores) == {"_background_", "chirp"}
    assert scores[1].t - scores[0].t == pytest.approx(0.02)
    assert [e.keyword for e in seen if isinstance(e, Detection)] == ["chirp"]


class OverrunningSource:
    """Yields silence and reports an overrun after the third block, like a stalled consumer."""

    description = "fake"

    def __init__(self) -> None:
        self.overruns = 0
        self.dropped_samples = 0

    def __iter__(self):
        for i in range(10):
            if i == 3:
                self.overruns, self.dropped_samples = 1, 320
            yield np.zeros(1600, dtype=np.int16)


def test_overruns_are_reported_in_status_events() -> None:
    seen: list[Event] = []
    pipeline = Pipeline(
        [load_model(STREAMING)], PipelineConfig(status_interval_s=0.5), on_event=seen.append
    )
    final = pipeline.run(OverrunningSource(), "fake")
    states = [(e.state, e.overruns) for e in seen if isinstance(e, Status)]
    assert states[0] == ("started", 0)
    assert ("overrun", 1) in states
    assert states[-1] == ("stopped", 1)
    assert final.dropped_samples == 320 and final.t == pytest.approx(1.0)
    assert sum(state == "running" for state, _ in states) == 2


def test_keyboard_interrupt_stops_cleanly_with_a_summary() -> None:
    def interrupted():
        yield np.zeros(1600, dtype=np.int16)
        raise KeyboardInterrupt

    final = Pipeline([load_model(STREAMING)]).run(interrupted())
    assert final.state == "stopped" and final.reason == "interrupted"
    assert final.t == pytest.approx(0.1)


def test_threshold_overrides_resolve_from_general_to_specific() -> None:
    config = PipelineConfig(thresholds={"*": 0.3, "chirp": 0.4, "chirp:chirp": 0.9})
    pipeline = Pipeline([load_model(STREAMING)], config)
    assert pipeline.describe()[0]["thresholds"] == {"chirp": 0.9}
    with pytest.raises(ValueError, match="within"):
        Pipeline([load_model(STREAMING)], PipelineConfig(thresholds={"*": 2.0}))


def test_a_failing_source_is_reported_then_raised() -> None:
    from kws.errors import DeviceError

    def unplugged():
        yield np.zeros(1600, dtype=np.int16)
        raise DeviceError("mic:1 'USB': no audio for 5 s (device unplugged or stopped?)")

    seen: list[Event] = []
    with pytest.raises(DeviceError):
        Pipeline([load_model(STREAMING)], on_event=seen.append).run(unplugged())
    last = seen[-1]
    assert isinstance(last, Status) and last.state == "stopped" and last.reason == "error"
    assert "unplugged" in last.info["error"]


def test_two_exports_of_one_model_get_distinct_event_names() -> None:
    seen: list[Event] = []
    pipeline = Pipeline(
        [load_model(WINDOW), load_model(STREAMING)],
        PipelineConfig(emit_scores=True),
        on_event=seen.append,
    )
    assert pipeline.names == ["chirp", "chirp#2"]
    pipeline.process(AUDIO[: 16000 * 2])
    assert {e.model for e in seen if isinstance(e, Score)} == {"chirp", "chirp#2"}
    assert [d["name"] for d in pipeline.describe()] == ["chirp", "chirp#2"]
