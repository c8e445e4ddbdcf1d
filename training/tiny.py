"""A tiny but real keyword model, trained in seconds on synthetic audio, for tests and demos.

Until real models ship, the runtime's tests use this: it trains a small CRNN on
:mod:`training.core.synthetic` clips and writes both export forms plus a labelled test stream.
Features are 40 log-mel filterbank energies, 25 ms windows every 10 ms (FeatureConfig defaults).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kws.atomic import atomic_write_bytes
from kws.metadata import ModelMetadata, Threshold
from kws.wavfile import write_wav
from training.core import synthetic
from training.core.seeding import seed_training
from training.core.tflite import export_tflite
from training.core.tiny_models import FEATURES, clip_features, tiny_cli
from training.models import get_model
from training.models.crnn import CRNNConfig

TINY_CRNN = CRNNConfig(
    conv_filters=8,
    kernel=(5, 8),
    stride=(2, 4),
    rnn_layers=1,
    rnn_units=16,
    cell="gru",
    fc_units=16,
    window_frames=98,
)
LABELS = ("_background_", "chirp")
STREAM_SECONDS = 20.0
STREAM_KEYWORDS_S = (3.0, 7.5, 12.0, 16.5)
STREAM_DISTRACTORS_S = (1.0, 5.2, 9.8, 14.2, 18.5)


def tiny_metadata(
    streaming: bool, training: dict[str, Any], config: CRNNConfig = TINY_CRNN
) -> ModelMetadata:
    """Metadata for the tiny chirp model in one export form."""
    states = get_model("crnn").state_tensors
    assert states is not None
    return ModelMetadata(
        name="chirp",
        task="keyword",
        labels=LABELS,
        features=FEATURES,
        window_frames=config.window_frames,
        stride_frames=config.stride_t,
        streaming=streaming,
        quantization="float32",
        thresholds={"chirp": Threshold(0.5)},
        smoothing_s=0.1,
        refractory_s=1.0,
        state_tensors=states(config) if streaming else (),
        training=training,
    )


def train_tiny_keyword_model(
    out_dir: str | Path,
    seed: int = 0,
    *,
    train_clips: int = 640,
    test_clips: int = 200,
    epochs: int = 12,
    int8: bool = False,
) -> dict[str, Path]:
    """Train the tiny CRNN and write it to ``out_dir``; returns paths by name.

    Keys: ``window`` and ``streaming`` (float32 .tflite, metadata embedded), ``stream_wav``
    (20 s of 16 kHz int16 audio with 4 keywords and 5 distractors) and ``stream_json`` (its
    manifest: keyword onsets/offsets in seconds). Held-out accuracy is printed and stored in
    the models' ``training`` metadata. With ``int8`` also ``window_int8`` and
    ``streaming_int8``: full-integer exports calibrated on 200 training windows.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_training(seed)
    clips, labels = synthetic.make_clips(train_clips + test_clips, seed)
    x = clip_features(clips)[:, : TINY_CRNN.window_frames]
    x_train, y_train = x[:train_clips], labels[:train_clips]
    x_test, y_test = x[train_clips:], labels[train_clips:]

    model = get_model("crnn").build(TINY_CRNN, FEATURES.num_features, len(LABELS))
    model.get_layer("normalize").adapt(x_train)
    model.compile(
        optimizer=keras.optimizers.Adam(5e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0, shuffle=True)
    train_s = time.perf_counter() - start
    predicted = model.predict(x_test, batch_size=100, verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == y_test))
    print(
        f"tiny chirp model: held-out accuracy {accuracy:.3f} on {test_clips} clips, "
        f"trained in {train_s:.1f} s"
    )

    summary = {
        "data": (
            f"training.core.synthetic seed {seed}: {train_clips} train / {test_clips} test clips"
        ),
        "model": "crnn",
        "config": {k: getattr(TINY_CRNN, k) for k in TINY_CRNN.__dataclass_fields__},
        "heldout_accuracy": accuracy,
        "train_seconds": round(train_s, 2),
    }
    paths = {"window": out / "window.tflite", "streaming": out / "streaming.tflite"}
    for form in ("window", "streaming"):
        metadata = tiny_metadata(form == "streaming", summary)
        atomic_write_bytes(paths[form], export_tflite(model, TINY_CRNN, metadata, form))
        if int8:
            metadata = dataclasses.replace(metadata, quantization="int8")
            data = export_tflite(model, TINY_CRNN, metadata, form, "int8", x_train[:200])
            paths[f"{form}_int8"] = out / f"{form}_int8.tflite"
            atomic_write_bytes(paths[f"{form}_int8"], data)

    audio, events = synthetic.make_stream(
        STREAM_SECONDS, STREAM_KEYWORDS_S, seed, distractor_times=STREAM_DISTRACTORS_S
    )
    paths["stream_wav"] = out / "stream.wav"
    paths["stream_json"] = out / "stream.json"
    write_wav(paths["stream_wav"], audio, synthetic.SAMPLE_RATE)
    manifest = {
        "sample_rate": synthetic.SAMPLE_RATE,
        "seconds": STREAM_SECONDS,
        "keyword": "chirp",
        "events": [{"onset_s": on, "offset_s": off} for on, off in events],
        "distractor_onsets_s": list(STREAM_DISTRACTORS_S),
    }
    atomic_write_bytes(paths["stream_json"], json.dumps(manifest, indent=1).encode())
    return paths


def main(argv: list[str] | None = None) -> int:
    """``python -m training.tiny --out DIR``: train and write the demo model and recording."""
    return tiny_cli(train_tiny_keyword_model, main.__doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
