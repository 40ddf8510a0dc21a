/* test_earshot.c — the `earshot` element under GstCheck and GstHarness.
 *
 * Models are built in code (models.c) into a temporary directory; signals
 * are generated here.  Each test asserts a fact: audio leaves bit-identical;
 * the element's frames equal the core's one-shot processing whatever the
 * buffer sizes; a tone is reported within one hop of its onset; a flush
 * gives the output of a fresh element; a model swap neither crashes nor
 * mixes states; bad models give readable errors; the latency is window
 * minus hop. */
#include <gst/audio/audio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/earshot/gstearshotmeta.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "earshot_resample.h"
#include "earshot_stream.h"
#include "harness.h"
#include "models.h"

#define RATE 16000
#define HOP 160
#define HOP_NS (10 * GST_MSECOND)
#define LOOKAHEAD 20            /* frames, of the lookahead test model */
#define F32_CAPS "audio/x-raw,format=F32LE,layout=interleaved,channels=1,rate=16000"

static gchar *tmpdir, *rnn_path, *rnn2_path, *look_path, *tone_path, *high_path,
    *bad_path, *truncated_path;

/* ---- helpers ----------------------------------------------------------- */

/* Pushes n samples of `bpf` bytes each, starting at sample `first_sample` of a
 * stream whose sample 0 is at `t0`; returns the output buffer (owned). */
static GstBuffer *
push_samples (GstHarness * h, const void *data, gsize n, gsize bpf,
    guint64 first_sample, GstClockTime t0, gint rate)
{
  GstBuffer *buf = gst_buffer_new_memdup (data, n * bpf);
  GstFlowReturn ret;

  GST_BUFFER_PTS (buf) = t0 + gst_util_uint64_scale_int (first_sample,
      GST_SECOND, rate);
  GST_BUFFER_DURATION (buf) = t0 + gst_util_uint64_scale_int (first_sample
      + n, GST_SECOND, rate) - GST_BUFFER_PTS (buf);
  GST_BUFFER_OFFSET (buf) = first_sample;
  ret = gst_harness_push (h, buf);
  fail_unless_equals_int (ret, GST_FLOW_OK);
  return gst_harness_pull (h);
}

/* A frame as the tests see it. */
typedef struct
{
  GstClockTime ts, duration, stream_time, running_time;
  gint cls;
  guint n_classes;
  gfloat probs[8];
} Frame;

/* Appends the `earshot` messages waiting on the bus to `frames` (may be
 * NULL); segment messages go to `segments` (may be NULL, then dropped). */
static void
collect (GstBus * bus, GArray * frames, GPtrArray * segments)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);

    if (gst_structure_has_name (s, "earshot") && frames) {
      const GValue *p = gst_structure_get_value (s, "probabilities");
      Frame f = { 0 };

      gst_structure_get (s, "timestamp", G_TYPE_UINT64, &f.ts,
          "duration", G_TYPE_UINT64, &f.duration,
          "stream-time", G_TYPE_UINT64, &f.stream_time,
          "running-time", G_TYPE_UINT64, &f.running_time,
          "class", G_TYPE_INT, &f.cls, NULL);
      f.n_classes = gst_value_array_get_size (p);
      fail_unless (f.n_classes <= G_N_ELEMENTS (f.probs));
      for (guint k = 0; k < f.n_classes; k++)
        f.probs[k] = (gfloat) g_value_get_double (gst_value_array_get_value
            (p, k));
      g_array_append_val (frames, f);
    } else if (gst_structure_has_name (s, "earshot-segment") && segments) {
      g_ptr_array_add (segments, gst_structure_copy (s));
    }
    gst_message_unref (msg);
  }
}

/* Appends the frames of channel 0 of the meta of `buf` (if any). */
static void
collect_meta (GstBuffer * buf, GArray * frames)
{
  GstEarshotMeta *m = gst_buffer_get_earshot_meta (buf);

  if (m == NULL)
    return;
  for (guint f = 0; f < m->n_frames; f++) {
    Frame fr = { 0 };
    fr.ts = m->pts[f];
    fr.duration = m->duration[f];
    fr.cls = gst_earshot_meta_get_class (m, 0, f);
    fr.n_classes = m->n_classes;
    memcpy (fr.probs, gst_earshot_meta_get_probabilities (m, 0, f),
        m->n_classes * sizeof (gfloat));
    g_array_append_val (frames, fr);
  }
}

/* The core's one-shot processing: posteriors [frames x n_classes]. */
static GArray *
core_frames (const gchar * model_path, const gfloat * x, gsize n,
    guint * n_classes)
{
  earshot_model *m = NULL;
  earshot_stream *s = NULL;
  char err[256] = "";
  GArray *out = g_array_new (FALSE, FALSE, sizeof (gfloat));
  gsize cap, got;

  fail_unless (earshot_model_load (model_path, &m, err, sizeof err) ==
      EARSHOT_OK, "%s", err);
  fail_unless (earshot_stream_new (m, &s) == EARSHOT_OK);
  *n_classes = (guint) earshot_stream_n_classes (s);
  cap = earshot_stream_frames_for (s, n);
  g_array_set_size (out, cap * *n_classes);
  got = earshot_stream_process (s, x, n, (gfloat *) out->data, NULL, cap);
  fail_unless_equals_int (got, cap);
  cap = earshot_stream_frames_pending (s);
  g_array_set_size (out, (got + cap) * *n_classes);
  got += earshot_stream_flush (s, (gfloat *) out->data + got * *n_classes,
      NULL, cap);
  g_array_set_size (out, got * *n_classes);
  earshot_stream_free (s);
  earshot_model_free (m);
  return out;
}

static gfloat *
random_signal (gsize n, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  gfloat *x = g_new (gfloat, n);

  /* noise with a slowly moving level, so the classes change */
  for (gsize i = 0; i < n; i++)
    x[i] = (gfloat) (g_rand_double_range (r, -1.0, 1.0) *
        (0.05 + 0.45 * (0.5 + 0.5 * sin (i * 2.0 * G_PI / 7000.0))));
  g_rand_free (r);
  return x;
}

/* silence, then a 1 kHz tone of amplitude 0.5 from sample `onset` */
static gfloat *
tone_signal (gsize n, gsize onset, gint rate)
{
  gfloat *x = g_new0 (gfloat, n);

  for (gsize i = onset; i < n; i++)
    x[i] = (gfloat) (0.5 * sin (2.0 * G_PI * TEST_TONE_HZ * (i - onset) /
            rate));
  return x;
}

/* Feeds x through a harness in buffers of `bs` samples (0: random sizes),
 * then EOS; returns the frames from the messages, and from the metas in
 * *meta (if not NULL). */
