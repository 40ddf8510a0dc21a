/* plugin.c — registers the earshot plugin's elements. */
#include <gst/gst.h>

#include "gstearshot.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  return GST_ELEMENT_REGISTER (earshot, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, earshot,
    "Audio classification with recurrent networks (voice activity, "
    "speech/music/noise segmentation, custom detectors)",
    plugin_init, VERSION, "LGPL", "Earshot", "Earshot project")
