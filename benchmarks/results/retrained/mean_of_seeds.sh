#!/usr/bin/env bash
# A wake word shipped as the mean of several runs of its recipe (stop 41), from the repository
# root: bash benchmarks/results/retrained/mean_of_seeds.sh PHRASE DIR REPLACED RUN...
# DIR holds the corpus (DIR/corpus); each RUN is a folder DIR/RUN made by training.wakeword, and
# one named seedN that does not exist yet is trained first with train.seed N on that corpus.
# The mean is shipped into DIR/mean<count> (calibrated on the validation streams, measured on
# the test streams); then REPLACED (the file it replaces) and the mean side by side on the test
# streams, by condition, and their CPU cost in one run, into
# benchmarks/results/retrained/<label>/mean_of_seeds.
set -euo pipefail
PY=python
PHRASE=$1 DIR=$2 REPLACED=$3
shift 3
W=${PHRASE// /_}
C=$DIR/corpus
OUT=${OUT:-benchmarks/results/retrained/$W/mean_of_seeds}  # results folder
mkdir -p $OUT
COMMON=(--set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']"
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store)
FROM=()
for run in "$@"; do
  if [ ! -f $DIR/$run/run/metrics.json ]; then
    $PY -m training.wakeword "$PHRASE" --data $C --out $DIR/$run "${COMMON[@]}" --set train.seed=${run#seed}
    cp $DIR/$run/$W.md $OUT/model_card_$run.md
  fi
  FROM+=(--from-run $DIR/$run/run)
done
MEAN=$DIR/mean$#
$PY -m training.wakeword "$PHRASE" "${FROM[@]}" --out $MEAN
cp $MEAN/$W.md $OUT/model_card.md
cp $MEAN/$W.json $OUT/
$PY -m benchmarks.frr_fa --model $REPLACED --model $MEAN/$W.tflite \
  --positives $C/eval/test/positives/positives.json --negatives $C/eval/test/negatives/negatives.json --out $OUT/test
$PY -m benchmarks.runtime_cost --model $REPLACED --model $MEAN/$W.tflite --minutes 5 --repeats 5 --out $OUT