static GArray *
element_frames (const gchar * model, const gfloat * x, gsize n, gsize bs,
    GstClockTime t0, GArray ** meta)
{
  GstBus *bus;
  GstHarness *h = new_harness (model, F32_CAPS, &bus, NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  GRand *r = g_rand_new_with_seed (7);
  gsize done = 0;

  if (meta)
    *meta = g_array_new (FALSE, FALSE, sizeof (Frame));
  while (done < n) {
    gsize len = bs ? bs : (gsize) g_rand_int_range (r, 1, 3000);
    GstBuffer *out;

    len = MIN (len, n - done);
    out = push_samples (h, x + done, len, sizeof (gfloat), done, t0, RATE);
    if (meta)
      collect_meta (out, *meta);
    gst_buffer_unref (out);
    done += len;
    collect (bus, frames, NULL);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  collect (bus, frames, NULL);
  g_rand_free (r);
  free_harness (h, bus);
  return frames;
}

static void
assert_frames_equal (const GArray * a, const GArray * b, const gchar * what)
{
  fail_unless ((gint) (a->len) == (gint) (b->len), "%s: frame counts", what);
  for (guint i = 0; i < a->len; i++) {
    const Frame *fa = &g_array_index (a, Frame, i);
    const Frame *fb = &g_array_index (b, Frame, i);
    fail_unless_equals_uint64 (fa->ts, fb->ts);
    fail_unless_equals_int (fa->n_classes, fb->n_classes);
    for (guint k = 0; k < fa->n_classes; k++)
      fail_unless (fa->probs[k] == fb->probs[k],
          "%s: frame %u class %u: %.9g vs %.9g", what, i, k, fa->probs[k],
          fb->probs[k]);
  }
}

/* The first frame whose class is `cls`, or -1. */
static gint
first_frame_of (const GArray * frames, gint cls)
{
  for (guint i = 0; i < frames->len; i++)
    if (g_array_index (frames, Frame, i).cls == cls)
      return (gint) i;
  return -1;
}

static const GstStructure *
find_segment (GPtrArray * segs, const gchar * event, const gchar * label)
{
  for (guint i = 0; i < segs->len; i++) {
    const GstStructure *s = g_ptr_array_index (segs, i);
    if (!g_strcmp0 (gst_structure_get_string (s, "event"), event)
        && !g_strcmp0 (gst_structure_get_string (s, "label"), label))
      return s;
  }
  return NULL;
}

static GstClockTime
get_time (const GstStructure * s, const gchar * field)
{
  guint64 v = GST_CLOCK_TIME_NONE;
  fail_unless (gst_structure_get_uint64 (s, field, &v), "no field %s", field);
  return v;
}

/* The first ERROR message on the bus (owned), waiting up to a second. */
static GstMessage *
pop_error (GstBus * bus)
{
  return gst_bus_timed_pop_filtered (bus, GST_SECOND, GST_MESSAGE_ERROR);
}

static gchar *
error_text (GstMessage * msg)
{
  GError *err = NULL;
  gchar *text;

  gst_message_parse_error (msg, &err, NULL);
  text = g_strdup (err->message);
  g_error_free (err);
  return text;
}

/* ---- 1. passthrough ---------------------------------------------------- */

GST_START_TEST (test_passthrough_bit_identical)
{
  static const gint rates[] = { 8000, 11025, 16000, 22050, 32000, 44100,
    48000
  };
  static const gchar *formats[] = { "S16LE", "F32LE" };
  GRand *r = g_rand_new_with_seed (1);

  for (guint fi = 0; fi < G_N_ELEMENTS (formats); fi++) {
    for (guint ri = 0; ri < G_N_ELEMENTS (rates); ri++) {
      for (gint channels = 1; channels <= 2; channels++) {
        gchar *caps = g_strdup_printf ("audio/x-raw,format=%s,rate=%d,"
            "channels=%d,layout=interleaved%s", formats[fi], rates[ri],
            channels, channels == 2 ? ",channel-mask=(bitmask)0x3" : "");
        gsize bpf = (fi == 0 ? 2 : 4) * channels;
        gsize n = (gsize) rates[ri] / 10;       /* 100 ms buffers */
        GstBus *bus;
        GstHarness *h = new_harness (tone_path, caps, &bus, NULL);
        guint metas = 0;

        for (guint b = 0; b < 5; b++) {
          guint8 *data = g_malloc (n * bpf);
          GstBuffer *out;
          GstMapInfo map;

          if (fi == 0) {
            for (gsize i = 0; i < n * bpf; i++)
              data[i] = (guint8) g_rand_int (r);
          } else {
            gfloat *f = (gfloat *) data;
            for (gsize i = 0; i < n * channels; i++)
              f[i] = (gfloat) g_rand_double_range (r, -1.0, 1.0);
          }
          out = push_samples (h, data, n, bpf, b * n, 0, rates[ri]);
          fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
          fail_unless_equals_int (map.size, n * bpf);
          fail_unless (memcmp (map.data, data, map.size) == 0,
              "audio changed: %s", caps);
          gst_buffer_unmap (out, &map);
          metas += gst_buffer_get_earshot_meta (out) != NULL;
          gst_buffer_unref (out);
          g_free (data);
        }
        fail_unless (metas >= 4, "%s: only %u buffers with meta", caps, metas);
        free_harness (h, bus);
        g_free (caps);
      }
    }
  }
  g_rand_free (r);
}

GST_END_TEST

/* ---- 2. carried state: element == core --------------------------------- */

/* Feeds x through the element in buffers of each of `sizes` (0: random)
 * and checks it against the core's one-shot processing: every frame once,
 * at its exact time, bit-identical posteriors, in messages and in metas.
 * The metas hold every frame but those flushed at EOS: the last partial
 * window's (up to ceil ((window - hop) / hop) + 1) and the `held_back` ones
 * of a lookahead.  Returns the core's posteriors. */
static GArray *
check_element_equals_core (const gchar * model, const gfloat * x, gsize n,
    const gsize * sizes, guint n_sizes, guint held_back)
{
  guint nk;
  GArray *core = core_frames (model, x, n, &nk);
  guint n_core = core->len / nk;

  fail_unless (n_core == (n + HOP - 1) / HOP);
  for (guint si = 0; si < n_sizes; si++) {
    GArray *meta;
    GArray *frames = element_frames (model, x, n, sizes[si], 0, &meta);
    gchar *what = g_strdup_printf ("buffer size %" G_GSIZE_FORMAT, sizes[si]);

    fail_unless ((gint) (frames->len) == (gint) (n_core), "%s", what);
    fail_unless (meta->len >= n_core - held_back - 3
        && meta->len < n_core - held_back + (held_back > 0), "%s: %u metas",
        what, meta->len);
    for (guint i = 0; i < frames->len; i++) {
      const Frame *f = &g_array_index (frames, Frame, i);
      const gfloat *want = (const gfloat *) core->data + i * nk;

      fail_unless_equals_uint64 (f->ts, gst_util_uint64_scale_int (i * HOP,
              GST_SECOND, RATE));
      for (guint k = 0; k < nk; k++)
        fail_unless (f->probs[k] == want[k], "%s: frame %u class %u: "
            "%.9g vs core %.9g", what, i, k, f->probs[k], want[k]);
    }
    for (guint i = 0; i < meta->len; i++)
      fail_unless (memcmp (g_array_index (meta, Frame, i).probs,
              (const gfloat *) core->data + i * nk, nk * sizeof (gfloat)) == 0,
          "%s: meta frame %u differs from the core", what, i);
    g_free (what);
    g_array_unref (frames);
    g_array_unref (meta);
  }
  return core;
}

GST_START_TEST (test_frames_equal_core)
{
  static const gsize sizes[] = { 1, 37, 160, 1024, 44100, 0 };
  const gsize n = 3 * RATE + 123;
  gfloat *x = random_signal (n, 42);

  g_array_unref (check_element_equals_core (rnn_path, x, n, sizes,
          G_N_ELEMENTS (sizes), 0));
  g_free (x);
}

GST_END_TEST

/* Pushes n frames of `data` (bpf bytes each, caps `caps`, at `rate`) in
 * buffers of `chunk` frames, then EOS, and checks that the frames the
 * element posts are the core's on `mono` (n_mono samples at the model's
 * rate) within 1e-6. */
static void
check_pushed_equals_core (const gchar * caps, gint rate, const void *data,
    gsize n, gsize bpf, gsize chunk, const gfloat * mono, gsize n_mono)
{
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, caps, &bus, NULL);
  GArray *core;
  guint nk;

  for (gsize done = 0; done < n; done += chunk) {
    gsize len = MIN (chunk, n - done);
    gst_buffer_unref (push_samples (h, (const guint8 *) data + done * bpf,
            len, bpf, done, 0, rate));
    collect (bus, frames, NULL);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, frames, NULL);
  core = core_frames (rnn_path, mono, n_mono, &nk);
  fail_unless_equals_int (frames->len, core->len / nk);
  for (guint i = 0; i < frames->len; i++)
    for (guint k = 0; k < nk; k++)
      fail_unless (fabsf (g_array_index (frames, Frame, i).probs[k] -
              ((gfloat *) core->data)[i * nk + k]) <= 1e-6f,
          "%s: frame %u class %u differs", caps, i, k);
  free_harness (h, bus);
  g_array_unref (core);
  g_array_unref (frames);
}

/* S16 at the model rate: read as x / 32768, exactly */
GST_START_TEST (test_frames_equal_core_s16)
{
  const gsize n = RATE + 77;
  gfloat *x = random_signal (n, 5);
  gint16 *s = g_new (gint16, n);

  for (gsize i = 0; i < n; i++) {
    s[i] = (gint16) lrintf (x[i] * 32767.0f);
    x[i] = s[i] / 32768.0f;
  }
  check_pushed_equals_core ("audio/x-raw,format=S16LE,layout=interleaved,"
      "channels=1,rate=16000", RATE, s, n, 2, 500, x, n);
  g_free (x);
  g_free (s);
}

GST_END_TEST

/* Several channels mixed down (channel-mode=mix, the default): the frames
 * are the core's on the mean of the channels, each channel weighted 1/C and
 * summed in channel order (S16 read as x / 32768), for F32 and S16
 * interleaved, 2 and 3 channels, at the model's rate (no resampler). */
GST_START_TEST (test_frames_equal_core_mixed)
{
  const gsize n = RATE + 321;

  for (guint fi = 0; fi < 2; fi++) {
    for (guint nc = 2; nc <= 3; nc++) {
      gboolean s16 = fi == 1;
      gfloat w = 1.0f / (gfloat) nc;
      gfloat *mono = g_new (gfloat, n);
      gfloat *xf = g_new (gfloat, n * nc);
      gint16 *xs = g_new (gint16, n * nc);
      gchar *caps = g_strdup_printf ("audio/x-raw,format=%s,layout="
          "interleaved,channels=%u,rate=%d%s", s16 ? "S16LE" : "F32LE", nc,
          RATE, nc == 2 ? ",channel-mask=(bitmask)0x3" :
          ",channel-mask=(bitmask)0x7");

      for (guint c = 0; c < nc; c++) {
        gfloat *x = random_signal (n, 100 + c);
        for (gsize i = 0; i < n; i++) {
          xs[i * nc + c] = (gint16) lrintf (x[i] * 32767.0f);
          xf[i * nc + c] = x[i] * (0.5f + 0.25f * (gfloat) c);
        }
        g_free (x);
      }
      for (gsize i = 0; i < n; i++) {
        gfloat acc = 0.0f;
        for (guint c = 0; c < nc; c++) {
          gfloat v = s16 ? (w / 32768.0f) * (gfloat) xs[i * nc + c] :
              w * xf[i * nc + c];
          acc = c == 0 ? v : acc + v;
        }
        mono[i] = acc;
      }
      if (s16)
        check_pushed_equals_core (caps, RATE, xs, n, 2 * nc, 733, mono, n);
      else
        check_pushed_equals_core (caps, RATE, xf, n, 4 * nc, 733, mono, n);
      g_free (caps);
      g_free (mono);
      g_free (xf);
      g_free (xs);
    }
  }
}

GST_END_TEST

/* Above the model's rate the element mixes down and resamples with
 * earshot_resample.h: its frames are the core's on that resampler's output
 * (ceil (n * 16000 / rate) samples, the end flushed with the latency's
 * zeros), for 44.1 and 48 kHz stereo F32 in buffers of odd sizes. */
GST_START_TEST (test_frames_equal_core_resampled)
{
  static const gint rates[] = { 44100, 48000 };

  for (guint ri = 0; ri < G_N_ELEMENTS (rates); ri++) {
    gint rate = rates[ri];
    const gsize n = 2 * (gsize) rate + 999;
    gfloat *x = random_signal (n, 7 + ri), *xs = g_new (gfloat, 2 * n);
    gfloat *mono = g_new (gfloat, n), *y, *zeros;
    earshot_resampler *r;
    gsize made, want, lat;
    gchar *caps = g_strdup_printf ("audio/x-raw,format=F32LE,layout="
        "interleaved,channels=2,rate=%d,channel-mask=(bitmask)0x3", rate);

    for (gsize i = 0; i < n; i++) {
      xs[2 * i] = x[i];
      xs[2 * i + 1] = 0.5f * x[i];
      mono[i] = 0.5f * xs[2 * i] + 0.5f * xs[2 * i + 1];
    }
    fail_unless (earshot_resampler_new ((unsigned) rate, RATE, &r) ==
        EARSHOT_OK);
    lat = earshot_resampler_latency (r);
    y = g_new (gfloat, earshot_resampler_max_out (r, n + lat));
    zeros = g_new0 (gfloat, lat);
    made = earshot_resampler_process (r, mono, n, y);
    made += earshot_resampler_process (r, zeros, lat, y + made);
    want = (n * RATE + (gsize) rate - 1) / (gsize) rate;
    fail_unless_equals_int (made, want);
    check_pushed_equals_core (caps, rate, xs, n, 8, 1777, y, made);
    earshot_resampler_free (r);
    g_free (caps);
    g_free (zeros);
    g_free (y);
    g_free (mono);
    g_free (xs);
    g_free (x);
  }
}

GST_END_TEST

/* ---- 3. timestamps ----------------------------------------------------- */

/* Feeds a tone starting at `onset` seconds after t0 (rate Hz, S16 or F32)
 * and checks frame and segment times; segment given by its start/time. */
static void
check_tone_onset (gint rate, gboolean s16, GstClockTime seg_start,
    GstClockTime seg_time, gboolean flush_first)
{
  const gsize n = (gsize) rate;     /* 1 s */
  const gsize onset = (gsize) rate / 2 + (gsize) rate / 400; /* 502.5 ms */
  gfloat *x = tone_signal (n, onset, rate);
  gchar *caps = g_strdup_printf ("audio/x-raw,format=%s,layout=interleaved,"
      "channels=1,rate=%d", s16 ? "S16LE" : "F32LE", rate);
  GstBus *bus;
  GstHarness *h = new_harness (tone_path, caps, &bus, NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  GPtrArray *segs = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
  GstClockTime t_onset = seg_start + gst_util_uint64_scale_int (onset,
      GST_SECOND, rate);
  GstSegment segment;
  gint16 *s = NULL;
  const GstStructure *st;
  gint onset_frame;

  if (flush_first) {
    /* some audio, then a flushing seek */
    gst_buffer_unref (push_samples (h, x, n / 4, sizeof (gfloat), 0, 0, rate));
    fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
    fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
    collect (bus, NULL, NULL);
  }
  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.start = seg_start;
  segment.time = seg_time;
  segment.position = seg_start;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));

  if (s16) {
    s = g_new (gint16, n);
    for (gsize i = 0; i < n; i++)
      s[i] = (gint16) lrintf (x[i] * 32767.0f);
  }
  for (gsize done = 0; done < n; done += 441) {
    gsize len = MIN (441, n - done);
    gst_buffer_unref (s16 ? push_samples (h, s + done, len, 2, done,
            seg_start, rate) : push_samples (h, x + done, len,
            sizeof (gfloat), done, seg_start, rate));
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, frames, segs);

  onset_frame = first_frame_of (frames, 1);
  fail_unless (onset_frame > 0, "tone never detected");
  {
    const Frame *f = &g_array_index (frames, Frame, onset_frame);
    GstClockTimeDiff d = GST_CLOCK_DIFF (t_onset, f->ts);
    fail_unless (ABS (d) <= (GstClockTimeDiff) HOP_NS, "rate %d: tone at %"
        GST_TIME_FORMAT " reported at %" GST_TIME_FORMAT, rate,
        GST_TIME_ARGS (t_onset), GST_TIME_ARGS (f->ts));
    fail_unless_equals_uint64 (f->running_time, f->ts - seg_start);
    fail_unless_equals_uint64 (f->stream_time, f->ts - seg_start + seg_time);
    fail_unless_equals_uint64 (g_array_index (frames, Frame, 0).ts, seg_start);
  }
  st = find_segment (segs, "start", "tone");
  fail_unless (st != NULL, "no segment start");
  {
    GstClockTime start = get_time (st, "start");
    GstClockTimeDiff d = GST_CLOCK_DIFF (t_onset, start);
    fail_unless (ABS (d) <= (GstClockTimeDiff) HOP_NS);
    fail_unless_equals_uint64 (get_time (st, "start-running-time"),
        start - seg_start);
    fail_unless_equals_uint64 (get_time (st, "start-stream-time"),
        start - seg_start + seg_time);
  }
  st = find_segment (segs, "end", "tone");
  fail_unless (st != NULL, "no segment end at EOS");
  {
    GstClockTime end = get_time (st, "end");
    GstClockTimeDiff d = GST_CLOCK_DIFF (seg_start + GST_SECOND, end);
    fail_unless (ABS (d) <= (GstClockTimeDiff) HOP_NS, "end %" GST_TIME_FORMAT,
        GST_TIME_ARGS (end));
  }

  free_harness (h, bus);
  g_ptr_array_unref (segs);
  g_array_unref (frames);
  g_free (caps);
  g_free (x);
  g_free (s);
}

