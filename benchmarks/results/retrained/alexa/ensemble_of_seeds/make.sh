#!/usr/bin/env bash
# The mean of alexa's three seed models (the shipped file, seed 0, and seeds 1 and 2 of
# ../twins_not_shipped/make.sh) on the stop-39 validation and test streams, and each model's CPU
# cost (stop 40). From the repository root after ../fresh/make.sh and ../twins_not_shipped/make.sh.
set -euo pipefail
PY=python
C=data/alexa_eval/corpus
OUT=benchmarks/results/retrained/alexa/ensemble_of_seeds
MODELS=(--model data/alexa_eval/mined/alexa.tflite --model data/alexa_eval/seed1/alexa.tflite
  --model data/alexa_eval/seed2/alexa.tflite)
for role in validation test; do
  $PY -m benchmarks.frr_fa --mean "${MODELS[@]}" --positives $C/eval/$role/positives/positives.json \
    --negatives $C/eval/$role/negatives/negatives.json --out $OUT/$role
done
$PY -m benchmarks.runtime_cost "${MODELS[@]}" --minutes 5 --repeats 3 --out $OUT
