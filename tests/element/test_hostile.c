/* test_hostile.c — the `earshot` element against hostile audio and hostile
 * use, under GstCheck and GstHarness.
 *
 * Each test asserts what surviving means: NaN, Inf, denormals and
 * full-scale squares leave every message and meta finite and are forgotten
 * within a second, and the level meta reads NaN and Inf as silence, as the
 * classifier does; empty and untimed buffers keep the frame count and
 * times exact; caps renegotiated mid-stream (rate, format, channels) keep
 * frames coming in order; every rate and channel count passes bit-identical
 * with the right number of frames, rates from 1 Hz to 1 MHz with exactly
 * the frames of their length at the model's rate, up to 63 channels (64
 * and more, and rates above 1 MHz, are refused at negotiation); planar buffers without a GstAudioMeta that
 * fits are refused with an element error and nothing logged; EOS and GAP
 * without data are handled; a pipeline survives 1000 NULL <-> PLAYING
 * cycles and a model swapped 1000 times from another thread, without leaks
 * (the sanitizer build runs this suite with leak detection) or deadlocks.
 *
 * Models are built in code (models.c); signals are generated here. */
#include <gst/audio/audio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/earshot/gstearshotmeta.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "harness.h"
#include "models.h"

#define MODEL_RATE 16000
#define HOP_NS (10 * GST_MSECOND)
#define MAX_CLASSES 3

static gchar *tmpdir, *rnn_path, *look_path, *tone_path;

/* The class names of the two models used here (models.c), by class count:
 * every message and meta must name its class as its own model does. */
static const gchar *const rnn_labels[] = { "silence", "speech", "music" };
static const gchar *const tone_labels[] = { "silence", "tone" };

static const gchar *const *
labels_for (guint n_classes)
{
  fail_unless (n_classes == 2 || n_classes == 3, "%u classes", n_classes);
  return n_classes == 3 ? rnn_labels : tone_labels;
}

/* ---- helpers (and harness.h) ------------------------------------------ */

/* Pushes `size` bytes stamped `pts` (GST_CLOCK_TIME_NONE: none), asserts the
 * buffer leaves bit-identical and returns it (owned). */
static GstBuffer *
push_bytes (GstHarness * h, const void *data, gsize size, GstClockTime pts)
{
  GstBuffer *buf = size ? gst_buffer_new_memdup (data, size) :
      gst_buffer_new ();
  GstBuffer *out;
  GstMapInfo map;

  GST_BUFFER_PTS (buf) = pts;
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  out = gst_harness_try_pull (h);
  fail_unless (out != NULL, "no output buffer for %" G_GSIZE_FORMAT
      " bytes", size);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  fail_unless_equals_int (map.size, size);
  fail_unless (size == 0 || memcmp (map.data, data, size) == 0,
      "audio changed");
  gst_buffer_unmap (out, &map);
  return out;
}

/* A frame of an `earshot` message. */
typedef struct
{
  GstClockTime ts;
  gint channel, cls;
  guint n_classes;
  gdouble probs[MAX_CLASSES];
} Frame;

/* Fails unless every double in `v` (a double or an array of them) is
 * finite. */
static void
check_finite_value (const gchar * name, const GValue * v)
{
  if (G_VALUE_HOLDS_DOUBLE (v)) {
    fail_unless (isfinite (g_value_get_double (v)), "field %s is %g", name,
        g_value_get_double (v));
  } else if (GST_VALUE_HOLDS_ARRAY (v)) {
    for (guint i = 0; i < gst_value_array_get_size (v); i++)
      check_finite_value (name, gst_value_array_get_value (v, i));
  }
}

static gboolean
check_field (GQuark field, const GValue * v, gpointer user_data)
{
  check_finite_value (g_quark_to_string (field), v);
  return TRUE;
}

/* Checks an `earshot` message: no NaN or Inf in any field, valid times,
 * posteriors that form a distribution whose arg-max is `class` and whose
 * class name is `label`.  Returns it as a Frame. */
static Frame
check_frame_message (const GstStructure * s)
{
  const GValue *p = gst_structure_get_value (s, "probabilities");
  const gchar *const *labels;
  const gchar *label = gst_structure_get_string (s, "label");
  gdouble conf = NAN, sum = 0.0;
  guint64 duration = GST_CLOCK_TIME_NONE;
  Frame f = { 0 };

  gst_structure_foreach (s, check_field, NULL);
  fail_unless (gst_structure_get (s, "timestamp", G_TYPE_UINT64, &f.ts,
          "duration", G_TYPE_UINT64, &duration, "channel", G_TYPE_INT,
          &f.channel, "class", G_TYPE_INT, &f.cls, "confidence",
          G_TYPE_DOUBLE, &conf, NULL));
  fail_unless (GST_CLOCK_TIME_IS_VALID (f.ts));
  fail_unless_equals_uint64 (duration, HOP_NS);
  fail_unless (p != NULL && label != NULL);
  f.n_classes = gst_value_array_get_size (p);
  labels = labels_for (f.n_classes);
  fail_unless (f.cls >= 0 && f.cls < (gint) f.n_classes, "class %d of %u",
      f.cls, f.n_classes);
  fail_unless_equals_string (label, labels[f.cls]);
  for (guint k = 0; k < f.n_classes; k++) {
    f.probs[k] = g_value_get_double (gst_value_array_get_value (p, k));
    fail_unless (f.probs[k] >= 0.0 && f.probs[k] <= 1.0, "p = %g",
        f.probs[k]);
    sum += f.probs[k];
  }
  for (guint k = 0; k < f.n_classes; k++)
    fail_unless (f.probs[k] <= f.probs[f.cls], "class %d is not the arg-max",
        f.cls);
  fail_unless (fabs (sum - 1.0) < 1e-5, "posteriors sum to %.9g", sum);
  fail_unless (conf == f.probs[f.cls]);
  return f;
}

/* Checks an `earshot-segment` message: finite confidence, a class that
 * exists in its model and carries that model's name. */
static void
check_segment_message (const GstStructure * s)
{
  const gchar *label = gst_structure_get_string (s, "label");
  gint cls = -1;

  gst_structure_foreach (s, check_field, NULL);
  fail_unless (gst_structure_get_int (s, "class", &cls));
  fail_unless (label != NULL);
  fail_unless ((cls < 3 && !strcmp (label, rnn_labels[cls]))
      || (cls < 2 && !strcmp (label, tone_labels[cls])),
      "segment class %d labelled %s", cls, label);
}

/* Pops every message on the bus: fails on an ERROR, checks the element
 * messages, appends the frames to `frames` (may be NULL).  Returns the
 * number of frame messages seen. */
static guint
collect (GstBus * bus, GArray * frames)
{
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_pop (bus))) {
    const GstStructure *s = gst_message_get_structure (msg);

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      fail ("error message: %s", err->message);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT) {
      if (gst_structure_has_name (s, "earshot")) {
        Frame f = check_frame_message (s);
        if (frames)
          g_array_append_val (frames, f);
        n++;
      } else if (gst_structure_has_name (s, "earshot-segment")) {
        check_segment_message (s);
      }
    }
    gst_message_unref (msg);
  }
  return n;
}

/* Checks the meta of `buf` (if any) like the messages, with
 * `n_channels` classified channels; returns its frame count. */
static guint
check_meta (GstBuffer * buf, guint n_channels)
{
  GstEarshotMeta *m = gst_buffer_get_earshot_meta (buf);
  const gchar *const *labels;

  if (m == NULL)
    return 0;
  labels = labels_for (m->n_classes);
  fail_unless_equals_int (m->n_channels, n_channels);
  fail_unless_equals_int (g_strv_length (m->labels), m->n_classes);
  for (guint k = 0; k < m->n_classes; k++)
    fail_unless_equals_string (m->labels[k], labels[k]);
  for (guint c = 0; c < m->n_channels; c++) {
    for (guint f = 0; f < m->n_frames; f++) {
      gint cls = gst_earshot_meta_get_class (m, c, f);
      const gfloat *p = gst_earshot_meta_get_probabilities (m, c, f);

      fail_unless (cls >= 0 && cls < (gint) m->n_classes);
      fail_unless (isfinite (gst_earshot_meta_get_confidence (m, c, f)));
      fail_unless (gst_earshot_meta_get_confidence (m, c, f) == p[cls]);
      for (guint k = 0; k < m->n_classes; k++)
        fail_unless (isfinite (p[k]) && p[k] >= 0.0f && p[k] <= 1.0f,
            "meta posterior %g", p[k]);
    }
  }
  return m->n_frames;
}

