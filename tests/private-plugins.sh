# private-plugins.sh — sourced by test scripts (POSIX sh): gives the test a
# GStreamer registry of its own over a private folder that links only the
# system plugins the tests use, plus the build tree's plugin
# (GST_PLUGIN_PATH_1_0, set by meson).
#
#   GST_SYSTEM_PLUGINS=... ; . tests/private-plugins.sh ; private_plugins DIR
#
# The registry is built in-process (GST_REGISTRY_FORK=no), because a
# sanitized build must not fork the uninstrumented plugin scanner, and
# quickly, without loading every plugin on the machine (which, besides,
# makes GLib grow its quark table past 2048 entries and deliberately leak
# the old one — a leak LeakSanitizer would report against us).
private_plugins () {
  mkdir -p "$1/plugins"
  for p in coreelements typefindfunctions playback wavparse ogg vorbis \
      audioconvert audioresample app; do
    if [ ! -e "$GST_SYSTEM_PLUGINS/libgst$p.so" ]; then
      echo "GStreamer plugin $p is missing from $GST_SYSTEM_PLUGINS" \
        "(gstreamer1.0-plugins-base and -good are needed)" >&2
      return 1
    fi
    ln -sf "$GST_SYSTEM_PLUGINS/libgst$p.so" "$1/plugins/"
  done
  export GST_PLUGIN_SYSTEM_PATH_1_0="$1/plugins"
  export GST_REGISTRY_1_0="$1/registry.bin"
  export GST_REGISTRY_FORK=no
}
