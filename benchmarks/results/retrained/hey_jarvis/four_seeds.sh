#!/usr/bin/env bash
# hey_jarvis's recipe with extra --set keys (stop 46): four training seeds on DIR/corpus and their
# mean, against the file shipped at stop 43 on the validation and test streams of DIR/corpus/eval,
# into RESULTS. From the repository root: bash benchmarks/results/retrained/hey_jarvis/four_seeds.sh
# DIR RESULTS KEY=VALUE...  (onsets/make.sh and ring/make.sh); 10-15 min per seed on 2 cores.
set -euo pipefail
D=$1 R=$2
shift 2
# The file these would replace, named hey_jarvis_stop43.tflite in the results.
SHIPPED=data/hey_jarvis_stop43.tflite
[ -f $SHIPPED ] || git show bbd845b:firmware_models/hey_jarvis.tflite > $SHIPPED
KEYS=(--set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']"
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store)
for key in "$@"; do KEYS+=(--set "$key"); done
[ -f data/recordings/recordings.json ] || python -m training.data recordings --out data/recordings --cache data/debs
for s in 0 1 2 3; do
  [ -f $D/s$s/hey_jarvis.tflite ] || python -m training.wakeword "hey jarvis" --data $D/corpus \
    --out $D/s$s "${KEYS[@]}" --set train.seed=$s
  cp $D/s$s/hey_jarvis.md $R/model_card_seed$s.md
done
[ -f $D/mean4/hey_jarvis.tflite ] || python -m training.wakeword "hey jarvis" --from-run $D/s0/run \
  --from-run $D/s1/run --from-run $D/s2/run --from-run $D/s3/run --out $D/mean4
cp $D/mean4/hey_jarvis.md $R/model_card_mean4_not_shipped.md
for split in validation test; do
  E=$D/corpus/eval/$split
  python -m benchmarks.frr_fa --model $SHIPPED --model $D/mean4/hey_jarvis.tflite \
    --positives $E/positives/positives.json --negatives $E/negatives/negatives.json --out $R/$split --quiet
done
