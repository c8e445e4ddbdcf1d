#!/usr/bin/env bash
# alexa's recipe on its stop-39 corpus (../fresh/make.sh) with a quarter of the TTS clips again
# over real babble or in halls (stop 40), and on the corpus as it is with two more training
# seeds; each model on the stop-39 test streams. From the repository root. The twins' corpora
# start from the stop-39 corpus's clips and evaluation sets (hard links) and render only the
# twins (5-6 min); each run, rendering of the twins included, took 13-25 min on 2 cores shared with other jobs.
set -euo pipefail
PY=python
C=data/alexa_eval/corpus
OUT=benchmarks/results/retrained/alexa/twins_not_shipped
COMMON=(--set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']"
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store)
test_streams=(--positives $C/eval/test/positives/positives.json --negatives $C/eval/test/negatives/negatives.json)
for condition in babble hall; do
  mkdir -p data/alexa_$condition/corpus
  cp -al $C/clips $C/eval data/alexa_$condition/corpus/
  $PY -m training.wakeword "alexa" --data data/alexa_$condition/corpus --out data/alexa_$condition/mined \
    "${COMMON[@]}" --set corpus.${condition}_twins=0.25
  cp data/alexa_$condition/mined/alexa.md $OUT/$condition/model_card.md
  cp data/alexa_$condition/mined/run/rounds.json $OUT/$condition/
  cp data/alexa_$condition/corpus/summary.json $OUT/$condition/corpus_summary.json
  $PY -m benchmarks.frr_fa --model data/alexa_$condition/mined/alexa.tflite "${test_streams[@]}" \
    --out $OUT/$condition/test
done
for seed in 1 2; do
  $PY -m training.wakeword "alexa" --data $C --out data/alexa_eval/seed$seed "${COMMON[@]}" --set train.seed=$seed
  cp data/alexa_eval/seed$seed/alexa.md $OUT/seeds/seed$seed/model_card.md
  cp data/alexa_eval/seed$seed/run/rounds.json $OUT/seeds/seed$seed/
done
$PY -m benchmarks.frr_fa --model data/alexa_eval/seed1/alexa.tflite --model data/alexa_eval/seed2/alexa.tflite \
  "${test_streams[@]}" --out $OUT/seeds/test