GST_START_TEST (test_tone_onset)
{
  check_tone_onset (RATE, FALSE, 0, 0, FALSE);
}

GST_END_TEST

GST_START_TEST (test_tone_onset_resampled)
{
  check_tone_onset (48000, TRUE, 0, 0, FALSE);
  check_tone_onset (8000, TRUE, 0, 0, FALSE);
}

GST_END_TEST

GST_START_TEST (test_tone_onset_segment_start)
{
  check_tone_onset (RATE, FALSE, 5 * GST_SECOND, 2 * GST_SECOND, FALSE);
}

GST_END_TEST

GST_START_TEST (test_tone_onset_after_seek)
{
  check_tone_onset (RATE, FALSE, 10 * GST_SECOND, 10 * GST_SECOND, TRUE);
  check_tone_onset (44100, TRUE, 3 * GST_SECOND, 3 * GST_SECOND, TRUE);
}

GST_END_TEST

/* ---- 4. flush and model swap ------------------------------------------- */

GST_START_TEST (test_flush_resets_state)
{
  const gsize na = RATE / 2 + 50, nb = RATE;
  gfloat *a = random_signal (na, 11), *b = random_signal (nb, 12);
  const GstClockTime tb = 7 * GST_SECOND;
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, F32_CAPS, &bus, NULL);
  GArray *after = g_array_new (FALSE, FALSE, sizeof (Frame));
  GArray *fresh;
  GstSegment segment;

  for (gsize done = 0; done < na; done += 1000)
    gst_buffer_unref (push_samples (h, a + done, MIN (1000, na - done),
            sizeof (gfloat), done, 0, RATE));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  collect (bus, NULL, NULL);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  for (gsize done = 0; done < nb; done += 1000) {
    gst_buffer_unref (push_samples (h, b + done, MIN (1000, nb - done),
            sizeof (gfloat), done, tb, RATE));
    collect (bus, after, NULL);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, after, NULL);
  free_harness (h, bus);

  fresh = element_frames (rnn_path, b, nb, 1000, tb, NULL);
  assert_frames_equal (after, fresh, "after flush vs fresh");
  g_array_unref (after);
  g_array_unref (fresh);
  g_free (a);
  g_free (b);
}

