/* gstearshotmeta.c — GstEarshotMeta: per-buffer frames of the earshot element. */

#include <gst/earshot/gstearshotmeta.h>

#include <gst/audio/audio.h>
#include <string.h>

/* Byte sizes of the arrays of one meta, laid out in this order in one
 * g_malloc0 block (8-byte members first, so every array is aligned),
 * followed by the labels: the pointer array, then the names. */
typedef struct {
  gsize pts, duration, classes, confidences, probabilities, total;
} MetaLayout;

static gboolean
meta_layout (guint n_frames, guint n_channels, guint n_classes,
    MetaLayout * l)
{
  guint64 cells = (guint64) n_frames * n_channels;
  guint64 probs = cells * n_classes;

  /* The meta is built by the element from bounded model sizes; refuse the
   * absurd rather than overflow. */
  if (probs > G_MAXSIZE / 16)
    return FALSE;
  l->pts = (gsize) n_frames * sizeof (GstClockTime);
  l->duration = (gsize) n_frames * sizeof (GstClockTime);
  l->classes = (gsize) cells * sizeof (gint);
  l->confidences = (gsize) cells * sizeof (gfloat);
  l->probabilities = (gsize) probs * sizeof (gfloat);
  l->total = l->pts + l->duration + l->classes + l->confidences
      + l->probabilities;
  return TRUE;
}

static gboolean
meta_alloc (GstEarshotMeta * m, guint n_frames, guint n_channels,
    guint n_classes, const gchar * const *labels)
{
  MetaLayout l;
  guint8 *block;

  if (!meta_layout (n_frames, n_channels, n_classes, &l))
    return FALSE;
  /* the label names go in the same block, after the arrays: one
   * allocation per buffer instead of n_classes + 2 */
  gsize names = 0;
  for (guint i = 0; i < n_classes; i++)
    names += strlen (labels ? labels[i] : "") + 1;
  gsize strv = (gsize) (n_classes + 1) * sizeof (gchar *);
  gsize at = (l.total + sizeof (gchar *) - 1) / sizeof (gchar *)
      * sizeof (gchar *);
  block = g_malloc0 (at + strv + names);
  m->n_frames = n_frames;
  m->n_channels = n_channels;
  m->n_classes = n_classes;
  m->pts = (GstClockTime *) block;
  m->duration = (GstClockTime *) (block + l.pts);
  m->classes = (gint *) (block + l.pts + l.duration);
  m->confidences = (gfloat *) (block + l.pts + l.duration + l.classes);
  m->probabilities = (gfloat *) (block + l.pts + l.duration + l.classes
      + l.confidences);
  m->labels = (gchar **) (block + at);
  gchar *name = (gchar *) (block + at + strv);
  for (guint i = 0; i < n_classes; i++) {
    gsize len = strlen (labels ? labels[i] : "") + 1;
    memcpy (name, labels ? labels[i] : "", len);
    m->labels[i] = name;
    name += len;
  }
  return TRUE;
}

static gboolean
gst_earshot_meta_init (GstMeta * meta, gpointer params, GstBuffer * buffer)
{
  GstEarshotMeta *m = (GstEarshotMeta *) meta;

  m->n_frames = m->n_channels = m->n_classes = 0;
  m->first_frame = 0;
  m->pts = m->duration = NULL;
  m->classes = NULL;
  m->confidences = m->probabilities = NULL;
  m->labels = NULL;
  return TRUE;
}

static void
gst_earshot_meta_free (GstMeta * meta, GstBuffer * buffer)
{
  GstEarshotMeta *m = (GstEarshotMeta *) meta;

  /* pts is the start of the one block holding every array and the
   * label names */
  g_free (m->pts);
  m->pts = NULL;
  m->labels = NULL;
}

/* Copies go along (a buffer made writable, a deep copy); a partial region
 * copy does not, since frames cannot be cut by bytes.  Other transforms
 * (format conversion) leave the frames' times valid, but an element that
 * changes the audio is the one to decide: the meta carries the `audio` tag so
 * audioconvert and friends keep it. */
