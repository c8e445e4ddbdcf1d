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
  --from-run $D/seed3/run --out $D/mean3_checked 2>&1 | tail -1 > $R/mean_of_three.stderr
echo "exit ${PIPESTATUS[0]}" >> $R/mean_of_three.stderr
set -e
OUT=$R bash benchmarks/results/retrained/mean_of_seeds.sh "okay nabu" $D \
  $D/models/shipped_stop37.tflite seed1 seed3
python -m benchmarks.frr_fa --model $D/models/shipped_stop37.tflite --model $D/mean2/okay_nabu.tflite \
  --positives $C/eval/validation/positives/positives.json \
  --negatives $C/eval/validation/negatives/negatives.json --out $R/validation
python -m benchmarks.state_memory --start 60 --start 300 --model $D/mean2/okay_nabu.tflite \
  --model $D/models/shipped_stop37.tflite > $R/state_memory.txt
# A fourth run (train.seed 4) and the mean of seeds 1, 3 and 4, not shipped: on the validation
# streams its FRR averaged over 0.5, 1, 2 and 4 FA/h (the training's own checkpoint criterion) is
# 11.9 % against this file's 11.0 %; beside it on the validation and test streams.
python -m training.wakeword "okay nabu" --data $C --out $D/seed4 --set corpus.recordings=data/recordings \
  --set "corpus.engines=['espeak-ng','flite','piper']" \
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store --set train.seed=4
python -m training.wakeword "okay nabu" --from-run $D/seed1/run --from-run $D/seed3/run \
  --from-run $D/seed4/run --out $D/mean134
W=$R/with_seed4_not_shipped
mkdir -p $W
cp $D/mean134/okay_nabu.md $W/model_card.md; cp $D/mean134/okay_nabu.json $W/
cp $D/seed4/okay_nabu.md $W/model_card_seed4.md
for split in validation test; do
  python -m benchmarks.frr_fa --model $D/mean2/okay_nabu.tflite --model $D/mean134/okay_nabu.tflite \
    --positives $C/eval/$split/positives/positives.json --negatives $C/eval/$split/negatives/negatives.json \
    --out $W/$split
done
python -m benchmarks.state_memory --start 60 --start 300 --start 600 --model $D/mean134/okay_nabu.tflite > $W/state_memory.txt