GST_END_TEST

GST_START_TEST (test_model_swap_between_buffers)
{
  const gsize n1 = RATE / 2 + 30, n2 = RATE;
  gfloat *x1 = random_signal (n1, 21), *x2 = tone_signal (n2, RATE / 4, RATE);
  const GstClockTime t2 = gst_util_uint64_scale_int (n1, GST_SECOND, RATE);
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, F32_CAPS, &bus, NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  GArray *old_part = g_array_new (FALSE, FALSE, sizeof (Frame));
  GArray *new_part = g_array_new (FALSE, FALSE, sizeof (Frame));
  GArray *fresh_old, *fresh_new;
  gchar **labels = NULL;

  for (gsize done = 0; done < n1; done += 800)
    gst_buffer_unref (push_samples (h, x1 + done, MIN (800, n1 - done),
            sizeof (gfloat), done, 0, RATE));
  g_object_set (h->element, "model", tone_path, NULL);
  g_object_get (h->element, "labels", &labels, NULL);
  fail_unless (labels && g_strv_length (labels) == 2
      && !strcmp (labels[1], "tone"));
  g_strfreev (labels);
  for (gsize done = 0; done < n2; done += 800) {
    GstBuffer *out = push_samples (h, x2 + done, MIN (800, n2 - done),
        sizeof (gfloat), 0, t2 + gst_util_uint64_scale_int (done, GST_SECOND,
            RATE), RATE);
    GstEarshotMeta *m = gst_buffer_get_earshot_meta (out);
    /* metas after the swap are the new model's */
    if (m) {
      fail_unless_equals_int (m->n_classes, 2);
      fail_unless_equals_string (m->labels[1], "tone");
    }
    gst_buffer_unref (out);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, frames, NULL);
  free_harness (h, bus);

  for (guint i = 0; i < frames->len; i++) {
    Frame *f = &g_array_index (frames, Frame, i);
    g_array_append_val (f->n_classes == 3 ? old_part : new_part, *f);
  }
  /* the old model finished its own audio, the new one started afresh */
  fresh_old = element_frames (rnn_path, x1, n1, 800, 0, NULL);
  fresh_new = element_frames (tone_path, x2, n2, 800, t2, NULL);
  assert_frames_equal (old_part, fresh_old, "old model");
  assert_frames_equal (new_part, fresh_new, "new model");

  g_array_unref (frames);
  g_array_unref (old_part);
  g_array_unref (new_part);
  g_array_unref (fresh_old);
  g_array_unref (fresh_new);
  g_free (x1);
  g_free (x2);
}

