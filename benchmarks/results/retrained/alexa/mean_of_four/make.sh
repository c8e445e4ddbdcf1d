#!/usr/bin/env bash
# alexa as the mean of four runs of its recipe (stop 42): the three of stop 41 (../mean_of_seeds/
# make.sh: mined = train.seed 0, seed1, seed2) and a fourth, train.seed 3, on the same corpus.
# Chosen on the validation streams (FRR averaged over 0.5, 1, 2 and 4 FA/h, the training's own
# checkpoint criterion). From the repository root.
set -euo pipefail
D=data/alexa_eval C=data/alexa_eval/corpus
R=benchmarks/results/retrained/alexa/mean_of_four
[ -f $D/seed3/run/metrics.json ] || python -m training.wakeword "alexa" --data $C --out $D/seed3 \
  --set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']" \
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store \
  --set train.seed=3
cp $D/seed3/alexa.md $R/model_card_seed3.md
python -m training.wakeword "alexa" --from-run $D/mined/run --from-run $D/seed1/run \
  --from-run $D/seed2/run --from-run $D/seed3/run --out $D/mean4
cp $D/mean4/alexa.md $R/model_card.md; cp $D/mean4/alexa.json $R/
for split in validation test; do
  python -m benchmarks.frr_fa --model $D/mean3/alexa.tflite --model $D/mean4/alexa.tflite \
    --positives $C/eval/$split/positives/positives.json --negatives $C/eval/$split/negatives/negatives.json \
    --out $R/compare_$split
done
python -m benchmarks.runtime_cost --model $D/mean3/alexa.tflite --model $D/mean4/alexa.tflite \
  --minutes 5 --repeats 5 --out $R
cp $D/mean4/alexa.tflite firmware_models/alexa.tflite
