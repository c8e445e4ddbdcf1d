# The digits' evaluation sets with half the utterances inside sentences (the negatives are the
# corpus's own, hard-linked: the same seed and settings render them alike), then the shipped
# digits model on them.
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
                     ["corpus.eval_in_sentences=0.5", "corpus.recordings=data/recordings"])
out = Path("data/digits/sentences/corpus")
config, _, _ = plan(recipe, out)
print(generate_commands(config, out, eval_only=True))
PY
for role in test validation; do
  $PY -m benchmarks.frr_fa --model firmware_models/digits.tflite \
    --positives $S/corpus/eval/$role/positives/positives.json \
    --negatives $S/corpus/eval/$role/negatives/negatives.json --out $S/results/$role
done
date
