#!/usr/bin/env bash
# alexa's recipe on a corpus whose sentences (training speech and the evaluation sets') are drawn
# from the docs and WordNet's usage examples (corpus.text_sources), four seeds and their mean,
# against the shipped file (the mean of four runs on the docs-only corpus, data/alexa_eval) on
# both corpora's streams, and on everyday phrases said by held-out voices. From the repository
# root with a warm clip store; about 15 min of rendering and 10 min per seed on 2 cores.
set -euo pipefail
D=data/alexa_wn C=data/alexa_wn/corpus SHIPPED=data/alexa_eval/mean4/alexa.tflite
R=benchmarks/results/retrained/alexa/everyday_sentences
for s in 0 1 2 3; do
  [ -f $D/seed$s/alexa.tflite ] || python -m training.wakeword "alexa" --data $C --out $D/seed$s \
    --set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']" \
    --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store \
    --set "corpus.text_sources=['docs','wordnet']" --set train.seed=$s
  cp $D/seed$s/alexa.md $R/model_card_seed$s.md
done
python -m training.wakeword "alexa" --from-run $D/seed0/run --from-run $D/seed1/run \
  --from-run $D/seed2/run --from-run $D/seed3/run --out $D/mean4
cp $D/mean4/alexa.md $R/model_card.md
for corpus in alexa_wn alexa_eval; do
  for split in validation test; do
    E=data/$corpus/corpus/eval/$split
    python -m benchmarks.frr_fa --model $SHIPPED --model $D/mean4/alexa.tflite \
      --positives $E/positives/positives.json --negatives $E/negatives/negatives.json \
      --out $R/${corpus}_$split --quiet
  done
done
python -m benchmarks.phrase_scores --model $SHIPPED --model $D/mean4/alexa.tflite --out $R/phrases
