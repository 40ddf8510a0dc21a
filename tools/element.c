/* element.c — audio files through the `earshot` element, for `earshot label`
 * and `earshot eval`:
 *
 *   uridecodebin uri=file://… ! audioconvert ! earshot ! fakesink sync=false
 *
 * The element is told model=FILE message-interval=0 post-messages=true (plus
 * the segment settings asked for); what it says is read from its bus
 * messages: one `earshot` message per frame, `earshot-segment` "end"
 * messages for the segments.  So the tool reports exactly what the element
 * reports to any application, and the two can never disagree.
 *
 * A bus sync handler takes the element's messages in the streaming thread
 * (and drops them), so a long file does not pile up hundreds of thousands
 * of messages in the bus queue; the calling thread waits for EOS or an
 * error, drawing the progress bar from position queries meanwhile.  The
 * element posts the last frames (flushed at EOS) before it forwards EOS,
 * so by the time the EOS message arrives every frame has been handled.
 */
#include "earshot-tool.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gst/audio/audio.h>
#include <gst/gst.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

/* ---- models ----------------------------------------------------------- */

/* Resolves a model name or path the way the element does, by asking the
 * element: set `model`, read back `model-path` (so a change to the element's
 * search can never make the two disagree).  A name the element cannot load
 * but that is a file is returned as is, for the core's precise message. */
static char *
model_find (const char *name, GError **error)
{
  GstElement *e = gst_element_factory_make ("earshot", NULL);
  char *path = NULL;

  if (e == NULL) {
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "the earshot GStreamer "
        "element is not installed (or not on GST_PLUGIN_PATH)");
    return NULL;
  }
  g_object_set (e, "model", name, NULL);
  g_object_get (e, "model-path", &path, NULL);
  gst_object_unref (e);
  if (path == NULL && g_file_test (name, G_FILE_TEST_EXISTS))
    path = g_strdup (name);
  if (path == NULL) {
    const char *env = g_getenv ("EARSHOT_MODEL_PATH");
    const char *sys = g_getenv ("EARSHOT_MODEL_SYSTEM_PATH");
    char *system = sys ? g_strdup (sys)
        : g_strdup_printf ("%s:%s", EARSHOT_MODELS_DIR,
        EARSHOT_SOURCE_MODELS_DIR);
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "no model '%s': not a file, "
        "and no %s.earshot in %s%s%s", name, name, env && *env ? env : "",
        env && *env ? ":" : "", system);
    g_free (system);
  }
  return path;
}

earshot_model *
es_model_open (const char *name, char **path, GError **error)
{
  char msg[512];
  earshot_model *m = NULL;
  char *file = model_find (name, error);

  if (file == NULL)
    return NULL;
  earshot_status st = earshot_model_load (file, &m, msg, sizeof msg);
  if (st != EARSHOT_OK) {
    /* the core's message names the file */
    es_set_status_error (error, st, msg);
    g_free (file);
    return NULL;
  }
  *path = file;
  return m;
}

/* ---- element settings ------------------------------------------------- */

void
es_element_options_init (es_element_options *o)
{
  *o = (es_element_options) { .threshold = -1 };
  GOptionEntry e[] = {
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &o->threshold,
      "smoothed probability a class needs for a frame to count towards its "
      "segment (element default 0.5); 0: the most probable class always "
      "counts (with --min-segment 0 --min-gap 0 the segments then tile the "
      "file)", "P" },
    { "smoothing", 0, 0, G_OPTION_ARG_INT, &o->smoothing,
      "frames in the moving average before segment decisions; 1: none "
      "(element default 5)", "N" },
    { "min-segment", 0, 0, G_OPTION_ARG_STRING, &o->min_segment,
      "time a class must last before its segment starts: 0.1, 0.1s or "
      "100ms (element default 100ms)", "TIME" },
    { "min-gap", 0, 0, G_OPTION_ARG_STRING, &o->min_gap,
      "shorter gaps in a segment are bridged (element default 100ms)",
      "TIME" },
    G_OPTION_ENTRY_NULL
  };
  memcpy (o->entries, e, sizeof e);
}

void
es_element_options_clear (es_element_options *o)
{
  g_clear_pointer (&o->min_segment, g_free);
  g_clear_pointer (&o->min_gap, g_free);
}

