# firmware_models/digits.tflite from scratch, from the repository root (README.md of this folder):
# the corpus (1,200 clips per digit, a third inside sentences, evaluation sets with half inside
# sentences), training with one mining round, calibration, card and these results.
set -euo pipefail
PY=python
$PY -m training.commands --recipe training/configs/digits.toml \
  --data data/digits/corpus --out data/digits/model --set corpus.recordings=data/recordings
R=benchmarks/results/digits
cp data/digits/model/results/{confusion.png,det.png,digits.json,results.json,results.md} $R/
cp data/digits/model/run/history.json $R/training_history.json
cp data/digits/model/run/metrics.json $R/training_metrics.json
cp data/digits/model/run/rounds.json $R/mining_rounds.json
$PY -m benchmarks.fa_by_kind --negatives data/digits/corpus/eval/test/negatives/negatives.json \
  --model data/digits/model/digits.tflite --out $R
# alone_streams/: the same file on stop 32's evaluation streams (every digit alone), where the
# stop-32 corpus exists (stop32_replaced/README.md makes it as data/digits/corpus1200).
if [ -d data/digits/corpus1200/eval ]; then
  $PY -m benchmarks.frr_fa --model data/digits/model/digits.tflite \
    --positives data/digits/corpus1200/eval/test/positives/positives.json \
    --negatives data/digits/corpus1200/eval/test/negatives/negatives.json --out $R/alone_streams
  $PY -m benchmarks.frr_fa --model data/digits/model/digits.tflite \
    --positives data/digits/corpus1200/eval/validation/positives/positives.json \
    --negatives data/digits/corpus1200/eval/validation/negatives/negatives.json \
    --out $R/alone_streams/validation
fi
