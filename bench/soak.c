/* bench/soak — hours of generated audio through the `earshot` element,
 * faster than real time, checking what must not drift or grow.
 *
 *   soak [--hours H] [--rate R] [--channels C] [--model M] [--tail S]
 *        [--seed N]
 *
 * Defaults: 24 hours of 16 kHz mono S16, the shipped `vad` model, a 60 s
 * tail; `--rate 48000 --channels 2` soaks 48 kHz stereo (mixed and
 * resampled by the element).  The audio comes from a deterministic
 * generator (below): scenes of 0.2-10 s of silence (digital zero or a faint
 * hiss), tones (1-3 sines anywhere up to 0.45 x the rate), white or
 * low-passed noise, speech-like bursts (a pulse train at a drifting pitch
 * through two formant resonators, in syllables and pauses) and mixtures of
 * them, cut into buffers of 1 to 8192 samples.  The element runs in a
 * GstHarness with post-messages off; every output buffer is read.
 *
 * Checks (each failure is printed; the exit status is 1 if any failed):
 *   - every frame in every GstEarshotMeta has the index and timestamp its
 *     position gives, computed here with integer arithmetic
 *     (frame j at j x hop x 1e9 / model rate ns);
 *   - resident memory (VmRSS, sampled once per minute of audio) grows by
 *     less than 1 MiB after the first minute of audio (not checked in an
 *     AddressSanitizer build: its quarantine keeps freed memory);
 *   - at T = H hours minus the tail, a buffer flagged DISCONT resets the
 *     element: the frames drained then are exactly ceil(model samples / hop)
 *     with the last one at its exact time (the soak's own figure);
 *   - the tail, fed to the soaked element after that reset and to a fresh
 *     element, gives bit-identical frame messages (times and posteriors),
 *     and the right number of them with the right last timestamp;
 *   - the element posts no error.
 * It prints figures (RSS, frames, times, wall and CPU time) and never fails
 * on speed.  Exit status: 0 all checks passed, 1 a check failed, 2 usage or
 * set-up error.
 */
#include <gst/audio/audio.h>
#include <gst/check/gstharness.h>
#include <gst/earshot/gstearshotmeta.h>
#include <gst/gst.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "earshot_model.h"

#if defined(__SANITIZE_ADDRESS__)
#define SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#endif
#endif
#ifndef SOAK_ASAN
#define SOAK_ASAN 0
#endif

#define MAX_BUFFER 8192         /* samples per buffer, at most */
#define RSS_LIMIT_KIB 1024      /* growth allowed after the first minute */

static guint failures;

static void
check_failed (const gchar * fmt, ...) G_GNUC_PRINTF (1, 2);

static void
check_failed (const gchar * fmt, ...)
{
  va_list args;

  va_start (args, fmt);
  fputs ("soak: FAILED: ", stdout);
  vprintf (fmt, args);
  fputc ('\n', stdout);
  va_end (args);
  fflush (stdout);
  failures++;
}

/* ---- the generator ----------------------------------------------------- */

/* xorshift64*: the whole audio is a function of the seed. */
typedef struct
{
  guint64 s;
} Rng;

static guint64
rng_next (Rng * r)
{
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 2685821657736338717ull;
}

/* uniform in [lo, hi) */
static gdouble
rng_range (Rng * r, gdouble lo, gdouble hi)
{
  return lo + (hi - lo) * ((rng_next (r) >> 11) * (1.0 / 9007199254740992.0));
}

/* A sine as a rotating phasor (c, s), rotated by (dc, ds) each sample. */
typedef struct
{
  gdouble c, s, dc, ds, amp;
} Osc;

/* Two-pole resonator: y = g x + a1 y[-1] + a2 y[-2]. */
typedef struct
{
  gdouble a1, a2, g, y1, y2;
} Reso;

enum
{
  HAS_TONES = 1, HAS_NOISE = 2, HAS_SPEECH = 4, HAS_HISS = 8
};

