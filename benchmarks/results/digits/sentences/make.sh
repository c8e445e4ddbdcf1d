# The digits' evaluation sets with half the utterances inside sentences (the negatives are the
# corpus's own, hard-linked: the same seed and settings render them alike), then the digits
# model shipped from stop 32 to 34 on them (../stop32_replaced/README.md makes it as
# data/digits/model_1200/digits.tflite; it was firmware_models/digits.tflite then). Evaluation
# sets made since stop 35 leave the 6 validation and 3 test recordings whose transcripts say a
# digit out of the backgrounds, so a new run's positive streams differ slightly from these.
set -x
PY=python
S=data/digits/sentences
for role in validation test; do
  mkdir -p $S/corpus/eval/$role
  [ -d $S/corpus/eval/$role/negatives ] || cp -al data/digits/corpus1200/eval/$role/negatives $S/corpus/eval/$role/negatives
done
$PY - <<'PY'
from pathlib import Path
from training.commands import plan
from training.core.recipes import load_recipe
from training.data.commands import generate_commands
recipe = load_recipe(Path("training/configs/digits.toml"),
                     ["corpus.eval_in_sentences=0.5", "corpus.recordings=data/recordings",
                      "corpus.in_sentences=0", "train.mining.rounds=0"])
out = Path("data/digits/sentences/corpus")
config, _, _ = plan(recipe, out)
print(generate_commands(config, out, eval_only=True))
PY
for role in test validation; do
  $PY -m benchmarks.frr_fa --model data/digits/model_1200/digits.tflite \
    --positives $S/corpus/eval/$role/positives/positives.json \
    --negatives $S/corpus/eval/$role/negatives/negatives.json --out $S/results/$role
done
date
