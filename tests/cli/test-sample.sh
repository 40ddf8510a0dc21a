#!/bin/sh
# The README's main job: the default model (vad, found by name in the source
# tree's models/ by an uninstalled build) labels examples/sample.ogg, and
# its segments are right.  The sample (21 s of held-out corpus audio: music,
# speech in Portuguese, English and Spanish, noise, silence) has reference
# labels in examples/sample.txt.  Asserted: 1 s segment F1 for speech at
# least 0.95, frame accuracy at least 0.90 (measured when the model was
# trained: 1.00 and 0.941), and `earshot label` prints a speech segment for
# each of the sample's speech passages (within two).
. "$(dirname "$0")/lib.sh"

: "${EXAMPLES:?}"
unset EARSHOT_MODEL_PATH EARSHOT_MODEL_SYSTEM_PATH

"$EARSHOT" label "$EXAMPLES/sample.ogg" >segments.txt
cat segments.txt
speech=$(grep -c '	speech$' segments.txt)
want=$(grep -c '	speech$' "$EXAMPLES/sample.txt")
[ "$speech" -ge $((want - 2)) ] && [ "$speech" -le $((want + 2)) ] ||
  fail "$speech speech segments, the sample has $want speech passages"
# The first speech passage starts at 0.80 s.
awk -F '\t' '$3 == "speech" { exit !($1 > 0.7 && $1 < 0.9) }' segments.txt ||
  fail "first speech segment does not start near 0.80 s"

"$EARSHOT" eval --data "$EXAMPLES/sample.tsv" --json \
  --map music=nonspeech,noise=nonspeech,silence=nonspeech >eval.json
/usr/bin/python3 - eval.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
acc, seg = r["accuracy"], r["segment"]["f1"]
print(f"sample: frame accuracy {acc:.4f}, 1 s segment F1 {seg:.4f}, "
      f"ROC-AUC {r['roc_auc']['auc']:.4f}")
if acc < 0.90 or seg < 0.95:
    sys.exit("FAIL: the default model mislabels the sample")
PY
echo "sample: 1 passed, 0 failed"
