#!/bin/sh
# test-needed.sh PLUGIN — the plugin must not load a BLAS library.
#
# The element's streaming step needs no BLAS (net.c); only training's
# sequence passes call CBLAS, and they live in net_seq.c, which the plugin
# does not link.  Loading OpenBLAS would start its worker thread, which
# spins for about 0.1 s of CPU in every process that loads the plugin (see
# lib/earshot_net_private.h).  This fails if a change makes net.c, or
# anything else the plugin links, call CBLAS again.
set -eu
plugin=$1
needed=$(objdump -p "$plugin" | awk '$1 == "NEEDED" { print $2 }')
echo "$plugin needs:" $needed
for lib in $needed; do
  case $lib in
    *blas*|*lapack*)
      echo "FAIL: the plugin needs $lib" >&2
      exit 1 ;;
  esac
done
case $needed in
  *libfftw3f*) ;;
  *) echo "FAIL: no libfftw3f among the plugin's libraries: is this the plugin?" >&2
     exit 1 ;;
esac
echo "ok: no BLAS library"
