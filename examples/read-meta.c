/* read-meta.c — prints the frames the earshot element attaches to buffers.
 *
 *   read-meta MODEL FILE
 *
 * Runs  filesrc ! decodebin ! audioconvert ! earshot model=MODEL ! fakesink
 * and, from a pad probe on earshot's src pad, prints one line per frame of
 * each buffer's GstEarshotMeta:
 *
 *   START END LABEL CONFIDENCE        (seconds, 3 decimals)
 *
 * Build against the installed library:
 *   cc read-meta.c $(pkg-config --cflags --libs gstreamer-1.0 gstearshotmeta-1.0)
 *
 * Frames completed by the end-of-stream flush have no buffer left to ride
 * on: they are only posted on the bus (see segments.py for bus messages).
 */
#include <gst/gst.h>
#include <gst/earshot/gstearshotmeta.h>
#include <stdio.h>

static GstPadProbeReturn
print_frames (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstEarshotMeta *m = gst_buffer_get_earshot_meta (buf);

  (void) pad;
  (void) user_data;
  if (m == NULL)
    return GST_PAD_PROBE_OK;
  for (guint f = 0; f < m->n_frames; f++) {
    for (guint c = 0; c < m->n_channels; c++) {
      gint cls = gst_earshot_meta_get_class (m, c, f);
      if (m->n_channels > 1)
        printf ("ch%u ", c);
      printf ("%.3f %.3f %s %.3f\n", (double) m->pts[f] / GST_SECOND,
          (double) (m->pts[f] + m->duration[f]) / GST_SECOND,
          m->labels[cls], gst_earshot_meta_get_confidence (m, c, f));
    }
  }
  return GST_PAD_PROBE_OK;
}

static void
on_pad_added (GstElement * decodebin, GstPad * pad, gpointer convert)
{
  GstPad *sink = gst_element_get_static_pad (GST_ELEMENT (convert), "sink");

  (void) decodebin;
  if (!gst_pad_is_linked (sink) && gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    g_printerr ("could not link the decoder to audioconvert\n");
  gst_object_unref (sink);
}

int
main (int argc, char **argv)
{
  GstElement *pipeline, *src, *dec, *conv, *earshot, *sink;
  GstBus *bus;
  GstMessage *msg;
  GstPad *pad;
  int status = 0;

  gst_init (&argc, &argv);
  if (argc != 3) {
    g_printerr ("usage: %s MODEL FILE\n", argv[0]);
    return 2;
  }

  pipeline = gst_pipeline_new ("read-meta");
  src = gst_element_factory_make ("filesrc", NULL);
  dec = gst_element_factory_make ("decodebin", NULL);
  conv = gst_element_factory_make ("audioconvert", NULL);
  earshot = gst_element_factory_make ("earshot", NULL);
  sink = gst_element_factory_make ("fakesink", NULL);
  if (!src || !dec || !conv || !earshot || !sink) {
    g_printerr ("missing element: need filesrc, decodebin, audioconvert, "
        "fakesink (gstreamer1.0-plugins-base) and earshot\n");
    return 1;
  }
  g_object_set (src, "location", argv[2], NULL);
  g_object_set (earshot, "model", argv[1], "post-messages", FALSE, NULL);
  g_object_set (sink, "sync", FALSE, NULL);

  gst_bin_add_many (GST_BIN (pipeline), src, dec, conv, earshot, sink, NULL);
  if (!gst_element_link (src, dec)
      || !gst_element_link_many (conv, earshot, sink, NULL)) {
    g_printerr ("could not link the pipeline\n");
    gst_object_unref (pipeline);
    return 1;
  }
  g_signal_connect (dec, "pad-added", G_CALLBACK (on_pad_added), conv);

  pad = gst_element_get_static_pad (earshot, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, print_frames, NULL, NULL);
  gst_object_unref (pad);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gchar *debug = NULL;

    gst_message_parse_error (msg, &err, &debug);
    g_printerr ("error: %s\n", err->message);
    if (debug)
      g_printerr ("(%s)\n", debug);
    g_error_free (err);
    g_free (debug);
    status = 1;
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  fflush (stdout);
  gst_deinit ();
  return status;
}