GST_END_TEST

static gpointer
swap_models (gpointer data)
{
  GstElement *e = data;
  const gchar *paths[] = { tone_path, rnn2_path, rnn_path };

  for (guint i = 0; i < 30; i++) {
    g_object_set (e, "model", paths[i % 3], NULL);
    g_usleep (2000);
  }
  return NULL;
}

GST_START_TEST (test_model_swap_while_streaming)
{
  gfloat *x = random_signal (320, 3);
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, F32_CAPS, &bus, NULL);
  GThread *t = g_thread_new ("swapper", swap_models, h->element);
  guint64 sample = 0;

  for (guint i = 0; i < 400; i++, sample += 320) {
    GstBuffer *out = push_samples (h, x, 320, sizeof (gfloat), sample, 0,
        RATE);
    GstEarshotMeta *m = gst_buffer_get_earshot_meta (out);
    if (m) {
      fail_unless_equals_int (g_strv_length (m->labels), m->n_classes);
      for (guint f = 0; f < m->n_frames; f++) {
        gint c = gst_earshot_meta_get_class (m, 0, f);
        fail_unless (c >= 0 && c < (gint) m->n_classes);
      }
    }
    gst_buffer_unref (out);
    collect (bus, NULL, NULL);
  }
  g_thread_join (t);
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, NULL, NULL);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);
  free_harness (h, bus);
  g_free (x);
}

GST_END_TEST

/* ---- 5. errors --------------------------------------------------------- */

/* Sets up an element with `model` (NULL: unset), tries PAUSED and returns
 * the error text. */
static gchar *
start_error (const gchar * model)
{
  GstElement *e = gst_element_factory_make ("earshot", NULL);
  GstBus *bus = gst_bus_new ();
  GstStateChangeReturn ret;
  GstMessage *msg;
  gchar *text;

  gst_element_set_bus (e, bus);
  if (model)
    g_object_set (e, "model", model, NULL);
  ret = gst_element_set_state (e, GST_STATE_PAUSED);
  fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
  msg = pop_error (bus);
  fail_unless (msg != NULL, "no error message for model %s", model);
  text = error_text (msg);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (e);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  return text;
}

GST_START_TEST (test_error_messages)
{
  gchar *text;

  /* unset: the default model, which must not be installed for this one */
  if (!g_file_test (EARSHOT_MODELS_DIR "/vad.earshot", G_FILE_TEST_EXISTS)) {
    text = start_error (NULL);
    fail_unless (strstr (text, "No model set") != NULL, "%s", text);
    g_free (text);
  }

  text = start_error ("/nonexistent/dir/x.earshot");
  fail_unless (strstr (text, "does not exist") != NULL, "%s", text);
  g_free (text);

  text = start_error ("no-such-model-name");
  fail_unless (strstr (text, "No model \"no-such-model-name\"") != NULL, "%s",
      text);
  g_free (text);

  text = start_error (bad_path);
  fail_unless (strstr (text, "Could not load model") != NULL, "%s", text);
  GST_INFO ("bad file: %s", text);
  g_free (text);

  text = start_error (truncated_path);
  fail_unless (strstr (text, "Could not load model") != NULL, "%s", text);
  GST_INFO ("truncated file: %s", text);
  g_free (text);
}

GST_END_TEST

/* The rnn model listens up to 8 kHz: 8 kHz input cannot feed it. */
GST_START_TEST (test_error_unmet_rate)
{
  GstBus *bus;
  GstHarness *h = new_harness (high_path, NULL, &bus, NULL);
  GstMessage *msg;
  gchar *text;

  gst_harness_push_event (h, gst_event_new_caps (gst_caps_from_string
          ("audio/x-raw,format=S16LE,layout=interleaved,channels=1,"
              "rate=8000")));
  msg = pop_error (bus);
  fail_unless (msg != NULL);
  text = error_text (msg);
  fail_unless (strstr (text, "too low") != NULL, "%s", text);
  g_free (text);
  gst_message_unref (msg);
  free_harness (h, bus);
}

GST_END_TEST

/* A bad model set while playing: an error, and the old model goes on. */
/* 8 kHz telephone audio into a 16 kHz model that listens up to 8 kHz: a
 * warning says the top of the band is missing, and frames still come. */
GST_START_TEST (test_low_rate_warns)
{
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, "audio/x-raw,format=S16LE,"
      "layout=interleaved,channels=1,rate=8000", &bus, NULL);
  gint16 x[8000] = { 0 };
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  GstMessage *msg;

  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    x[i] = (gint16) (6000 * sin (2 * G_PI * 300 * i / 8000.0));
  /* the first 100 ms; popping the warning drops their frame messages */
  gst_buffer_unref (push_samples (h, x, 800, 2, 0, 0, 8000));
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning for 8 kHz input");
  {
    GError *err = NULL;
    gst_message_parse_warning (msg, &err, NULL);
    fail_unless (strstr (err->message, "less accurate") != NULL, "%s",
        err->message);
    g_error_free (err);
  }
  gst_message_unref (msg);
  fail_unless (pop_error (bus) == NULL);
  gst_buffer_unref (push_samples (h, x + 800, 7200, 2, 800, 0, 8000));
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, frames, NULL);
  /* frames to the end of the second: the last covers 990..1000 ms */
  fail_unless (frames->len > 80, "%u frames", frames->len);
  fail_unless_equals_uint64 (g_array_index (frames, Frame,
          frames->len - 1).ts, GST_SECOND - HOP_NS);
  g_array_unref (frames);
  free_harness (h, bus);
}

GST_END_TEST

/* model-path names the file a model name resolved to. */
GST_START_TEST (test_model_path_property)
{
  GstElement *e = gst_element_factory_make ("earshot", NULL);
  gchar *path = NULL;

  g_object_get (e, "model-path", &path, NULL);
  fail_unless (path == NULL);
  g_object_set (e, "model", rnn_path, NULL);
  g_object_get (e, "model-path", &path, NULL);
  fail_unless_equals_string (path, rnn_path);
  g_free (path);
  g_setenv ("EARSHOT_MODEL_PATH", tmpdir, TRUE);
  g_object_set (e, "model", "tone", NULL);
  g_object_get (e, "model-path", &path, NULL);
  fail_unless_equals_string (path, tone_path);
  g_free (path);
  g_setenv ("EARSHOT_MODEL_PATH", "", TRUE);
  gst_object_unref (e);
}

GST_END_TEST

