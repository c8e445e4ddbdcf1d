#!/usr/bin/env bash
# alexa's recipe on its stop-39 corpus with 100 look-alikes across word boundaries added to the
# training look-alike phrases (corpus.span_confusables = 100), seeds 0 and 1, against the same
# seeds without them (data/alexa_eval: mined = seed 0, seed1). The evaluation sets are the
# stop-39 corpus's (hard-linked in first), so every figure is on the same streams. From the
# repository root, with a warm clip store; about 10 min per seed on 2 cores.
set -euo pipefail
D=data/alexa_span C=data/alexa_span/corpus
R=benchmarks/results/retrained/alexa/span_lookalikes_not_adopted
mkdir -p $C && [ -d $C/eval ] || cp -al data/alexa_eval/corpus/eval $C/eval
for s in 0 1; do
  [ -f $D/seed$s/alexa.tflite ] || python -m training.wakeword "alexa" --data $C --out $D/seed$s \
    --set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']" \
    --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store \
    --set corpus.span_confusables=100 --set train.seed=$s
  cp $D/seed$s/alexa.md $R/model_card_seed$s.md
done
# where each seed-0 file fires in the soak's first 2 hours (sentences by espeak-ng voices)
python -m benchmarks.soak --hours 2 --seed 0 --model $D/seed0/alexa.tflite --out $R/soak_span
python -m benchmarks.soak --hours 2 --seed 0 --model data/alexa_eval/mined/alexa.tflite --out $R/soak_plain
cp $R/soak_span/soak.md $R/soak_2h_span_seed0.md; cp $R/soak_plain/soak.md $R/soak_2h_plain_seed0.md
rm -r $R/soak_span $R/soak_plain
