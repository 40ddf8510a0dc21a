/* gstearshotmeta.h — GstEarshotMeta: the frames the `earshot` element
 * classified while a buffer passed through it.
 *
 * Usage, in a pad probe or an appsink downstream of `earshot`:
 *
 *   #include <gst/earshot/gstearshotmeta.h>     // pkg-config gstearshotmeta-1.0
 *
 *   GstEarshotMeta *m = gst_buffer_get_earshot_meta (buffer);
 *   if (m) {
 *     for (guint f = 0; f < m->n_frames; f++)
 *       g_print ("%" GST_TIME_FORMAT " %s %.2f\n", GST_TIME_ARGS (m->pts[f]),
 *           m->labels[gst_earshot_meta_get_class (m, 0, f)],
 *           gst_earshot_meta_get_confidence (m, 0, f));
 *   }
 *
 * A buffer carries the meta when at least one frame was completed while it
 * was processed.  Because a frame needs a whole analysis window, the frames
 * of a buffer lag its audio by the element's latency: every frame carries its
 * own timestamp and duration, which are the ones to use (not the buffer's).
 * Frames are stored per channel: one channel when the element mixes its
 * input down (channel-mode=mix), one per input channel with channel-mode=each;
 * all channels share the frame times.
 *
 * Thread safety: a meta is read-only once the buffer leaves the element; it
 * lives and dies with its buffer, like any GstMeta.
 */
#ifndef __GST_EARSHOT_META_H__
#define __GST_EARSHOT_META_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#if defined(GST_EARSHOT_META_BUILDING) && defined(__GNUC__)
#define GST_EARSHOT_META_API __attribute__((visibility("default"))) extern
#else
#define GST_EARSHOT_META_API extern
#endif

#define GST_EARSHOT_META_API_TYPE (gst_earshot_meta_api_get_type ())
#define GST_EARSHOT_META_INFO (gst_earshot_meta_get_info ())

typedef struct _GstEarshotMeta GstEarshotMeta;

/**
 * GstEarshotMeta:
 * @meta: the parent #GstMeta
 * @n_frames: number of frames
 * @n_channels: number of classified channels (1 when mixed down)
 * @n_classes: number of classes of the model
 * @first_frame: index of the first frame since the element last reset its
 *     state (flush, stream start, discontinuity, new model)
 * @pts: [n_frames] start time of each frame (buffer timestamps' timeline)
 * @duration: [n_frames] duration of each frame (the model's hop)
 * @classes: [n_channels x n_frames] arg-max class of each frame
 * @confidences: [n_channels x n_frames] posterior of that class
 * @probabilities: [n_channels x n_frames x n_classes] posteriors, row-major
 * @labels: [n_classes + 1] the model's class names, %NULL-terminated
 *
 * Per-frame output of the model: raw posteriors, not smoothed (smoothing and
 * thresholds only shape the element's segment messages).  Frame f of
 * channel c starts at @pts[f]; its class is @classes[c * n_frames + f].
 * All arrays are owned by the meta.
 */
struct _GstEarshotMeta {
  GstMeta meta;

  guint n_frames;
  guint n_channels;
  guint n_classes;
  guint64 first_frame;

  GstClockTime *pts;
  GstClockTime *duration;
  gint *classes;
  gfloat *confidences;
  gfloat *probabilities;
  gchar **labels;
};

GST_EARSHOT_META_API
GType gst_earshot_meta_api_get_type (void);

GST_EARSHOT_META_API
const GstMetaInfo *gst_earshot_meta_get_info (void);

/**
 * gst_buffer_get_earshot_meta:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer none) (nullable): the #GstEarshotMeta of @buffer, or
 * %NULL when the element completed no frame while @buffer passed.
 */
#define gst_buffer_get_earshot_meta(buffer) \
  ((GstEarshotMeta *) gst_buffer_get_meta ((buffer), GST_EARSHOT_META_API_TYPE))

/**
 * gst_buffer_add_earshot_meta:
 * @buffer: a writable #GstBuffer
 * @n_frames: frames to hold (> 0)
 * @n_channels: channels to hold (> 0)
 * @n_classes: classes of the model (> 0)
 * @labels: (array length=n_classes): the class names, copied
 *
 * Adds a meta with zeroed arrays sized for @n_frames frames of @n_channels
 * channels; the caller fills them in.  The arrays live in one allocation
 * owned by the meta and are freed with the buffer.
 *
 * Returns: (transfer none): the new meta.
 */
GST_EARSHOT_META_API
GstEarshotMeta *gst_buffer_add_earshot_meta (GstBuffer *buffer,
    guint n_frames, guint n_channels, guint n_classes,
    const gchar *const *labels);

/* Accessors (channel < n_channels, frame < n_frames). */

/* Arg-max class of frame @frame of channel @channel. */
GST_EARSHOT_META_API
gint gst_earshot_meta_get_class (const GstEarshotMeta *meta, guint channel,
    guint frame);

/* Posterior of that class. */
GST_EARSHOT_META_API
gfloat gst_earshot_meta_get_confidence (const GstEarshotMeta *meta,
    guint channel, guint frame);

/* The n_classes posteriors of one frame (owned by the meta). */
GST_EARSHOT_META_API
const gfloat *gst_earshot_meta_get_probabilities (const GstEarshotMeta *meta,
    guint channel, guint frame);

G_END_DECLS

#endif /* __GST_EARSHOT_META_H__ */
