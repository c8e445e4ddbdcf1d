#!/usr/bin/env bash
# hey_jarvis's recipe with the default recipe's rooms that ring (late_reverb = true, rt60_s up to
# 1.5 s, a fifth of the reverberated clips through the split's real impulse responses) instead of
# the rooms of before its recipe pins; four seeds and their mean against the shipped file (stop 43,
# ../../four_seeds.sh) on the evaluation sets of ../onsets (linked, so the same streams). From the
# repository root after ../onsets/make.sh; about 6 min for the clips (the voices from the clip
# store), 10-15 min per seed on 2 cores.
set -euo pipefail
D=data/hj_ring
mkdir -p $D/corpus
[ -d $D/corpus/eval ] || cp -al data/hj_onset/corpus/eval $D/corpus/eval
bash benchmarks/results/retrained/four_seeds.sh "hey jarvis" stop43 bbd845b $D benchmarks/results/retrained/hey_jarvis/ring \
  corpus.augment.late_reverb=true "corpus.augment.rt60_s=[0.15, 1.5]" corpus.augment.real_rir_p=0.2
