#!/usr/bin/env bash
# alexa's evaluation negatives rendered again (each recording heard once per draw; positives
# kept), the shipped run shipped anew from its folder, and the files of ../mined/ compared on
# the new streams. After ../mined/make.sh, from the repository root.
set -euo pipefail
PY=python
C=data/alexa_mined/corpus
O=data/alexa_mined/unlooped
M=data/alexa_ctx/models
OUT=benchmarks/results/retrained/alexa/unlooped
for role in validation test; do
  [ -d $C/eval/$role/negatives_looped ] || mv $C/eval/$role/negatives $C/eval/$role/negatives_looped
done
$PY -m training.data generate --keyword alexa --out $C --recordings data/recordings \
  --engines espeak-ng,flite,piper --eval-engines espeak-ng,flite,piper,kokoro --eval-only
$PY -m training.wakeword "alexa" --data $C --set corpus.recordings=data/recordings \
  --set "corpus.engines=['espeak-ng','flite','piper']" --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" \
  --clip-store data/clip_store --from-run data/alexa_mined/model/run --out $O/mined
cp $O/mined/alexa.tflite firmware_models/alexa.tflite
for role in validation test; do
  $PY -m benchmarks.frr_fa --model $M/shipped.tflite --model $M/mined.tflite --model $M/p12k_first_pass.tflite \
    --model $M/p12k_mined.tflite --model $O/mined/alexa.tflite \
    --positives $C/eval/$role/positives/positives.json --negatives $C/eval/$role/negatives/negatives.json \
    --out $OUT/compare/$role
done