/* Frames of channel `channel` in `frames`. */
static guint
count_channel (const GArray * frames, gint channel)
{
  guint n = 0;

  for (guint i = 0; i < frames->len; i++)
    n += g_array_index (frames, Frame, i).channel == channel;
  return n;
}

/* Noise with a slowly moving level, so the classes change; channel c
 * differs from the others. */
static gdouble
normal_sample (GRand * r, gsize i, guint c)
{
  return g_rand_double_range (r, -1.0, 1.0) * (0.05 + 0.45 * (0.5 + 0.5 *
          sin ((gdouble) i * 2.0 * G_PI / (7000.0 + 1000.0 * c))));
}

/* Caps string for `format` (S16LE, F32LE, F64LE), `rate`, `channels`. */
static gchar *
caps_string (const gchar * format, gint rate, gint channels)
{
  const gchar *mask = channels == 1 ? "" : channels == 2 ?
      ",channel-mask=(bitmask)0x3" : channels == 6 ?
      ",channel-mask=(bitmask)0x3f" : channels == 8 ?
      ",channel-mask=(bitmask)0xc3f" : ",channel-mask=(bitmask)0x0";

  return g_strdup_printf ("audio/x-raw,format=%s,rate=%d,channels=%d,"
      "layout=interleaved%s", format, rate, channels, mask);
}

/* Writes interleaved samples x[n x channels] (doubles in [-1, 1] or
 * hostile values) as `format`; returns the bytes (free them). */
static guint8 *
encode (const gdouble * x, gsize n_values, const gchar * format, gsize * size)
{
  guint8 *out;

  if (g_str_has_prefix (format, "S16")) {
    gint16 *s = g_new (gint16, n_values);
    for (gsize i = 0; i < n_values; i++)
      s[i] = (gint16) CLAMP (lrint (x[i] * 32767.0), -32768, 32767);
    out = (guint8 *) s;
    *size = n_values * sizeof (gint16);
  } else if (g_str_has_prefix (format, "F32")) {
    gfloat *f = g_new (gfloat, n_values);
    for (gsize i = 0; i < n_values; i++)
      f[i] = isfinite (x[i]) && fabs (x[i]) > G_MAXFLOAT ?
          (x[i] > 0 ? G_MAXFLOAT : -G_MAXFLOAT) : (gfloat) x[i];
    out = (guint8 *) f;
    *size = n_values * sizeof (gfloat);
  } else {
    out = g_memdup2 (x, n_values * sizeof (gdouble));
    *size = n_values * sizeof (gdouble);
  }
  return out;
}

/* Aborts the test process unless disarmed within `seconds`: a deadlock
 * becomes a failure with a message instead of a hang.  (With CK_FORK=no, a
 * test that fails while one is armed leaves it running: it then aborts the
 * rest of the run.) */
typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean disarmed;
  gint64 deadline;
  const gchar *what;
  GThread *thread;
} Watchdog;

static gpointer
watchdog_run (gpointer data)
{
  Watchdog *w = data;

  g_mutex_lock (&w->lock);
  while (!w->disarmed)
    if (!g_cond_wait_until (&w->cond, &w->lock, w->deadline) && !w->disarmed) {
      g_printerr ("watchdog: %s did not finish in time (deadlock?)\n",
          w->what);
      abort ();
    }
  g_mutex_unlock (&w->lock);
  return NULL;
}

static void
watchdog_arm (Watchdog * w, const gchar * what, gint seconds)
{
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  w->disarmed = FALSE;
  w->what = what;
  w->deadline = g_get_monotonic_time () + seconds * G_TIME_SPAN_SECOND;
  w->thread = g_thread_new ("watchdog", watchdog_run, w);
}

static void
watchdog_disarm (Watchdog * w)
{
  g_mutex_lock (&w->lock);
  w->disarmed = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
  g_thread_join (w->thread);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
}

/* ---- 1. hostile samples ------------------------------------------------ */

/* Sample i of 0.5 s of hostile audio at `rate`, channel c: 0.1 s each of
 * NaN, alternating +-Inf, denormals (of the format), a full-scale 100 Hz
 * square wave, then all of them mixed with huge finite values. */
static gdouble
hostile_sample (gsize i, guint c, gint rate, gboolean f64)
{
  const gdouble denormal = f64 ? 4.9e-324 : 1.4e-45;
  const gdouble huge = f64 ? 1e300 : 3e38;

  switch (i * 10 / (gsize) rate) {
    case 0:
      return NAN;
    case 1:
      return (i + c) & 1 ? INFINITY : -INFINITY;
    case 2:
      return (i & 1 ? 1.0 : -1.0) * denormal * (1 + i % 1000);
    case 3:
      return (i * 200 / (gsize) rate) & 1 ? 1.0 : -1.0;
    default:{
      const gdouble v[] = { NAN, INFINITY, -huge, denormal, 1.0, -INFINITY,
        huge, -1.0, -NAN
      };
      return v[(i + c) % G_N_ELEMENTS (v)];
    }
  }
}

/* Pushes x (n samples x channels, as `format` in chunks of 50 ms stamped
 * from t0) through a fresh rnn element, then EOS.  Checks every message
 * and meta; returns the frames. */