GST_START_TEST (test_error_bad_model_while_playing)
{
  gfloat *x = random_signal (1600, 9);
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, F32_CAPS, &bus, NULL);
  GstMessage *msg;
  GstBuffer *out;
  gchar *model = NULL, *text;

  gst_buffer_unref (push_samples (h, x, 1600, sizeof (gfloat), 0, 0, RATE));
  g_object_set (h->element, "model", bad_path, NULL);
  msg = pop_error (bus);
  fail_unless (msg != NULL);
  text = error_text (msg);
  fail_unless (strstr (text, "Could not load model") != NULL, "%s", text);
  g_free (text);
  gst_message_unref (msg);
  g_object_get (h->element, "model", &model, NULL);
  fail_unless_equals_string (model, rnn_path);
  g_free (model);
  out = push_samples (h, x, 1600, sizeof (gfloat), 1600, 0, RATE);
  fail_unless (gst_buffer_get_earshot_meta (out) != NULL);
  fail_unless_equals_int (gst_buffer_get_earshot_meta (out)->n_classes, 3);
  gst_buffer_unref (out);
  free_harness (h, bus);
  g_free (x);
}

GST_END_TEST

/* A bare name is looked up in $EARSHOT_MODEL_PATH. */
GST_START_TEST (test_model_by_name)
{
  GstElement *e = gst_element_factory_make ("earshot", NULL);
  gchar **labels = NULL;

  g_setenv ("EARSHOT_MODEL_PATH", tmpdir, TRUE);
  g_object_set (e, "model", "tone", NULL);
  g_object_get (e, "labels", &labels, NULL);
  fail_unless (labels != NULL);
  fail_unless_equals_int (g_strv_length (labels), 2);
  fail_unless_equals_string (labels[0], "silence");
  fail_unless_equals_string (labels[1], "tone");
  g_strfreev (labels);
  g_unsetenv ("EARSHOT_MODEL_PATH");
  gst_object_unref (e);
}

GST_END_TEST

/* A model with lookahead: the element still reports every frame once, with
 * its own time, and the same posteriors as the core (which holds each frame
 * back until LOOKAHEAD later frames are in); the last LOOKAHEAD frames come
 * at EOS. */
GST_START_TEST (test_lookahead_frames_equal_core)
{
  static const gsize sizes[] = { 1, 160, 1024, 0 };
  const gsize n = 2 * RATE + 77;
  gfloat *x = random_signal (n, 43);
  guint nk;
  GArray *core = check_element_equals_core (look_path, x, n, sizes,
      G_N_ELEMENTS (sizes), LOOKAHEAD);

  /* the core's frames are not those of the causal model with the same
   * weights: proof that the lookahead took effect */
  GArray *causal = core_frames (rnn_path, x, n, &nk);
  fail_if (memcmp (causal->data, core->data, core->len * sizeof (gfloat)) == 0);
  g_array_unref (causal);
  g_array_unref (core);
  g_free (x);
}

GST_END_TEST

static guint
n_labels (GstElement * e)
{
  gchar **labels = NULL;
  guint n;

  g_object_get (e, "labels", &labels, NULL);
  fail_unless (labels != NULL);
  n = g_strv_length (labels);
  g_strfreev (labels);
  return n;
}

/* Elements using one file share its loaded model, but a file that changes
 * on disk is loaded afresh, and elements holding the old model keep it. */
GST_START_TEST (test_model_cache_follows_file)
{
  gchar *path = g_build_filename (tmpdir, "cache.earshot", NULL);
  GstElement *a, *b, *c;

  fail_unless (test_model_write_tone (path) == 0);
  a = gst_element_factory_make ("earshot", NULL);
  b = gst_element_factory_make ("earshot", NULL);
  g_object_set (a, "model", path, NULL);
  g_object_set (b, "model", path, NULL);
  fail_unless_equals_int (n_labels (a), 2);
  fail_unless_equals_int (n_labels (b), 2);
  /* another model at the same path: 3 classes, another size */
  fail_unless (test_model_write_rnn (path, 3) == 0);
  c = gst_element_factory_make ("earshot", NULL);
  g_object_set (c, "model", path, NULL);
  fail_unless_equals_int (n_labels (c), 3);
  fail_unless_equals_int (n_labels (a), 2);
  gst_object_unref (a);
  gst_object_unref (b);
  fail_unless_equals_int (n_labels (c), 3);
  gst_object_unref (c);
  g_unlink (path);
  g_free (path);
}

GST_END_TEST

/* ---- 6. latency -------------------------------------------------------- */

GST_START_TEST (test_latency)
{
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, F32_CAPS, &bus, NULL);
  GstClockTime lat;

  gst_harness_set_upstream_latency (h, 5 * GST_MSECOND);
  /* window 400 - hop 160 = 240 samples at 16 kHz = 15 ms */
  fail_unless_equals_uint64 (gst_harness_query_latency (h),
      20 * GST_MSECOND);
  free_harness (h, bus);

  /* resampled: the resampler's delay comes on top */
  h = new_harness (rnn_path, "audio/x-raw,format=S16LE,layout=interleaved,"
      "channels=2,rate=48000", &bus, NULL);
  lat = gst_harness_query_latency (h);
  fail_unless (lat > 15 * GST_MSECOND && lat < 25 * GST_MSECOND,
      "%" GST_TIME_FORMAT, GST_TIME_ARGS (lat));
  free_harness (h, bus);

  /* a model with lookahead: LOOKAHEAD hops on top */
  h = new_harness (look_path, F32_CAPS, &bus, NULL);
  fail_unless_equals_uint64 (gst_harness_query_latency (h),
      15 * GST_MSECOND + LOOKAHEAD * HOP_NS);
  free_harness (h, bus);
}

GST_END_TEST

/* ---- more behaviour ---------------------------------------------------- */

/* channel-mode=each: a tone on the left only */
GST_START_TEST (test_channel_mode_each)
{
  const gsize n = RATE / 2;
  gfloat *t = tone_signal (n, 0, RATE);
  gfloat *x = g_new0 (gfloat, 2 * n);
  GstBus *bus;
  GstHarness *h;
  guint frames = 0;

  for (gsize i = 0; i < n; i++)
    x[2 * i] = t[i];
  h = new_harness (tone_path, "audio/x-raw,format=F32LE,layout=interleaved,"
      "channels=2,rate=16000,channel-mask=(bitmask)0x3", &bus,
      "channel-mode", 1 /* each */ , NULL);
  for (gsize done = 0; done < n; done += 1000) {
    GstBuffer *out = push_samples (h, x + 2 * done, MIN (1000, n - done),
        2 * sizeof (gfloat), done, 0, RATE);
    GstEarshotMeta *m = gst_buffer_get_earshot_meta (out);
    fail_unless (m != NULL);
    fail_unless_equals_int (m->n_channels, 2);
    for (guint f = 0; f < m->n_frames; f++, frames++) {
      fail_unless_equals_int (gst_earshot_meta_get_class (m, 0, f), 1);
      fail_unless_equals_int (gst_earshot_meta_get_class (m, 1, f), 0);
    }
    gst_buffer_unref (out);
  }
  fail_unless (frames >= n / HOP - 1);
  free_harness (h, bus);
  g_free (x);
  g_free (t);
}

GST_END_TEST

