#!/usr/bin/env bash
# okay_nabu with one hard-negative mining round, shipped at stop 37; from the repository root
# with the real recordings in data/recordings (python -m training.data recordings). What ran:
#   1. stop 36: the recipe with one mining round; its evaluation negatives were rendered by the
#      code of then, which looped each real recording of a stretch (a failed build on them:
#      ../mined_on_looped_negatives/);
#   2. stop 37: the evaluation negatives rendered again, each recording heard once per draw (the
#      positives kept), and the run shipped from its folder: calibrated on the new validation
#      streams, measured on the new test streams;
#   3. the file it replaces and the peers on the same streams.
# A fresh run of 1 renders the new negatives from the start, so step 2's re-render is not needed
# there, but its checkpoints are then chosen on them and may differ.
set -euo pipefail
PY=python
ENG=(--set "corpus.engines=['espeak-ng','flite','piper']" --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']")
C=data/okay_nabu_mined/corpus
O=data/okay_nabu_mined/unlooped
OUT=benchmarks/results/retrained/okay_nabu/mined

# 1.
$PY -m training.wakeword "okay nabu" --data $C --set corpus.recordings=data/recordings "${ENG[@]}" \
  --clip-store data/clip_store --set train.mining.rounds=1 --out data/okay_nabu_mined/model

# 2.
for role in validation test; do
  [ -d $C/eval/$role/negatives_looped ] || mv $C/eval/$role/negatives $C/eval/$role/negatives_looped
done
$PY -m training.data generate --keyword "okay nabu" --out $C --recordings data/recordings \
  --engines espeak-ng,flite,piper --eval-engines espeak-ng,flite,piper,kokoro --eval-only
$PY -m training.wakeword "okay nabu" --data $C --set corpus.recordings=data/recordings "${ENG[@]}" \
  --clip-store data/clip_store --from-run data/okay_nabu_mined/model/run --out $O/mined
cp $O/mined/okay_nabu.tflite firmware_models/okay_nabu.tflite

# 3.
mkdir -p data/okay_nabu_mined/models
git show a3a3f35:firmware_models/okay_nabu.tflite > data/okay_nabu_mined/models/shipped.tflite
for role in validation test; do
  $PY -m benchmarks.frr_fa --model data/okay_nabu_mined/models/shipped.tflite --model $O/mined/okay_nabu.tflite \
    --positives $C/eval/$role/positives/positives.json --negatives $C/eval/$role/negatives/negatives.json \
    --out $OUT/compare/$role
done
$PY -m benchmarks.fa_by_kind --negatives $C/eval/test/negatives/negatives.json \
  --model data/okay_nabu_mined/models/shipped.tflite --model $O/mined/okay_nabu.tflite --out $OUT
$PY -m benchmarks.frr_fa --model $O/mined/okay_nabu.tflite --positives $C/eval/test/positives/positives.json \
  --negatives $C/eval/test/negatives/negatives.json --out $OUT/peers \
  --peers microwakeword:okay_nabu openwakeword:okay_nabu
