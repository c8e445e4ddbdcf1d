#!/usr/bin/env bash
# hey_mycroft as the mean of three runs of its recipe (stop 41): its stop-38 run (../mined/make.sh,
# train.seed 0, the file it replaces) and two more on the same corpus with train.seed 1 and 2.
# From the repository root.
set -euo pipefail
bash benchmarks/results/retrained/mean_of_seeds.sh "hey mycroft" data/hey_mycroft_eval \
  data/hey_mycroft_eval/mined/hey_mycroft.tflite mined seed1 seed2
cp data/hey_mycroft_eval/mean3/hey_mycroft.tflite firmware_models/hey_mycroft.tflite
# The peers on the same test streams (microWakeWord about 3 min, openWakeWord about 25 min here).
C=data/hey_mycroft_eval/corpus
for peer in microwakeword openwakeword; do
  python -m benchmarks.frr_fa --model data/hey_mycroft_eval/mean3/hey_mycroft.tflite \
    --positives $C/eval/test/positives/positives.json --negatives $C/eval/test/negatives/negatives.json \
    --out benchmarks/results/retrained/hey_mycroft/mean_of_seeds/peers_$peer --peers $peer:hey_mycroft
done
