#!/usr/bin/env bash
# hey_jarvis with its recipe and one hard-negative mining round, shipped at stop 38; from the
# repository root with the real recordings in data/recordings (python -m training.data
# recordings). About 35 min on 2 cores: 10 min of clips, 10 min of evaluation sets, 9 min of
# training (a first pass and one round), calibration, cost and card.
set -euo pipefail
PY=python
C=data/hey_jarvis_eval/corpus
M=data/hey_jarvis_eval/models
OUT=benchmarks/results/retrained/hey_jarvis/mined
$PY -m training.wakeword "hey jarvis" --data $C --out data/hey_jarvis_eval/mined \
  --set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']" \
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store
cp data/hey_jarvis_eval/mined/hey_jarvis.tflite firmware_models/hey_jarvis.tflite
# The file it replaced (stop 24) and the new one on the same streams; then microWakeWord.
mkdir -p $M
git show 9e68054:firmware_models/hey_jarvis.tflite > $M/shipped_stop24.tflite
cp data/hey_jarvis_eval/mined/hey_jarvis.tflite $M/mined.tflite
for role in validation test; do
  $PY -m benchmarks.frr_fa --model $M/shipped_stop24.tflite --model $M/mined.tflite \
    --positives $C/eval/$role/positives/positives.json --negatives $C/eval/$role/negatives/negatives.json \
    --out $OUT/compare/$role
done
$PY -m benchmarks.fa_by_kind --negatives $C/eval/test/negatives/negatives.json \
  --model $M/shipped_stop24.tflite --model $M/mined.tflite --out $OUT
$PY -m benchmarks.frr_fa --model data/hey_jarvis_eval/mined/hey_jarvis.tflite --positives $C/eval/test/positives/positives.json \
  --negatives $C/eval/test/negatives/negatives.json --out $OUT/peers --peers microwakeword:hey_jarvis
# openWakeWord on the same test streams (stop 39; about 35 min on 2 shared cores)
$PY -m benchmarks.frr_fa --model firmware_models/hey_jarvis.tflite --positives $C/eval/test/positives/positives.json \
  --negatives $C/eval/test/negatives/negatives.json --out $OUT/peers_oww --peers openwakeword:hey_jarvis
