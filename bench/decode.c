/* decode.c — see decode.h. */
#include "decode.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

float *
bench_decode (const char *path, int rate, size_t min_samples, size_t *n,
    char **error)
{
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! "
      "audioconvert ! audioresample ! audio/x-raw,format=F32LE,channels=1,"
      "rate=%d,layout=interleaved ! appsink name=sink sync=false", path, rate);
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (desc, &err);
  g_free (desc);
  if (pipe == NULL) {
    *error = g_strdup (err->message);
    g_error_free (err);
    return NULL;
  }
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GByteArray *out = g_byte_array_new ();
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  /* Until EOS or an error: an error stops the pipeline without EOS, so a
   * plain pull would wait for ever. */
  GstMessage *msg = NULL;
  while (msg == NULL) {
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
        100 * GST_MSECOND);
    if (sample != NULL) {
      GstMapInfo map;
      GstBuffer *buf = gst_sample_get_buffer (sample);
      if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
        g_byte_array_append (out, map.data, (guint) map.size);
        gst_buffer_unmap (buf, &map);
      }
      gst_sample_unref (sample);
    } else if (gst_app_sink_is_eos (GST_APP_SINK (sink))) {
      break;
    }
    msg = gst_bus_pop_filtered (GST_ELEMENT_BUS (pipe), GST_MESSAGE_ERROR);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  if (msg != NULL) {
    gst_message_parse_error (msg, &err, NULL);
    *error = g_strdup_printf ("%s: %s", path, err->message);
    g_error_free (err);
    gst_message_unref (msg);
    g_byte_array_free (out, TRUE);
    return NULL;
  }
  *n = out->len / sizeof (float);
  if (*n < min_samples) {
    *error = g_strdup_printf ("%s: %zu samples, at least %zu needed", path,
        *n, min_samples);
    g_byte_array_free (out, TRUE);
    return NULL;
  }
  return (float *) g_byte_array_free (out, FALSE);
}
