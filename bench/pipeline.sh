#!/bin/sh
# bench/pipeline.sh — what adding earshot costs a decode pipeline, in CPU time:
#
#   gst-launch-1.0 filesrc ! decodebin ! audioconvert ! earshot ! fakesink
#
# against the same pipeline without earshot.
#
#   bench/pipeline.sh [--build DIR] [--minutes M] [--runs R]
#
# The input is made here, from examples/sample.ogg (21 s, 16 kHz mono
# Vorbis): decoded once, repeated to M minutes (default 10) and encoded
# again as Ogg Vorbis, 16 kHz mono, in a temporary folder.  Each pipeline is
# then run R times (default 5) by hyperfine (Debian package `hyperfine`),
# after one warm-up run, and its CPU time is user + system time of the
# gst-launch-1.0 process (all its threads), as hyperfine reports it: the
# mean over the runs (hyperfine keeps CPU times only as means).  The
# overhead is (with - without) / without.  Three variants with earshot: the element's
# defaults (a bus message per 10 ms frame, which gst-launch's main loop
# receives), post-messages=false, and the sms model.  /usr/bin/time -v gives
# the maximum RSS of one run of each for comparison.
#
# It prints figures and never fails on time.  Needs gst-launch-1.0 with the
# base and good plugins (vorbis, ogg, rawaudioparse), hyperfine, python3
# (to read hyperfine's JSON) and GNU time (`time` package) for the RSS.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
minutes=10
runs=5
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--minutes M] [--runs R]" >&2; exit 2 ;;
  esac
done
command -v hyperfine >/dev/null || { echo "$0: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
[ -f "$build/plugin/libgstearshot.so" ] || { echo "$0: no plugin in $build/plugin: build first" >&2; exit 1; }

export GST_PLUGIN_PATH="$build/plugin"
export OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# ---- the input ------------------------------------------------------------
gst-launch-1.0 -q filesrc location="$here/examples/sample.ogg" ! decodebin ! \
  audioconvert ! audio/x-raw,format=S16LE,channels=1,rate=16000 ! \
  filesink location="$tmp/one.raw"
one=$(wc -c < "$tmp/one.raw")
reps=$(( minutes * 60 * 16000 * 2 / one + 1 ))
i=0
while [ $i -lt $reps ]; do cat "$tmp/one.raw"; i=$((i + 1)); done > "$tmp/long.raw"
gst-launch-1.0 -q filesrc location="$tmp/long.raw" ! \
  rawaudioparse format=pcm pcm-format=s16le sample-rate=16000 num-channels=1 ! \
  audioconvert ! vorbisenc quality=0.4 ! oggmux ! filesink location="$tmp/in.ogg"
samples=$(( $(wc -c < "$tmp/long.raw") / 2 ))
frames=$(( samples / 160 ))
audio_s=$(python3 -c "print($samples / 16000)")
rm -f "$tmp/one.raw" "$tmp/long.raw"

base="gst-launch-1.0 -q filesrc location=$tmp/in.ogg ! decodebin ! audioconvert"
without="$base ! fakesink"
with_default="$base ! earshot ! fakesink"
with_quiet="$base ! earshot post-messages=false ! fakesink"
with_sms="$base ! earshot model=sms post-messages=false ! fakesink"

echo "earshot decode-pipeline bench: $audio_s s of 16 kHz mono Ogg Vorbis ($frames frames), $runs runs each, CPU = user + system"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$tmp/hf.json" \
  -n without "$without" \
  -n "earshot (defaults: messages on)" "$with_default" \
  -n "earshot post-messages=false" "$with_quiet" \
  -n "earshot model=sms post-messages=false" "$with_sms" > "$tmp/hf.txt" 2>&1 || {
  cat "$tmp/hf.txt" >&2; exit 1; }

echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$tmp/hf.json" "$frames" "$audio_s" <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
frames, audio_s = int(sys.argv[2]), float(sys.argv[3])
def cpu(r):
    return r["user"] + r["system"]     # means over the runs
rows = []
for r in res:
    rows.append((r["command"], cpu(r), min(r["times"]), r["mean"]))
base = rows[0][1]
print()
print("%-40s %9s %9s %10s %12s" % ("pipeline", "CPU s", "wall s", "overhead", "us/frame"))
for name, c, wmin, wmean in rows:
    if name == "without":
        print("%-40s %9.3f %9.3f %10s %12s" % (name, c, wmin, "", ""))
    else:
        print("%-40s %9.3f %9.3f %9.1f %% %12.2f" % (name, c, wmin,
              100.0 * (c - base) / base, (c - base) / frames * 1e6))
print()
print("CPU s: mean user + system time of a run (hyperfine); wall s: fastest run.")
print("overhead: extra CPU time over the pipeline without earshot; us/frame: that extra per 10 ms frame.")
print("the audio lasts %.0f s: the pipeline without earshot runs at %.0fx real time on CPU time." % (audio_s, audio_s / base))
EOF

if [ -x /usr/bin/time ]; then
  echo
  for p in "$without" "$with_default"; do
    rss=$(/usr/bin/time -v sh -c "$p" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p')
    case $p in *earshot*) n="with earshot" ;; *) n="without" ;; esac
    echo "max RSS, $n: $rss KiB (/usr/bin/time -v)"
  done
fi
