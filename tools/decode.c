/* decode.c — any audio file GStreamer can decode, to mono float samples.
 *
 *   uridecodebin uri=file://… ! audioconvert ! audioresample
 *       ! audio/x-raw,format=F32LE,channels=1,rate=R ! appsink sync=false
 *
 * The appsink's new-sample callback appends to an array in the streaming
 * thread; the calling thread waits on the bus for EOS or an error, so a
 * decoding error can never leave it blocked.  Down-mixing is audioconvert's
 * (the mean of the channels for stereo), resampling audioresample's default
 * quality.
 */
#include "earshot-tool.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

typedef struct {
  GArray *samples;              /* float; written by the streaming thread
                                   only, read after the pipeline stopped */
  es_audio_link link;           /* audioconvert, where the decoder links */
} decode_ctx;

static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer user)
{
  decode_ctx *ctx = user;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  if (sample == NULL)
    return GST_FLOW_EOS;

  GstBuffer *buf = gst_sample_get_buffer (sample);
  GstMapInfo map;
  if (buf != NULL && gst_buffer_map (buf, &map, GST_MAP_READ)) {
    g_array_append_vals (ctx->samples, map.data, map.size / sizeof (float));
    gst_buffer_unmap (buf, &map);
  }
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static void
on_pad_added (GstElement *dec, GstPad *pad, gpointer user)
{
  es_audio_link *link = user;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  const GstStructure *s = gst_caps_get_size (caps) > 0
      ? gst_caps_get_structure (caps, 0) : NULL;
  gboolean audio = s != NULL
      && g_str_has_prefix (gst_structure_get_name (s), "audio/");
  gst_caps_unref (caps);
  if (!audio)
    return;

  /* The first audio stream wins; others stay unlinked. */
  GstPad *sinkpad = gst_element_get_static_pad (link->convert, "sink");
  if (!gst_pad_is_linked (sinkpad)
      && gst_pad_link (pad, sinkpad) == GST_PAD_LINK_OK)
    link->linked = TRUE;
  gst_object_unref (sinkpad);
}

static void
on_no_more_pads (GstElement *dec, gpointer user)
{
  es_audio_link *link = user;
  if (link->linked)
    return;
  /* Nothing to decode: say so instead of the generic "not linked". */
  GError *e = g_error_new_literal (GST_STREAM_ERROR,
      GST_STREAM_ERROR_WRONG_TYPE, "the file has no audio stream");
  gst_element_post_message (dec, gst_message_new_error (GST_OBJECT (dec), e,
          NULL));
  g_error_free (e);
}

void
es_audio_link_connect (GstElement *dec, es_audio_link *link)
{
  g_signal_connect (dec, "pad-added", G_CALLBACK (on_pad_added), link);
  g_signal_connect (dec, "no-more-pads", G_CALLBACK (on_no_more_pads), link);
}

gboolean
es_decode_file (const char *path, guint rate, float **samples,
    gsize *n_samples, GError **error)
{
  GError *e = NULL;
  char *uri = gst_filename_to_uri (path, &e);
  if (uri == NULL) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE, "cannot decode %s: %s",
        path, e->message);
    g_error_free (e);
    return FALSE;
  }

  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("uridecodebin", NULL);
  GstElement *conv = gst_element_factory_make ("audioconvert", NULL);
  GstElement *res = gst_element_factory_make ("audioresample", NULL);
  GstElement *filter = gst_element_factory_make ("capsfilter", NULL);
  GstElement *sink = gst_element_factory_make ("appsink", NULL);
  if (pipe == NULL || src == NULL || conv == NULL || res == NULL
      || filter == NULL || sink == NULL) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE,
        "cannot decode %s: a GStreamer element is missing (uridecodebin, "
        "audioconvert, audioresample, capsfilter and appsink are needed: "
        "install gstreamer1.0-plugins-base)", path);
    g_free (uri);
    GstElement *all[] = { pipe, src, conv, res, filter, sink };
    for (gsize i = 0; i < G_N_ELEMENTS (all); i++)
      if (all[i] != NULL)
        gst_object_unref (gst_object_ref_sink (all[i]));
    return FALSE;
  }

  decode_ctx ctx = {
    .samples = g_array_new (FALSE, FALSE, sizeof (float)),
    .link = { .convert = conv },
  };
  GstCaps *caps = gst_caps_new_simple ("audio/x-raw",
      "format", G_TYPE_STRING, "F32LE", "layout", G_TYPE_STRING,
      "interleaved", "channels", G_TYPE_INT, 1, "rate", G_TYPE_INT,
      (int) rate, NULL);
  g_object_set (filter, "caps", caps, NULL);
  gst_caps_unref (caps);
  g_object_set (src, "uri", uri, NULL);
  g_object_set (sink, "sync", FALSE, NULL);
  GstAppSinkCallbacks cb = { .new_sample = on_new_sample };
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, &ctx, NULL);
  es_audio_link_connect (src, &ctx.link);

  gst_bin_add_many (GST_BIN (pipe), src, conv, res, filter, sink, NULL);
  gboolean ok = gst_element_link_many (conv, res, filter, sink, NULL);
  GstMessage *msg = NULL;
  if (ok) {
    gst_element_set_state (pipe, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus (pipe);
    msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    gst_object_unref (bus);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);

  if (!ok) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE,
        "cannot decode %s: cannot link the decoding pipeline", path);
  } else if (msg == NULL || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *ge = NULL;
    if (msg != NULL)
      gst_message_parse_error (msg, &ge, NULL);
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE, "cannot decode %s: %s",
        path, ge ? ge->message : "the pipeline stopped");
    g_clear_error (&ge);
    ok = FALSE;
  } else if (ctx.samples->len == 0) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE,
        "cannot decode %s: it holds no audio samples", path);
    ok = FALSE;
  }
  if (msg != NULL)
    gst_message_unref (msg);
  gst_object_unref (pipe);
  g_free (uri);

  if (!ok) {
    g_array_free (ctx.samples, TRUE);
    return FALSE;
  }
  *n_samples = ctx.samples->len;
  *samples = (float *) g_array_free (ctx.samples, FALSE);
  return TRUE;
}