/* a model with a "speech" class sets GstAudioLevelMeta */
GST_START_TEST (test_audio_level_meta)
{
  gfloat *x = random_signal (RATE, 4);
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, F32_CAPS, &bus, NULL);

  for (gsize done = 0; done < RATE; done += 400) {
    GstBuffer *out = push_samples (h, x + done, 400, sizeof (gfloat), done, 0,
        RATE);
    GstAudioLevelMeta *lm = gst_buffer_get_audio_level_meta (out);
    GstEarshotMeta *m = gst_buffer_get_earshot_meta (out);
    gboolean speech = FALSE;

    fail_unless (lm != NULL);
    fail_unless (lm->level <= 127);
    if (m) {
      for (guint f = 0; f < m->n_frames; f++)
        speech |= gst_earshot_meta_get_class (m, 0, f) == 1;
      fail_unless_equals_int (lm->voice_activity, speech);
    }
    gst_buffer_unref (out);
  }
  free_harness (h, bus);
  g_free (x);
}

GST_END_TEST

/* message-interval aggregates frames */
GST_START_TEST (test_message_interval)
{
  gfloat *x = random_signal (RATE, 8);
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, F32_CAPS, &bus,
      "message-interval", (guint64) (100 * GST_MSECOND), NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));

  for (gsize done = 0; done < RATE; done += 1600)
    gst_buffer_unref (push_samples (h, x + done, 1600, sizeof (gfloat), done,
            0, RATE));
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, frames, NULL);
  fail_unless_equals_int (frames->len, 10);
  for (guint i = 0; i < frames->len; i++) {
    fail_unless_equals_uint64 (g_array_index (frames, Frame, i).ts,
        i * 100 * GST_MSECOND);
    fail_unless_equals_uint64 (g_array_index (frames, Frame, i).duration,
        100 * GST_MSECOND);
  }
  free_harness (h, bus);
  g_array_unref (frames);
  g_free (x);
}

GST_END_TEST

/* a GAP is classified as silence, in time */
GST_START_TEST (test_gap_is_silence)
{
  gfloat *x = tone_signal (RATE / 2, 0, RATE);
  GstBus *bus;
  GstHarness *h = new_harness (tone_path, F32_CAPS, &bus, NULL);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  gint onset_frame;

  fail_unless (gst_harness_push_event (h, gst_event_new_gap (0,
              GST_SECOND / 2)));
  for (gsize done = 0; done < RATE / 2; done += 800)
    gst_buffer_unref (push_samples (h, x + done, 800, sizeof (gfloat),
            RATE / 2 + done, 0, RATE));
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, frames, NULL);
  fail_unless_equals_int (frames->len, 100);
  onset_frame = first_frame_of (frames, 1);
  fail_unless_equals_int (onset_frame, 50);
  fail_unless_equals_uint64 (g_array_index (frames, Frame, onset_frame).ts,
      GST_SECOND / 2);
  free_harness (h, bus);
  g_array_unref (frames);
  g_free (x);
}

GST_END_TEST

/* ---- resets and segment policy ---------------------------------------- */

/* Pushes a then b (b starting at tb, its first buffer flagged DISCONT and,
 * if new_stream, preceded by STREAM_START) and returns the frames posted
 * from the first push of b on. */
static GArray *
frames_after_break (const gfloat * a, gsize na, const gfloat * b, gsize nb,
    GstClockTime tb, gboolean new_stream, gboolean reset_on_discont)
{
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, F32_CAPS, &bus, "reset-on-discont",
      reset_on_discont, NULL);
  GArray *after = g_array_new (FALSE, FALSE, sizeof (Frame));

  for (gsize done = 0; done < na; done += 1000)
    gst_buffer_unref (push_samples (h, a + done, MIN (1000, na - done),
            sizeof (gfloat), done, 0, RATE));
  collect (bus, NULL, NULL);
  if (new_stream) {
    fail_unless (gst_harness_push_event (h,
            gst_event_new_stream_start ("second")));
    gst_harness_set_src_caps_str (h, F32_CAPS);
  }
  for (gsize done = 0; done < nb; done += 1000) {
    GstBuffer *buf = gst_buffer_new_memdup (b + done,
        MIN (1000, nb - done) * sizeof (gfloat));
    GST_BUFFER_PTS (buf) = tb + gst_util_uint64_scale_int (done, GST_SECOND,
        RATE);
    if (done == 0)
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
    collect (bus, after, NULL);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, after, NULL);
  free_harness (h, bus);
  return after;
}

GST_START_TEST (test_discont_and_stream_start_reset)
{
  const gsize na = RATE / 2 + 70, nb = RATE;
  gfloat *a = random_signal (na, 31), *b = random_signal (nb, 32);
  const GstClockTime tb = 9 * GST_SECOND;
  GArray *fresh = element_frames (rnn_path, b, nb, 1000, tb, NULL);
  GArray *after;
  guint n_tail = (guint) ((na + HOP - 1) / HOP - (na - 400) / HOP - 1);

  /* DISCONT: the frames of a are finished first, then b starts afresh */
  after = frames_after_break (a, na, b, nb, tb, FALSE, TRUE);
  fail_unless (after->len == fresh->len + n_tail, "%u vs %u + %u",
      after->len, fresh->len, n_tail);
  g_array_remove_range (after, 0, n_tail);
  assert_frames_equal (after, fresh, "after DISCONT vs fresh");
  g_array_unref (after);

  /* STREAM_START: the same */
  after = frames_after_break (a, na, b, nb, tb, TRUE, TRUE);
  g_array_remove_range (after, 0, n_tail);
  assert_frames_equal (after, fresh, "after STREAM_START vs fresh");
  g_array_unref (after);

  /* reset-on-discont=false: one contiguous stream, timed from a's start */
  after = frames_after_break (a, na, b, nb, tb, FALSE, FALSE);
  fail_unless_equals_int (after->len + (na - 400) / HOP + 1,
      (na + nb + HOP - 1) / HOP);
  for (guint i = 1; i < after->len; i++)
    fail_unless_equals_uint64 (g_array_index (after, Frame, i).ts -
        g_array_index (after, Frame, i - 1).ts, HOP_NS);
  fail_unless (g_array_index (after, Frame, 0).ts < GST_SECOND);
  g_array_unref (after);

  g_array_unref (fresh);
  g_free (a);
  g_free (b);
}

GST_END_TEST

/* tone 300 ms, silence 30 ms, tone 300 ms, silence 200 ms, tone 50 ms */
static GPtrArray *
tone_segments (GstClockTime min_segment, GstClockTime min_gap)
{
  const gsize n = RATE;
  gfloat *x = g_new0 (gfloat, n);
  GstBus *bus;
  GstHarness *h = new_harness (tone_path, F32_CAPS, &bus, "min-segment",
      min_segment, "min-gap", min_gap, NULL);
  GPtrArray *segs = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
  const gsize on[][2] = { {0, 4800}, {5280, 10080}, {13280, 14080} };

  for (guint r = 0; r < G_N_ELEMENTS (on); r++)
    for (gsize i = on[r][0]; i < on[r][1]; i++)
      x[i] = (gfloat) (0.5 * sin (2.0 * G_PI * TEST_TONE_HZ * i / RATE));
  for (gsize done = 0; done < n; done += 800)
    gst_buffer_unref (push_samples (h, x + done, 800, sizeof (gfloat), done,
            0, RATE));
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, NULL, segs);
  free_harness (h, bus);
  g_free (x);
  return segs;
}

