#!/bin/sh
# `earshot label`: every output format parsed back and checked against the
# others and against the audio's length; folders for several files; the
# picture; one-line errors for missing and undecodable files and bad models.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "python3 is needed: skipped"; exit 77; }

mkdir data
"$GEN_DATASET" data train 8 1
# 3.0037 s: 48059 samples at 16 kHz, 66231 at 22050 Hz (set-2, stereo);
# both are 301 frames of 10 ms (the last one partial).
"$GEN_DATASET" data set 3 7 3.0037
"$EARSHOT" train --data data/train.tsv -o m.earshot --hidden 32 --layers 1 \
  --epochs 6 --lr 0.01 --batch 8 --chunk 50 --valid-fraction 0 --threads 1 -q

L="$EARSHOT label -m m.earshot"
files="data/set-0.wav data/set-1.wav data/set-2.wav"

# frames: header + ceil(duration / hop) rows, 4 + 3 columns, times on the
# 10 ms grid, probabilities summing to 1, the label their argmax.
for f in $files; do
  $L -f frames "$f" >frames.tsv 2>err.txt
  [ ! -s err.txt ] || fail "frames $f: stderr: $(cat err.txt)"
  python3 - frames.tsv <<'EOF' || fail "frames $f"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
head, rows = rows[0], rows[1:]
assert head == ["start", "end", "label", "confidence", "noise", "tone", "silence"], head
assert len(rows) == 301, len(rows)
for t, r in enumerate(rows):
    assert len(r) == 7, r
    assert r[0] == "%.3f" % (t * 0.01) and r[1] == "%.3f" % ((t + 1) * 0.01), r
    p = [float(x) for x in r[4:]]
    assert abs(sum(p) - 1) < 1e-4, p
    k = max(range(3), key=lambda i: p[i])
    assert r[2] == head[4 + k] and r[3] == r[4 + k], r
EOF
done
echo "ok: frames"

# audacity (the default format): segments, read back below by eval; json
# with --json-frames: the same segments and frames; vtt: the same cues.
for k in 0 1 2; do
  f=data/set-$k.wav
  $L "$f" >set-$k.txt
  $L -f json --json-frames "$f" >set-$k.json
  $L -f frames "$f" >set-$k.frames
  $L -f vtt "$f" >set-$k.vtt
  python3 - set-$k.txt set-$k.json set-$k.frames set-$k.vtt "$f" <<'EOF' || fail "formats of $f"
import json, re, sys
aud, js, fr, vtt, name = sys.argv[1:]
segs = []
for line in open(aud):
    m = re.fullmatch(r"(\d+\.\d{6})\t(\d+\.\d{6})\t(noise|tone|silence)\n", line)
    assert m, repr(line)
    segs.append((float(m[1]), float(m[2]), m[3]))
assert segs, "no segments"
assert all(a < b <= 3.01 + 1e-9 for a, b, _ in segs), segs
assert segs == sorted(segs, key=lambda s: (s[0], ["noise", "tone", "silence"].index(s[2])))
d = json.load(open(js))
assert d["model"] == "m.earshot" and d["labels"] == ["noise", "tone", "silence"], d
assert d["frame_seconds"] == 0.01
assert len(d["files"]) == 1
f = d["files"][0]
assert f["file"] == name and f["n_frames"] == 301, f["n_frames"]
assert abs(f["duration"] - 3.0037) < 1e-3, f["duration"]
assert [(round(s["start"], 6), round(s["end"], 6), s["label"]) for s in f["segments"]] == segs
assert all(0 < s["confidence"] <= 1 for s in f["segments"])
rows = [l.rstrip("\n").split("\t") for l in open(fr)][1:]
assert len(f["frames"]) == len(rows) == 301
for j, r in zip(f["frames"], rows):
    assert abs(j["start"] - float(r[0])) < 1e-9 and j["label"] == r[2], (j, r)
    assert all(abs(a - float(b)) < 1e-6 for a, b in zip(j["probabilities"], r[4:]))
text = open(vtt).read()
assert text.startswith("WEBVTT\n\n"), text[:20]
cues = re.findall(r"\n(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)\n([^\n]+)\n", text)
assert len(cues) == len(segs) == text.count("-->"), (len(cues), len(segs))
for c, s in zip(cues, segs):
    t0 = int(c[0]) * 3600 + int(c[1]) * 60 + int(c[2]) + int(c[3]) / 1000
    t1 = int(c[4]) * 3600 + int(c[5]) * 60 + int(c[6]) + int(c[7]) / 1000
    assert abs(t0 - s[0]) < 6e-4 and abs(t1 - s[1]) < 6e-4 and c[8] == s[2], (c, s)
EOF
done
echo "ok: audacity, json, vtt agree with each other and with frames"

# --threshold 0 --min-segment 0 --min-gap 0: the most probable class
# always counts and every run of it is a segment, so the segments of this
# three-class model tile each file, end to end (smoothing stays at 5).
for f in $files; do
  $L --threshold 0 --min-segment 0 --min-gap 0 "$f" >tiles.txt || fail "tiles $f"
  python3 - tiles.txt <<'EOF' || fail "$f: segments do not tile the file: $(cat tiles.txt)"
