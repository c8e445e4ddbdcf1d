#!/usr/bin/env bash
# A wake word's recipe with extra --set keys: four training seeds on DIR/corpus and their mean,
# against the file shipped at STOP (taken from COMMIT's firmware_models) on the validation and
# test streams of DIR/corpus/eval, into RESULTS. From the repository root:
#   bash benchmarks/results/retrained/four_seeds.sh PHRASE STOP COMMIT DIR RESULTS KEY=VALUE...
# (hey_jarvis/onsets, hey_jarvis/ring, hey_mycroft/*); 10-15 min per seed on 2 cores. SEEDS
# (default "0 1 2 3") names four other training seeds, for a run whose state never forgets.
set -euo pipefail
PHRASE=$1 STOP=$2 COMMIT=$3 D=$4 R=$5
shift 5
W=${PHRASE// /_}
# The file these would replace, named <word>_<stop>.tflite in the results.
SHIPPED=data/${W}_$STOP.tflite
[ -f $SHIPPED ] || git show $COMMIT:firmware_models/$W.tflite > $SHIPPED
KEYS=(--set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']"
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store)
for key in "$@"; do KEYS+=(--set "$key"); done
[ -f data/recordings/recordings.json ] || python -m training.data recordings --out data/recordings --cache data/debs
mkdir -p $R
SEEDS=(${SEEDS:-0 1 2 3})
for s in "${SEEDS[@]}"; do
  [ -f $D/s$s/$W.tflite ] || python -m training.wakeword "$PHRASE" --data $D/corpus \
    --out $D/s$s "${KEYS[@]}" --set train.seed=$s
  cp $D/s$s/$W.md $R/model_card_seed$s.md
done
RUNS=()
for s in "${SEEDS[@]}"; do RUNS+=(--from-run $D/s$s/run); done
[ -f $D/mean4/$W.tflite ] || python -m training.wakeword "$PHRASE" "${RUNS[@]}" --out $D/mean4
cp $D/mean4/$W.md $R/model_card_mean4_not_shipped.md
for split in validation test; do
  E=$D/corpus/eval/$split
  python -m benchmarks.frr_fa --model $SHIPPED --model $D/mean4/$W.tflite \
    --positives $E/positives/positives.json --negatives $E/negatives/negatives.json --out $R/$split --quiet
done
