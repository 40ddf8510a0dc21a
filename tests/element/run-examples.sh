#!/bin/sh
# Runs the examples against a generated WAV and tone model:
#   run-examples.sh FIXTURES READ_META [PYTHON SEGMENTS_PY]
# The WAV has a 1 kHz tone from 1.0 s to 2.0 s; both examples must see it.
set -eu
fixtures=$1 read_meta=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$PRIVATE_PLUGINS_SH"
private_plugins "$dir"
"$fixtures" "$dir"

"$read_meta" "$dir/tone.earshot" "$dir/tone.wav" > "$dir/frames.txt"
head -n 3 "$dir/frames.txt"
# one line per frame: start end label confidence; 2.5 s at 10 ms = 250 frames
frames=$(grep -c . "$dir/frames.txt")
tone=$(grep -c ' tone ' "$dir/frames.txt")
echo "read-meta: $frames frames, $tone tone"
[ "$frames" -ge 245 ] && [ "$frames" -le 250 ] || { echo "FAIL: frame count"; exit 1; }
[ "$tone" -ge 98 ] && [ "$tone" -le 102 ] || { echo "FAIL: tone frames"; exit 1; }
grep -q '^1\.000 1\.010 tone ' "$dir/frames.txt" || { echo "FAIL: tone onset"; exit 1; }

if [ $# -ge 4 ]; then
  # EARSHOT_PYTHON_PRELOAD: sanitizer runtimes, set by meson in a sanitized
  # build so that python can load the sanitized plugin.
  LD_PRELOAD="${EARSHOT_PYTHON_PRELOAD:-}" ASAN_OPTIONS=detect_leaks=0 \
    "$3" "$4" "$dir/tone.earshot" "$dir/tone.wav" > "$dir/segments.txt"
  cat "$dir/segments.txt"
  grep -q '^start tone 1\.000' "$dir/segments.txt" || { echo "FAIL: segment start"; exit 1; }
  grep -q '^end   tone 1\.000 2\.000' "$dir/segments.txt" || { echo "FAIL: segment end"; exit 1; }
else
  echo "segments.py skipped: no python3 with gi (python3-gi, python3-gst-1.0)"
fi
echo "examples: 1 passed, 0 failed"