static GArray *
run_hostile (const gchar * format, gint rate, gint channels, gint mode,
    const gdouble * x, gsize n, GstClockTime t0)
{
  gchar *caps = caps_string (format, rate, channels);
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, caps, &bus, "channel-mode", mode,
      NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  const gsize chunk = (gsize) rate / 20;
  guint nc = mode ? (guint) channels : 1;

  for (gsize done = 0; done < n; done += chunk) {
    gsize size;
    guint8 *data = encode (x + done * channels, chunk * channels, format,
        &size);
    GstBuffer *out = push_bytes (h, data, size, t0 +
        gst_util_uint64_scale_int (done, GST_SECOND, rate));

    check_meta (out, nc);
    gst_buffer_unref (out);
    g_free (data);
    collect (bus, frames);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  collect (bus, frames);
  free_harness (h, bus);
  g_free (caps);
  return frames;
}

/* 1 s of noise, 0.5 s of hostile samples, 1.5 s of noise (B): every
 * message and meta is finite, all 300 frames per channel come, and from
 * 1 s after the burst on, the posteriors are within 1e-3 of those of a
 * fresh element fed only B (the burst is forgotten). */
static void
check_hostile (const gchar * format, gint rate, gint channels, gint mode)
{
  const gsize na = (gsize) rate, nh = (gsize) rate / 2,
      nb = 3 * (gsize) rate / 2, n = na + nh + nb;
  const GstClockTime tb = 3 * GST_SECOND / 2;
  const gboolean f64 = g_str_has_prefix (format, "F64");
  guint nc = mode ? (guint) channels : 1;
  gdouble *x = g_new (gdouble, n * channels);
  GRand *r = g_rand_new_with_seed (17);
  GArray *frames, *fresh;
  gdouble worst = 0.0;
  guint compared = 0;

  for (gsize i = 0; i < n; i++)
    for (gint c = 0; c < channels; c++)
      x[i * channels + c] = i >= na && i < na + nh ?
          hostile_sample (i - na, c, rate, f64) : normal_sample (r, i, c);
  g_rand_free (r);

  frames = run_hostile (format, rate, channels, mode, x, n, 0);
  fresh = run_hostile (format, rate, channels, mode, x + (na + nh) * channels,
      nb, tb);

  for (guint c = 0; c < nc; c++) {
    gint ch = mode ? (gint) c : -1;
    fail_unless_equals_int (count_channel (frames, ch), 300);
    fail_unless_equals_int (count_channel (fresh, ch), 150);
  }
  for (guint i = 0; i < frames->len; i++) {
    const Frame *f = &g_array_index (frames, Frame, i);
    const Frame *g;
    guint64 j;

    if (f->ts < tb + GST_SECOND)
      continue;
    j = (f->ts - tb) / HOP_NS;
    g = &g_array_index (fresh, Frame, j * nc + (mode ? f->channel : 0));
    fail_unless_equals_uint64 (g->ts, f->ts);
    fail_unless_equals_int (g->channel, f->channel);
    for (guint k = 0; k < f->n_classes; k++)
      worst = MAX (worst, fabs (f->probs[k] - g->probs[k]));
    compared++;
  }
  GST_INFO ("%s %d Hz x %d (mode %d): worst posterior difference 1 s after "
      "the burst %.3g over %u frames", format, rate, channels, mode, worst,
      compared);
  fail_unless_equals_int (compared, 50 * nc);
  fail_unless (worst <= 1e-3, "%s %d Hz x %d: the burst is not forgotten: "
      "%g", format, rate, channels, worst);

  g_array_unref (frames);
  g_array_unref (fresh);
  g_free (x);
}

GST_START_TEST (test_hostile_samples_f32)
{
  check_hostile ("F32LE", MODEL_RATE, 1, 0);    /* no conversion */
  check_hostile ("F32LE", 48000, 2, 0); /* resampled mix */
  check_hostile ("F32LE", 44100, 2, 1); /* resampled, each channel */
}

GST_END_TEST

GST_START_TEST (test_hostile_samples_f64)
{
  check_hostile ("F64LE", MODEL_RATE, 1, 0);
  check_hostile ("F64LE", 44100, 2, 0);
  check_hostile ("F64LE", 32000, 6, 1);
}

GST_END_TEST

/* The GstAudioLevelMeta of a buffer of `n` F32 samples x `channels`, all
 * channels alike (a fresh rnn element: its model has a "speech" class). */
static guint
level_of (const gfloat * x, gsize n, gint rate, gint channels)
{
  gchar *caps = caps_string ("F32LE", rate, channels);
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, caps, &bus, NULL);
  gfloat *y = g_new (gfloat, n * channels);
  GstAudioLevelMeta *lm;
  GstBuffer *out;
  guint level;

  for (gsize i = 0; i < n; i++)
    for (gint c = 0; c < channels; c++)
      y[i * channels + c] = x[i];
  out = push_bytes (h, y, n * channels * sizeof (gfloat), 0);
  lm = gst_buffer_get_audio_level_meta (out);
  fail_unless (lm != NULL, "no level meta");
  level = lm->level;
  gst_buffer_unref (out);
  collect (bus, NULL);
  free_harness (h, bus);
  g_free (y);
  g_free (caps);
  return level;
}

/* The level meta reads hostile samples as the front end does: NaN and Inf
 * as 0, the rest clamped to +-1000 (it used to say 127 -dBov, silence, for
 * any buffer with a NaN, and 0, full scale, for any with an Inf).  100 ms
 * at 16 kHz mono F32 (the level of the samples as they come): half NaN or
 * half +-Inf, half a full-scale square, read -3 dBov (3); a 0.5 square
 * with every tenth sample NaN reads 20 log10 (0.5 sqrt (0.9)) = -6.5 dBov
 * (6); all NaN or all Inf read as silence (127), like zeros; +-1e30 reads
 * full scale (0).  Resampled from 48 kHz stereo, half NaN and half square
 * reads -3 dBov +- 1 (the resampler smears the NaN over a few samples). */
GST_START_TEST (test_hostile_level_meta)
{
  const gsize n = 1600;
  gfloat *x = g_new (gfloat, n);
  gfloat *x48 = g_new (gfloat, 3 * n);
  guint level;

#define SQUARE(i, a) ((((i) / 80) & 1) ? (a) : -(a))
  for (gsize i = 0; i < n; i++)
    x[i] = i < n / 2 ? NAN : SQUARE (i, 1.0f);
  fail_unless_equals_int (level_of (x, n, MODEL_RATE, 1), 3);
  for (gsize i = 0; i < n; i++)
    x[i] = i < n / 2 ? (i & 1 ? INFINITY : -INFINITY) : SQUARE (i, 1.0f);
  fail_unless_equals_int (level_of (x, n, MODEL_RATE, 1), 3);
  for (gsize i = 0; i < n; i++)
    x[i] = i % 10 == 3 ? NAN : SQUARE (i, 0.5f);
  fail_unless_equals_int (level_of (x, n, MODEL_RATE, 1), 6);
  for (gsize i = 0; i < n; i++)
    x[i] = NAN;
  fail_unless_equals_int (level_of (x, n, MODEL_RATE, 1), 127);
  for (gsize i = 0; i < n; i++)
    x[i] = i & 1 ? INFINITY : -INFINITY;
  fail_unless_equals_int (level_of (x, n, MODEL_RATE, 1), 127);
  for (gsize i = 0; i < n; i++)
    x[i] = 0.0f;
  fail_unless_equals_int (level_of (x, n, MODEL_RATE, 1), 127);
  for (gsize i = 0; i < n; i++)
    x[i] = i & 1 ? 1e30f : -1e30f;
  fail_unless_equals_int (level_of (x, n, MODEL_RATE, 1), 0);

  for (gsize i = 0; i < 3 * n; i++)
    x48[i] = i < 3 * n / 2 ? NAN : SQUARE (i, 1.0f);
  level = level_of (x48, 3 * n, 48000, 2);
  fail_unless (level >= 2 && level <= 4, "48 kHz: level %u", level);
#undef SQUARE
  g_free (x);
  g_free (x48);
}

GST_END_TEST

/* ---- 2. empty and untimed buffers -------------------------------------- */

/* Buffers of n samples, timestamped or not. */
static const struct
{
  guint n;
  gboolean timed;
} untimed_pattern[] = {
  {800, TRUE}, {0, TRUE}, {800, FALSE}, {0, FALSE}, {333, FALSE}, {1, TRUE},
  {0, TRUE}, {1, FALSE}, {159, FALSE}, {160, TRUE}, {0, FALSE}, {4000, FALSE},
  {0, TRUE}, {2047, TRUE}, {2, FALSE}, {0, TRUE}, {1600, FALSE}, {512, TRUE},
  {0, FALSE}, {0, FALSE}, {777, FALSE}
};

/* Pushes the pattern (F32 at 16 kHz) after a segment starting at t0; the
 * first buffer is timestamped unless `untimed_first`.  Every buffer comes
 * out as it went in; the frames are exactly those of the samples pushed,
 * at t0 + 10 ms x index. */
static void
check_untimed (GstClockTime t0, gboolean untimed_first)
{
  GstBus *bus;
  GstHarness *h = new_harness (tone_path, NULL, &bus, NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  GRand *r = g_rand_new_with_seed (3);
  gfloat *x = g_new (gfloat, 4000);
  GstSegment segment;
  guint64 total = 0, meta_frames = 0, expected;

  gst_harness_set_src_caps_str (h, "audio/x-raw,format=F32LE,rate=16000,"
      "channels=1,layout=interleaved");
  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.start = segment.position = segment.time = t0;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));

  for (guint b = 0; b < G_N_ELEMENTS (untimed_pattern); b++) {
    gsize n = untimed_pattern[b].n;
    gboolean timed = untimed_pattern[b].timed && !(b == 0 && untimed_first);
    GstBuffer *out;

    for (gsize i = 0; i < n; i++)
      x[i] = (gfloat) (0.5 * sin (2.0 * G_PI * TEST_TONE_HZ * (total + i) /
              MODEL_RATE) * g_rand_double (r));
    out = push_bytes (h, x, n * sizeof (gfloat), timed ? t0 +
        gst_util_uint64_scale_int (total, GST_SECOND, MODEL_RATE) :
        GST_CLOCK_TIME_NONE);
    meta_frames += check_meta (out, 1);
    gst_buffer_unref (out);
    total += n;
    collect (bus, frames);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  collect (bus, frames);

  expected = (total + 159) / 160;
  fail_unless_equals_int (frames->len, expected);
  for (guint i = 0; i < frames->len; i++)
    fail_unless_equals_uint64 (g_array_index (frames, Frame, i).ts,
        t0 + i * HOP_NS);
  /* the meta holds all but the frames completed by the EOS flush (the tone
   * model's window is its hop: at most one) */
  fail_unless (meta_frames + 1 >= expected && meta_frames <= expected,
      "%" G_GUINT64_FORMAT " meta frames of %" G_GUINT64_FORMAT, meta_frames,
      expected);

  free_harness (h, bus);
  g_array_unref (frames);
  g_rand_free (r);
  g_free (x);
}