/* "0.25", "0.25s" or "250ms" to nanoseconds. */
static gboolean
parse_time (const char *s, gint64 *ns)
{
  char *end;
  double v = g_ascii_strtod (s, &end);
  if (end == s || !(v >= 0))
    return FALSE;
  if (strcmp (end, "ms") == 0)
    v /= 1000;
  else if (*end != '\0' && strcmp (end, "s") != 0)
    return FALSE;
  if (v > 1e6)
    return FALSE;
  *ns = (gint64) llround (v * 1e9);
  return TRUE;
}

gboolean
es_element_options_parse (const es_element_options *o,
    es_element_settings *s, GError **error)
{
  *s = (es_element_settings) { .threshold = -1, .smoothing = 0,
    .min_segment = -1, .min_gap = -1 };
  /* -1 is the "not given" value of --threshold */
  if (o->threshold != -1) {
    if (!(o->threshold >= 0 && o->threshold <= 1)) {
      g_set_error (error, ES_ERROR, ES_ERROR_USAGE, "--threshold must be "
          "in [0, 1]");
      return FALSE;
    }
    s->threshold = o->threshold;
  }
  if (o->smoothing != 0) {
    if (o->smoothing < 1 || o->smoothing > 1000) {
      g_set_error (error, ES_ERROR, ES_ERROR_USAGE, "--smoothing must be 1 "
          "to 1000 frames");
      return FALSE;
    }
    s->smoothing = o->smoothing;
  }
  if (o->min_segment && !parse_time (o->min_segment, &s->min_segment)) {
    g_set_error (error, ES_ERROR, ES_ERROR_USAGE, "--min-segment: '%s' is "
        "not a time (0.1, 0.1s or 100ms)", o->min_segment);
    return FALSE;
  }
  if (o->min_gap && !parse_time (o->min_gap, &s->min_gap)) {
    g_set_error (error, ES_ERROR, ES_ERROR_USAGE, "--min-gap: '%s' is not "
        "a time (0.1, 0.1s or 100ms)", o->min_gap);
    return FALSE;
  }
  return TRUE;
}

gboolean
es_element_available (GError **error)
{
  GstElementFactory *f = gst_element_factory_find ("earshot");
  if (f == NULL) {
    g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "the GStreamer element "
        "'earshot' is not installed (or GST_PLUGIN_PATH does not lead to "
        "libgstearshot.so)");
    return FALSE;
  }
  gst_object_unref (f);
  return TRUE;
}

/* ---- running a file --------------------------------------------------- */

#define ENV_BLOCK_S 0.005       /* envelope resolution */

typedef struct {
  GstElement *es;               /* the earshot element */
  es_audio_link link;           /* audioconvert, where the decoder links */
  guint n_classes;
  /* Written by the streaming thread (sync handler, probe), read by the
   * calling thread once the pipeline has stopped. */
  GArray *start_ns, *duration_ns, *classes, *confidences, *probs;
  GArray *segments;
  gboolean bad_message;         /* a frame message with other classes */
  /* envelope */
  gboolean envelope;
  GstAudioConverter *env_conv;
  GstAudioInfo env_info;
  GArray *env_min, *env_max;
  guint env_len, env_fill;      /* samples per block; in the current one */
  float env_lo, env_hi;
  double env_start;             /* -1 until the first buffer */
  float *env_buf;
  gsize env_buf_cap;
} run_ctx;

static GstClockTime
time_field (const GstStructure *s, const char *stream_field,
    const char *field)
{
  guint64 t = GST_CLOCK_TIME_NONE;
  if (!gst_structure_get_uint64 (s, stream_field, &t)
      || !GST_CLOCK_TIME_IS_VALID (t))
    gst_structure_get_uint64 (s, field, &t);
  return t;
}

static void
on_frame_message (run_ctx *c, const GstStructure *s)
{
  gint channel = -1, cls = -1;
  guint64 duration = 0;
  gdouble confidence = 0;
  const GValue *pv = gst_structure_get_value (s, "probabilities");
  GstClockTime ts = time_field (s, "stream-time", "timestamp");

  gst_structure_get_int (s, "channel", &channel);
  if (channel != -1)
    return;
  if (pv == NULL || !GST_VALUE_HOLDS_ARRAY (pv)
      || gst_value_array_get_size (pv) != c->n_classes
      || !gst_structure_get_int (s, "class", &cls)
      || !gst_structure_get_double (s, "confidence", &confidence)
      || !gst_structure_get_uint64 (s, "duration", &duration)
      || !GST_CLOCK_TIME_IS_VALID (ts)) {
    c->bad_message = TRUE;
    return;
  }
  int32_t k = cls;
  float conf = (float) confidence;
  g_array_append_val (c->start_ns, ts);
  g_array_append_val (c->duration_ns, duration);
  g_array_append_val (c->classes, k);
  g_array_append_val (c->confidences, conf);
  for (guint i = 0; i < c->n_classes; i++) {
    float p = (float) g_value_get_double (gst_value_array_get_value (pv, i));
    g_array_append_val (c->probs, p);
  }
}

