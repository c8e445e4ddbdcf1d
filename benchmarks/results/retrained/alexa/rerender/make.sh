#!/usr/bin/env bash
# alexa's evaluation sets rendered again on a new machine (stop 38), and the shipped file and the
# stop-27 file on them; from the repository root with data/recordings.
set -euo pipefail
PY=python
C=data/alexa_mined/corpus
M=data/alexa_mined/models
OUT=benchmarks/results/retrained/alexa/rerender
$PY -m training.data generate --keyword alexa --out $C --recordings data/recordings \
  --engines espeak-ng,flite,piper --eval-engines espeak-ng,flite,piper,kokoro --eval-only
mkdir -p $M
git show ca21fa7:firmware_models/alexa.tflite > $M/stop27_alexa.tflite
for role in validation test; do
  $PY -m benchmarks.frr_fa --model $M/stop27_alexa.tflite --model firmware_models/alexa.tflite \
    --positives $C/eval/$role/positives/positives.json --negatives $C/eval/$role/negatives/negatives.json \
    --out $OUT/$role
done
# Which negatives fire: the shipped file at its threshold (0.940) and a copy at 0.900, the
# threshold of 1 FA/h on stop 37's validation streams.
$PY - <<'PY'
from kws.metadata import Threshold
from kws.tflite_file import read_metadata, read_model_bytes, write_model
raw = read_model_bytes("firmware_models/alexa.tflite")
md = read_metadata("firmware_models/alexa.tflite", raw)
write_model("data/alexa_mined/models/alexa_at_0.900.tflite", raw,
            md.with_thresholds({"alexa": Threshold(0.900, None)}))
PY
for role in validation test; do
  $PY -m benchmarks.fa_by_kind --negatives $C/eval/$role/negatives/negatives.json \
    --model $M/alexa_at_0.900.tflite --model firmware_models/alexa.tflite --out $OUT/fa_by_kind_$role
done