/* A model change ends the frames so far; an untimed buffer after it
 * continues the audio: 1000 samples timed at t0 with the tone model, then
 * 800 untimed with the rnn model start at t0 + 62.5 ms. */
static void
check_untimed_after_model_change (GstClockTime t0)
{
  GstBus *bus;
  GstHarness *h = new_harness (tone_path, "audio/x-raw,format=F32LE,"
      "rate=16000,channels=1,layout=interleaved", &bus, NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  gfloat *x = g_new0 (gfloat, 1000);
  GstClockTime t1 = t0 + 62500 * GST_USECOND;
  guint n_tone = 0;

  gst_buffer_unref (push_bytes (h, x, 1000 * sizeof (gfloat), t0));
  g_object_set (h->element, "model", rnn_path, NULL);
  gst_buffer_unref (push_bytes (h, x, 800 * sizeof (gfloat),
          GST_CLOCK_TIME_NONE));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  collect (bus, frames);

  for (guint i = 0; i < frames->len; i++) {
    const Frame *f = &g_array_index (frames, Frame, i);
    if (f->n_classes == 2) {
      fail_unless_equals_uint64 (f->ts, t0 + n_tone * HOP_NS);
      n_tone++;
    } else {
      fail_unless_equals_uint64 (f->ts, t1 + (i - n_tone) * HOP_NS);
    }
  }
  fail_unless_equals_int (n_tone, 7);   /* ceil (1000 / 160) */
  fail_unless_equals_int (frames->len - n_tone, 5);
  free_harness (h, bus);
  g_array_unref (frames);
  g_free (x);
}

GST_START_TEST (test_empty_and_untimed_buffers)
{
  check_untimed (0, FALSE);
  check_untimed (0, TRUE);
  check_untimed (5 * GST_SECOND, FALSE);
  check_untimed (5 * GST_SECOND, TRUE);
  check_untimed_after_model_change (0);
  check_untimed_after_model_change (3 * GST_SECOND);
}

GST_END_TEST

/* ---- 3. caps renegotiation --------------------------------------------- */

/* 0.3 s of each, in this order: rate changes, then channel changes (and the
 * format alternating). */
static const struct
{
  const gchar *format;
  gint rate, channels;
} reneg[] = {
  {"F32LE", 16000, 1}, {"S16LE", 44100, 1}, {"F32LE", 8000, 1},
  {"S16LE", 16000, 2}, {"F32LE", 16000, 6}, {"S16LE", 48000, 2},
  {"F32LE", 16000, 1}
};

/* Pushes 0.3 s of each caps of reneg[] (100 ms buffers, timed from 0;
 * with `untimed_first`, the first buffer after each change has no
 * timestamp and must continue the audio before it). */
static void
check_renegotiation (gint mode, gboolean untimed_first)
{
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, NULL, &bus, "channel-mode", mode,
      NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  GRand *r = g_rand_new_with_seed (9);
  const GstClockTime seg_len = 300 * GST_MSECOND;

  for (guint s = 0; s < G_N_ELEMENTS (reneg); s++) {
    gchar *caps = caps_string (reneg[s].format, reneg[s].rate,
        reneg[s].channels);
    const gsize chunk = (gsize) reneg[s].rate / 10;    /* 100 ms buffers */
    guint nc = mode ? (guint) reneg[s].channels : 1;
    gdouble *x = g_new (gdouble, chunk * reneg[s].channels);

    gst_harness_set_src_caps_str (h, caps);
    for (guint b = 0; b < 3; b++) {
      gsize size;
      guint8 *data;
      GstBuffer *out;

      for (gsize i = 0; i < chunk; i++)
        for (gint c = 0; c < reneg[s].channels; c++)
          x[i * reneg[s].channels + c] = normal_sample (r, b * chunk + i, c);
      data = encode (x, chunk * reneg[s].channels, reneg[s].format, &size);
      out = push_bytes (h, data, size, untimed_first && s > 0 && b == 0 ?
          GST_CLOCK_TIME_NONE : s * seg_len + b * 100 * GST_MSECOND);
      check_meta (out, nc);
      gst_buffer_unref (out);
      g_free (data);
      collect (bus, frames);
    }
    g_free (x);
    g_free (caps);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  collect (bus, frames);

  /* in order: time never goes back, and each channel's frames follow each
   * other without a hole or a repeat across all the caps changes */
  for (guint i = 1; i < frames->len; i++) {
    const Frame *f = &g_array_index (frames, Frame, i);
    fail_unless (f->ts >= g_array_index (frames, Frame, i - 1).ts,
        "frame %u goes back in time", i);
    for (guint j = i; j-- > 0;) {
      const Frame *g = &g_array_index (frames, Frame, j);
      if (g->channel == f->channel) {
        fail_unless_equals_uint64 (f->ts, g->ts + HOP_NS);
        break;
      }
    }
  }
  /* every caps gave its 30 frames per classified channel (the drain at the
   * next caps cuts the resampler's tail to the input's length): those
   * stamped in [s x 0.3 s, (s + 1) x 0.3 s) */
  for (guint s = 0; s < G_N_ELEMENTS (reneg); s++) {
    guint nc = mode ? (guint) reneg[s].channels : 1;
    GstClockTime t0 = s * seg_len;
    guint n[64] = { 0 };

    for (guint i = 0; i < frames->len; i++) {
      const Frame *f = &g_array_index (frames, Frame, i);
      if (f->ts >= t0 && f->ts < t0 + seg_len) {
        fail_unless (mode ? f->channel >= 0 && f->channel < (gint) nc :
            f->channel == -1, "caps %u: channel %d", s, f->channel);
        n[mode ? f->channel : 0]++;
      }
    }
    for (guint c = 0; c < nc; c++)
      fail_unless (n[c] == 30, "caps %u (%s %d Hz x %d), channel %u: %u "
          "frames", s, reneg[s].format, reneg[s].rate, reneg[s].channels, c,
          n[c]);
  }

  free_harness (h, bus);
  g_array_unref (frames);
  g_rand_free (r);
}

GST_START_TEST (test_renegotiation_mix)
{
  check_renegotiation (0, FALSE);
  check_renegotiation (0, TRUE);
}

GST_END_TEST

GST_START_TEST (test_renegotiation_each)
{
  check_renegotiation (1, FALSE);
  check_renegotiation (1, TRUE);
}

GST_END_TEST

/* ---- 4. rates and channel counts --------------------------------------- */

/* 0.2 s in five 40 ms buffers (a whole number of samples at every rate):
 * bit-identical output, frames in the metas, and exactly 20 frames per
 * classified channel in the messages after EOS. */
static void
check_format (const gchar * format, gint rate, gint channels, gint mode,
    GRand * r)
{
  gchar *caps = caps_string (format, rate, channels);
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, caps, &bus, "channel-mode", mode,
      NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  const gsize chunk = (gsize) rate / 25;
  gdouble *x = g_new (gdouble, chunk * channels);
  guint nc = mode ? (guint) channels : 1, meta_frames = 0;

  for (guint b = 0; b < 5; b++) {
    gsize size;
    guint8 *data;
    GstBuffer *out;

    for (gsize i = 0; i < chunk * channels; i++)
      x[i] = g_rand_double_range (r, -1.0, 1.0);
    data = encode (x, chunk * channels, format, &size);
    out = push_bytes (h, data, size, b * 40 * GST_MSECOND);
    meta_frames += check_meta (out, nc);
    gst_buffer_unref (out);
    g_free (data);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  collect (bus, frames);
  fail_unless (meta_frames >= 15, "%s: %u frames in metas", caps,
      meta_frames);
  for (guint c = 0; c < nc; c++) {
    guint got = count_channel (frames, mode ? (gint) c : -1);
    fail_unless (got == 20, "%s: channel %u: %u frames", caps,
        c, got);
  }
  free_harness (h, bus);
  g_array_unref (frames);
  g_free (x);
  g_free (caps);
}

static const gint all_rates[] = { 8000, 11025, 22050, 32000, 44100, 48000,
  96000, 192000
};

static const gint all_channels[] = { 1, 2, 6, 8, 32 };

GST_START_TEST (test_rates_and_channels)
{
  static const gchar *formats[] = { "S16LE", "F32LE" };
  GRand *r = g_rand_new_with_seed (4);

  for (guint fi = 0; fi < G_N_ELEMENTS (formats); fi++)
    for (guint ri = 0; ri < G_N_ELEMENTS (all_rates); ri++)
      for (guint ci = 0; ci < G_N_ELEMENTS (all_channels); ci++)
        check_format (formats[fi], all_rates[ri], all_channels[ci], 0, r);
  g_rand_free (r);
}

GST_END_TEST

/* the same with one state per channel (up to 32 recurrent streams) */
GST_START_TEST (test_rates_and_channels_each)
{
  GRand *r = g_rand_new_with_seed (5);

  for (guint ri = 0; ri < G_N_ELEMENTS (all_rates); ri++)
    for (guint ci = 1; ci < G_N_ELEMENTS (all_channels); ci++)
      check_format (ri % 2 ? "S16LE" : "F32LE", all_rates[ri],
          all_channels[ci], 1, r);
  g_rand_free (r);
}

GST_END_TEST

/* GstAudioConverter's channel mixer takes at most 63 input channels: 63
 * work in both modes, 64 and more are refused at negotiation (they used to
 * be accepted, and crashed the element in gst_audio_converter_new). */
GST_START_TEST (test_channel_limit)
{
  static const gint too_many[] = { 64, 65, 256 };
  GRand *r = g_rand_new_with_seed (10);

  check_format ("S16LE", 16000, 63, 0, r);
  check_format ("F32LE", 48000, 63, 1, r);
  for (guint i = 0; i < G_N_ELEMENTS (too_many); i++) {
    for (gint mode = 0; mode <= 1; mode++) {
      gchar *str = caps_string ("S16LE", 16000, too_many[i]);
      GstCaps *caps = gst_caps_from_string (str);
      GstBus *bus;
      GstHarness *h = new_harness (rnn_path, NULL, &bus, "channel-mode",
          mode, NULL);
      GstPad *sink = gst_element_get_static_pad (h->element, "sink");
      GstBuffer *buf = gst_buffer_new_allocate (NULL, 2 * too_many[i] * 160,
          NULL);
      GstSegment segment;

      fail_if (gst_pad_query_accept_caps (sink, caps), "%s accepted", str);
      /* sticky events: refused when the data behind them is pushed */
      fail_unless (gst_harness_push_event (h,
              gst_event_new_stream_start ("many")));
      gst_harness_push_event (h, gst_event_new_caps (caps));
      gst_segment_init (&segment, GST_FORMAT_TIME);
      gst_harness_push_event (h, gst_event_new_segment (&segment));
      gst_buffer_memset (buf, 0, 0, gst_buffer_get_size (buf));
      fail_unless_equals_int (gst_harness_push (h, buf),
          GST_FLOW_NOT_NEGOTIATED);
      gst_object_unref (sink);
      gst_caps_unref (caps);
      free_harness (h, bus);
      g_free (str);
    }
  }
  g_rand_free (r);
}

GST_END_TEST

/* ---- 4a. very low, odd and very high rates ----------------------------- */

/* n samples x channels of S16 at `rate` through a fresh rnn element, in
 * timed buffers of `chunk` samples (the last one shorter), then EOS: each
 * classified channel gets exactly ceil (m / hop) frames, m = ceil (n x
 * 16000 / rate) model-rate samples, at exactly t0 + 10 ms x index. */
static void
check_rate_frames (gint rate, gint channels, gint mode, guint64 n,
    guint64 chunk)
{
  gchar *caps = caps_string ("S16LE", rate, channels);
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, caps, &bus, "channel-mode", mode,
      NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  GRand *r = g_rand_new_with_seed (rate);
  gint16 *x = g_new (gint16, chunk * channels);
  const GstClockTime t0 = 7 * GST_SECOND;
  guint64 m = ((guint64) n * MODEL_RATE + rate - 1) / rate;
  guint64 want = (m + 159) / 160;
  guint nc = mode ? (guint) channels : 1;

  for (guint64 done = 0; done < n; done += chunk) {
    gsize len = (gsize) MIN (chunk, n - done);
    for (gsize i = 0; i < len * channels; i++)
      x[i] = (gint16) g_rand_int_range (r, -9000, 9000);
    gst_buffer_unref (push_bytes (h, x, len * channels * sizeof (gint16),
            t0 + gst_util_uint64_scale_int (done, GST_SECOND, rate)));
    collect (bus, frames);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  collect (bus, frames);

  for (guint c = 0; c < nc; c++) {
    gint ch = mode ? (gint) c : -1;
    guint64 j = 0;

    for (guint i = 0; i < frames->len; i++) {
      const Frame *f = &g_array_index (frames, Frame, i);
      if (f->channel != ch)
        continue;
      fail_unless (f->ts == t0 + j * HOP_NS, "%d Hz: frame %" G_GUINT64_FORMAT
          " at %" GST_TIME_FORMAT, rate, j, GST_TIME_ARGS (f->ts));
      j++;
    }
    fail_unless (j == want, "%d Hz x %d, %" G_GUINT64_FORMAT " samples: %"
        G_GUINT64_FORMAT " frames on channel %d, expected %" G_GUINT64_FORMAT,
        rate, channels, n, j, ch, want);
  }
  free_harness (h, bus);
  g_array_unref (frames);
  g_rand_free (r);
  g_free (x);
  g_free (caps);
}

/* Rates from 1 Hz to 1 MHz give exactly the frames of their audio's length
 * at the model's rate, at exact times.  Below 16 kHz the element upsamples,
 * and the drain at EOS used to stop one input sample short of the end: a
 * second of audio (100 frames) missing at 1 Hz, 6 frames at 16 Hz. */
GST_START_TEST (test_low_and_odd_rates)
{
  static const gint low[] = { 1, 2, 3, 5, 7, 11, 16 };
  static const gint odd[] = { 100, 8000, 11025, 22050, 44100, 96000,
    192000, 1000000
  };

  for (guint i = 0; i < G_N_ELEMENTS (low); i++) {
    check_rate_frames (low[i], 1, 0, 5, 1);     /* one sample per buffer */
    check_rate_frames (low[i], 1, 0, 3 * low[i] + 1, 2);
  }
  check_rate_frames (1, 2, 1, 4, 3);
  for (guint i = 0; i < G_N_ELEMENTS (odd); i++) {
    /* 0.55 s and 7 samples, in buffers of an odd size */
    check_rate_frames (odd[i], 1, 0, odd[i] * 11 / 20 + 7, odd[i] / 7 + 1);
    check_rate_frames (odd[i], 2, 1, odd[i] / 4 + 3, odd[i] / 13 + 1);
  }
}

GST_END_TEST

/* Rates above 1 MHz are refused at negotiation (GStreamer 1.22's resampler
 * needs memory that grows with the rate, and aborts the process on a
 * failed allocation of 800 GB at 2^31 - 1 Hz); 1 MHz itself works (above). */
GST_START_TEST (test_rate_limit)
{
  static const gint too_high[] = { 1000001, 500000000, G_MAXINT };

  for (guint i = 0; i < G_N_ELEMENTS (too_high); i++) {
    gchar *str = caps_string ("S16LE", too_high[i], 1);
    GstCaps *caps = gst_caps_from_string (str);
    GstBus *bus;
    GstHarness *h = new_harness (rnn_path, NULL, &bus, NULL);
    GstPad *sink = gst_element_get_static_pad (h->element, "sink");
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 2 * 4096, NULL);
    GstSegment segment;

    fail_if (gst_pad_query_accept_caps (sink, caps), "%s accepted", str);
    fail_unless (gst_harness_push_event (h,
            gst_event_new_stream_start ("fast")));
    gst_harness_push_event (h, gst_event_new_caps (caps));
    gst_segment_init (&segment, GST_FORMAT_TIME);
    gst_harness_push_event (h, gst_event_new_segment (&segment));
    gst_buffer_memset (buf, 0, 0, gst_buffer_get_size (buf));
    fail_unless_equals_int (gst_harness_push (h, buf),
        GST_FLOW_NOT_NEGOTIATED);
    gst_object_unref (sink);
    gst_caps_unref (caps);
    free_harness (h, bus);
    g_free (str);
  }
}

GST_END_TEST

/* ---- 4b. planar buffers and their GstAudioMeta ------------------------- */

/* Counts the criticals and warnings logged while it is installed. */
static const gchar *const log_domains[] = { "GStreamer-Audio",
  "GStreamer-Base", "GStreamer", "GLib-GObject", "GLib"
};

static guint log_handlers[G_N_ELEMENTS (log_domains)];
static guint logged;
static GLogLevelFlags saved_fatal_mask;

static void
count_log (const gchar * domain, GLogLevelFlags level, const gchar * message,
    gpointer user_data)
{
  g_printerr ("logged (%s): %s\n", domain, message);
  logged++;
}

static void
count_logs_start (void)
{
  logged = 0;
  /* a critical fails through the count, with its message, not an abort */
  saved_fatal_mask = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  for (guint i = 0; i < G_N_ELEMENTS (log_domains); i++)
    log_handlers[i] = g_log_set_handler (log_domains[i],
        G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_FLAG_FATAL,
        count_log, NULL);
}

static guint
count_logs_stop (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (log_domains); i++)
    g_log_remove_handler (log_domains[i], log_handlers[i]);
  g_log_set_always_fatal (saved_fatal_mask);
  return logged;
}

/* Pushes 10 ms of planar F32 stereo at 16 kHz: with a GstAudioMeta as
 * `meta_info` says (NULL: none), changed afterwards (as a careless
 * upstream element might) to claim `meta_samples` samples and to put the
 * second plane at byte `offset1`.  Returns the flow; *error gets the
 * element's error message, if any (free it). */
static GstFlowReturn
push_planar (const GstAudioInfo * meta_info, gsize meta_samples,
    gsize offset1, gchar ** error)
{
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, "audio/x-raw,format=F32LE,"
      "rate=16000,channels=2,layout=non-interleaved,"
      "channel-mask=(bitmask)0x3", &bus, NULL);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 2 * 160 * sizeof (gfloat),
      NULL);
  GstFlowReturn ret;
  GstMessage *msg;

  gst_buffer_memset (buf, 0, 0, gst_buffer_get_size (buf));
  if (meta_info) {
    GstAudioMeta *meta = gst_buffer_add_audio_meta (buf, meta_info, 160,
        NULL);
    meta->samples = meta_samples;
    meta->offsets[1] = offset1;
  }
  GST_BUFFER_PTS (buf) = 0;
  *error = NULL;
  ret = gst_harness_push (h, buf);
  while ((msg = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && *error == NULL) {
      GError *err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      *error = g_strdup (err->message);
      g_error_free (err);
    }
    gst_message_unref (msg);
  }
  free_harness (h, bus);
  return ret;
}