static gboolean
gst_earshot_meta_transform (GstBuffer * dest, GstMeta * meta,
    GstBuffer * buffer, GQuark type, gpointer data)
{
  GstEarshotMeta *src = (GstEarshotMeta *) meta;
  GstEarshotMeta *dst;
  MetaLayout l;

  if (!GST_META_TRANSFORM_IS_COPY (type))
    return FALSE;
  {
    GstMetaTransformCopy *copy = data;

    if (copy->region && (copy->offset != 0 || copy->size != (gsize) - 1))
      return TRUE;              /* nothing to copy, not an error */
  }
  if (gst_buffer_get_earshot_meta (dest))
    return TRUE;                /* already there: keep the newer one */
  dst = gst_buffer_add_earshot_meta (dest, src->n_frames, src->n_channels,
      src->n_classes, (const gchar * const *) src->labels);
  if (dst == NULL)
    return FALSE;
  dst->first_frame = src->first_frame;
  if (!meta_layout (src->n_frames, src->n_channels, src->n_classes, &l))
    return FALSE;
  memcpy (dst->pts, src->pts, l.pts);
  memcpy (dst->duration, src->duration, l.duration);
  memcpy (dst->classes, src->classes, l.classes);
  memcpy (dst->confidences, src->confidences, l.confidences);
  memcpy (dst->probabilities, src->probabilities, l.probabilities);
  return TRUE;
}

GType
gst_earshot_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { GST_META_TAG_AUDIO_STR, NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstEarshotMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

const GstMetaInfo *
gst_earshot_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) & info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_EARSHOT_META_API_TYPE,
        "GstEarshotMeta", sizeof (GstEarshotMeta), gst_earshot_meta_init,
        gst_earshot_meta_free, gst_earshot_meta_transform);
    g_once_init_leave ((GstMetaInfo **) & info, (GstMetaInfo *) mi);
  }
  return info;
}

GstEarshotMeta *
gst_buffer_add_earshot_meta (GstBuffer * buffer, guint n_frames,
    guint n_channels, guint n_classes, const gchar * const *labels)
{
  GstEarshotMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (n_frames > 0 && n_channels > 0 && n_classes > 0,
      NULL);

  m = (GstEarshotMeta *) gst_buffer_add_meta (buffer, GST_EARSHOT_META_INFO,
      NULL);
  if (m == NULL)
    return NULL;
  if (!meta_alloc (m, n_frames, n_channels, n_classes, labels)) {
    gst_buffer_remove_meta (buffer, (GstMeta *) m);
    return NULL;
  }
  return m;
}

gint
gst_earshot_meta_get_class (const GstEarshotMeta * meta, guint channel,
    guint frame)
{
  g_return_val_if_fail (meta != NULL, -1);
  g_return_val_if_fail (channel < meta->n_channels, -1);
  g_return_val_if_fail (frame < meta->n_frames, -1);
  return meta->classes[(gsize) channel * meta->n_frames + frame];
}

gfloat
gst_earshot_meta_get_confidence (const GstEarshotMeta * meta, guint channel,
    guint frame)
{
  g_return_val_if_fail (meta != NULL, 0.0f);
  g_return_val_if_fail (channel < meta->n_channels, 0.0f);
  g_return_val_if_fail (frame < meta->n_frames, 0.0f);
  return meta->confidences[(gsize) channel * meta->n_frames + frame];
}

const gfloat *
gst_earshot_meta_get_probabilities (const GstEarshotMeta * meta,
    guint channel, guint frame)
{
  g_return_val_if_fail (meta != NULL, NULL);
  g_return_val_if_fail (channel < meta->n_channels, NULL);
  g_return_val_if_fail (frame < meta->n_frames, NULL);
  return meta->probabilities + ((gsize) channel * meta->n_frames + frame)
      * meta->n_classes;
}
