#!/usr/bin/env bash
# Stop 39: the shipped speaker recipe trained on the 21 real voices of speakers-debian.csv and on
# those plus the six of speakers-games.csv, three seeds each; from the repository root.
set -euo pipefail
PY=python
M=training/data/manifests
$PY -m training.data speakers --out data/speaker/corpus --cache data/debs --no-tts
$PY -m training.data speakers --out data/speaker27/corpus --cache data/debs --no-tts \
  --manifest $M/speakers-debian.csv --manifest $M/speakers-games.csv
$PY -m benchmarks.speaker make-trials data/speaker/corpus/test --out data/speaker/trials/test.tsv --count 3000
for seed in 0 1 2; do
  $PY -m training.speaker training/configs/speaker.toml --out runs/speaker21_s$seed --set seed=$seed
  $PY -m training.speaker training/configs/speaker.toml --out runs/speaker27_s$seed --set seed=$seed \
    --set data=data/speaker27/corpus
done
OUT=benchmarks/results/speaker/games
$PY -m benchmarks.speaker --model runs/speaker27_s0/speaker_int8.tflite --model runs/speaker27_s0/speaker_float32.tflite \
  --network-only runs/speaker27_s0/speaker_int8.tflite --model firmware_models/speaker.tflite \
  --baseline mfcc-stats --trials data/speaker/trials/test.tsv --out $OUT/test_seed0
$PY -m benchmarks.speaker $(for s in 0 1 2; do echo --model runs/speaker21_s$s/speaker_int8.tflite; done) \
  $(for s in 1 2; do echo --model runs/speaker27_s$s/speaker_int8.tflite; done) \
  --trials data/speaker/trials/test.tsv --out $OUT/seeds_test
# within_seed0: as test_seed0 on the within-source list of ../cepstral/README.md