static void
on_segment_message (run_ctx *c, const GstStructure *s)
{
  const char *event = gst_structure_get_string (s, "event");
  gint channel = -1, cls = -1;
  gdouble confidence = 0;

  gst_structure_get_int (s, "channel", &channel);
  if (event == NULL || strcmp (event, "end") != 0 || channel != -1)
    return;
  GstClockTime a = time_field (s, "start-stream-time", "start");
  GstClockTime b = time_field (s, "end-stream-time", "end");
  if (!gst_structure_get_int (s, "class", &cls) || cls < 0
      || (guint) cls >= c->n_classes || !GST_CLOCK_TIME_IS_VALID (a)
      || !GST_CLOCK_TIME_IS_VALID (b)) {
    c->bad_message = TRUE;
    return;
  }
  gst_structure_get_double (s, "confidence", &confidence);
  es_segment seg = { (double) a / GST_SECOND, (double) b / GST_SECOND, cls,
    confidence };
  g_array_append_val (c->segments, seg);
}

static GstBusSyncReply
on_sync_message (GstBus *bus, GstMessage *msg, gpointer user)
{
  run_ctx *c = user;
  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT
      || GST_MESSAGE_SRC (msg) != GST_OBJECT (c->es))
    return GST_BUS_PASS;
  const GstStructure *s = gst_message_get_structure (msg);
  if (gst_structure_has_name (s, "earshot"))
    on_frame_message (c, s);
  else if (gst_structure_has_name (s, "earshot-segment"))
    on_segment_message (c, s);
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

/* The envelope: buffers leaving the element, mixed to mono F32 with a
 * GstAudioConverter (any format and layout), min/max per block. */
static GstPadProbeReturn
on_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  run_ctx *c = user;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstAudioInfo in;

  if (caps == NULL)
    return GST_PAD_PROBE_OK;
  gboolean ok = gst_audio_info_from_caps (&in, caps);
  gst_caps_unref (caps);
  if (!ok)
    return GST_PAD_PROBE_OK;
  if (c->env_conv == NULL || !gst_audio_info_is_equal (&in, &c->env_info)) {
    GstAudioInfo out;
    g_clear_pointer (&c->env_conv, gst_audio_converter_free);
    gst_audio_info_set_format (&out, GST_AUDIO_FORMAT_F32, in.rate, 1, NULL);
    c->env_conv = gst_audio_converter_new (GST_AUDIO_CONVERTER_FLAG_NONE,
        &in, &out, NULL);
    c->env_info = in;
    c->env_len = MAX (1, (guint) lround (ENV_BLOCK_S * in.rate));
    if (c->env_conv == NULL)
      return GST_PAD_PROBE_OK;
  }
  if (c->env_start < 0)
    c->env_start = GST_BUFFER_PTS_IS_VALID (buf)
        ? (double) GST_BUFFER_PTS (buf) / GST_SECOND : 0.0;

  GstAudioBuffer ab;
  if (!gst_audio_buffer_map (&ab, &in, buf, GST_MAP_READ))
    return GST_PAD_PROBE_OK;
  gsize n = ab.n_samples;
  if (n > c->env_buf_cap) {
    c->env_buf_cap = MAX (n, 2 * c->env_buf_cap);
    c->env_buf = g_renew (float, c->env_buf, c->env_buf_cap);
  }
  gpointer outp[1] = { c->env_buf };
  ok = gst_audio_converter_samples (c->env_conv, GST_AUDIO_CONVERTER_FLAG_NONE,
      ab.planes, n, outp, n);
  gst_audio_buffer_unmap (&ab);
  for (gsize i = 0; ok && i < n; i++) {
    float v = c->env_buf[i];
    if (c->env_fill == 0 || v < c->env_lo)
      c->env_lo = v;
    if (c->env_fill == 0 || v > c->env_hi)
      c->env_hi = v;
    if (++c->env_fill == c->env_len) {
      g_array_append_val (c->env_min, c->env_lo);
      g_array_append_val (c->env_max, c->env_hi);
      c->env_fill = 0;
    }
  }
  return GST_PAD_PROBE_OK;
}

