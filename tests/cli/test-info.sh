#!/bin/sh
# Done-means (info): `earshot info` prints the fields of a model it trained,
# as text and as JSON; label files in the DCASE and CSV formats give the
# same targets as the Audacity ones (same data-sha256 recorded).
. "$(dirname "$0")/lib.sh"

mkdir data
"$GEN_DATASET" data set 5 6 3
"$EARSHOT" train --data data/set.tsv -o tiny.earshot --hidden 8 --layers 1 \
  --epochs 2 --threads 1 -q

"$EARSHOT" info tiny.earshot >info.txt
cat info.txt
# GRU 8 over 40 bands: W 24x40, U 24x8, bW 24, bU 24 = 1200; dense 3x8+3 = 27
for want in '^  format version   1$' '^  sample rate      16000 Hz$' \
    '^  window           400 samples \(25\.0 ms\), hann$' \
    '^  hop              160 samples \(10\.0 ms\)' \
    '^  mel bands        40, Slaney scale, 0-8000 Hz$' \
    '^  mean  ' '^  std  ' \
    '^  0    noise$' '^  1    tone$' '^  2    silence$' \
    '^  0      gru        40      8  -                 1200  W\[24x40\] U\[24x8\] bW\[24\] bU\[24\]$' \
    '^  1      dense       8      3  softmax             27  W\[3x8\] b\[3\]$' \
    '^  total parameters 1227 ' \
    '^  train\.command +earshot train --data data/set\.tsv -o tiny\.earshot --hidden 8 --layers 1 --epochs 2$' \
    '^  train\.date +2023-11-14T22:13:20Z$' \
    '^  train\.epochs +2$' '^  train\.best-epoch +[12]$' \
    '^  train\.background +silence$' '^  valid\.accuracy +[01]\.[0-9]+$' \
    '^  train\.data-sha256 +[0-9a-f]{64}$'; do
  grep -Eq -- "$want" info.txt || fail "earshot info: no line matching '$want'"
done
size=$(wc -c <tiny.earshot)
grep -Eq "^  file size +$size bytes$" info.txt || fail "earshot info: file size"

if command -v python3 >/dev/null; then
  "$EARSHOT" info --json tiny.earshot >info.json
  python3 - info.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format_version"] == 1, d
assert d["labels"] == ["noise", "tone", "silence"], d["labels"]
assert d["total_params"] == 1227, d["total_params"]
assert [l["type"] for l in d["layers"]] == ["gru", "dense"]
assert d["layers"][0]["shapes"]["U"] == [24, 8]
assert len(d["normalisation"]["mean"]) == 40
assert d["front_end"]["hop_length"] == 160
assert d["metadata"]["train.epochs"] == "2"
EOF
  echo "ok: --json"
fi

# Broken model files: one line, status 1.
head -c 100 tiny.earshot >truncated.earshot
expect_failure "truncated model" 'truncated\.earshot: ' "$EARSHOT" info truncated.earshot
expect_failure "missing model" 'nothing\.earshot: ' "$EARSHOT" info nothing.earshot

# A model by name (no folder, no .earshot), found as the element finds it.
mkdir named
cp tiny.earshot named/tinyname.earshot
EARSHOT_MODEL_PATH="$PWD/named" "$EARSHOT" info tinyname >byname.txt
head -n 1 byname.txt | grep -q '/named/tinyname\.earshot$' ||
  fail "earshot info NAME: first line '$(head -n 1 byname.txt)'"
grep -Eq '^  total parameters 1227 ' byname.txt ||
  fail "earshot info NAME: not the model's fields"
echo "ok: earshot info by name"
EARSHOT_MODEL_PATH="$PWD/named" expect_failure "unknown model name" \
  "no model 'nosuch': not a file, and no nosuch\.earshot in .*/named" \
  "$EARSHOT" info nosuch

# The same labels as DCASE manifest and as CSV label files: same targets.
sha () { "$EARSHOT" info "$1" | sed -n 's/^  train\.data-sha256 *//p'; }
{
  printf 'filename\tonset\toffset\tevent_label\n'
  for k in 0 1 2 3 4; do
    awk -v f="set-$k.wav" -F '\t' '{ printf "%s\t%s\t%s\t%s\n", f, $1, $2, $3 }' \
      "data/set-$k.txt"
    # a file with no events would be: printf 'set-%d.wav\t\t\t\n'
  done
} >data/dcase.tsv
: >data/csv.tsv
for k in 0 1 2 3 4; do
  { echo "start,end,label"; tr '\t' ',' <"data/set-$k.txt"; } >"data/set-$k.csv"
  printf 'set-%d.wav\tset-%d.csv\n' "$k" "$k" >>data/csv.tsv
done
for fmt in dcase csv; do
  "$EARSHOT" train --data "data/$fmt.tsv" -o "$fmt.earshot" --hidden 8 \
    --layers 1 --epochs 1 --threads 1 -q
  [ "$(sha "$fmt.earshot")" = "$(sha tiny.earshot)" ] ||
    fail "$fmt labels gave other targets than the Audacity ones"
done
echo "ok: earshot info; DCASE and CSV labels equal Audacity labels"
