#!/usr/bin/env bash
# hey_mycroft's seed 3 trained again with bounded recurrent gates (stop 43): gate_max 0.99, everything
# else as its recipe. The plain seed-3 run's state took 950-1190 s to forget and failed the build.
# Then three means of four with it in place of one of the shipped mean's runs, chosen between on
# the validation streams (FRR averaged over 0.5, 1, 2 and 4 FA/h) against the shipped mean
# (mined, seed1, seed2, seed4): none wins, so the shipped file stays. From the repository root.
set -euo pipefail
D=data/hey_mycroft_eval C=data/hey_mycroft_eval/corpus
R=benchmarks/results/retrained/hey_mycroft/bounded_gates
[ -f $D/gate3/run/metrics.json ] || python -m training.wakeword "hey mycroft" --data $C --out $D/gate3 \
  --set corpus.recordings=data/recordings --set "corpus.engines=['espeak-ng','flite','piper']" \
  --set "corpus.eval_engines=['espeak-ng','flite','piper','kokoro']" --clip-store data/clip_store \
  --set train.seed=3 --set train.params.gate_max=0.99
cp $D/gate3/hey_mycroft.md $R/model_card_gate3.md; cp $D/gate3/hey_mycroft.json $R/gate3.json
mean() {  # OUT RUN...
  local out=$1; shift
  local args=(); for r in "$@"; do args+=(--from-run $D/$r/run); done
  python -m training.wakeword "hey mycroft" "${args[@]}" --out $D/$out
  cp $D/$out/hey_mycroft.md $R/model_card_$out.md
}
mean gmean_012g mined seed1 seed2 gate3
mean gmean_124g seed1 seed2 seed4 gate3
mean gmean_014g mined seed1 seed4 gate3
for split in validation test; do
  python -m benchmarks.frr_fa --model $D/mean0124/hey_mycroft.tflite --model $D/gmean_012g/hey_mycroft.tflite \
    --model $D/gmean_124g/hey_mycroft.tflite --model $D/gmean_014g/hey_mycroft.tflite \
    --positives $C/eval/$split/positives/positives.json --negatives $C/eval/$split/negatives/negatives.json \
    --out $R/compare_$split
done
