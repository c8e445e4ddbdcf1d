# Digits inside sentences, the next steps (issue 14), from the repository root after the digits
# corpus (../README.md), ../sentences/make.sh and ../in_sentences_not_shipped/make.sh (whose
# data/digits/ctx holds the run with a third of the words inside sentences and its 4,702
# sentence clips). Three runs, each compared on ../sentences/'s streams:
#   ctx_mined    the ctx run given one hard-negative mining round on the training split's real
#                recordings (those whose transcripts say a digit left out), resumed from its
#                finished checkpoint;
#   twins        every clip of the digits corpus alone plus the 4,702 sentence clips beside
#                them as twins (corpus.in_sentences_twins), trained from the start;
#   twins_mined  the twins run given the same mining round.
set -euo pipefail
source benchmarks/results/digits/corpus_links.sh
PY=python
SET="--set corpus.recordings=data/recordings --set corpus.in_sentences=0.33 --set corpus.eval_in_sentences=0.5"
RECIPE=training/configs/digits.toml

# ctx_mined: the finished ctx run goes on with one mining round (the round count is not part of
# the checkpoint's fingerprint).
mkdir -p data/digits/ctx_mined/model
[ -d data/digits/ctx_mined/model/run ] || cp -r data/digits/ctx/model/run data/digits/ctx_mined/model/run
$PY -m training.commands --recipe $RECIPE --data data/digits/ctx/corpus \
  --out data/digits/ctx_mined/model $SET --set train.mining.rounds=1

# twins: the digits corpus's clips (hard links) and, as twins, ctx's sentence clips (hard links
# under the twins' names), ../sentences/'s evaluation sets.
C=data/digits/twins/corpus
if [ ! -d $C ]; then
  link_digits_corpus $C.tmp
  PYTHONPATH=. $PY benchmarks/results/digits/sentence_clips.py twins data/digits/ctx/corpus $C.tmp
  mv $C.tmp $C
fi
$PY -m training.commands --recipe $RECIPE --data $C --out data/digits/twins/model $SET \
  --set corpus.in_sentences_twins=true --set train.mining.rounds=0
mkdir -p data/digits/twins/mined/model
[ -d data/digits/twins/mined/model/run ] || cp -r data/digits/twins/model/run data/digits/twins/mined/model/run
$PY -m training.commands --recipe $RECIPE --data $C --out data/digits/twins/mined/model $SET \
  --set corpus.in_sentences_twins=true --set train.mining.rounds=1

# ctx_mined2 (stop 36): the ctx run given two rounds from its finished first pass.
mkdir -p data/digits/ctx_mined2/model
[ -d data/digits/ctx_mined2/model/run ] || cp -r data/digits/ctx/model/run data/digits/ctx_mined2/model/run
$PY -m training.commands --recipe $RECIPE --data data/digits/ctx/corpus \
  --out data/digits/ctx_mined2/model $SET --set train.mining.rounds=2
cp data/digits/ctx_mined2/model/run/rounds.json benchmarks/results/digits/sentences_mined/second_round_rounds.json
cp data/digits/ctx_mined2/model/run/history.json benchmarks/results/digits/sentences_mined/second_round_history.json

$PY -m benchmarks.commands_variants ctx=data/digits/ctx/model ctx_mined=data/digits/ctx_mined/model \
  twins=data/digits/twins/model twins_mined=data/digits/twins/mined/model \
  --out benchmarks/results/digits/sentences_mined
