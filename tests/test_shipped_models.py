"""Every shipped model loads, has sane metadata, and does its job on the shipped recording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kws.audio import WavSource
from kws.events import Detection
from kws.model import load_model
from kws.pipeline import Pipeline, PipelineConfig

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware_models"
MODELS = sorted(FIRMWARE.glob("*.tflite"))


def test_there_are_shipped_models() -> None:
    assert MODELS, "firmware_models/ has no .tflite files"


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_shipped_model_loads_with_metadata(path: Path) -> None:
    model = load_model(path)
    md = model.metadata
    assert md.keywords, "a shipped keyword model must have thresholds"
    assert md.training, "a shipped model must carry its training summary"
    assert path.stat().st_size < 250_000


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_shipped_model_has_a_model_card(path: Path) -> None:
    card = path.with_suffix(".md")
    if not card.is_file():  # the demo models share the folder's README as their card
        card = FIRMWARE / "README.md"
    assert path.name in card.read_text() or card.stem == path.stem


@pytest.mark.parametrize("name", ["chirp_demo.tflite", "chirp_demo_streaming.tflite"])
def test_demo_model_finds_exactly_the_demo_keywords(name: str) -> None:
    manifest = json.loads((FIRMWARE / "demo" / "chirp_demo.json").read_text())
    found: list[Detection] = []
    pipeline = Pipeline(
        [load_model(FIRMWARE / name)],
        PipelineConfig(status_interval_s=0),
        on_event=lambda e: found.append(e) if isinstance(e, Detection) else None,
    )
    final = pipeline.run(WavSource(FIRMWARE / "demo" / "chirp_demo.wav"))
    assert final.reason == "end_of_input" and final.detections == len(found)
    truth = [(e["onset_s"], e["offset_s"]) for e in manifest["events"]]
    assert len(found) == len(truth)
    for event, (onset, offset) in zip(found, truth, strict=True):
        assert onset <= event.end <= offset + 1.0
