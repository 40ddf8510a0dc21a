#!/bin/sh
# `earshot eval`: a perfect prediction scores 1 (ER 0); known confusions give
# the numbers worked out by hand; --map; agreement with frame-accuracy; the
# text and JSON reports; one-line errors.
. "$(dirname "$0")/lib.sh"
: "${FRAME_ACCURACY:?}" "${EXAMPLE_FIXTURES:?}"
command -v python3 >/dev/null || { echo "python3 is needed: skipped"; exit 77; }

# ---- the hand-built tone detector on its own WAV -------------------------
# tone.wav: 1 s of digital silence, 1 s of a 1 kHz tone, 0.5 s of silence
# (250 frames of 10 ms); the detector's frames are exactly its own 10 ms,
# so it calls frames 100-199 tone and the rest silence, every silent frame
# with bit-identical probabilities.
"$EXAMPLE_FIXTURES" "$WORK"
printf '1.000000\t2.000000\ttone\n' >right.txt
printf '0.500000\t2.000000\ttone\n' >early.txt
printf 'tone.wav\tright.txt\n' >right.tsv
printf 'tone.wav\tearly.txt\n' >early.tsv

# jcheck FILE PYTHON-EXPRESSIONS...: each expression, with d the JSON
# document, must hold.
jcheck () {
  file=$1
  shift
  python3 - "$file" "$@" <<'EOF'
import json, math, sys
d = json.load(open(sys.argv[1]))
def near(a, b):
    return a is not None and abs(a - b) <= 1e-8 * max(1, abs(b))
for e in sys.argv[2:]:
    if not eval(e):
        sys.exit("not true: %s\n%s" % (e, json.dumps(d, indent=1)))
EOF
}

"$EARSHOT" eval -m tone.earshot -d right.tsv --json >right.json
jcheck right.json 'd["labels"] == ["silence", "tone"]' \
  'd["background"] == "silence"' 'd["frames"] == 250 and d["correct"] == 250' \
  'd["accuracy"] == 1 and d["macro_f1"] == 1' \
  'd["confusion"] == [[150, 0], [0, 100]]' \
  'all(c["precision"] == c["recall"] == c["f1"] == 1 for c in d["classes"])' \
  'd["segment"]["classes"] == ["tone"] and d["segment"]["segments"] == 3' \
  'd["segment"]["f1"] == 1 and d["segment"]["error_rate"] == 0' \
  'd["roc_auc"] == {"class": "tone", "auc": 1}' ||
  fail "a perfect prediction does not score 1"
echo "ok: perfect prediction: 1 everywhere, ER 0, ROC-AUC 1"

# The reference says tone from 0.5 s: frames 50-99 are tone in the
# reference and silence in the prediction.
#   confusion [[100, 0], [50, 100]]; accuracy 200/250; silence P 100/150,
#   R 1, F1 200/250; tone P 1, R 100/150, F1 200/250; macro-F1 0.8
#   1 s segments of tone: reference 0, 1; the element's segment (1-2 s)
#   1: TP 1, FN 1 (a deletion), N 2: F1 2/3, ER 1/2
#   ROC-AUC of tone: 100 of the 150 positives score above all 100
#   negatives, 50 tie with them: (100 + 50/2) / 150 = 5/6
"$EARSHOT" eval -m tone.earshot -d early.tsv --json >early.json
jcheck early.json 'd["frames"] == 250 and d["correct"] == 200' \
  'd["confusion"] == [[100, 0], [50, 100]]' 'near(d["accuracy"], 0.8)' \
  'near(d["classes"][0]["precision"], 100 / 150)' \
  'd["classes"][0]["recall"] == 1' 'near(d["classes"][0]["f1"], 0.8)' \
  'd["classes"][1]["precision"] == 1' \
  'near(d["classes"][1]["recall"], 100 / 150)' \
  'near(d["classes"][1]["f1"], 0.8)' 'near(d["macro_f1"], 0.8)' \
  'd["classes"][1]["support"] == 150 and d["classes"][1]["predicted"] == 100' \
  'd["segment"]["tp"] == 1 and d["segment"]["fp"] == 0 and d["segment"]["fn"] == 1' \
  'd["segment"]["deletions"] == 1 and d["segment"]["substitutions"] == 0' \
  'd["segment"]["insertions"] == 0 and d["segment"]["reference_active"] == 2' \
  'near(d["segment"]["f1"], 2 / 3) and near(d["segment"]["error_rate"], 0.5)' \
  'near(d["roc_auc"]["auc"], 5 / 6)' ||
  fail "a known confusion does not give the known numbers"

