#!/bin/sh
# kill -9 during training: the checkpoint on disk is always a complete one
# (written to a temporary file and renamed), no model file appears, and
# --resume carries the run to its end.
. "$(dirname "$0")/lib.sh"

mkdir data
"$GEN_DATASET" data set 6 4 3
set -- --data data/set.tsv -o model.earshot --hidden 16 --layers 1 \
  --epochs 400 --patience 0 --batch 4 --chunk 40 --threads 1 -q

"$EARSHOT" train "$@" &
pid=$!
# Kill it after its second checkpoint, while it trains (and may be writing
# the third).
i=0
while [ ! -s model.ckpt ] && [ $i -lt 600 ]; do
  sleep 0.1
  i=$((i + 1))
done
[ -s model.ckpt ] || { kill -9 $pid; fail "no checkpoint after 60 s"; }
first=$(cksum <model.ckpt)
i=0
while [ "$(cksum <model.ckpt)" = "$first" ] && [ $i -lt 600 ]; do
  sleep 0.05
  i=$((i + 1))
done
kill -9 $pid 2>/dev/null || true
status=0
wait $pid 2>/dev/null || status=$?
[ $status -eq 137 ] || fail "training ended with status $status before it was killed"

[ ! -e model.earshot ] || fail "a killed run left a model file"
# The checkpoint is complete: resuming from it finishes the run.
"$EARSHOT" train "$@" --resume >resume.txt 2>&1 ||
  fail "--resume after kill -9 failed: $(cat resume.txt)"
[ -s model.earshot ] || fail "--resume wrote no model"
"$EARSHOT" info model.earshot | grep -q '^  train.epochs        400$' ||
  fail "the resumed run did not reach epoch 400"
echo "kill: 1 passed, 0 failed"
