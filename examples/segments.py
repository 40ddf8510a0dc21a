#!/usr/bin/env python3
"""Prints the label segments the earshot element finds in an audio file.

    segments.py MODEL FILE

Runs  filesrc ! decodebin ! audioconvert ! earshot model=MODEL ! fakesink
and prints each `earshot-segment` bus message as

    start LABEL START - CONFIDENCE
    end   LABEL START END CONFIDENCE

(times in seconds of stream time).  Needs PyGObject and GStreamer's
introspection data: on Debian, python3-gi, python3-gst-1.0 and
gir1.2-gstreamer-1.0.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

NONE = Gst.CLOCK_TIME_NONE


def seconds(t):
    return "-" if t == NONE else "%.3f" % (t / Gst.SECOND)


def main(argv):
    if len(argv) != 3:
        print("usage: %s MODEL FILE" % argv[0], file=sys.stderr)
        return 2
    Gst.init(None)

    pipeline = Gst.Pipeline.new("segments")
    src = Gst.ElementFactory.make("filesrc")
    dec = Gst.ElementFactory.make("decodebin")
    conv = Gst.ElementFactory.make("audioconvert")
    earshot = Gst.ElementFactory.make("earshot")
    sink = Gst.ElementFactory.make("fakesink")
    if None in (src, dec, conv, earshot, sink):
        print("missing element: need filesrc, decodebin, audioconvert, "
              "fakesink and earshot", file=sys.stderr)
        return 1
    src.set_property("location", argv[2])
    earshot.set_property("model", argv[1])
    # one `earshot` message per second is plenty here: we want segments
    earshot.set_property("message-interval", Gst.SECOND)
    sink.set_property("sync", False)
    for e in (src, dec, conv, earshot, sink):
        pipeline.add(e)
    src.link(dec)
    conv.link(earshot)
    earshot.link(sink)
    dec.connect("pad-added",
                lambda _dec, pad: pad.link(conv.get_static_pad("sink")))

    loop = GLib.MainLoop()
    status = [0]

    def on_message(_bus, msg):
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s.get_name() == "earshot-segment":
                print("%-5s %s %s %s %.2f" % (
                    s.get_value("event"), s.get_value("label"),
                    seconds(s.get_value("start-stream-time")),
                    seconds(s.get_value("end-stream-time")),
                    s.get_value("confidence")), flush=True)
        elif msg.type == Gst.MessageType.ERROR:
            err, _debug = msg.parse_error()
            print("error: %s" % err.message, file=sys.stderr)
            status[0] = 1
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        loop.run()
    finally:
        pipeline.set_state(Gst.State.NULL)
        bus.remove_signal_watch()
    return status[0]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