static guint
count_segments (GPtrArray * segs, const gchar * event, const gchar * label)
{
  guint n = 0;
  for (guint i = 0; i < segs->len; i++) {
    const GstStructure *s = g_ptr_array_index (segs, i);
    n += !g_strcmp0 (gst_structure_get_string (s, "event"), event)
        && !g_strcmp0 (gst_structure_get_string (s, "label"), label);
  }
  return n;
}

GST_START_TEST (test_segment_min_durations)
{
  GPtrArray *segs;
  const GstStructure *st;

  /* no hysteresis: three tone segments */
  segs = tone_segments (0, 0);
  fail_unless_equals_int (count_segments (segs, "start", "tone"), 3);
  fail_unless_equals_int (count_segments (segs, "end", "tone"), 3);
  g_ptr_array_unref (segs);

  /* min-gap 50 ms bridges the 30 ms gap; min-segment 100 ms drops the
   * 50 ms blip */
  segs = tone_segments (100 * GST_MSECOND, 50 * GST_MSECOND);
  fail_unless_equals_int (count_segments (segs, "start", "tone"), 1);
  fail_unless_equals_int (count_segments (segs, "end", "tone"), 1);
  st = find_segment (segs, "end", "tone");
  fail_unless_equals_uint64 (get_time (st, "start"), 0);
  fail_unless_equals_uint64 (get_time (st, "end"), 630 * GST_MSECOND);
  g_ptr_array_unref (segs);
}

GST_END_TEST

/* ---- suite ------------------------------------------------------------- */

static void
write_models (void)
{
  gchar *data = NULL;
  gsize len = 0;

  tmpdir = g_dir_make_tmp ("earshot-element-XXXXXX", NULL);
  g_assert (tmpdir);
  rnn_path = g_build_filename (tmpdir, "rnn.earshot", NULL);
  rnn2_path = g_build_filename (tmpdir, "rnn2.earshot", NULL);
  look_path = g_build_filename (tmpdir, "look.earshot", NULL);
  tone_path = g_build_filename (tmpdir, "tone.earshot", NULL);
  high_path = g_build_filename (tmpdir, "high.earshot", NULL);
  bad_path = g_build_filename (tmpdir, "bad.earshot", NULL);
  truncated_path = g_build_filename (tmpdir, "truncated.earshot", NULL);
  g_assert (test_model_write_rnn (rnn_path, 1) == 0);
  g_assert (test_model_write_rnn (rnn2_path, 2) == 0);
  g_assert (test_model_write_rnn_lookahead (look_path, 1, LOOKAHEAD) == 0);
  g_assert (test_model_write_tone (tone_path) == 0);
  g_assert (test_model_write_high (high_path) == 0);
  g_assert (g_file_set_contents (bad_path, "this is not a model\n", -1,
          NULL));
  g_assert (g_file_get_contents (rnn_path, &data, &len, NULL));
  g_assert (g_file_set_contents (truncated_path, data, (gssize) len / 2,
          NULL));
  g_free (data);
}

static void
remove_models (void)
{
  const gchar *files[] = { rnn_path, rnn2_path, look_path, tone_path, high_path,
    bad_path, truncated_path
  };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_unlink (files[i]);
    g_free ((gchar *) files[i]);
  }
  g_rmdir (tmpdir);
  g_free (tmpdir);
}

/* ---- 7. a long run --------------------------------------------------------- */

/* One minute of 48 kHz stereo S16 through conversion, resampling and the
 * network, in 20 ms buffers: every frame is reported once, the last one at
 * exactly 59.99 s, and (in the sanitizer build, which runs this suite with
 * leak detection) nothing leaks. */
GST_START_TEST (test_one_minute_no_leaks)
{
  const gint rate = 48000, per_buf = rate / 50, seconds = 60;
  gint16 *x = g_new (gint16, 2 * per_buf);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  GstBus *bus;
  GstHarness *h = new_harness (rnn_path, "audio/x-raw,format=S16LE,"
      "layout=interleaved,channels=2,rate=48000", &bus, NULL);
  guint metas = 0;

  for (gint b = 0; b < seconds * 50; b++) {
    for (gint i = 0; i < per_buf; i++) {
      gdouble t = (gdouble) (b * per_buf + i) / rate;
      x[2 * i] = (gint16) (8000 * sin (2 * G_PI * 440 * t));
      x[2 * i + 1] = (gint16) (4000 * sin (2 * G_PI * 3000 * t));
    }
    GstBuffer *out = push_samples (h, x, per_buf, 4, (guint64) b * per_buf,
        0, rate);
    if (gst_buffer_get_earshot_meta (out))
      metas++;
    gst_buffer_unref (out);
    collect (bus, frames, NULL);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (bus, frames, NULL);
  free_harness (h, bus);

  fail_unless_equals_int (frames->len, seconds * 100);
  Frame *last = &g_array_index (frames, Frame, frames->len - 1);
  fail_unless_equals_uint64 (last->ts, seconds * GST_SECOND - HOP_NS);
  fail_unless_equals_uint64 (last->duration, HOP_NS);
  fail_unless (metas >= (guint) (seconds * 50 - 2), "%u metas", metas);
  g_array_unref (frames);
  g_free (x);
}

GST_END_TEST

static Suite *
earshot_suite (void)
{
  Suite *s = suite_create ("earshot");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_passthrough_bit_identical);
  tcase_add_test (tc, test_frames_equal_core);
  tcase_add_test (tc, test_frames_equal_core_s16);
  tcase_add_test (tc, test_frames_equal_core_mixed);
  tcase_add_test (tc, test_frames_equal_core_resampled);
  tcase_add_test (tc, test_lookahead_frames_equal_core);
  tcase_add_test (tc, test_tone_onset);
  tcase_add_test (tc, test_tone_onset_resampled);
  tcase_add_test (tc, test_tone_onset_segment_start);
  tcase_add_test (tc, test_tone_onset_after_seek);
  tcase_add_test (tc, test_flush_resets_state);
  tcase_add_test (tc, test_model_swap_between_buffers);
  tcase_add_test (tc, test_model_swap_while_streaming);
  tcase_add_test (tc, test_error_messages);
  tcase_add_test (tc, test_error_unmet_rate);
  tcase_add_test (tc, test_low_rate_warns);
  tcase_add_test (tc, test_model_path_property);
  tcase_add_test (tc, test_error_bad_model_while_playing);
  tcase_add_test (tc, test_model_by_name);
  tcase_add_test (tc, test_model_cache_follows_file);
  tcase_add_test (tc, test_latency);
  tcase_add_test (tc, test_channel_mode_each);
  tcase_add_test (tc, test_audio_level_meta);
  tcase_add_test (tc, test_message_interval);
  tcase_add_test (tc, test_gap_is_silence);
  tcase_add_test (tc, test_discont_and_stream_start_reset);
  tcase_add_test (tc, test_segment_min_durations);
  tcase_add_test (tc, test_one_minute_no_leaks);
  return s;
}

int
main (int argc, char **argv)
{
  int ret;

  /* the default model must not be found, whatever is installed */
  g_setenv ("EARSHOT_MODEL_PATH", "", TRUE);
  gst_check_init (&argc, &argv);
  write_models ();
  ret = gst_check_run_suite (earshot_suite (), "earshot", __FILE__);
  remove_models ();
  return ret;
}
