/* element-run.c — see element-run.h. */
#include "element-run.h"

gboolean
element_run (const char *file, const char *model,
    element_run_frame_fn on_frame, gpointer data, gint64 * duration_ns,
    GError ** error)
{
  GstElement *pipe = gst_parse_launch ("filesrc name=src ! decodebin ! "
      "audioconvert ! earshot name=es message-interval=0 post-messages=true "
      "! fakesink sync=false", error);
  if (pipe == NULL)
    return FALSE;
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *es = gst_bin_get_by_name (GST_BIN (pipe), "es");
  g_object_set (src, "location", file, NULL);
  g_object_set (es, "model", model, NULL);
  gst_object_unref (src);
  gst_object_unref (es);

  gboolean ok = FALSE;
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (pipe);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
        GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      ok = TRUE;
      gst_message_unref (msg);
      break;
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, error, NULL);
      gst_message_unref (msg);
      break;
    }
    const GstStructure *s = gst_message_get_structure (msg);
    if (s != NULL && gst_structure_has_name (s, "earshot"))
      on_frame (s, data);
    gst_message_unref (msg);
  }
  if (duration_ns != NULL && (!ok
          || !gst_element_query_duration (pipe, GST_FORMAT_TIME,
              duration_ns)))
    *duration_ns = -1;
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
  return ok;
}
