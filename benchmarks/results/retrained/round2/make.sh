#!/usr/bin/env bash
# A second hard-negative mining round for the three wake words trained at stops 38-39 (stop 39):
# each finished run folder is copied and given train.mining.rounds=2, which goes on from its best
# checkpoint (training.core.run.resumable_as); from the repository root, after the make.sh of
# ../hey_jarvis/mined, ../hey_mycroft/mined and ../alexa/fresh. About 5 min per word on 2 cores.
set -euo pipefail
PY=python
for w in alexa hey_jarvis hey_mycroft; do
  mkdir -p data/${w}_eval/mined2 && cp -r data/${w}_eval/mined/run data/${w}_eval/mined2/
  $PY -m training.wakeword "${w//_/ }" --data data/${w}_eval/corpus --out data/${w}_eval/mined2 \
    --set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']" \
    --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --set train.mining.rounds=2 \
    --clip-store data/clip_store
  cp data/${w}_eval/mined2/$w.md benchmarks/results/retrained/round2/$w/model_card.md
  cp data/${w}_eval/mined2/run/rounds.json benchmarks/results/retrained/round2/$w/
done
for w in hey_jarvis hey_mycroft; do
  C=data/${w}_eval/corpus
  for role in validation test; do
    $PY -m benchmarks.frr_fa --model data/${w}_eval/mined/$w.tflite --model data/${w}_eval/mined2/$w.tflite \
      --positives $C/eval/$role/positives/positives.json --negatives $C/eval/$role/negatives/negatives.json \
      --out benchmarks/results/retrained/round2/$w/$role
  done
done
