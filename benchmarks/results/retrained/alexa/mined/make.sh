# alexa with one hard-negative mining round (stop 36), from the repository root with the real
# recordings in data/recordings (python -m training.data recordings). What it ran, in order:
#   1. the 12,000-positive corpus of ../positives12k_not_shipped (data/alexa_p12k/corpus) fills
#      a clip store, so that the shipped plan's clips it holds are not rendered again;
#   2. p12k: that corpus, seed 0, one mining round; its first pass copied as round 0 ended
#      (model_s0_r0), shipped without the round: before and after on the same run;
#   3. mined: the shipped recipe (6,000 positives) with one round, the evaluation sets of 1
#      (hard links): the file now shipped;
#   4. evaluation sets with half the wake words inside sentences (data/alexa_ctx/corpus), their
#      negatives hard-linked from 1's, and every model on both kinds of streams.
set -euo pipefail
PY=python
ENG=(--set "corpus.engines=['espeak-ng','flite','piper']" --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']")
P12K=(--data data/alexa_p12k/corpus --set corpus.recordings=data/recordings "${ENG[@]}" --set corpus.positives=12000)

$PY -m training.data generate --keyword alexa --out data/alexa_p12k/corpus --recordings data/recordings \
  --engines espeak-ng,flite,piper --eval-engines espeak-ng,flite,piper,kokoro --positives 12000 \
  --clip-store data/clip_store

# 2. (the copy of the first pass was taken by a watcher as the log said "round 1: mined")
$PY -m training.wakeword "alexa" "${P12K[@]}" --set train.mining.rounds=1 --out data/alexa_p12k/mined/model_s0
$PY -m training.wakeword "alexa" "${P12K[@]}" --set train.mining.rounds=0 --out data/alexa_p12k/mined/model_s0_r0

# 3.
mkdir -p data/alexa_mined/corpus
[ -d data/alexa_mined/corpus/eval ] || cp -al data/alexa_p12k/corpus/eval data/alexa_mined/corpus/eval
$PY -m training.wakeword "alexa" --data data/alexa_mined/corpus --set corpus.recordings=data/recordings \
  "${ENG[@]}" --clip-store data/clip_store --set train.mining.rounds=1 --out data/alexa_mined/model

# 4.
for role in validation test; do
  mkdir -p data/alexa_ctx/corpus/eval/$role
  [ -d data/alexa_ctx/corpus/eval/$role/negatives ] || \
    cp -al data/alexa_p12k/corpus/eval/$role/negatives data/alexa_ctx/corpus/eval/$role/negatives
done
$PY -m training.data generate --keyword alexa --out data/alexa_ctx/corpus --recordings data/recordings \
  --engines espeak-ng,flite,piper --eval-engines espeak-ng,flite,piper,kokoro --positives 12000 \
  --eval-only --eval-in-sentences 0.5
M=data/alexa_ctx/models
mkdir -p $M
git show 936c46b:firmware_models/alexa.tflite > $M/shipped.tflite  # the file this one replaced
cp data/alexa_mined/model/alexa.tflite $M/mined.tflite
cp data/alexa_p12k/mined/model_s0_r0/alexa.tflite $M/p12k_first_pass.tflite
cp data/alexa_p12k/mined/model_s0/alexa.tflite $M/p12k_mined.tflite
OUT=benchmarks/results/retrained/alexa/mined
for set in alone:data/alexa_mined/corpus in_sentences:data/alexa_ctx/corpus; do
  for role in test validation; do
    $PY -m benchmarks.frr_fa --model $M/shipped.tflite --model $M/mined.tflite \
      --model $M/p12k_first_pass.tflite --model $M/p12k_mined.tflite \
      --positives ${set#*:}/eval/$role/positives/positives.json \
      --negatives ${set#*:}/eval/$role/negatives/negatives.json --out $OUT/${set%%:*}/$role
  done
done
C=data/alexa_mined/corpus
$PY -m benchmarks.frr_fa --model $M/mined.tflite --positives $C/eval/test/positives/positives.json \
  --negatives $C/eval/test/negatives/negatives.json --out $OUT/peers \
  --peers porcupine:alexa microwakeword:alexa openwakeword:alexa