/* A planar (non-interleaved) buffer needs a GstAudioMeta that matches the
 * caps and fits the buffer: without one, gst_audio_buffer_map() logged a
 * critical before the element's error.  Now such a buffer is refused with
 * an element error (GST_FLOW_ERROR) that says why, and nothing is logged;
 * a matching meta works. */
GST_START_TEST (test_planar_without_meta)
{
  GstAudioInfo info, other;
  GstAudioChannelPosition pos[2] = { GST_AUDIO_CHANNEL_POSITION_FRONT_LEFT,
    GST_AUDIO_CHANNEL_POSITION_FRONT_RIGHT
  };
  gchar *error;

  gst_audio_info_set_format (&info, GST_AUDIO_FORMAT_F32LE, 16000, 2, pos);
  info.layout = GST_AUDIO_LAYOUT_NON_INTERLEAVED;
  other = info;
  other.rate = 8000;

  count_logs_start ();
  fail_unless_equals_int (push_planar (&info, 160, 640, &error),
      GST_FLOW_OK);
  fail_unless (error == NULL, "%s", error);

  fail_unless_equals_int (push_planar (NULL, 0, 0, &error), GST_FLOW_ERROR);
  fail_unless (error && strstr (error, "GstAudioMeta"), "error: %s", error);
  g_free (error);
  /* a meta that does not match the caps, or claims more samples than the
   * buffer holds */
  fail_unless_equals_int (push_planar (&other, 160, 640, &error),
      GST_FLOW_ERROR);
  fail_unless (error && strstr (error, "GstAudioMeta"), "error: %s", error);
  g_free (error);
  fail_unless_equals_int (push_planar (&info, 161, 640, &error),
      GST_FLOW_ERROR);
  fail_unless (error && strstr (error, "GstAudioMeta"), "error: %s", error);
  g_free (error);
  /* a plane outside the buffer: gst_audio_buffer_map() fails quietly */
  fail_unless_equals_int (push_planar (&info, 160, 100000, &error),
      GST_FLOW_ERROR);
  fail_unless (error != NULL);
  g_free (error);
  fail_unless_equals_int (count_logs_stop (), 0);
}

