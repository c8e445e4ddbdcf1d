#!/usr/bin/env bash
# okay_nabu as the mean of three runs of its recipe (stop 41) on a fresh corpus rendered as
# stop 38's wake words were (espeak-ng, flite and Piper voices; evaluation voices include
# Kokoro's): train.seed 1 (the recipe's), 2 and 3; beside the stop-37 file it replaces (whose
# run folder and corpus are not on this machine) on the new corpus's streams. From the
# repository root; the corpus renders on the first run's call (about 15 min here).
set -euo pipefail
mkdir -p data/okay_nabu_eval/models
git show 1e367d3:firmware_models/okay_nabu.tflite > data/okay_nabu_eval/models/shipped_stop37.tflite
OUT=benchmarks/results/retrained/okay_nabu/mean_of_seeds_not_shipped \
  bash benchmarks/results/retrained/mean_of_seeds.sh "okay nabu" data/okay_nabu_eval \
  data/okay_nabu_eval/models/shipped_stop37.tflite seed1 seed2 seed3
# not shipped: one run's state never forgets (README, stop 41)
# The replaced file was chosen on other streams: both on this corpus's validation streams too.
C=data/okay_nabu_eval/corpus
python -m benchmarks.frr_fa --model data/okay_nabu_eval/models/shipped_stop37.tflite \
  --model data/okay_nabu_eval/mean3/okay_nabu.tflite --positives $C/eval/validation/positives/positives.json \
  --negatives $C/eval/validation/negatives/negatives.json --out benchmarks/results/retrained/okay_nabu/mean_of_seeds_not_shipped/validation
# microWakeWord on the same test streams
python -m benchmarks.frr_fa --model data/okay_nabu_eval/mean3/okay_nabu.tflite \
  --positives $C/eval/test/positives/positives.json --negatives $C/eval/test/negatives/negatives.json \
  --out benchmarks/results/retrained/okay_nabu/mean_of_seeds_not_shipped/peers_microwakeword --peers microwakeword:okay_nabu
