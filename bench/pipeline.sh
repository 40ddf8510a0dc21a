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
# receives), post-messages=false, and the sms model.  GNU time also gives
# each pipeline's maximum RSS.
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

# Runs interleaved (each round runs every pipeline once), so that load
# from other work falls on all of them alike; per pipeline the least CPU
# time (user + system, GNU time, 10 ms steps) of the rounds counts: the
# run least disturbed.  hyperfine's mean and spread are printed beside it.
names="without|earshot (defaults: messages on)|earshot post-messages=false|earshot model=sms post-messages=false"
round=0
: > "$tmp/runs"
while [ $round -lt "$runs" ]; do
  i=0
  for p in "$without" "$with_default" "$with_quiet" "$with_sms"; do
    /usr/bin/time -f "$i %U %S %e %M" -a -o "$tmp/runs" sh -c "$p" > /dev/null
    i=$((i + 1))
  done
  round=$((round + 1))
done
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$tmp/hf.json" \
  -n without "$without" \
  -n "earshot (defaults: messages on)" "$with_default" \
  -n "earshot post-messages=false" "$with_quiet" \
  -n "earshot model=sms post-messages=false" "$with_sms" > "$tmp/hf.txt" 2>&1 || {
  cat "$tmp/hf.txt" >&2; exit 1; }

echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$tmp/runs" "$tmp/hf.json" "$frames" "$audio_s" "$names" <<'EOF'
import json, sys
runs, hf, frames, audio_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
names = sys.argv[5].split("|")
best, rss = {}, {}
for line in open(runs):
    f = line.split()
    if len(f) != 5 or not f[0].isdigit():
        continue                      # GNU time's notes ("Command exited ...")
    i, cpu, kib = int(f[0]), float(f[1]) + float(f[2]), int(f[4])
    best[i] = min(best.get(i, 1e30), cpu)
    rss[i] = max(rss.get(i, 0), kib)
res = json.load(open(hf))["results"]
base = best[0]
print()
print("%-40s %8s %10s %9s %18s %9s" % ("pipeline", "CPU s", "overhead", "us/frame",
      "hyperfine CPU s", "max RSS"))
for i, name in enumerate(names):
    r = res[i]
    hfc = r["user"] + r["system"]
    hfs = "%.3f (mean)" % hfc
    if i == 0:
        print("%-40s %8.3f %10s %9s %18s %6d KiB" % (name, best[i], "", "", hfs, rss[i]))
    else:
        print("%-40s %8.3f %8.1f %% %9.2f %18s %6d KiB" % (name, best[i],
              100.0 * (best[i] - base) / base, (best[i] - base) / frames * 1e6, hfs, rss[i]))
print()
print("CPU s: least user + system time of the rounds (GNU time); hyperfine: its mean over as many runs.")
print("overhead: extra CPU time over the pipeline without earshot; us/frame: that extra per 10 ms frame.")
print("the audio lasts %.0f s: the pipeline without earshot runs at %.0fx real time on CPU time." % (audio_s, audio_s / base))
EOF
