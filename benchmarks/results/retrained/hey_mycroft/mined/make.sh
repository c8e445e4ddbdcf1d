#!/usr/bin/env bash
# hey_mycroft with its recipe and one hard-negative mining round, shipped at stop 38; from the
# repository root with the real recordings in data/recordings. About 36 min on 2 cores (clips
# 10 min, evaluation sets 12 min, training 14 min: 20 epochs, mining, 17 more).
set -euo pipefail
PY=python
C=data/hey_mycroft_eval/corpus
M=data/hey_mycroft_eval/models
OUT=benchmarks/results/retrained/hey_mycroft/mined
$PY -m training.wakeword "hey mycroft" --data $C --out data/hey_mycroft_eval/mined \
  --set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']" \
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store
mkdir -p $M
git show 2f3fbc5:firmware_models/hey_mycroft.tflite > $M/shipped_before.tflite
cp data/hey_mycroft_eval/mined/hey_mycroft.tflite $M/mined.tflite
cp $M/mined.tflite firmware_models/hey_mycroft.tflite
for role in validation test; do
  $PY -m benchmarks.frr_fa --model $M/shipped_before.tflite --model $M/mined.tflite \
    --positives $C/eval/$role/positives/positives.json --negatives $C/eval/$role/negatives/negatives.json \
    --out $OUT/compare/$role
done
