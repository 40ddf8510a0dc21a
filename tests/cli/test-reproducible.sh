#!/bin/sh
# Done-means 2: the same --seed and data give bit-identical model files, and
# a run stopped after epoch k and continued with --resume ends with the same
# model file as an uninterrupted run, with augmentation (gain, speed, noise)
# on, since that is where a resumed run could most easily drift.
. "$(dirname "$0")/lib.sh"

mkdir data
"$GEN_DATASET" data train 8 3 4
# A noise list for --aug-noise: two generated files, as a list.
"$GEN_DATASET" data noise 2 4 3
printf '# noise for augmentation\nnoise-0.wav\nnoise-1.wav\n' >data/noise.txt

# Every run writes model.earshot in its own folder, so the recorded command
# lines are the same too.
set -- --data ../data/train.tsv -o model.earshot --hidden 16 --layers 2 \
  --epochs 4 --lr 0.01 --batch 4 --chunk 40 --dropout 0.1 --balance \
  --warmup 5 --lr-decay 0.9 --aug-gain 6 --aug-speed 5 \
  --aug-noise ../data/noise.txt --aug-snr 10:20 --aug-prob 0.7 --threads 1 -q

mkdir a b c d
(cd a && "$EARSHOT" train "$@")
(cd b && "$EARSHOT" train "$@")
cmp a/model.earshot b/model.earshot ||
  fail "two runs with the same seed wrote different models"
echo "ok: the same seed gives bit-identical models"

(cd c && "$EARSHOT" train "$@" --stop-after 2)
[ ! -e c/model.earshot ] || fail "--stop-after 2 wrote a model"
[ -s c/model.ckpt ] || fail "--stop-after 2 left no checkpoint"
[ "$(wc -l <c/model.csv)" -eq 3 ] || fail "after 2 epochs the CSV is not 3 lines"
(cd c && "$EARSHOT" train "$@" --resume)
cmp a/model.earshot c/model.earshot ||
  fail "stopped after epoch 2 and resumed: a different model"
[ "$(wc -l <c/model.csv)" -eq 5 ] || fail "after resuming the CSV is not 5 lines"
echo "ok: --resume after epoch 2 reaches the same model"

# Resuming with other options is refused, with one line and no model.
cp c/model.ckpt d/model.ckpt
expect_failure "resume with other options" "other data or options" \
  sh -c 'cd d && exec "$0" train "$@" --resume --aug-gain 3' "$EARSHOT" "$@"
[ ! -e d/model.earshot ] || fail "a refused resume wrote a model"

# A different seed gives a different model (the seed is really used).
(cd d && "$EARSHOT" train "$@" --seed 2)
! cmp -s a/model.earshot d/model.earshot || fail "--seed 2 gave the same model"
echo "ok: another seed, another model"
