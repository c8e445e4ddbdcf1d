"""The metadata schema is strict: what is not in it, or contradicts it, is refused."""

from __future__ import annotations

import json

import pytest

from kws.features import FeatureConfig
from kws.metadata import ModelMetadata, StateTensor, Threshold


def metadata(**changes: object) -> ModelMetadata:
    values: dict[str, object] = dict(
        name="kw",
        task="keyword",
        labels=("_background_", "kw"),
        features=FeatureConfig(),
        window_frames=100,
        stride_frames=2,
        streaming=False,
        quantization="float32",
        thresholds={"kw": Threshold(0.6, 1.0)},
    )
    values.update(changes)
    return ModelMetadata(**values)  # type: ignore[arg-type]


def test_json_round_trip() -> None:
    md = metadata(streaming=True, state_tensors=(StateTensor("s0", "s0_out"),))
    assert ModelMetadata.from_json(md.to_json()) == md
    assert md.keywords == ("kw",)
    assert md.input_frames == 2


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(colour="red"), "unknown keys: colour"),
        (lambda d: d.pop("labels"), "missing keys: labels"),
        (lambda d: d["features"].update(nfilters=3), "FeatureConfig has unknown keys: nfilters"),
        (lambda d: d.update(schema_version=7), "schema_version 7 is not supported"),
        (lambda d: d["thresholds"].update(other={"threshold": 0.5}), "unknown labels: other"),
        (lambda d: d["thresholds"]["kw"].update(threshold=1.5), r"within \[0, 1\]"),
        (lambda d: d.update(streaming=True), "needs state_tensors"),
        (lambda d: d.update(window_frames="100"), "window_frames must be int"),
        (lambda d: d.update(task="music"), "task must be one of"),
        (lambda d: d["state_tensors"].append({"input": "a"}), r"state_tensors\[0\] is missing"),
    ],
)
def test_invalid_metadata_is_refused_with_the_reason(edit, message: str) -> None:
    data = json.loads(metadata().to_json())
    edit(data)
    with pytest.raises(ValueError, match=message):
        ModelMetadata.from_dict(data)


def test_invalid_json_is_refused() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        ModelMetadata.from_json(b"{not json")


def test_window_seconds_covers_the_frames() -> None:
    md = metadata(window_frames=98)
    assert md.window_seconds == pytest.approx((97 * 160 + 400) / 16000)
