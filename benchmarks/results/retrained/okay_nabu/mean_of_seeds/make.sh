#!/usr/bin/env bash
# okay_nabu as the mean of its recipe's runs whose state forgets (stop 42). The mean of seeds 1,
# 2 and 3 (stop 41, mean_of_seeds_not_shipped/) is shipped again first: the build's state-memory
# rule fails it and names seed 2's run, whose state never forgets; the mean of seeds 1 and 3 is
# then shipped, beside the stop-37 file it replaces on the same test and validation streams.
# From the repository root, after mean_of_seeds_not_shipped/make.sh (the corpus and the runs).
set -uo pipefail
D=data/okay_nabu_eval C=data/okay_nabu_eval/corpus
R=benchmarks/results/retrained/okay_nabu/mean_of_seeds
python -m training.wakeword "okay nabu" --from-run $D/seed1/run --from-run $D/seed2/run \
  --from-run $D/seed3/run --out $D/mean3_checked 2> $R/mean_of_three.stderr
echo "exit $?" >> $R/mean_of_three.stderr
set -e
sed -i "s#$PWD/##g" $R/mean_of_three.stderr
OUT=$R bash benchmarks/results/retrained/mean_of_seeds.sh "okay nabu" $D \
  $D/models/shipped_stop37.tflite seed1 seed3
python -m benchmarks.frr_fa --model $D/models/shipped_stop37.tflite --model $D/mean2/okay_nabu.tflite \
  --positives $C/eval/validation/positives/positives.json \
  --negatives $C/eval/validation/negatives/negatives.json --out $R/validation
python -m benchmarks.state_memory --start 60 --start 300 --model $D/mean2/okay_nabu.tflite \
  --model $D/models/shipped_stop37.tflite > $R/state_memory.txt
