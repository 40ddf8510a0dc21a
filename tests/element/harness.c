/* harness.c — the element tests' common set-up (harness.h). */
#include "harness.h"

#include <gst/check/gstcheck.h>

GstHarness *
new_harness (const gchar * model, const gchar * caps, GstBus ** bus,
    const gchar * first_prop, ...)
{
  GstElement *e = gst_element_factory_make ("earshot", NULL);
  GstHarness *h;
  va_list args;

  fail_unless (e != NULL, "earshot element not found: is "
      "GST_PLUGIN_PATH_1_0 set to the build tree?");
  g_object_set (e, "model", model, "smoothing", 1, "min-segment",
      (guint64) 0, "min-gap", (guint64) 0, NULL);
  if (first_prop) {
    va_start (args, first_prop);
    g_object_set_valist (G_OBJECT (e), first_prop, args);
    va_end (args);
  }
  *bus = gst_bus_new ();
  gst_element_set_bus (e, *bus);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  if (caps)
    gst_harness_set_src_caps_str (h, caps);
  return h;
}

void
free_harness (GstHarness * h, GstBus * bus)
{
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}