static gint
compare_segments (gconstpointer a, gconstpointer b)
{
  const es_segment *x = a, *y = b;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  return (x->cls > y->cls) - (x->cls < y->cls);
}

void
es_labelling_free (es_labelling *l)
{
  if (l == NULL)
    return;
  g_free (l->start_ns);
  g_free (l->duration_ns);
  g_free (l->classes);
  g_free (l->confidences);
  g_free (l->probs);
  g_free (l->segments);
  g_free (l->env_min);
  g_free (l->env_max);
  g_free (l);
}

/* The array's data (the caller frees it), or NULL after freeing it all. */
static gpointer
take (GArray *a, gboolean keep)
{
  return g_array_free (a, !keep);
}

/* A readable file, or an error like es_sha256_file's. */
static gboolean
check_readable (const char *path, GError **error)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0) {
    int e = errno;
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot read %s: %s", path,
        g_strerror (e));
    return FALSE;
  }
  if (S_ISDIR (st.st_mode)) {
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot read %s: it is a "
        "folder", path);
    return FALSE;
  }
  FILE *f = fopen (path, "rb");
  if (f == NULL) {
    int e = errno;
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot read %s: %s", path,
        g_strerror (e));
    return FALSE;
  }
  fclose (f);
  return TRUE;
}