import sys
segs = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
assert segs and float(segs[0][0]) == 0.0, segs[:1]
for a, b in zip(segs, segs[1:]):
    assert a[1] == b[0] and a[2] != b[2], (a, b)
assert abs(float(segs[-1][1]) - 3.0037) <= 0.01, segs[-1]
EOF
done
echo "ok: --threshold 0 --min-segment 0 --min-gap 0 tiles the files"

# tsv: a DCASE table for all three files, usable as an eval manifest that
# names the audio files itself; with per-frame segments it is the model's
# own frame decisions, so eval scores it 1.
raw="--smoothing 1 --threshold 0 --min-segment 0 --min-gap 0"
$L -f tsv $raw $files >events.tsv
head -n 1 events.tsv | grep -qx "$(printf 'filename\tonset\toffset\tevent_label')" ||
  fail "tsv header: $(head -n 1 events.tsv)"
awk -F '\t' 'NR > 1 && (NF != 4 || $1 !~ /^data\/set-[012]\.wav$/ || $2 + 0 >= $3 + 0) { exit 1 }' \
  events.tsv || fail "tsv rows"
[ "$(cut -f 1 events.tsv | sort -u | wc -l)" -eq 4 ] || fail "tsv does not name the three files"
"$EARSHOT" eval -m m.earshot -d events.tsv $raw -q >eval.txt
grep -q '^frame accuracy  100.00%  (903 of 903 frames)$' eval.txt ||
  fail "the tsv labels read back: $(cat eval.txt)"
echo "ok: tsv, read back as a DCASE manifest"

# Several files: one stream with "# FILE" blocks, or a folder of files.
$L $files >all.txt
[ "$(grep -c '^# data/set-' all.txt)" -eq 3 ] || fail "no # FILE lines"
$L -f json $files | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [f["file"] for f in d["files"]] == ["data/set-0.wav", "data/set-1.wav", "data/set-2.wav"]
assert all(f["n_frames"] == 301 and "frames" not in f for f in d["files"])
' || fail "json of three files"
$L -f vtt -o subs $files
for k in 0 1 2; do
  cmp -s subs/set-$k.vtt set-$k.vtt || fail "subs/set-$k.vtt differs from the single-file output"
done
$L -f audacity -o one.txt data/set-1.wav
cmp -s one.txt set-1.txt || fail "-o FILE differs from stdout"
echo "ok: several files"

# A model found by name, as the element finds it.
mkdir models
cp m.earshot models/byname.earshot
EARSHOT_MODEL_PATH="$WORK/nothing-here:$WORK/models" "$EARSHOT" label -m byname \
  data/set-0.wav >byname.txt
cmp -s byname.txt set-0.txt || fail "-m byname (EARSHOT_MODEL_PATH) differs"

# --only keeps some classes.
$L --only tone,noise data/set-0.wav >only.txt
! grep -q silence only.txt || fail "--only tone,noise wrote silence"
[ "$(grep -vc silence set-0.txt)" -eq "$(wc -l <only.txt)" ] || fail "--only lost segments"

# The picture: well-formed SVG with the waveform, segments and one curve
# per class.
$L --plot set-2.svg data/set-2.wav >/dev/null
python3 - set-2.svg <<'EOF' || fail "the SVG picture"
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == ns + "svg"
assert len(root.findall(ns + "polygon")) == 1, "waveform"
assert len(root.findall(ns + "polyline")) == 3, "curves"
rects = [r for r in root.findall(ns + "rect") if r.find(ns + "title") is not None]
assert len(rects) == sum(1 for _ in open("set-2.txt")), "segments"
EOF
$L --plot pics -o out $files
[ -s pics/set-0.svg ] && [ -s pics/set-2.svg ] && [ -s out/set-1.txt ] ||
  fail "--plot/-o folders"
echo "ok: --only, --plot"

# Errors: one line, status 1 (bad files, models), 2 (bad options).
head -c 3000 /dev/urandom >junk.wav
head -c 200 m.earshot >truncated.earshot
expect_failure "missing file" '^earshot label: cannot read nope\.wav: No such file' \
  $L nope.wav
expect_failure "undecodable file" '^earshot label: cannot decode junk\.wav: ' \
  $L junk.wav
expect_failure "truncated model" '^earshot label: truncated\.earshot: ' \
  "$EARSHOT" label -m truncated.earshot data/set-0.wav
expect_failure "unknown model" "^earshot label: no model 'nosuch': not a file, and no nosuch\.earshot in " \
  env EARSHOT_MODEL_PATH="$WORK" "$EARSHOT" label -m nosuch data/set-0.wav
status=0; $L -f srt data/set-0.wav 2>err.txt || status=$?
[ $status -eq 2 ] && grep -q "audacity, tsv, frames, json or vtt" err.txt ||
  fail "bad --format: status $status, $(cat err.txt)"
status=0; $L -f vtt $files 2>err.txt || status=$?
[ $status -eq 2 ] && grep -q -- "-o FOLDER" err.txt ||
  fail "vtt of several files to stdout: status $status, $(cat err.txt)"
status=0; $L --threshold 2 data/set-0.wav 2>err.txt || status=$?
[ $status -eq 2 ] || fail "--threshold 2: status $status"
status=0; $L 2>err.txt || status=$?
[ $status -eq 2 ] || fail "no FILE: status $status"
echo "ok: earshot label"