# The same as text.
"$EARSHOT" eval -m tone.earshot -d early.tsv >early-report.txt
cat early-report.txt
for want in '^frame accuracy  80\.00%  \(200 of 250 frames\)$' \
    '^macro-F1        0\.8000$' \
    '^silence +100 +150 +0\.6667 +1\.0000 +0\.8000$' \
    '^tone +150 +100 +1\.0000 +0\.6667 +0\.8000$' \
    '^silence +100 +0$' '^tone +50 +100$' \
    '^  F1          0\.6667  \(precision 1\.0000, recall 0\.5000\)$' \
    '^  error rate  0\.5000  \(substitutions 0\.0000, deletions 0\.5000, insertions 0\.0000\)$' \
    '^ROC-AUC of tone   0\.8333$'; do
  grep -Eq -- "$want" early-report.txt || fail "eval text: no line matching '$want'"
done
echo "ok: a known confusion gives the known numbers (JSON and text)"

# ---- a trained three-class model on generated data -----------------------
mkdir data
"$GEN_DATASET" data train 8 1
"$GEN_DATASET" data set 3 7 4
"$EARSHOT" train --data data/train.tsv -o m.earshot --hidden 32 --layers 1 \
  --epochs 6 --lr 0.01 --batch 8 --chunk 50 --valid-fraction 0 --threads 1 -q

# The frame accuracy is the one frame-accuracy measures on its own.
"$EARSHOT" eval -m m.earshot -d data/set.tsv >set.txt
fa=$("$FRAME_ACCURACY" m.earshot data/set.tsv 0 | tail -n 1)
echo "$fa"
want=$(echo "$fa" | sed -n 's/^frame accuracy \([0-9.]*%\) over \([0-9]*\) frames.*/\1 \2/p')
got=$(sed -n 's/^frame accuracy  \([0-9.]*%\)  ([0-9]* of \([0-9]*\) frames)$/\1 \2/p' set.txt)
[ -n "$want" ] && [ "$want" = "$got" ] ||
  fail "eval and frame-accuracy disagree: $(grep '^frame accuracy' set.txt) / $fa"
echo "ok: eval agrees with frame-accuracy"

# Its own segments, one per run of per-frame classes, as the reference:
# a perfect prediction.
raw="--smoothing 1 --threshold 0 --min-segment 0 --min-gap 0"
"$EARSHOT" label -m m.earshot $raw -o self data/set-0.wav data/set-1.wav data/set-2.wav
for k in 0 1 2; do printf '../data/set-%d.wav\tset-%d.txt\n' $k $k; done >self/self.tsv
"$EARSHOT" eval -m m.earshot -d self/self.tsv $raw --json >self.json
jcheck self.json 'd["frames"] == d["correct"] == 1200' 'd["accuracy"] == 1' \
  'd["macro_f1"] == 1' 'd["segment"]["f1"] == 1' \
  'd["segment"]["error_rate"] == 0' \
  'all(c["f1"] == 1 for c in d["classes"])' ||
  fail "a model against its own labels does not score 1"

# --map silence=tone on that reference: the frames predicted silence are
# tone in the reference.  With N, T, S the frames predicted noise, tone and
# silence: confusion [[N,0,0],[0,T,S],[0,0,0]]; tone recall T/(T+S);
# silence precision 0, F1 0; macro-F1 (1 + 2T/(2T+S) + 0)/3.  Segments
# (noise, tone): a segment where the model said silence but not tone is a
# deletion of tone, nothing else is wrong.
"$EARSHOT" eval -m m.earshot -d self/self.tsv $raw --json \
  --map silence=tone >map.json