typedef struct
{
  Rng rng;
  gdouble rate;
  guint64 left;                 /* samples left in the scene */
  guint parts;                  /* HAS_* of the scene */
  guint n_osc;
  Osc osc[3];
  gdouble noise_amp, noise_pole, noise_y;
  /* speech-like: a pulse train at f0 through two formants, in syllables */
  gdouble f0, f0_drift, phase, speech_amp;
  Reso f1, f2;
  guint64 syl_left;             /* samples left in the syllable or pause */
  guint64 syl_len;
  gboolean voiced;
  guint renorm;
} Gen;

static void
reso_set (Reso * r, gdouble freq, gdouble bw, gdouble rate)
{
  gdouble rad = exp (-G_PI * bw / rate);

  r->a1 = 2.0 * rad * cos (2.0 * G_PI * freq / rate);
  r->a2 = -rad * rad;
  r->g = (1.0 - rad) * sin (2.0 * G_PI * freq / rate) * 4.0;
}

static void
new_syllable (Gen * g)
{
  Rng *r = &g->rng;

  g->voiced = !g->voiced;
  if (g->voiced) {
    g->syl_len = (guint64) (g->rate * rng_range (r, 0.08, 0.3));
    reso_set (&g->f1, rng_range (r, 300, 900), 90, g->rate);
    reso_set (&g->f2, rng_range (r, 900, 2500), 120, g->rate);
    g->f0_drift = rng_range (r, -40, 40) / g->rate / g->rate * 4.0;
  } else {
    g->syl_len = (guint64) (g->rate * (rng_range (r, 0, 1) < 0.1 ?
            rng_range (r, 0.3, 0.8) : rng_range (r, 0.03, 0.25)));
  }
  g->syl_left = MAX (g->syl_len, 1);
}

static void
new_scene (Gen * g)
{
  static const guint kinds[] = { 0, HAS_HISS, HAS_TONES, HAS_NOISE,
    HAS_SPEECH, HAS_SPEECH, HAS_SPEECH | HAS_NOISE, HAS_SPEECH | HAS_TONES,
    HAS_TONES | HAS_NOISE
  };
  Rng *r = &g->rng;

  g->parts = kinds[rng_next (r) % G_N_ELEMENTS (kinds)];
  g->left = (guint64) (g->rate * (g->parts & HAS_SPEECH ?
          rng_range (r, 1.0, 10.0) : rng_range (r, 0.2, 5.0)));
  g->left = MAX (g->left, 1);
  g->n_osc = 1 + (guint) (rng_next (r) % 3);
  for (guint i = 0; i < g->n_osc; i++) {
    gdouble w = 2.0 * G_PI * rng_range (r, 40.0, 0.45 * g->rate) / g->rate;
    g->osc[i].c = 1.0;
    g->osc[i].s = 0.0;
    g->osc[i].dc = cos (w);
    g->osc[i].ds = sin (w);
    g->osc[i].amp = rng_range (r, 0.02, 0.35) * (g->parts & HAS_SPEECH ?
        0.3 : 1.0);
  }
  g->noise_amp = g->parts & HAS_HISS ? 1e-4 : rng_range (r, 0.005, 0.5) *
      (g->parts & HAS_SPEECH ? 0.2 : 1.0);
  g->noise_pole = rng_range (r, 0.0, 0.95);
  g->speech_amp = rng_range (r, 0.2, 1.5);
  g->f0 = rng_range (r, 90.0, 250.0) / g->rate;
}

static void
gen_init (Gen * g, guint64 seed, gint rate)
{
  memset (g, 0, sizeof *g);
  g->rng.s = seed * 0x9e3779b97f4a7c15ull + 0x1234567ull;
  g->rate = rate;
  new_scene (g);
  new_syllable (g);
}