GST_END_TEST

/* ---- 5. EOS and GAP without data --------------------------------------- */

/* Whether EOS came out of the element. */
static gboolean
got_eos (GstHarness * h)
{
  GstEvent *ev;
  gboolean eos = FALSE;

  while ((ev = gst_harness_try_pull_event (h))) {
    eos |= GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  return eos;
}

GST_START_TEST (test_eos_without_data)
{
  GstBus *bus;
  GstHarness *h;
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));

  /* caps, then EOS: nothing to say, no error, EOS passes */
  h = new_harness (rnn_path, "audio/x-raw,format=S16LE,rate=44100,"
      "channels=2,layout=interleaved", &bus, NULL);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (collect (bus, frames), 0);
  fail_unless (got_eos (h));
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  free_harness (h, bus);

  /* not even caps: the element was never configured */
  h = new_harness (rnn_path, NULL, &bus, NULL);
  fail_unless (gst_harness_push_event (h,
          gst_event_new_stream_start ("empty")));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (collect (bus, frames), 0);
  fail_unless (got_eos (h));
  free_harness (h, bus);

  /* caps, EOS, then a new stream with caps and EOS again */
  h = new_harness (tone_path, "audio/x-raw,format=F32LE,rate=16000,"
      "channels=1,layout=interleaved", &bus, NULL);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless (got_eos (h));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  fail_unless (gst_harness_push_event (h,
          gst_event_new_stream_start ("again")));
  gst_harness_set_src_caps_str (h, "audio/x-raw,format=S16LE,rate=8000,"
      "channels=1,layout=interleaved");
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (collect (bus, frames), 0);
  fail_unless (got_eos (h));
  free_harness (h, bus);

  g_array_unref (frames);
}

GST_END_TEST

