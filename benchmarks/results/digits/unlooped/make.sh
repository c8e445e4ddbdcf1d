#!/usr/bin/env bash
# The shipped digits model (stop 35's network) calibrated again on evaluation sets rendered after
# the fix that stopped negative streams from looping real recordings (stop 38); from the
# repository root at commit c7abe63 (firmware_models/digits.tflite still stop 35's file) with
# data/recordings. The evaluation sets alone took about 20 min on 2 shared cores.
set -euo pipefail
PY=python
C=data/digits/corpus
OUT=benchmarks/results/digits/unlooped
# --from-model renders the recipe's evaluation sets if they are missing (not the training clips).
$PY -m training.commands --recipe training/configs/digits.toml --data $C --out data/digits/recal \
  --from-model firmware_models/digits.tflite --set corpus.recordings=data/recordings \
  --set corpus.in_sentences=0.33 --set corpus.eval_in_sentences=0.5 --set train.mining.rounds=1
cp -r data/digits/recal/results/. $OUT/
# The stop-35 thresholds on the same test streams, then the new file in their place.
$PY -m benchmarks.frr_fa --model firmware_models/digits.tflite \
  --positives $C/eval/test/positives/positives.json --negatives $C/eval/test/negatives/negatives.json \
  --out $OUT/old_thresholds_on_test
cp data/digits/recal/digits.tflite firmware_models/digits.tflite
