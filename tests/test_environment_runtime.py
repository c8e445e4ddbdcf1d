"""Environment models in the runtime: smoothed labels, unknown when quiet, change and interval."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kws.environment import UNKNOWN, EnvironmentTracker
from kws.events import Environment, Event
from kws.model import load_model
from kws.pipeline import Pipeline, PipelineConfig
from kws.wavfile import load_audio

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware_models"
LABELS = ("noise", "tone", "chirp")


def onehot(label: str, p: float = 0.9) -> np.ndarray:
    rest = (1 - p) / (len(LABELS) - 1)
    return np.array([p if x == label else rest for x in LABELS])


def test_tracker_reports_first_decision_then_only_changes() -> None:
    tracker = EnvironmentTracker(LABELS, {k: 0.6 for k in LABELS}, 1, window_s=1.0)
    outputs = ["noise", "noise", "tone", "tone", "tone", "noise"]
    reported = [tracker.update(onehot(x), 0.5 * (i + 2)) for i, x in enumerate(outputs)]
    assert [(d.label, d.end) if d else None for d in reported] == [
        ("noise", 1.0),
        None,
        ("tone", 2.0),
        None,
        None,
        ("noise", 3.5),
    ]


def test_tracker_is_unknown_below_the_label_threshold() -> None:
    tracker = EnvironmentTracker(LABELS, {"noise": 0.6, "tone": 0.95, "chirp": 0.6}, 1)
    assert tracker.smoothed(onehot("tone", 0.9), 1.0).label == UNKNOWN  # 0.9 < 0.95
    assert tracker.smoothed(onehot("noise", 0.9), 1.5).label == "noise"
    quiet = tracker.smoothed(np.full(3, 1 / 3), 2.0)
    assert quiet.label == UNKNOWN and quiet.score == pytest.approx(1 / 3)


def test_tracker_smooths_and_reports_the_span_it_covers() -> None:
    tracker = EnvironmentTracker(LABELS, {k: 0.6 for k in LABELS}, 3, window_s=1.0)
    first = tracker.smoothed(onehot("noise"), 1.0)
    assert (first.start, first.end) == (0.0, 1.0)
    tracker.smoothed(onehot("tone"), 1.5)
    third = tracker.smoothed(onehot("tone"), 2.0)
    assert third.label == "tone" and third.score == pytest.approx((0.05 + 0.9 + 0.9) / 3)
    assert (third.start, third.end) == (0.0, 2.0)
    fourth = tracker.smoothed(onehot("tone"), 2.5)  # the noise output has left the average
    assert fourth.score == pytest.approx(0.9) and (fourth.start, fourth.end) == (0.5, 2.5)


def test_tracker_repeats_the_label_every_interval() -> None:
    tracker = EnvironmentTracker(LABELS, {k: 0.6 for k in LABELS}, 1, interval_s=2.0)
    ends = [t for t in np.arange(1.0, 8.01, 0.5) if tracker.update(onehot("tone"), t)]
    assert ends == [1.0, 3.0, 5.0, 7.0]
    with pytest.raises(ValueError, match="interval"):
        EnvironmentTracker(LABELS, {}, 1, interval_s=-1)


def environment_events(events: list[Event]) -> list[Environment]:
    return [e for e in events if isinstance(e, Environment)]


def run_stream(model_path: Path, wav: Path, config: PipelineConfig) -> list[Environment]:
    pipeline = Pipeline([load_model(model_path)], config)
    audio = load_audio(wav)
    events: list[Event] = []
    for i in range(0, len(audio), 1600):
        events += pipeline.process(audio[i : i + 1600])
    return environment_events(events)


def kind_at(segments: list[dict], t: float) -> str:
    return next(s["kind"] for s in segments if s["start_s"] <= t < s["end_s"])


@pytest.mark.slow
def test_pipeline_labels_a_generated_stream_at_the_right_times(tiny_environment) -> None:
    segments = json.loads(tiny_environment["stream_json"].read_text())
    events = run_stream(tiny_environment["model"], tiny_environment["stream_wav"], PipelineConfig())
    labels = [e.label for e in events]
    # Only changes are reported, and every room is recognised in order, quiet at both ends.
    assert all(a != b for a, b in itertools.pairwise(labels))
    assert [x for x in labels if x != UNKNOWN] == ["noise", "tone", "chirp"]
    assert labels[0] == UNKNOWN and events[0].end < 1.1 and labels[-1] == UNKNOWN
    for event in events[1:]:
        assert event.end - event.start == pytest.approx(1.515)  # 2 calls 0.5 s apart, 1 s windows
        if event.label != UNKNOWN:  # a class is named once its sound is in the newest window
            assert kind_at(segments, event.end - 0.01) == event.label
            assert event.score >= 0.6
    # Each change comes within two hops of the segment boundary that caused it.
    for kind, start in (("noise", 3.0), ("tone", 9.0), ("chirp", 15.0)):
        (event,) = [e for e in events if e.label == kind]
        assert start < event.end <= start + 1.6
    assert events[-1].end <= 21.0 + 1.6


@pytest.mark.slow
def test_interval_repeats_the_current_label(tiny_environment) -> None:
    config = PipelineConfig(environment_interval_s=2.0)
    events = run_stream(tiny_environment["model"], tiny_environment["stream_wav"], config)
    ends = [e.end for e in events]
    assert max(np.diff(ends)) <= 2.0 + 1e-6
    tone = [e for e in events if e.label == "tone"]
    assert len(tone) >= 3 and np.allclose(np.diff([e.end for e in tone]), 2.0)


@pytest.mark.slow
def test_threshold_override_makes_everything_unknown(tiny_environment) -> None:
    config = PipelineConfig(thresholds={"*": 1.0})
    events = run_stream(tiny_environment["model"], tiny_environment["stream_wav"], config)
    assert [e.label for e in events] == [UNKNOWN]


@pytest.mark.slow
def test_environment_and_keyword_models_share_one_frontend(tiny_environment) -> None:
    models = [load_model(FIRMWARE / "chirp_demo.tflite"), load_model(tiny_environment["model"])]
    pipeline = Pipeline(models)
    assert len(pipeline.feature_configs) == 1
    assert [d["task"] for d in pipeline.describe()] == ["keyword", "environment"]


@pytest.mark.slow
def test_listen_cli_prints_environment_events(tiny_environment) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kws.listen",
            "--model",
            str(tiny_environment["model"]),
            "--input",
            str(tiny_environment["stream_wav"]),
            "--environment-interval",
            "5",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    env = [e for e in lines if e["type"] == "environment"]
    assert set(env[0]) == {"type", "model", "label", "score", "start", "end"}
    assert {e["label"] for e in env} == {"noise", "tone", "chirp", UNKNOWN}
    assert env[0]["model"] == "tiny_room"
    assert lines[-1]["state"] == "stopped" and lines[-1]["detections"] == 0


@pytest.mark.slow
def test_listen_cli_rejects_a_negative_interval(tiny_environment) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kws.listen",
            "--model",
            str(tiny_environment["model"]),
            "--input",
            str(tiny_environment["stream_wav"]),
            "--environment-interval",
            "-1",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "kws.listen: error: the environment interval must be >= 0"


def test_cli_options_and_toml_map_onto_the_configs(tmp_path: Path) -> None:
    from kws.listen import build_parser, config_from_args

    toml = tmp_path / "listen.toml"
    toml.write_text(
        'speaker_model = "s.tflite"\nprofiles = "p.json"\n'
        "[pipeline]\nenvironment_interval_s = 30.0\nspeaker_threshold = 0.7\n"
    )
    config = config_from_args(build_parser().parse_args(["--config", str(toml)]))
    assert (config.speaker_model, config.profiles) == ("s.tflite", "p.json")
    assert config.pipeline.environment_interval_s == 30.0
    assert config.pipeline.speaker_threshold == 0.7
    argv = ["--config", str(toml), "--environment-interval", "5", "--speaker-threshold", "0.5",
            "--speaker-model", "t.tflite", "--profiles", "q.json"]  # fmt: skip
    config = config_from_args(build_parser().parse_args(argv))
    assert (config.speaker_model, config.profiles) == ("t.tflite", "q.json")
    assert config.pipeline.environment_interval_s == 5.0
    assert config.pipeline.speaker_threshold == 0.5
