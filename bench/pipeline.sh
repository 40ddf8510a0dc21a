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
# post-messages=false, and with the sms model; then two more, without and
# with earshot (messages off), that decode in one thread
# (`filesrc ! oggdemux ! vorbisdec ! audioconvert`): decodebin's multiqueue
# hands every buffer from the demuxer's thread to the decoder's, and the
# kernel's share of that hand-off grows when the decoder's thread does
# more work, so the one-thread pair shows what earshot itself costs in a
# pipeline.  Last, a pair with no decode at all (`filesrc ! rawaudioparse`
# of the same audio as F32, 16 kHz mono, in buffers of 512 samples as
# vorbisdec gives): what earshot costs per frame over a whole run of a
# real pipeline, beside the share of the decode it is allowed (each decode
# table ends with 25 % of its pipeline without earshot, per frame).  Each
# set runs in R interleaved rounds (default 9); a run's CPU
# time is its user + system time over all its threads (wait4's rusage, to
# the microsecond).  Printed per pipeline: the median and the least of its
# rounds, the overhead (with - without) / without of the medians and of the
# least times, the median overhead per 10 ms frame, the median of the
# rounds' own overheads (paired: each round runs every pipeline in turn,
# so a slow stretch of a shared machine falls on the pipelines with and
# without earshot alike), and the largest
# maximum RSS (GNU time's).
#
# It prints figures and never fails on time.  Needs gst-launch-1.0 with the
# base and good plugins (vorbis, ogg, rawaudioparse), python3 and GNU time
# (`time` package; for the RSS).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
minutes=10
runs=9
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--minutes M] [--runs R]" >&2; exit 2 ;;
  esac
done
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
# shellcheck disable=SC2086
gst-launch-1.0 -q $raw ! audio/x-raw,format=F32LE ! filesink location="$tmp/long.f32"
samples=$(( $(wc -c < "$tmp/long.raw") / 2 ))
frames=$(( samples / 160 ))
audio_s=$(python3 -c "print($samples / 16000)")
rm -f "$tmp/long.raw"

echo "earshot decode-pipeline bench: $audio_s s ($frames frames) of Ogg Vorbis, as 16 kHz mono and as 44.1 kHz stereo; $runs interleaved rounds, CPU = user + system"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Per input: R rounds, each running every pipeline once (interleaved, so
# that load from other work falls on all of them alike).  A run's CPU time
# is its user + system time over all its threads, from wait4()'s rusage
# (microseconds; GNU time prints 10 ms steps).  Per pipeline the median of
# the rounds and the least (the run least disturbed) are printed, and the
# overhead of each over the matching pipeline without earshot.
names="without|earshot (defaults: messages on)|earshot post-messages=false|earshot model=sms post-messages=false|one thread: without|one thread: earshot post-messages=false"
for input in in16 in44 raw; do
  case $input in
    raw)
      title="no decode: raw F32 16 kHz mono"
      n="without|earshot post-messages=false"
      allowance=no
      # buffers of 512 samples, as vorbisdec gives at 16 kHz
      base="gst-launch-1.0 -q filesrc location=$tmp/long.f32 blocksize=2048 ! rawaudioparse format=pcm pcm-format=f32le sample-rate=16000 num-channels=1"
      set -- "$base ! fakesink" "$base ! earshot post-messages=false ! fakesink"
      ;;
    *)
      case $input in
        in16) title="16 kHz mono" ;;
        *) title="44.1 kHz stereo" ;;
      esac
      n=$names
      allowance=yes
      base="gst-launch-1.0 -q filesrc location=$tmp/$input.ogg ! decodebin ! audioconvert"
      base1="gst-launch-1.0 -q filesrc location=$tmp/$input.ogg ! oggdemux ! vorbisdec ! audioconvert"
      set -- \
        "$base ! fakesink" \
        "$base ! earshot ! fakesink" \
        "$base ! earshot post-messages=false ! fakesink" \
        "$base ! earshot model=sms post-messages=false ! fakesink" \
        "$base1 ! fakesink" \
        "$base1 ! earshot post-messages=false ! fakesink"
      ;;
  esac
  tmp=$tmp python3 - "$runs" "$frames" "$audio_s" "$n" "$title" "$allowance" \
    "$@" <<'EOF'
import os, statistics, subprocess, sys
runs, frames, audio_s = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
names, title, cmds = sys.argv[4].split("|"), sys.argv[5], sys.argv[7:]
allowance = sys.argv[6] == "yes"
cpu = [[] for _ in cmds]
rss = [0] * len(cmds)
rss_file = os.path.join(os.environ["tmp"], "rss")
for _ in range(runs):
    for i, cmd in enumerate(cmds):
        # The RSS from GNU time, which reads it from its own child: a
        # process started by python3 itself inherits python3's peak RSS as
        # its own (Linux keeps the peak across exec).
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file,
                              "sh", "-c", cmd], stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        if status != 0:
            sys.exit("pipeline failed: " + cmd)
        cpu[i].append(ru.ru_utime + ru.ru_stime)
        rss[i] = max(rss[i], int(open(rss_file).read().split()[-1]))
med = [statistics.median(c) for c in cpu]
low = [min(c) for c in cpu]
print()
print("%-40s %9s %9s %10s %9s %11s %11s %9s" % (title, "median s", "least s",
      "overhead", "us/frame", "(of least)", "(paired)", "max RSS"))
b = 0
for i, name in enumerate(names):
    if name.endswith("without"):
        # a pipeline without earshot: the rows after it are measured on it
        b = i
        print("%-40s %9.3f %9.3f %10s %9s %11s %11s %5d KiB" % (name, med[i],
              low[i], "", "", "", "", rss[i]))
    else:
        # the same round's runs with and without, one right after the
        # other: a slow stretch of the machine falls on both
        paired = statistics.median((w - o) / o for w, o in zip(cpu[i], cpu[b]))
        print("%-40s %9.3f %9.3f %8.1f %% %9.2f %9.1f %% %9.1f %% %5d KiB" % (
              name, med[i], low[i], 100.0 * (med[i] - med[b]) / med[b],
              (med[i] - med[b]) / frames * 1e6,
              100.0 * (low[i] - low[b]) / low[b], 100.0 * paired, rss[i]))
print("the pipeline without earshot runs at %.0fx real time on CPU time (median)."
      % (audio_s / med[0]))
for i, name in enumerate(names):
    if allowance and name.endswith("without"):
        print("25 %% of '%s': %.2f us per frame for earshot" % (name,
              0.25 * med[i] / frames * 1e6))
EOF
done

echo
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median s / least s: user + system CPU time of the rounds (all threads, wait4's rusage)."
echo "overhead: extra median CPU time over the pipeline without earshot (one thread: over one thread without),"
echo "and that extra per 10 ms frame; (of least): the same overhead between the least times;"
echo "(paired): the median over rounds of each round's overhead (with - without) / without."
