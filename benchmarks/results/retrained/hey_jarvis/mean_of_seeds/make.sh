#!/usr/bin/env bash
# hey_jarvis as the mean of three runs of its recipe (stop 41): its stop-38 run (../mined/make.sh,
# train.seed 0, the file it replaces) and two more on the same corpus with train.seed 1 and 2.
# From the repository root.
set -euo pipefail
bash benchmarks/results/retrained/mean_of_seeds.sh "hey jarvis" data/hey_jarvis_eval \
  data/hey_jarvis_eval/mined/hey_jarvis.tflite mined seed1 seed2
cp data/hey_jarvis_eval/mean3/hey_jarvis.tflite firmware_models/hey_jarvis.tflite
