#!/bin/bash
# build.sh — build Earshot's labelled training corpus from Debian packages only.
#
#   tools/corpus/build.sh [OUTDIR] [--seed N] [--cache DIR] [--jobs N] [--scale F]
#                        [--train-scale F]
#
# OUTDIR (default /var/tmp/earshot-corpus; never inside a git work tree) gets
#   train/ valid/ heldout/        16 kHz mono 16-bit WAV + Audacity label files
#   train.tsv valid.tsv heldout.tsv   manifests: audio_path<TAB>label_path
#   provenance.tsv stats.json corpus.json packages.txt (exact package versions)
# DIR (default /var/tmp/earshot-cache) keeps the downloaded .debs, their
# unpacked trees and the decoded clip pool, so re-runs reuse all of it.
# Same seed, same packages -> same corpus.  See tools/corpus/README.md.
set -euo pipefail

# ---------------------------------------------------------------------------
# Every Debian package the recipe needs, in one place.
#
# Tools, installed system-wide (apt-get install):
TOOL_PKGS="sox libsox-fmt-all ffmpeg python3 python3-numpy fluidsynth fluid-soundfont-gm
  espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  festvox-italp16k festvox-itapc16k festvox-ca-ona-hts festvox-suopuhe-lj
  festvox-suopuhe-mv festvox-czech-dita festvox-czech-machac"
# Data, only downloaded and unpacked into the cache (apt-get download + dpkg-deb -x):
DATA_PKGS="festvox-ru tuxpaint-stamps-default ktuberling-data
  asterisk-prompt-it-menardi-wav asterisk-prompt-fr-armelle asterisk-prompt-es-co
  megaglest-data hedgewars-data kajongg gcin-voice codec2-examples pocketsphinx-testdata saytime
  warzone2100-music singularity-music hyperrogue-music fretsonfire-songs-muldjord
  fretsonfire-songs-sectoid asterisk-moh-opsound-wav
  simutrans-data mma openttd-openmsx freedink-data planetblupi-music-midi pianobooster
  timgm6mb-soundfont musescore-general-soundfont-small
  scratch ufoai-sound sonic-pi-samples bucklespring-data hydrogen-drumkits"
# Held out for evaluation: this recipe refuses to touch them.
FORBIDDEN_RE='^(gcompris-qt-data|klettres-data|wesnoth-1\.16-music|sound-theme-freedesktop|asterisk-core-sounds-.*|fillets-ng-data.*)$'
# ---------------------------------------------------------------------------

OUT=/var/tmp/earshot-corpus
CACHE=/var/tmp/earshot-cache
SEED=1
JOBS=$(nproc 2>/dev/null || echo 2)
SCALE=1
TRAIN_SCALE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) SEED=$2; shift 2 ;;
    --seed=*) SEED=${1#*=}; shift ;;
    --cache) CACHE=$2; shift 2 ;;
    --cache=*) CACHE=${1#*=}; shift ;;
    --jobs) JOBS=$2; shift 2 ;;
    --jobs=*) JOBS=${1#*=}; shift ;;
    --scale) SCALE=$2; shift 2 ;;
    --scale=*) SCALE=${1#*=}; shift ;;
    --train-scale) TRAIN_SCALE=$2; shift 2 ;;
    --train-scale=*) TRAIN_SCALE=${1#*=}; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    *) OUT=$1; shift ;;
  esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
T0=$(date +%s)
say() { printf '%s [%4ds] %s\n' "$(date +%H:%M:%S)" $(( $(date +%s) - T0 )) "$*"; }

# --- guard: never write into a git work tree, never use held-out packages ---
inside_git() {
  local d=$1
  while [ ! -d "$d" ]; do d=$(dirname "$d"); done
  git -C "$d" rev-parse --is-inside-work-tree >/dev/null 2>&1
}
for d in "$OUT" "$CACHE"; do
  case "$d" in /*) ;; *) echo "build.sh: $d must be an absolute path" >&2; exit 2 ;; esac
  if inside_git "$d"; then
    echo "build.sh: refusing to write into a git work tree: $d" >&2; exit 2
  fi
done
for p in $DATA_PKGS $TOOL_PKGS; do
  if [[ $p =~ $FORBIDDEN_RE ]]; then
    echo "build.sh: $p is held out for evaluation; refusing to use it" >&2; exit 3
  fi
done

# --- tools ---
missing=""
for p in $TOOL_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends $missing || { apt-get update && apt-get install -y --no-install-recommends $missing; }
fi
PY=/usr/bin/python3   # Debian's python3, where python3-numpy lives
export PYTHONDONTWRITEBYTECODE=1   # leave no __pycache__ in the source tree

# --- data packages: download + unpack into the cache (reused when present) ---
mkdir -p "$CACHE/debs" "$CACHE/x" "$OUT"
cd "$CACHE/debs"
need=""
for p in $DATA_PKGS; do ls "${p}"_*.deb >/dev/null 2>&1 || need="$need $p"; done
if [ -n "$need" ]; then
  say "downloading:$need"
  apt-get download $need 2>/dev/null || { apt-get update && apt-get download $need; }
fi
for p in $DATA_PKGS; do
  deb=$(ls "${p}"_*.deb | sort -V | tail -1)
  if [ ! -f "$CACHE/x/$p/.unpacked-$deb" ]; then
    say "unpacking $deb"
    rm -rf "$CACHE/x/$p"; mkdir -p "$CACHE/x/$p"
    dpkg-deb -x "$deb" "$CACHE/x/$p"
    touch "$CACHE/x/$p/.unpacked-$deb"
  fi
done
# anything unpacked in the cache that is held out (from an older recipe?) is an error
for d in "$CACHE"/x/*; do
  if [[ $(basename "$d") =~ $FORBIDDEN_RE ]]; then
    echo "build.sh: held-out package found in cache: $d — remove it" >&2; exit 3
  fi
done
for p in $DATA_PKGS; do ls "${p}"_*.deb | sort -V | tail -1; done > "$OUT/packages.txt"
dpkg-query -W -f='${Package}_${Version}\n' $TOOL_PKGS >> "$OUT/packages.txt"
say "packages ready ($(du -sh "$CACHE/debs" | cut -f1) of .debs; versions in $OUT/packages.txt)"

# --- clip pool (seed-independent, cached) ---
say "building the clip pool (decode, synthesise, render MIDI)"
"$PY" "$HERE/corpus.py" pool --cache "$CACHE" --jobs "$JOBS"
T1=$(date +%s)

# --- compose the corpus ---
say "composing the corpus into $OUT (seed $SEED)"
"$PY" "$HERE/corpus.py" compose --cache "$CACHE" --out "$OUT" --seed "$SEED" --jobs "$JOBS" --scale "$SCALE" --train-scale "$TRAIN_SCALE"
T2=$(date +%s)
"$PY" "$HERE/corpus.py" stats --out "$OUT"
say "done: pool $((T1 - T0)) s, compose $((T2 - T1)) s, total $(( $(date +%s) - T0 )) s; corpus $(du -sh "$OUT" | cut -f1), cache $(du -sh "$CACHE" | cut -f1)"
