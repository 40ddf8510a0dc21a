# bench/common.sh — sourced by the shell benchmarks (pipeline.sh, peers.sh):
# their set-up and their audio.  Expects $here (the source tree) and $build.

# Checks that $build has the plugin, points GStreamer at it, keeps OpenBLAS
# on one thread and makes $tmp, removed on exit.
bench_setup () {
  [ -f "$build/plugin/libgstearshot.so" ] || {
    echo "$0: no plugin in $build/plugin: build first" >&2; exit 1; }
  export GST_PLUGIN_PATH="$build/plugin"
  export OPENBLAS_NUM_THREADS=1
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT INT TERM
}

# bench_raw BYTES OUT: examples/sample.ogg (21 s) as 16 kHz mono S16LE raw
# audio, repeated and cut to BYTES bytes.
bench_raw () {
  gst-launch-1.0 -q filesrc location="$here/examples/sample.ogg" ! decodebin ! \
    audioconvert ! audioresample ! audio/x-raw,format=S16LE,channels=1,rate=16000 ! \
    filesink location="$tmp/one.raw"
  one=$(wc -c < "$tmp/one.raw")
  reps=$(( $1 / one + 1 ))
  i=0
  while [ $i -lt $reps ]; do cat "$tmp/one.raw"; i=$((i + 1)); done | head -c "$1" > "$2"
  rm -f "$tmp/one.raw"
}
