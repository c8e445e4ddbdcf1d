#!/usr/bin/env bash
# alexa with bounded recurrent gates (stop 43): train.seed 4 with gate_max 0.99, everything else as
# its recipe, then the shipped mean of four with it in place of seed 3 (the weakest run on
# validation), beside the shipped file on validation (FRR averaged over 0.5, 1, 2 and 4 FA/h:
# 16.4 against 16.1 %, so the shipped file stays) and test. From the repository root.
set -euo pipefail
D=data/alexa_eval C=data/alexa_eval/corpus
R=benchmarks/results/retrained/alexa/bounded_gates
[ -f $D/gate4/run/metrics.json ] || python -m training.wakeword "alexa" --data $C --out $D/gate4 \
  --set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']" \
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store \
  --set train.seed=4 --set train.params.gate_max=0.99
cp $D/gate4/alexa.md $R/model_card_gate4.md; cp $D/gate4/alexa.json $R/gate4.json
python -m training.wakeword "alexa" --from-run $D/mined/run --from-run $D/seed1/run --from-run $D/seed2/run \
  --from-run $D/gate4/run --out $D/gmean_012g
cp $D/gmean_012g/alexa.md $R/model_card_gmean_012g.md
for split in validation test; do
  python -m benchmarks.frr_fa --model $D/mean4/alexa.tflite --model $D/gmean_012g/alexa.tflite \
    --positives $C/eval/$split/positives/positives.json --negatives $C/eval/$split/negatives/negatives.json \
    --out $R/compare_$split
done