static gdouble
gen_sample (Gen * g)
{
  gdouble x = 0.0;

  if (g->left-- == 0)
    new_scene (g);
  if (g->parts & HAS_TONES) {
    for (guint i = 0; i < g->n_osc; i++) {
      Osc *o = &g->osc[i];
      gdouble c = o->c * o->dc - o->s * o->ds;

      o->s = o->c * o->ds + o->s * o->dc;
      o->c = c;
      x += o->amp * o->s;
    }
    /* keep the phasors on the unit circle */
    if (++g->renorm == 256) {
      g->renorm = 0;
      for (guint i = 0; i < g->n_osc; i++) {
        gdouble k = 1.5 - 0.5 * (g->osc[i].c * g->osc[i].c +
            g->osc[i].s * g->osc[i].s);
        g->osc[i].c *= k;
        g->osc[i].s *= k;
      }
    }
  }
  if (g->parts & (HAS_NOISE | HAS_HISS)) {
    gdouble w = rng_range (&g->rng, -1.0, 1.0);
    g->noise_y = g->noise_pole * g->noise_y + (1.0 - g->noise_pole) * w;
    x += g->noise_amp * (g->noise_y / (1.0 - g->noise_pole * 0.9));
  }
  if (g->parts & HAS_SPEECH) {
    gdouble e = 0.0, y1, y2;

    if (g->syl_left-- == 0)
      new_syllable (g);
    if (g->voiced) {
      gdouble pos = 1.0 - (gdouble) g->syl_left / (gdouble) g->syl_len;
      gdouble env = 0.5 - 0.5 * cos (2.0 * G_PI * pos);

      g->phase += g->f0;
      g->f0 = CLAMP (g->f0 + g->f0_drift, 70.0 / g->rate, 300.0 / g->rate);
      if (g->phase >= 1.0) {
        g->phase -= 1.0;
        e = 1.0;
      }
      e = env * (e + 0.02 * rng_range (&g->rng, -1.0, 1.0));
    }
    y1 = g->f1.g * e + g->f1.a1 * g->f1.y1 + g->f1.a2 * g->f1.y2;
    g->f1.y2 = g->f1.y1;
    g->f1.y1 = y1;
    y2 = g->f2.g * e + g->f2.a1 * g->f2.y1 + g->f2.a2 * g->f2.y2;
    g->f2.y2 = g->f2.y1;
    g->f2.y1 = y2;
    x += g->speech_amp * (y1 + 0.5 * y2);
  }
  return x;
}

/* n samples of `channels` interleaved S16: channel c is the signal at a
 * gain of its own plus a faint noise of its own. */
static void
gen_fill (Gen * g, gint16 * out, gsize n, gint channels)
{
  for (gsize i = 0; i < n; i++) {
    gdouble x = gen_sample (g);

    for (gint c = 0; c < channels; c++) {
      gdouble y = x * (1.0 - 0.25 * c) + (c ? 1e-3 * rng_range (&g->rng,
              -1.0, 1.0) : 0.0);
      out[i * channels + c] = (gint16) CLAMP (lrint (y * 32767.0), -32768,
          32767);
    }
  }
}

/* ---- measuring --------------------------------------------------------- */

/* VmRSS in KiB, or -1. */
static gint64
rss_kib (void)
{
  FILE *f = fopen ("/proc/self/status", "r");
  char line[256];
  gint64 kib = -1;

  if (f == NULL)
    return -1;
  while (fgets (line, sizeof line, f))
    if (sscanf (line, "VmRSS: %" G_GINT64_FORMAT " kB", &kib) == 1)
      break;
  fclose (f);
  return kib;
}

static gdouble
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 *
      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* ---- the element ------------------------------------------------------- */

typedef struct
{
  guint model_rate, hop, win, lookahead, n_classes;
} ModelInfo;

/* Start of frame j after an anchor, in ns: integer arithmetic only (j x hop
 * stays below 2^64 / 1e9 for --hours <= 100). */
static GstClockTime
frame_start (const ModelInfo * mi, guint64 j)
{
  return j * mi->hop * GST_SECOND / mi->model_rate;
}

/* Model-rate samples the element classifies for n input samples at `rate`
 * (it cuts the resampler's output to ceil (n x model rate / rate)). */
static guint64
model_samples (const ModelInfo * mi, guint64 n, gint rate)
{
  return ((guint64) rate == mi->model_rate) ? n :
      (n * mi->model_rate + (guint64) rate - 1) / (guint64) rate;
}

/* A frame from an `earshot` message. */
typedef struct
{
  GstClockTime ts;
  gdouble probs[8];
} Frame;

typedef struct
{
  GstHarness *h;
  GstBus *bus;
  guint64 meta_frames;          /* frames seen in metas since the reset */
  guint64 level_metas, voice;   /* buffers with a level meta, with voice */
  gint level_min, level_max;
  guint errors, warnings;
} Element;

