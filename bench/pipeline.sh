#!/bin/sh
# bench/pipeline.sh — what adding earshot costs a decode pipeline, in CPU time:
#
#   gst-launch-1.0 filesrc ! decodebin ! audioconvert ! earshot ! fakesink
#
# against the same pipeline without earshot.
#
#   bench/pipeline.sh [--build DIR] [--minutes M] [--runs R]
#
# The inputs are made here, from examples/sample.ogg (21 s, 16 kHz mono
# Vorbis): decoded once, repeated to M minutes (default 10) and encoded
# again as Ogg Vorbis, once 16 kHz mono and once 44.1 kHz stereo, in a
# temporary folder; everything below is done for each.  Four pipelines:
# without earshot, and with earshot at its defaults (a bus message per
# 10 ms frame, which gst-launch's main loop receives), with
# post-messages=false, and with the sms model.  They run in R interleaved
# rounds (default 5) under GNU time; a pipeline's CPU time is the least
# user + system time (all its threads) of its rounds, and its overhead
# (with - without) / without.  hyperfine (Debian package `hyperfine`) then
# runs each R times more after a warm-up, and its mean CPU time is printed
# beside, to show the spread; GNU time also gives each pipeline's maximum
# RSS.
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
# shellcheck source=bench/common.sh
. "$here/bench/common.sh"
bench_setup

# ---- the inputs -----------------------------------------------------------
# The same audio twice: as 16 kHz mono (the model's rate: no resampling,
# the cheapest decode, so the largest share for earshot) and as 44.1 kHz
# stereo (a CD's format: earshot mixes down and resamples).
bench_raw $(( minutes * 60 * 16000 * 2 )) "$tmp/long.raw"
raw="filesrc location=$tmp/long.raw ! rawaudioparse format=pcm pcm-format=s16le sample-rate=16000 num-channels=1 ! audioconvert"
# shellcheck disable=SC2086  # $raw is a pipeline description
gst-launch-1.0 -q $raw ! vorbisenc quality=0.4 ! oggmux ! filesink location="$tmp/in16.ogg"
# shellcheck disable=SC2086
gst-launch-1.0 -q $raw ! audioresample ! audio/x-raw,rate=44100,channels=2 ! \
  audioconvert ! vorbisenc quality=0.4 ! oggmux ! filesink location="$tmp/in44.ogg"
samples=$(( $(wc -c < "$tmp/long.raw") / 2 ))
frames=$(( samples / 160 ))
audio_s=$(python3 -c "print($samples / 16000)")
rm -f "$tmp/long.raw"

echo "earshot decode-pipeline bench: $audio_s s ($frames frames) of Ogg Vorbis, as 16 kHz mono and as 44.1 kHz stereo; $runs runs each, CPU = user + system"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Per input: runs interleaved (each round runs every pipeline once), so
# that load from other work falls on all of them alike; per pipeline the
# least CPU time (user + system, GNU time, 10 ms steps) of the rounds
# counts: the run least disturbed.  hyperfine's mean is printed beside it.
names="without|earshot (defaults: messages on)|earshot post-messages=false|earshot model=sms post-messages=false"
for input in in16 in44; do
  base="gst-launch-1.0 -q filesrc location=$tmp/$input.ogg ! decodebin ! audioconvert"
  without="$base ! fakesink"
  with_default="$base ! earshot ! fakesink"
  with_quiet="$base ! earshot post-messages=false ! fakesink"
  with_sms="$base ! earshot model=sms post-messages=false ! fakesink"
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
  case $input in
    in16) title="16 kHz mono" ;;
    *) title="44.1 kHz stereo" ;;
  esac
  python3 - "$tmp/runs" "$tmp/hf.json" "$frames" "$audio_s" "$names" "$title" <<'EOF'
import json, sys
runs, hf, frames, audio_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
names, title = sys.argv[5].split("|"), sys.argv[6]
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
print("%-40s %8s %10s %9s %18s %9s" % (title, "CPU s", "overhead", "us/frame",
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
print("the pipeline without earshot runs at %.0fx real time on CPU time." % (audio_s / base))
EOF
done

echo
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU s: least user + system time of the rounds (GNU time); hyperfine: its mean over as many runs."
echo "overhead: extra CPU time over the pipeline without earshot; us/frame: that extra per 10 ms frame."
