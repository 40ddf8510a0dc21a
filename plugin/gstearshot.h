/* gstearshot.h — the `earshot` element: classifies audio frames with a
 * recurrent network while the audio passes through untouched.
 *
 * The element is documented in gstearshot.c (SECTION:element-earshot);
 * applications read its per-buffer output through GstEarshotMeta
 * (<gst/earshot/gstearshotmeta.h>) or its bus messages.
 */
#ifndef __GST_EARSHOT_H__
#define __GST_EARSHOT_H__

#include <gst/gst.h>
#include <gst/audio/gstaudiofilter.h>

G_BEGIN_DECLS

/**
 * GstEarshotChannelMode:
 * @GST_EARSHOT_CHANNEL_MODE_MIX: classify the mean of all channels
 * @GST_EARSHOT_CHANNEL_MODE_EACH: classify every channel on its own, each
 *     with its own recurrent state
 */
typedef enum {
  GST_EARSHOT_CHANNEL_MODE_MIX = 0,
  GST_EARSHOT_CHANNEL_MODE_EACH = 1,
} GstEarshotChannelMode;

#define GST_TYPE_EARSHOT_CHANNEL_MODE (gst_earshot_channel_mode_get_type ())
GType gst_earshot_channel_mode_get_type (void);

#define GST_TYPE_EARSHOT (gst_earshot_get_type ())
G_DECLARE_FINAL_TYPE (GstEarshot, gst_earshot, GST, EARSHOT, GstAudioFilter)

GST_ELEMENT_REGISTER_DECLARE (earshot)

G_END_DECLS

#endif /* __GST_EARSHOT_H__ */