gboolean
es_label_file (const char *audio, const es_label_opts *o, es_labelling **out,
    GError **error)
{
  *out = NULL;
  if (!check_readable (audio, error))
    return FALSE;

  GError *e = NULL;
  char *uri = gst_filename_to_uri (audio, &e);
  if (uri == NULL) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE, "cannot decode %s: %s",
        audio, e->message);
    g_error_free (e);
    return FALSE;
  }

  static const char *const factories[] = { "uridecodebin", "audioconvert",
    "earshot", "fakesink" };
  GstElement *el[G_N_ELEMENTS (factories)];
  gboolean made = TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (factories); i++) {
    el[i] = gst_element_factory_make (factories[i], NULL);
    if (el[i] == NULL && made) {
      g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "the GStreamer element "
          "'%s' is missing%s", factories[i], i == 2 ? ""
          : " (install gstreamer1.0-plugins-base)");
      made = FALSE;
    }
  }
  if (!made) {
    for (gsize i = 0; i < G_N_ELEMENTS (factories); i++)
      if (el[i] != NULL)
        gst_object_unref (gst_object_ref_sink (el[i]));
    g_free (uri);
    return FALSE;
  }
  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *src = el[0], *conv = el[1], *es = el[2], *sink = el[3];
  gst_bin_add_many (GST_BIN (pipe), src, conv, es, sink, NULL);
  gboolean ok = gst_element_link_many (conv, es, sink, NULL);
  if (!ok) {
    g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "cannot link audioconvert "
        "! earshot ! fakesink");
    gst_object_unref (pipe);
    g_free (uri);
    return FALSE;
  }

  g_object_set (src, "uri", uri, NULL);
  g_object_set (sink, "sync", FALSE, NULL);
  g_object_set (es, "model", o->model, "post-messages", TRUE,
      "message-interval", (guint64) 0, NULL);
  /* The classes of the model as the element loaded it (none if it could
   * not: it then posts an error when the pipeline starts). */
  char **labels = NULL;
  g_object_get (es, "labels", &labels, NULL);
  guint n_classes = labels ? g_strv_length (labels) : 0;
  g_strfreev (labels);
  const es_element_settings *st = &o->settings;
  if (st->threshold >= 0)
    g_object_set (es, "threshold", st->threshold, NULL);
  if (st->smoothing > 0)
    g_object_set (es, "smoothing", (guint) st->smoothing, NULL);
  if (st->min_segment >= 0)
    g_object_set (es, "min-segment", (guint64) st->min_segment, NULL);
  if (st->min_gap >= 0)
    g_object_set (es, "min-gap", (guint64) st->min_gap, NULL);

  run_ctx c = {
    .es = es, .link = { .convert = conv }, .n_classes = n_classes,
    .start_ns = g_array_new (FALSE, FALSE, sizeof (guint64)),
    .duration_ns = g_array_new (FALSE, FALSE, sizeof (guint64)),
    .classes = g_array_new (FALSE, FALSE, sizeof (int32_t)),
    .confidences = g_array_new (FALSE, FALSE, sizeof (float)),
    .probs = g_array_new (FALSE, FALSE, sizeof (float)),
    .segments = g_array_new (FALSE, FALSE, sizeof (es_segment)),
    .envelope = o->envelope,
    .env_min = g_array_new (FALSE, FALSE, sizeof (float)),
    .env_max = g_array_new (FALSE, FALSE, sizeof (float)),
    .env_start = -1,
  };
  es_audio_link_connect (src, &c.link);
  if (o->envelope) {
    GstPad *pad = gst_element_get_static_pad (es, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &c, NULL);
    gst_object_unref (pad);
  }
  GstBus *bus = gst_element_get_bus (pipe);
  gst_bus_set_sync_handler (bus, on_sync_message, &c, NULL);

  es_progress bar;
  es_progress_start (&bar, o->progress);
  gint64 t0 = g_get_monotonic_time ();
  char *base = g_path_get_basename (audio);
  GstMessage *msg = NULL;
  gint64 duration = -1;
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  for (;;) {
    msg = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (msg != NULL)
      break;
    /* Short files never show a bar. */
    gint64 pos, dur;
    if (bar.enabled && g_get_monotonic_time () - t0 > 500000
        && gst_element_query_position (pipe, GST_FORMAT_TIME, &pos)
        && gst_element_query_duration (pipe, GST_FORMAT_TIME, &dur)
        && dur > 0)
      es_progress_update (&bar, base, (guint64) (pos / GST_SECOND),
          (guint64) (dur / GST_SECOND), "s");
  }
  es_progress_clear (&bar);
  g_free (base);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS
      && !gst_element_query_duration (pipe, GST_FORMAT_TIME, &duration))
    duration = -1;
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *ge = NULL;
    gst_message_parse_error (msg, &ge, NULL);
    /* The element's own errors are about the model, the decoder's about
     * the file. */
    if (GST_MESSAGE_SRC (msg) == GST_OBJECT (es))
      g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "%s: %s", audio,
          ge->message);
    else
      g_set_error (error, ES_ERROR, ES_ERROR_DECODE, "cannot decode %s: %s",
          audio, ge->message);
    g_error_free (ge);
    ok = FALSE;
  } else if (c.bad_message) {
    g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "%s: the element posted "
        "a message this tool does not understand (another version?)",
        audio);
    ok = FALSE;
  } else if (c.classes->len == 0) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE, "cannot decode %s: it "
        "holds no audio samples", audio);
    ok = FALSE;
  }
  gst_message_unref (msg);
  gst_object_unref (pipe);
  g_free (uri);
  g_clear_pointer (&c.env_conv, gst_audio_converter_free);
  g_free (c.env_buf);

  es_labelling *l = NULL;
  if (ok) {
    l = g_new0 (es_labelling, 1);
    l->n_classes = n_classes;
    l->n_frames = c.classes->len;
    g_array_sort (c.segments, compare_segments);
    l->n_segments = c.segments->len;
    l->n_env = c.env_min->len;
    l->env_start = c.env_start > 0 ? c.env_start : 0;
    l->env_block = c.env_info.rate > 0
        ? (double) c.env_len / c.env_info.rate : ENV_BLOCK_S;
  }
  gboolean keep = l != NULL;
  gpointer a[] = { take (c.start_ns, keep), take (c.duration_ns, keep),
    take (c.classes, keep), take (c.confidences, keep), take (c.probs, keep),
    take (c.segments, keep), take (c.env_min, keep), take (c.env_max, keep) };
  if (l == NULL)
    return FALSE;
  l->start_ns = a[0];
  l->duration_ns = a[1];
  l->classes = a[2];
  l->confidences = a[3];
  l->probs = a[4];
  l->segments = a[5];
  l->env_min = a[6];
  l->env_max = a[7];

  gsize last = l->n_frames - 1;
  double end = (double) (l->start_ns[last] + l->duration_ns[last])
      / GST_SECOND;
  l->duration = duration > 0 ? (double) duration / GST_SECOND : end;
  *out = l;
  return TRUE;
}
