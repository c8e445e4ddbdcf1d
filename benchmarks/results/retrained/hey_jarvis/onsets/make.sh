#!/usr/bin/env bash
# hey_jarvis's recipe with onset twins (corpus.onset_twins = 0.5, alexa's since stop 45: half the
# sentence clips again as how the sentence begins after silence), four seeds and their mean,
# against the shipped file (stop 43) on the same render's streams (../../four_seeds.sh), what fires
# in their negatives, and everyday phrases said by held-out voices. From the repository root;
# about 23 min for the corpus and its evaluation sets (with the recordings already made, 7 min
# more without), 10-15 min per seed on 2 cores.
set -euo pipefail
R=benchmarks/results/retrained/hey_jarvis/onsets
D=data/hj_onset
SHIPPED=data/hey_jarvis_stop43.tflite
bash benchmarks/results/retrained/four_seeds.sh "hey jarvis" stop43 bbd845b $D $R corpus.onset_twins=0.5
for split in validation test; do
  python -m benchmarks.fa_by_kind --negatives $D/corpus/eval/$split/negatives/negatives.json \
    --model $SHIPPED --model $D/mean4/hey_jarvis.tflite --out $R/$split/by_kind
done
python -m benchmarks.phrase_scores --model $SHIPPED --model $D/s0/hey_jarvis.tflite \
  --model $D/s1/hey_jarvis.tflite --model $D/s2/hey_jarvis.tflite --model $D/s3/hey_jarvis.tflite \
  --model $D/mean4/hey_jarvis.tflite --out $R/phrases
