#!/usr/bin/env bash
# The mean of alexa's three seed runs (the stop-39 run and seeds 1 and 2 of
# ../twins_not_shipped/make.sh) shipped as one file, calibrated on the stop-39 validation streams
# and measured on its test streams (stop 41; 96 s on 2 cores shared with a training run), then
# its CPU cost beside the single model it replaces. From the repository root.
set -euo pipefail
PY=python
OUT=benchmarks/results/retrained/alexa/mean_of_seeds
git show dcb35c6:firmware_models/alexa.tflite > data/alexa_eval/models/seed0.tflite
$PY -m training.wakeword "alexa" --from-run data/alexa_eval/mined/run \
  --from-run data/alexa_eval/seed1/run --from-run data/alexa_eval/seed2/run --out data/alexa_eval/mean3
cp data/alexa_eval/mean3/alexa.md $OUT/model_card.md
cp data/alexa_eval/mean3/alexa.json $OUT/
cp data/alexa_eval/mean3/alexa.tflite firmware_models/alexa.tflite
$PY -m benchmarks.runtime_cost --model data/alexa_eval/models/seed0.tflite \
  --model data/alexa_eval/mean3/alexa.tflite --minutes 5 --repeats 5 --out $OUT