static void
element_open (Element * e, const gchar * model, const gchar * caps,
    gboolean post_messages)
{
  GstElement *el = gst_element_factory_make ("earshot", NULL);

  memset (e, 0, sizeof *e);
  if (el == NULL) {
    fprintf (stderr, "soak: no earshot element: set GST_PLUGIN_PATH to the "
        "build tree's plugin folder (build/plugin)\n");
    exit (2);
  }
  g_object_set (el, "model", model, "post-messages", post_messages, NULL);
  e->bus = gst_bus_new ();
  gst_element_set_bus (el, e->bus);
  e->h = gst_harness_new_with_element (el, "sink", "src");
  gst_object_unref (el);
  gst_harness_set_src_caps_str (e->h, caps);
  e->level_min = G_MAXINT;
  e->level_max = G_MININT;
}

static void
element_close (Element * e)
{
  gst_element_set_bus (e->h->element, NULL);
  gst_harness_teardown (e->h);
  gst_bus_set_flushing (e->bus, TRUE);
  gst_object_unref (e->bus);
}

/* Pops the bus: errors and warnings are counted and printed, frame messages
 * appended to `frames` (NULL: not expected, counted as a failure). */
static void
element_messages (Element * e, GArray * frames, guint n_classes)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop (e->bus))) {
    const GstStructure *s = gst_message_get_structure (msg);

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR
        || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      GError *err = NULL;
      gchar *debug = NULL;
      gboolean error = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;

      if (error)
        gst_message_parse_error (msg, &err, &debug);
      else
        gst_message_parse_warning (msg, &err, &debug);
      printf ("soak: element %s: %s (%s)\n", error ? "error" : "warning",
          err->message, debug ? debug : "");
      if (error) {
        e->errors++;
        check_failed ("the element posted an error");
      } else {
        e->warnings++;
      }
      g_error_free (err);
      g_free (debug);
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (s, "earshot")) {
      const GValue *p = gst_structure_get_value (s, "probabilities");
      Frame f = { 0 };

      if (frames == NULL) {
        check_failed ("a frame message while post-messages is off");
      } else if (!gst_structure_get_uint64 (s, "timestamp", &f.ts)
          || p == NULL || gst_value_array_get_size (p) != n_classes) {
        check_failed ("a malformed frame message");
      } else {
        for (guint k = 0; k < n_classes; k++)
          f.probs[k] = g_value_get_double (gst_value_array_get_value (p, k));
        g_array_append_val (frames, f);
      }
    }
    gst_message_unref (msg);
  }
}

/* Pushes n samples stamped at sample `at`, checks the buffer comes back
 * unchanged in size and its metas: frame indices continue from
 * e->meta_frames, each at its exact time after `anchor`. */
static void
element_push (Element * e, const ModelInfo * mi, const gint16 * x, gsize n,
    gint rate, gint channels, guint64 at, gboolean discont,
    GstClockTime anchor, GArray * frames)
{
  gsize size = n * channels * sizeof (gint16);
  GstBuffer *buf = gst_buffer_new_memdup (x, size), *out;
  GstEarshotMeta *m;
  GstAudioLevelMeta *lm;

  GST_BUFFER_PTS (buf) = gst_util_uint64_scale_int (at, GST_SECOND, rate);
  GST_BUFFER_DURATION (buf) = gst_util_uint64_scale_int (at + n, GST_SECOND,
      rate) - GST_BUFFER_PTS (buf);
  if (discont)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  if (gst_harness_push (e->h, buf) != GST_FLOW_OK) {
    check_failed ("push at sample %" G_GUINT64_FORMAT " failed", at);
    exit (1);
  }
  out = gst_harness_try_pull (e->h);
  if (out == NULL || gst_buffer_get_size (out) != size) {
    check_failed ("no output buffer, or one of another size, at sample %"
        G_GUINT64_FORMAT, at);
    exit (1);
  }
  /* the drain a DISCONT causes posts its frames before this buffer's */
  element_messages (e, frames, mi->n_classes);
  if (discont)
    e->meta_frames = 0;
  m = gst_buffer_get_earshot_meta (out);
  if (m) {
    if (m->first_frame != e->meta_frames)
      check_failed ("meta starts at frame %" G_GUINT64_FORMAT ", expected %"
          G_GUINT64_FORMAT, m->first_frame, e->meta_frames);
    for (guint f = 0; f < m->n_frames; f++) {
      guint64 j = e->meta_frames + f;
      GstClockTime want = anchor + frame_start (mi, j);
      GstClockTime dur = frame_start (mi, j + 1) - frame_start (mi, j);

      if (m->pts[f] != want || m->duration[f] != dur) {
        check_failed ("meta frame %" G_GUINT64_FORMAT " at %" G_GUINT64_FORMAT
            " + %" G_GUINT64_FORMAT " ns, expected %" G_GUINT64_FORMAT " + %"
            G_GUINT64_FORMAT, j, m->pts[f], m->duration[f], want, dur);
        break;
      }
    }
    e->meta_frames = m->first_frame + m->n_frames;
  }
  lm = gst_buffer_get_audio_level_meta (out);
  if (lm) {
    e->level_metas++;
    e->voice += lm->voice_activity;
    e->level_min = MIN (e->level_min, lm->level);
    e->level_max = MAX (e->level_max, lm->level);
  }
  gst_buffer_unref (out);
}