python3 - self.json map.json self/set-0.txt self/set-1.txt self/set-2.txt <<'EOF' ||
import json, math, sys
d0, d = (json.load(open(f)) for f in sys.argv[1:3])
N, T, S = (d0["confusion"][k][k] for k in range(3))
assert min(N, T, S) > 0, (N, T, S)
def near(a, b):
    assert abs(a - b) <= 1e-8 * max(1, abs(b)), (a, b)
assert d["map"] == {"silence": "tone"}
assert d["confusion"] == [[N, 0, 0], [0, T, S], [0, 0, 0]], d["confusion"]
near(d["accuracy"], (N + T) / (N + T + S))
c = d["classes"]
assert c[0]["f1"] == 1 and c[1]["precision"] == 1
near(c[1]["recall"], T / (T + S))
near(c[1]["f1"], 2 * T / (2 * T + S))
assert c[2]["precision"] == 0 and c[2]["recall"] is None and c[2]["f1"] == 0
near(d["macro_f1"], (1 + 2 * T / (2 * T + S)) / 3)
tp = dels = n = 0
for f in sys.argv[3:]:
    segs = [l.split("\t") for l in open(f)]
    for s in range(4):        # 4 s files: 4 segments of 1 s
        on = {lab.strip() for a, b, lab in segs
              if float(a) < s + 1 - 1e-9 and float(b) > s + 1e-9}
        noise, tone, sil = "noise" in on, "tone" in on, "silence" in on
        tp += noise + tone
        dels += sil and not tone
        n += noise + (tone or sil)
g = d["segment"]
assert (g["tp"], g["fp"], g["fn"]) == (tp, 0, dels), (g, tp, dels)
assert (g["substitutions"], g["deletions"], g["insertions"]) == (0, dels, 0)
assert g["reference_active"] == n and g["segments"] == 12
near(g["f1"], 2 * tp / (2 * tp + dels))
near(g["error_rate"], dels / n)
print("map: N=%d T=%d S=%d, %d segment deletions of %d" % (N, T, S, dels, n))
EOF
  fail "--map silence=tone does not give the numbers derived from the perfect run"
echo "ok: a perfect prediction scores 1; --map gives the derived confusion"

# A reference label the model does not have: an error naming it, unless
# --map maps it; mapped, the scores are the original ones.
for k in 0 1 2; do
  sed 's/\tnoise$/\thiss/' data/set-$k.txt >data/hiss-$k.txt
  printf 'set-%d.wav\thiss-%d.txt\n' $k $k
done >data/hiss.tsv
expect_failure "unknown reference label" \
  "^earshot eval: data/hiss\.tsv: reference label hiss is not a class of m\.earshot \(noise, tone, silence\): map it with --map hiss=CLASS$" \
  "$EARSHOT" eval -m m.earshot -d data/hiss.tsv
"$EARSHOT" eval -m m.earshot -d data/hiss.tsv --map hiss=noise >hiss.txt
diff set.txt hiss.txt | grep -E '^[<>] (frame|macro|noise|tone|silence|  F1|  error)' &&
  fail "--map hiss=noise scores differ from the original labels"
echo "ok: unknown labels refused, mapped labels scored"

# Usage errors: status 2, one line.
for args in "-m m.earshot" "-m m.earshot -d data/set.tsv --map hiss" \
    "-m m.earshot -d data/set.tsv --map hiss=bark" \
    "-m m.earshot -d data/set.tsv --positive bark" \
    "-m m.earshot -d data/set.tsv --segment-length 0" \
    "-m m.earshot -d data/set.tsv extra"; do
  status=0
  "$EARSHOT" eval $args >/dev/null 2>err.txt || status=$?
  [ $status -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] ||
    fail "eval $args: status $status, $(cat err.txt)"
done
expect_failure "missing manifest" '^earshot eval: cannot read the manifest: ' \
  "$EARSHOT" eval -m m.earshot -d nothing.tsv
echo "ok: earshot eval"