/* A stream of a GAP event only: its second is classified as the silence it
 * stands for (100 frames of the tone model's "silence", in time), at the
 * model's rate and through the resampler; GAPs without a duration, of
 * zero duration or before caps are no data at all. */
static void
check_gap_only (const gchar * caps, GstClockTime t0, guint n_channels,
    gint mode)
{
  GstBus *bus;
  GstHarness *h = new_harness (tone_path, NULL, &bus, "channel-mode", mode,
      NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  guint nc = mode ? n_channels : 1;

  /* before caps: ignored */
  fail_unless (gst_harness_push_event (h, gst_event_new_stream_start ("g")));
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (0,
              GST_SECOND)));
  gst_harness_set_src_caps_str (h, caps);
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (t0,
              GST_CLOCK_TIME_NONE)));
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (t0, 0)));
  fail_unless_equals_int (collect (bus, frames), 0);

  fail_unless (gst_harness_push_event (h, gst_event_new_gap (t0,
              GST_SECOND)));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  collect (bus, frames);
  fail_unless (got_eos (h));
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);

  for (guint c = 0; c < nc; c++) {
    gint ch = mode ? (gint) c : -1;
    guint j = 0;

    fail_unless_equals_int (count_channel (frames, ch), 100);
    for (guint i = 0; i < frames->len; i++) {
      const Frame *f = &g_array_index (frames, Frame, i);
      if (f->channel != ch)
        continue;
      fail_unless_equals_uint64 (f->ts, t0 + j * HOP_NS);
      fail_unless_equals_int (f->cls, 0);
      j++;
    }
  }
  free_harness (h, bus);
  g_array_unref (frames);
}

GST_START_TEST (test_gap_only_stream)
{
  check_gap_only ("audio/x-raw,format=F32LE,rate=16000,channels=1,"
      "layout=interleaved", 0, 1, 0);
  check_gap_only ("audio/x-raw,format=S16LE,rate=44100,channels=2,"
      "layout=interleaved,channel-mask=(bitmask)0x3", 2 * GST_SECOND, 2, 0);
  check_gap_only ("audio/x-raw,format=S16LE,rate=48000,channels=6,"
      "layout=non-interleaved,channel-mask=(bitmask)0x3f", 0, 6, 1);
}

GST_END_TEST

/* ---- 6. state cycles --------------------------------------------------- */

typedef struct
{
  GMutex lock;
  GstObject *element;           /* the earshot element */
  guint our_errors;             /* errors it posted */
  guint other_errors;           /* errors the other elements posted */
  gchar *first_error;           /* the first error, with its source */
  guint eos;
  GPtrArray *frames;            /* copies of the `earshot` messages */
} BusCounts;

/* Counts what the pipeline posts, as it is posted (a pipeline drops its
 * queued messages when it goes to NULL). */
static GstBusSyncReply
count_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  BusCounts *bc = data;

  g_mutex_lock (&bc->lock);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *debug = NULL;

      gst_message_parse_error (msg, &err, &debug);
      GST_INFO ("error from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          err->message, debug);
      if (bc->first_error == NULL)
        bc->first_error = g_strdup_printf ("%s: %s (%s)",
            GST_MESSAGE_SRC_NAME (msg), err->message, debug);
      if (GST_MESSAGE_SRC (msg) == bc->element)
        bc->our_errors++;
      else
        bc->other_errors++;
      g_error_free (err);
      g_free (debug);
      break;
    }
    case GST_MESSAGE_EOS:
      bc->eos++;
      break;
    case GST_MESSAGE_ELEMENT:
      if (gst_structure_has_name (gst_message_get_structure (msg), "earshot"))
        g_ptr_array_add (bc->frames,
            gst_structure_copy (gst_message_get_structure (msg)));
      break;
    default:
      break;
  }
  g_mutex_unlock (&bc->lock);
  /* a sync handler that drops a message owns it */
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

/* Checks the frame messages counted so far (in this thread: a failure
 * must not happen in a streaming thread) and returns how many there were. */
static guint
take_frames (BusCounts * bc)
{
  guint n;

  g_mutex_lock (&bc->lock);
  n = bc->frames->len;
  for (guint i = 0; i < n; i++)
    check_frame_message (g_ptr_array_index (bc->frames, i));
  g_ptr_array_set_size (bc->frames, 0);
  g_mutex_unlock (&bc->lock);
  return n;
}

static guint
other_errors (BusCounts * bc)
{
  guint n;

  g_mutex_lock (&bc->lock);
  n = bc->other_errors;
  g_mutex_unlock (&bc->lock);
  return n;
}

/* appsrc ! earshot ! fakesink, 1000 times to PLAYING, given 100 ms of
 * audio and EOS, and back to NULL 0 to 225 us later (racing the streaming
 * thread);
 * every 50th time it plays to EOS and must have reported its 10 frames.
 * No state change fails, earshot posts no error (and no element does in
 * the cycles that play to EOS), every frame message is sound, no reference
 * is left behind (and, in the sanitizer build, no memory).
 *
 * Cycles cut short may see appsrc post "Internal data stream error"
 * (reason error): an event reaching a transform whose source pad is
 * already deactivated is refused.  That is GStreamer's own race, not
 * earshot's: it happens with identity, volume, level or audioconvert in
 * earshot's place too (and audiotestsrc has one of its own), so there only
 * earshot's errors count. */
GST_START_TEST (test_state_cycles)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch ("appsrc name=src format=time "
      "caps=audio/x-raw,format=S16LE,rate=16000,channels=1,"
      "layout=interleaved ! earshot name=e ! fakesink", &error);
  GstElement *e, *src;
  GstBuffer *audio = gst_buffer_new_allocate (NULL, 1600 * sizeof (gint16),
      NULL);
  GRand *r = g_rand_new_with_seed (8);
  GstMapInfo map;
  GstBus *bus;
  BusCounts bc = { 0 };
  Watchdog w;
  guint cut_frames = 0;

  fail_unless (pipeline != NULL, "%s", error ? error->message : "?");
  e = gst_bin_get_by_name (GST_BIN (pipeline), "e");
  g_object_set (e, "model", tone_path, NULL);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  fail_unless (gst_buffer_map (audio, &map, GST_MAP_WRITE));
  for (gsize i = 0; i < 1600; i++)
    ((gint16 *) map.data)[i] = (gint16) g_rand_int_range (r, -8000, 8000);
  gst_buffer_unmap (audio, &map);
  GST_BUFFER_PTS (audio) = 0;
  g_mutex_init (&bc.lock);
  bc.element = GST_OBJECT (e);
  bc.frames = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
  bus = gst_element_get_bus (pipeline);
  gst_bus_set_sync_handler (bus, count_message, &bc, NULL);

  watchdog_arm (&w, "1000 state cycles", 45);
  for (guint i = 0; i < 1000; i++) {
    gboolean to_eos = i % 50 == 49;
    GstFlowReturn ret = GST_FLOW_ERROR;
    guint others = 0;

    if (to_eos) {
      cut_frames += take_frames (&bc);
      others = other_errors (&bc);
      g_mutex_lock (&bc.lock);
      bc.eos = 0;
      g_mutex_unlock (&bc.lock);
    }
    fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
        GST_STATE_CHANGE_FAILURE, "cycle %u: PLAYING failed", i);
    g_signal_emit_by_name (src, "push-buffer", audio, &ret);
    fail_unless_equals_int (ret, GST_FLOW_OK);
    g_signal_emit_by_name (src, "end-of-stream", &ret);
    fail_unless_equals_int (ret, GST_FLOW_OK);
    if (to_eos) {
      gint64 end = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
      guint eos;

      do {
        fail_unless (g_get_monotonic_time () < end, "cycle %u: no EOS", i);
        g_usleep (1000);
        g_mutex_lock (&bc.lock);
        eos = bc.eos;
        g_mutex_unlock (&bc.lock);
      } while (eos == 0);
      fail_unless_equals_int (take_frames (&bc), 10);
      fail_unless_equals_int (other_errors (&bc), others);
    } else {
      /* stop at a different point of the start-up and the stream each time */
      g_usleep ((i % 10) * 25);
    }
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
  }
  watchdog_disarm (&w);
  cut_frames += take_frames (&bc);
  GST_INFO ("cycles cut short posted %u frames, other elements %u errors",
      cut_frames, bc.other_errors);
  fail_unless (bc.our_errors == 0, "earshot posted %u errors; the first "
      "error: %s", bc.our_errors, bc.first_error);

  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
  ASSERT_MINI_OBJECT_REFCOUNT (audio, "audio", 1);
  gst_buffer_unref (audio);
  g_rand_free (r);
  ASSERT_OBJECT_REFCOUNT (e, "earshot", 2);
  gst_object_unref (e);
  ASSERT_OBJECT_REFCOUNT (pipeline, "pipeline", 1);
  gst_object_unref (pipeline);
  g_ptr_array_unref (bc.frames);
  g_free (bc.first_error);
  g_mutex_clear (&bc.lock);
}