/* Checks frames (from messages) j0, j0 + 1, ... at their exact times after
 * `anchor`; returns FALSE after printing the first that is not. */
static gboolean
check_frame_times (const ModelInfo * mi, const GArray * frames, guint from,
    guint64 j0, GstClockTime anchor, const gchar * what)
{
  for (guint i = from; i < frames->len; i++) {
    GstClockTime want = anchor + frame_start (mi, j0 + i - from);
    GstClockTime got = g_array_index (frames, Frame, i).ts;

    if (got != want) {
      check_failed ("%s: frame %" G_GUINT64_FORMAT " at %" G_GUINT64_FORMAT
          " ns, expected %" G_GUINT64_FORMAT, what, j0 + i - from, got, want);
      return FALSE;
    }
  }
  return TRUE;
}

static void
usage (void)
{
  fprintf (stderr, "usage: soak [--hours H] [--rate R] [--channels C] "
      "[--model M] [--tail SECONDS] [--seed N]\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  gdouble hours = 24.0, tail_s = 60.0;
  gint rate = 16000, channels = 1;
  guint64 seed = 1;
  gchar *model = g_build_filename (EARSHOT_SOURCE_MODELS_DIR, "vad.earshot",
      NULL);
  earshot_model *em = NULL;
  char err[256] = "";
  ModelInfo mi;
  gchar *caps;
  Element soaked, fresh;
  Gen gen, gen_tail;
  Rng sizes = { 0x5eed5eed5eed5eedull }, sizes_tail;
  gint16 *x;
  guint64 total, tail, reset_at, done = 0, minute, next_rss, next_report;
  guint64 m_a, m_b, frames_a_want, frames_b_want, stream_frames_a;
  gint64 rss_1min = -1, rss_max = -1, rss_last = -1, rss_end;
  gint64 t_start;
  gdouble cpu_start, wall, cpu;
  GArray *drained, *tail_soaked, *tail_fresh;
  GstClockTime t_reset;
  guint rss_samples = 0;

  for (gint i = 1; i < argc; i++) {
    const gchar *a = argv[i];
    gchar *end = NULL;

    if (i + 1 >= argc)
      usage ();
    if (!strcmp (a, "--hours"))
      hours = g_ascii_strtod (argv[++i], &end);
    else if (!strcmp (a, "--tail"))
      tail_s = g_ascii_strtod (argv[++i], &end);
    else if (!strcmp (a, "--rate"))
      rate = (gint) g_ascii_strtoll (argv[++i], &end, 10);
    else if (!strcmp (a, "--channels"))
      channels = (gint) g_ascii_strtoll (argv[++i], &end, 10);
    else if (!strcmp (a, "--seed"))
      seed = g_ascii_strtoull (argv[++i], &end, 10);
    else if (!strcmp (a, "--model")) {
      g_free (model);
      model = g_strdup (argv[++i]);
      end = (gchar *) "";
    } else
      usage ();
    if (end == NULL || *end != '\0')
      usage ();
  }
  if (!(hours > 0.0 && hours <= 100.0) || !(tail_s > 0.0) || rate < 8000
      || rate > 192000 || channels < 1 || channels > 8) {
    fprintf (stderr, "soak: --hours in (0, 100], --tail > 0, --rate in "
        "[8000, 192000], --channels in [1, 8]\n");
    return 2;
  }

  if (earshot_model_load (model, &em, err, sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "soak: %s: %s\n", model, err);
    return 2;
  }
  mi.model_rate = earshot_model_features_config (em)->sample_rate;
  mi.hop = earshot_model_features_config (em)->hop_length;
  mi.win = earshot_model_features_config (em)->win_length;
  mi.lookahead = earshot_model_lookahead (em);
  mi.n_classes = (guint) earshot_model_n_labels (em);
  earshot_model_free (em);
  if (mi.n_classes > G_N_ELEMENTS (((Frame *) NULL)->probs)) {
    fprintf (stderr, "soak: models of at most 8 classes\n");
    return 2;
  }

  /* the build tree's plugin, unless told otherwise */
  if (!g_getenv ("GST_PLUGIN_PATH_1_0") && !g_getenv ("GST_PLUGIN_PATH"))
    g_setenv ("GST_PLUGIN_PATH_1_0", SOAK_PLUGIN_DIR, TRUE);
  gst_init (&argc, &argv);

  total = (guint64) llround (hours * 3600.0 * rate);
  tail = MIN ((guint64) llround (tail_s * rate), total / 2);
  reset_at = total - tail;
  minute = 60 * (guint64) rate;
  caps = g_strdup_printf ("audio/x-raw,format=S16LE,rate=%d,channels=%d,"
      "layout=interleaved%s", rate, channels,
      channels == 2 ? ",channel-mask=(bitmask)0x3" :
      channels > 2 ? ",channel-mask=(bitmask)0x0" : "");
  printf ("soak: %.4g h of %d Hz x %d S16 (%" G_GUINT64_FORMAT " samples), "
      "model %s (%u Hz, hop %u, window %u), reset %.4g s before the end\n",
      hours, rate, channels, total, model, mi.model_rate, mi.hop, mi.win,
      (gdouble) tail / rate);

  x = g_new (gint16, (gsize) MAX_BUFFER * channels);
  drained = g_array_new (FALSE, FALSE, sizeof (Frame));
  tail_soaked = g_array_new (FALSE, FALSE, sizeof (Frame));
  tail_fresh = g_array_new (FALSE, FALSE, sizeof (Frame));
  gen_init (&gen, seed, rate);
  element_open (&soaked, model, caps, FALSE);

  t_start = g_get_monotonic_time ();
  cpu_start = cpu_seconds ();
  next_rss = minute;
  next_report = MAX (minute, total / 24);
  /* ---- the soak: [0, reset_at) */
  while (done < reset_at) {
    guint64 r = rng_next (&sizes);
    gsize n = (gsize) (r % 16 == 0 ? 1 + (r >> 8) % 64 :
        1 + (r >> 8) % MAX_BUFFER);

    n = (gsize) MIN ((guint64) n, reset_at - done);
    gen_fill (&gen, x, n, channels);
    element_push (&soaked, &mi, x, n, rate, channels, done, done == 0, 0,
        NULL);
    done += n;
    if (done >= next_rss) {
      rss_last = rss_kib ();
      rss_samples++;
      if (rss_1min < 0)
        rss_1min = rss_last;
      rss_max = MAX (rss_max, rss_last);
      next_rss += minute;
    }
    if (done >= next_report || done == reset_at) {
      wall = (g_get_monotonic_time () - t_start) / 1e6;
      printf ("soak: %8.3f h  frames %10" G_GUINT64_FORMAT "  RSS %7"
          G_GINT64_FORMAT " KiB  wall %7.1f s  cpu %7.1f s  %6.0fx real "
          "time\n", (gdouble) done / rate / 3600.0, soaked.meta_frames,
          rss_kib (), wall, cpu_seconds () - cpu_start,
          (gdouble) done / rate / MAX (wall, 1e-9));
      fflush (stdout);
      next_report += MAX (minute, total / 24);
    }
  }
  stream_frames_a = soaked.meta_frames;

  /* ---- the reset at T - tail: a DISCONT buffer drains the soak's frames */
  gen_tail = gen;
  sizes_tail = sizes;
  t_reset = gst_util_uint64_scale_int (reset_at, GST_SECOND, rate);
  g_object_set (soaked.h->element, "post-messages", TRUE, NULL);
  {
    Element *targets[2] = { &soaked, &fresh };
    GArray *out[2] = { tail_soaked, tail_fresh };

    element_open (&fresh, model, caps, TRUE);
    for (guint t = 0; t < 2; t++) {
      guint64 at = reset_at;

      gen = gen_tail;
      sizes = sizes_tail;
      while (at < total) {
        guint64 r = rng_next (&sizes);
        gsize n = (gsize) (r % 16 == 0 ? 1 + (r >> 8) % 64 :
            1 + (r >> 8) % MAX_BUFFER);

        n = (gsize) MIN ((guint64) n, total - at);
        gen_fill (&gen, x, n, channels);
        element_push (targets[t], &mi, x, n, rate, channels, at,
            at == reset_at, t_reset, out[t]);
        at += n;
        /* the soaked element's drained frames come with the first push */
        if (t == 0 && at - n == reset_at) {
          guint keep = 0;

          for (guint i = 0; i < tail_soaked->len; i++) {
            Frame *f = &g_array_index (tail_soaked, Frame, i);
            if (f->ts < t_reset)
              g_array_append_val (drained, *f);
            else
              g_array_index (tail_soaked, Frame, keep++) = *f;
          }
          g_array_set_size (tail_soaked, keep);
        }
      }
      gst_harness_push_event (targets[t]->h, gst_event_new_eos ());
      element_messages (targets[t], out[t], mi.n_classes);
    }
  }
  wall = (g_get_monotonic_time () - t_start) / 1e6;
  cpu = cpu_seconds () - cpu_start;
  rss_end = rss_kib ();

  /* ---- figures and checks */
  m_a = model_samples (&mi, reset_at, rate);
  m_b = model_samples (&mi, total - reset_at, rate);
  frames_a_want = (m_a + mi.hop - 1) / mi.hop;
  frames_b_want = (m_b + mi.hop - 1) / mi.hop;

  printf ("soak: audio %.6g s in %.1f s wall, %.1f s CPU: %.0fx real time "
      "(wall), %.0fx (CPU)\n", (gdouble) total / rate, wall, cpu,
      (gdouble) total / rate / wall, (gdouble) total / rate / cpu);
  printf ("soak: RSS %" G_GINT64_FORMAT " KiB after the first minute of "
      "audio, at most %" G_GINT64_FORMAT " KiB after it (%u samples, last %"
      G_GINT64_FORMAT " KiB), %" G_GINT64_FORMAT " KiB at the end: growth %"
      G_GINT64_FORMAT " KiB\n", rss_1min, rss_max, rss_samples, rss_last,
      rss_end, rss_max - rss_1min);
  if (SOAK_ASAN)
    printf ("soak: RSS growth not checked: AddressSanitizer's quarantine "
        "keeps freed memory\n");
  else if (rss_1min < 0 || rss_max - rss_1min >= RSS_LIMIT_KIB)
    check_failed ("RSS grew by %" G_GINT64_FORMAT " KiB after the first "
        "minute (limit %d KiB)", rss_max - rss_1min, RSS_LIMIT_KIB);
  printf ("soak: level meta on %" G_GUINT64_FORMAT " buffers, levels %d..%d "
      "-dBov, voice activity on %.1f %%; %u warnings\n", soaked.level_metas,
      soaked.level_metas ? soaked.level_min : 0,
      soaked.level_metas ? soaked.level_max : 0,
      soaked.level_metas ? 100.0 * soaked.voice / soaked.level_metas : 0.0,
      soaked.warnings);

  /* the soak's frames: those of the metas, then the drained ones */
  printf ("soak: before the reset: %" G_GUINT64_FORMAT " + %u frames, "
      "expected %" G_GUINT64_FORMAT " = ceil (%" G_GUINT64_FORMAT
      " model-rate samples / %u)\n", stream_frames_a, drained->len,
      frames_a_want, m_a, mi.hop);
  if (rate == (gint) mi.model_rate) {
    /* complete windows, less the frames a lookahead still holds back */
    guint64 want = m_a >= mi.win ? (m_a - mi.win) / mi.hop + 1 : 0;
    want = want > mi.lookahead ? want - mi.lookahead : 0;
    if (stream_frames_a != want)
      check_failed ("%" G_GUINT64_FORMAT " frames in metas, expected %"
          G_GUINT64_FORMAT " = (samples - window) / hop + 1 - lookahead",
          stream_frames_a, want);
  }
  if (stream_frames_a + drained->len != frames_a_want)
    check_failed ("%" G_GUINT64_FORMAT " frames before the reset, expected %"
        G_GUINT64_FORMAT, stream_frames_a + drained->len, frames_a_want);
  else if (check_frame_times (&mi, drained, 0, stream_frames_a, 0,
          "drained")) {
    GstClockTime last = g_array_index (drained, Frame, drained->len - 1).ts;
    printf ("soak: last frame before the reset at %" G_GUINT64_FORMAT
        " ns (%" GST_TIME_FORMAT "), expected %" G_GUINT64_FORMAT
        " ns = %" G_GUINT64_FORMAT " x %u x 1e9 / %u: %s\n", last,
        GST_TIME_ARGS (last), frame_start (&mi, frames_a_want - 1),
        frames_a_want - 1, mi.hop, mi.model_rate,
        last == frame_start (&mi, frames_a_want - 1) ? "exact" : "WRONG");
    if (last != frame_start (&mi, frames_a_want - 1))
      check_failed ("last frame before the reset");
  }

  /* the tail: soaked-and-reset against fresh, bit for bit */
  printf ("soak: tail: soaked element %u frames, fresh element %u, expected %"
      G_GUINT64_FORMAT "\n", tail_soaked->len, tail_fresh->len,
      frames_b_want);
  if (tail_soaked->len != frames_b_want || tail_fresh->len != frames_b_want)
    check_failed ("tail frame count");
  check_frame_times (&mi, tail_soaked, 0, 0, t_reset, "tail, soaked");
  check_frame_times (&mi, tail_fresh, 0, 0, t_reset, "tail, fresh");
  if (tail_soaked->len > 0 && tail_soaked->len == tail_fresh->len) {
    gdouble worst = 0.0;
    guint differ = 0;
    GstClockTime last = g_array_index (tail_soaked, Frame,
        tail_soaked->len - 1).ts;

    for (guint i = 0; i < tail_soaked->len; i++) {
      const Frame *a = &g_array_index (tail_soaked, Frame, i);
      const Frame *b = &g_array_index (tail_fresh, Frame, i);

      if (memcmp (a, b, sizeof *a) != 0)
        differ++;
      for (guint k = 0; k < mi.n_classes; k++)
        worst = MAX (worst, fabs (a->probs[k] - b->probs[k]));
    }
    printf ("soak: last frame at %" G_GUINT64_FORMAT " ns (%" GST_TIME_FORMAT
        "), expected %" G_GUINT64_FORMAT " ns\n", last, GST_TIME_ARGS (last),
        t_reset + frame_start (&mi, frames_b_want - 1));
    printf ("soak: tail after the reset vs a fresh element: %u of %u frames "
        "differ, largest posterior difference %.3g: %s\n", differ,
        tail_soaked->len, worst, differ ? "DIFFERENT" : "bit-identical");
    if (differ)
      check_failed ("the soaked element, reset, differs from a fresh one");
  }
  if (soaked.errors || fresh.errors)
    check_failed ("element errors");

  element_close (&soaked);
  element_close (&fresh);
  g_array_unref (drained);
  g_array_unref (tail_soaked);
  g_array_unref (tail_fresh);
  g_free (x);
  g_free (caps);
  g_free (model);
  printf ("soak: %s\n", failures ? "FAILED" : "all checks passed");
  gst_deinit ();
  return failures ? 1 : 0;
}
