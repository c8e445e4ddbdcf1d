#!/usr/bin/env bash
# The mean of hey_jarvis's three seed runs (its stop-38 run, ../mined/make.sh, and two more runs of
# the same recipe on the same corpus with train.seed 1 and 2) shipped as one file, calibrated on
# the stop-38 validation streams and measured on its test streams (stop 41); then the single
# file it replaces and the mean side by side on the test streams, by condition, and their CPU
# cost in one run. From the repository root.
set -euo pipefail
PY=python
C=data/hey_jarvis_eval/corpus
OUT=benchmarks/results/retrained/hey_jarvis/mean_of_seeds
COMMON=(--set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']"
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store)
for seed in 1 2; do
  $PY -m training.wakeword "hey jarvis" --data $C --out data/hey_jarvis_eval/seed$seed "${COMMON[@]}" --set train.seed=$seed
done
$PY -m training.wakeword "hey jarvis" --from-run data/hey_jarvis_eval/mined/run \
  --from-run data/hey_jarvis_eval/seed1/run --from-run data/hey_jarvis_eval/seed2/run --out data/hey_jarvis_eval/mean3
cp data/hey_jarvis_eval/mean3/hey_jarvis.md $OUT/model_card.md
cp data/hey_jarvis_eval/mean3/hey_jarvis.json $OUT/
for seed in 1 2; do cp data/hey_jarvis_eval/seed$seed/hey_jarvis.md $OUT/model_card_seed$seed.md; done
$PY -m benchmarks.frr_fa --model data/hey_jarvis_eval/mined/hey_jarvis.tflite --model data/hey_jarvis_eval/mean3/hey_jarvis.tflite \
  --positives $C/eval/test/positives/positives.json --negatives $C/eval/test/negatives/negatives.json --out $OUT/test
$PY -m benchmarks.runtime_cost --model data/hey_jarvis_eval/mined/hey_jarvis.tflite \
  --model data/hey_jarvis_eval/mean3/hey_jarvis.tflite --minutes 5 --repeats 5 --out $OUT
