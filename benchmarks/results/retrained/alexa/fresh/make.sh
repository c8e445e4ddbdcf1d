#!/usr/bin/env bash
# alexa with its recipe (one hard-negative mining round) from a fresh corpus, shipped at stop 39;
# from the repository root with the real recordings in data/recordings (python -m training.data
# recordings). About 35 min on 2 cores with a warm clip store (data/clip_store of the other wake
# words): clips, evaluation sets, 9 min of training (a first pass and one round), calibration.
set -euo pipefail
PY=python
C=data/alexa_eval/corpus
M=data/alexa_eval/models
OUT=benchmarks/results/retrained/alexa/fresh
mkdir -p $M
git show 213fec3:firmware_models/alexa.tflite > $M/shipped_stop36.tflite  # the file it replaces
$PY -m training.wakeword "alexa" --data $C --out data/alexa_eval/mined \
  --set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']" \
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store
cp data/alexa_eval/mined/alexa.tflite firmware_models/alexa.tflite
cp data/alexa_eval/mined/alexa.tflite $M/fresh.tflite
for role in validation test; do
  $PY -m benchmarks.frr_fa --model $M/shipped_stop36.tflite --model $M/fresh.tflite \
    --positives $C/eval/$role/positives/positives.json --negatives $C/eval/$role/negatives/negatives.json \
    --out $OUT/compare/$role
done
$PY -m benchmarks.fa_by_kind --negatives $C/eval/test/negatives/negatives.json \
  --model $M/shipped_stop36.tflite --model $M/fresh.tflite --out $OUT
$PY -m benchmarks.frr_fa --model $M/fresh.tflite --positives $C/eval/test/positives/positives.json \
  --negatives $C/eval/test/negatives/negatives.json --out $OUT/peers --peers microwakeword:alexa
