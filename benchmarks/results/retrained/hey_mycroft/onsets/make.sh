#!/usr/bin/env bash
# hey_mycroft's recipe with onset twins (corpus.onset_twins = 0.5, alexa's since stop 45: half the
# sentence clips again as how the sentence begins after silence), four seeds and their mean,
# against the shipped file (stop 42) on the same fresh render's streams (../../four_seeds.sh),
# what fires in their negatives, and everyday phrases said by held-out voices. From the
# repository root; about 23 min for the corpus and its evaluation sets, 10-15 min per seed on
# 2 cores.
set -euo pipefail
R=benchmarks/results/retrained/hey_mycroft/onsets
D=data/hm_onset
SHIPPED=data/hey_mycroft_stop42.tflite
bash benchmarks/results/retrained/four_seeds.sh "hey mycroft" stop42 908f17b $D $R corpus.onset_twins=0.5
for split in validation test; do
  python -m benchmarks.fa_by_kind --negatives $D/corpus/eval/$split/negatives/negatives.json \
    --model $SHIPPED --model $D/mean4/hey_mycroft.tflite --out $R/$split/by_kind
done
python -m benchmarks.phrase_scores --model $SHIPPED --model $D/mean4/hey_mycroft.tflite --out $R/phrases
