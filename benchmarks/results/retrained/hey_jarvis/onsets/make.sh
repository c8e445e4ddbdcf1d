#!/usr/bin/env bash
# hey_jarvis's recipe with onset twins (corpus.onset_twins = 0.5, alexa's since stop 45: half the
# sentence clips again as how the sentence begins after silence), four seeds and their mean,
# against the shipped file (stop 43) on the same render's streams and on everyday phrases said by
# held-out voices. From the repository root; about 20 min for the corpus and its evaluation sets
# (with the recordings already made, 7 min more without), 10-15 min per seed on 2 cores.
set -euo pipefail
R=benchmarks/results/retrained/hey_jarvis/onsets
D=data/hj_onset
# The file this would replace (stop 43), named hey_jarvis_stop43.tflite in the results.
SHIPPED=data/hey_jarvis_stop43.tflite
[ -f $SHIPPED ] || git show bbd845b:firmware_models/hey_jarvis.tflite > $SHIPPED
KEYS=(--set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']"
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']")
[ -f data/recordings/recordings.json ] || python -m training.data recordings --out data/recordings --cache data/debs
for s in 0 1 2 3; do
  [ -f $D/s$s/hey_jarvis.tflite ] || python -m training.wakeword "hey jarvis" --data $D/corpus \
    --out $D/s$s "${KEYS[@]}" --clip-store data/clip_store --set corpus.onset_twins=0.5 --set train.seed=$s
  cp $D/s$s/hey_jarvis.md $R/model_card_seed$s.md
done
[ -f $D/mean4/hey_jarvis.tflite ] || python -m training.wakeword "hey jarvis" --from-run $D/s0/run \
  --from-run $D/s1/run --from-run $D/s2/run --from-run $D/s3/run --out $D/mean4
cp $D/mean4/hey_jarvis.md $R/model_card_mean4_not_shipped.md
for split in validation test; do
  E=$D/corpus/eval/$split
  python -m benchmarks.frr_fa --model $SHIPPED --model $D/mean4/hey_jarvis.tflite \
    --positives $E/positives/positives.json --negatives $E/negatives/negatives.json --out $R/$split --quiet
  python -m benchmarks.fa_by_kind --negatives $E/negatives/negatives.json --model $SHIPPED \
    --model $D/mean4/hey_jarvis.tflite --out $R/$split/by_kind
done
python -m benchmarks.phrase_scores --model $SHIPPED --model $D/s0/hey_jarvis.tflite \
  --model $D/s1/hey_jarvis.tflite --model $D/s2/hey_jarvis.tflite --model $D/s3/hey_jarvis.tflite \
  --model $D/mean4/hey_jarvis.tflite --out $R/phrases
