# Digits with a third of their training words said inside sentences (issue 14), from the
# repository root after the digits corpus (../README.md) and the sentence evaluation sets
# (../sentences/make.sh). Without those, the training.commands line alone renders everything
# (not timed as one run; its parts took, on 2 cores: the digits corpus's clips 63 min, its
# evaluation sets with calibration and card 22 min, the sentence positives with their benchmark
# 30 min, the 4,702 sentence clips 75 min, training 33 min). With them, the corpus is the digits
# corpus's clips (hard links: the plan is the same but for the sentence clips) plus the
# sentence clips, and ../sentences/'s evaluation sets (same seed and settings, same streams).
set -euo pipefail
source benchmarks/results/digits/corpus_links.sh
PY=python
D=data/digits/ctx
C=$D/corpus
if [ ! -d $C ]; then
  link_digits_corpus $C.tmp
  PYTHONPATH=. $PY benchmarks/results/digits/sentence_clips.py drop $C.tmp
  mv $C.tmp $C
fi
$PY -m training.commands --recipe training/configs/digits.toml --data $C --out $D/model \
  --set corpus.recordings=data/recordings --set corpus.in_sentences=0.33 \
  --set corpus.eval_in_sentences=0.5 --set train.mining.rounds=0