GST_END_TEST

/* ---- 7. model swapped from another thread ------------------------------ */

typedef struct
{
  GstElement *element;
  gint pushed;                  /* buffers the streaming side has pushed */
  gint done;                    /* the swaps are over */
} Swapper;

/* Sets `model` 1000 times: rnn, tone, look (the rnn with a lookahead),
 * tone, and again.  Half of the sets (four in every eight) wait until two
 * more buffers have gone through, so that many swaps land between buffers
 * as well as in bursts. */
static gpointer
swap_models (gpointer data)
{
  Swapper *sw = data;

  for (guint i = 0; i < 1000; i++) {
    gint pushed = g_atomic_int_get (&sw->pushed);

    const gchar *cycle[] = { rnn_path, tone_path, look_path, tone_path };

    g_object_set (sw->element, "model", cycle[i % 4], NULL);
    if (i % 8 < 4)
      while (g_atomic_int_get (&sw->pushed) < pushed + 2)
        g_usleep (20);
  }
  g_atomic_int_set (&sw->done, 1);
  return NULL;
}

/* 48 kHz stereo S16, one state per channel, 10 ms buffers pushed while
 * another thread sets `model` 1000 times, alternating the 3-class rnn (every
 * other time with a 20-frame lookahead, whose held-back frames each swap
 * drains) and the 2-class tone model: every message and meta names a class
 * its own model has, nothing fails, nothing hangs, and once the swaps are
 * done the last model set (tone) is the one used. */
GST_START_TEST (test_model_swapped_from_thread)
{
  const gint rate = 48000, chunk = rate / 100;
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, "audio/x-raw,format=S16LE,"
      "rate=48000,channels=2,layout=interleaved", &bus, "channel-mode", 1,
      NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  GRand *r = g_rand_new_with_seed (6);
  gint16 *x = g_new (gint16, 2 * chunk);
  Swapper sw = { h->element, 0, 0 };
  GThread *t;
  Watchdog w;
  guint64 sample = 0;
  guint n_buffers = 0, switches = 0, last_classes = 0;
  GstEarshotMeta *m;
  GstBuffer *out;

  for (gint i = 0; i < 2 * chunk; i++)
    x[i] = (gint16) g_rand_int_range (r, -8000, 8000);
  watchdog_arm (&w, "1000 model swaps while streaming", 45);
  t = g_thread_new ("swapper", swap_models, &sw);
  while (!g_atomic_int_get (&sw.done) || n_buffers < 100) {
    out = push_bytes (h, x, sizeof (gint16) * 2 * chunk,
        gst_util_uint64_scale_int (sample, GST_SECOND, rate));
    check_meta (out, 2);
    gst_buffer_unref (out);
    sample += chunk;
    n_buffers++;
    g_atomic_int_inc (&sw.pushed);
    collect (bus, frames);
  }
  g_thread_join (t);

  /* the swaps are over: the next buffers are the tone model's */
  for (guint i = 0; i < 3; i++, sample += chunk) {
    out = push_bytes (h, x, sizeof (gint16) * 2 * chunk,
        gst_util_uint64_scale_int (sample, GST_SECOND, rate));
    m = gst_buffer_get_earshot_meta (out);
    check_meta (out, 2);
    if (i > 0) {
      fail_unless (m != NULL);
      fail_unless_equals_int (m->n_classes, 2);
    }
    gst_buffer_unref (out);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  collect (bus, frames);
  watchdog_disarm (&w);

  for (guint i = 0; i < frames->len; i++) {
    guint nk = g_array_index (frames, Frame, i).n_classes;
    switches += last_classes && nk != last_classes;
    last_classes = nk;
  }
  GST_INFO ("%u buffers, %u frame messages, %u model switches seen",
      n_buffers, frames->len, switches);
  /* each waited-for set is seen by a buffer: about 500 switches */
  fail_unless (switches >= 250, "only %u model switches seen", switches);
  fail_unless_equals_int (last_classes, 2);

  free_harness (h, bus);
  g_array_unref (frames);
  g_rand_free (r);
  g_free (x);
}

GST_END_TEST

/* ---- suite ------------------------------------------------------------- */

/* The system plugins the pipeline test uses, loaded by file: the test
 * registry holds only the build tree's plugin. */
static void
load_system_plugins (void)
{
  static const gchar *names[] = { "coreelements", "app" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    gchar *file = g_strdup_printf ("%s/libgst%s.so", GST_SYSTEM_PLUGINS_DIR,
        names[i]);
    GError *error = NULL;
    GstPlugin *p = gst_plugin_load_file (file, &error);

    if (p == NULL)
      g_error ("cannot load %s: %s (gstreamer1.0-plugins-base is needed)",
          file, error->message);
    gst_object_unref (p);
    g_free (file);
  }
}

static Suite *
hostile_suite (void)
{
  Suite *s = suite_create ("earshot-hostile");
  TCase *tc = tcase_create ("hostile");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_hostile_samples_f32);
  tcase_add_test (tc, test_hostile_samples_f64);
  tcase_add_test (tc, test_hostile_level_meta);
  tcase_add_test (tc, test_empty_and_untimed_buffers);
  tcase_add_test (tc, test_renegotiation_mix);
  tcase_add_test (tc, test_renegotiation_each);
  tcase_add_test (tc, test_rates_and_channels);
  tcase_add_test (tc, test_rates_and_channels_each);
  tcase_add_test (tc, test_channel_limit);
  tcase_add_test (tc, test_low_and_odd_rates);
  tcase_add_test (tc, test_rate_limit);
  tcase_add_test (tc, test_planar_without_meta);
  tcase_add_test (tc, test_eos_without_data);
  tcase_add_test (tc, test_gap_only_stream);
  tcase_add_test (tc, test_state_cycles);
  tcase_add_test (tc, test_model_swapped_from_thread);
  return s;
}

int
main (int argc, char **argv)
{
  int ret;

  g_setenv ("EARSHOT_MODEL_PATH", "", TRUE);
  gst_check_init (&argc, &argv);
  load_system_plugins ();
  tmpdir = g_dir_make_tmp ("earshot-hostile-XXXXXX", NULL);
  g_assert (tmpdir);
  rnn_path = g_build_filename (tmpdir, "rnn.earshot", NULL);
  look_path = g_build_filename (tmpdir, "look.earshot", NULL);
  tone_path = g_build_filename (tmpdir, "tone.earshot", NULL);
  g_assert (test_model_write_rnn (rnn_path, 1) == 0);
  g_assert (test_model_write_rnn_lookahead (look_path, 1, 20) == 0);
  g_assert (test_model_write_tone (tone_path) == 0);

  ret = gst_check_run_suite (hostile_suite (), "earshot-hostile", __FILE__);

  g_unlink (rnn_path);
  g_unlink (look_path);
  g_unlink (tone_path);
  g_rmdir (tmpdir);
  g_free (rnn_path);
  g_free (look_path);
  g_free (tone_path);
  g_free (tmpdir);
  return ret;
}
