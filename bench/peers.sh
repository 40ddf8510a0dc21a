#!/bin/sh
# bench/peers.sh — earshot beside Silero VAD, WebRTC VAD and GStreamer's
# `spectrum` element, on the same audio, in the same run.
#
#   bench/peers.sh [--build DIR] [--anchors DIR] [--seconds S] [--runs R]
#
# Audio: examples/sample.ogg (21 s of music, speech, noise, silence)
# repeated to S seconds (default 600), as the 16 kHz mono 16-bit WAV the
# anchors read, and a short one (the first S/8 seconds).  Every system is
# run as a whole process on both, R times each (default 3), and timed by
# its user + system CPU time (all threads; getrusage of the child, to the
# microsecond); the least CPU time of the runs counts.  Then
#
#   per frame   (CPU(long) - CPU(short)) / (frames(long) - frames(short)):
#               what one more 10 ms frame costs, start-up and model load
#               left out, the same way for every system;
#   x real time 10 ms over that;
#   start-up    CPU(short) - frames(short) x per frame.
#
# The systems:
#   silero       /work/shared/anchors/run_silero.sh (Silero VAD v6.2, ONNX
#                Runtime on one thread, in Node.js), WAV in, TSV out
#   webrtc       run_webrtc.sh (WebRTC's GMM VAD, native addon, mode 0)
#   earshot      gst-launch-1.0 filesrc ! wavparse ! earshot ! fakesink with
#                the default model (vad), post-messages=false; and with its
#                defaults (a bus message per frame)
#   spectrum     the same pipeline with `spectrum interval=10000000
#                bands=257` (an FFT of the same resolution every 10 ms, one
#                message each, like earshot's defaults) in earshot's place,
#                and the same with post-messages=false
#   bare         the pipeline with neither, for reference
# The anchors' own timer (VAD_ANCHOR_TIMING=1, proc_s: read WAV, infer,
# write TSV, wall time) is printed too, as they report it.
#
# The anchors need a one-off set-up with the network: run
# /work/shared/anchors/setup.sh once (see its README).  It prints figures
# and never fails on time.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
anchors=$here/../shared/anchors
[ -d "$anchors" ] || anchors=/work/shared/anchors
seconds=600
runs=3
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --anchors) anchors=$(cd "$2" && pwd); shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--anchors DIR] [--seconds S] [--runs R]" >&2; exit 2 ;;
  esac
done
command -v python3 >/dev/null || { echo "$0: needs python3" >&2; exit 1; }
[ -d "$anchors/node_modules" ] || { echo "$0: run $anchors/setup.sh first" >&2; exit 1; }
# shellcheck source=bench/common.sh
. "$here/bench/common.sh"
bench_setup

# ---- the audio -----------------------------------------------------------
make_wav () {   # make_wav SECONDS OUT
  bench_raw $(( $1 * 32000 )) "$tmp/x.raw"
  gst-launch-1.0 -q filesrc location="$tmp/x.raw" ! \
    rawaudioparse format=pcm pcm-format=s16le sample-rate=16000 num-channels=1 ! \
    wavenc ! filesink location="$2"
  rm -f "$tmp/x.raw"
}
short=$(( seconds / 8 > 1 ? seconds / 8 : 1 ))
make_wav "$seconds" "$tmp/long.wav"
make_wav "$short" "$tmp/short.wav"
long_frames=$(( seconds * 100 ))
short_frames=$(( short * 100 ))

# least user + system CPU seconds of `runs` runs of the command "$@" with
# INPUT replaced by the WAV (getrusage of the child, microseconds; GNU
# time's 10 ms steps are too coarse here); the last run's stderr is kept
# in $tmp/err
cpu_of () {   # cpu_of WAV CMD...
  wav=$1; shift
  cmd=$(printf '%s' "$*" | sed "s|INPUT|$wav|g")
  python3 - "$cmd" "$runs" "$tmp/err" <<'EOF'
import resource, subprocess, sys
cmd, runs, err = sys.argv[1], int(sys.argv[2]), sys.argv[3]
best = None
for _ in range(runs):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(err, "w") as e:
        p = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=e)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("failed: " + cmd + "\n" + open(err).read())
    t = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    best = t if best is None else min(best, t)
print("%.6f" % best)
EOF
}

pipe="gst-launch-1.0 -q filesrc location=INPUT ! wavparse"
set -- \
  "silero|VAD_ANCHOR_TIMING=1 $anchors/run_silero.sh INPUT $tmp/out.tsv" \
  "webrtc|VAD_ANCHOR_TIMING=1 $anchors/run_webrtc.sh INPUT $tmp/out.tsv" \
  "earshot post-messages=false|$pipe ! earshot post-messages=false ! fakesink" \
  "earshot (defaults, messages)|$pipe ! earshot ! fakesink" \
  "spectrum (10 ms, messages)|$pipe ! spectrum interval=10000000 bands=257 ! fakesink" \
  "spectrum post-messages=false|$pipe ! spectrum interval=10000000 bands=257 post-messages=false ! fakesink" \
  "bare pipeline|$pipe ! fakesink"

echo "earshot peers bench: ${seconds} s and ${short} s of 16 kHz mono speech/music/noise (examples/sample.ogg repeated), least CPU (user + system) of $runs runs, whole processes"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n%-30s %12s %12s %12s   %s\n' "system" "us/frame" "x real time" "start-up s" "own timer (proc_s, wall)"
for entry in "$@"; do
  name=${entry%%|*}
  cmd=${entry#*|}
  long=$(cpu_of "$tmp/long.wav" "$cmd")
  own=$(sed -n 's/.*proc_s=\([0-9.]*\).*/\1/p' "$tmp/err" | head -1)
  shortc=$(cpu_of "$tmp/short.wav" "$cmd")
  awk -v n="$name" -v l="$long" -v s="$shortc" -v lf="$long_frames" \
      -v sf="$short_frames" -v own="$own" -v secs="$seconds" 'BEGIN {
    per = (l - s) / (lf - sf)
    o = own == "" ? "" : sprintf("%.3f s = %.0fx real time", own, secs / own)
    if (per > 0)
      printf "%-30s %12.2f %12.0f %12.3f   %s\n", n, per * 1e6, 0.01 / per, s - sf * per, o
    else
      printf "%-30s %12s %12s %12.3f   %s\n", n, "(noise)", "", s, o
  }'
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "us/frame: extra CPU per 10 ms frame between the long and the short file (start-up left out)."
echo "The gst-launch rows include reading the WAV (wavparse); the bare pipeline is that alone."
