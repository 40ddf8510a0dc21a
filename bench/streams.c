/* bench/streams — many live streams in one process: how many
 * `appsrc ! earshot ! fakesink` pipelines this machine keeps in real time,
 * and the memory each one costs.
 *
 *   streams [--seconds S] [--buffer-ms MS] [--max-lag-ms L] [--messages]
 *           [--model FILE] [--input FILE] [--rate HZ] [--memory-n N]
 *           [--element NAME] [N...]
 *
 * Method.  The input (default examples/sample.ogg) is decoded once to F32
 * mono at 16 kHz (--rate: at that rate instead, which earshot then
 * resamples to the model's).  For each N (default 100, 200, 300, 400, 500,
 * 600, 800, 1000, 1200, 1500, 2000, 2500, 3000, stopping after the first
 * that fails) it builds N pipelines, each its own GstPipeline with its own streaming
 * thread (appsrc's), and plays them; the model file is loaded once and
 * shared.  A feeder thread then plays the part of N live sources: every MS
 * milliseconds (default 20, a typical RTP packet) it pushes the next MS of
 * audio into every appsrc (each stream starting at its own offset in the
 * input, looping), at the moment that audio would have been complete in a
 * live capture (absolute deadlines on CLOCK_MONOTONIC, so the feeder
 * never drifts).  Each stream's first buffer goes in untimed, before the
 * clock starts: it carries the caps and the element's set-up, which a
 * live service does once per stream as it joins, not all N at once.  A probe on earshot's source pad notes when each buffer
 * has been classified; its lag is that time minus the moment it was due
 * to be pushed.  After S seconds (default 10) the feeder stops and waits
 * for the stragglers.  N streams are "real time" when every buffer of
 * every stream was classified within L ms (default 100) of its due time:
 * no stream fell behind, not even for a moment.  The figure printed is
 * the largest N that passed.  Posting of messages is off unless
 * --messages (then each pipeline's bus is drained by the feeder).
 * --element identity runs the same with `identity` in earshot's place:
 * what the pipelines cost without earshot.
 *
 * CPU: the process's user + system time over the run (all threads, from
 * getrusage), as a share of the machine's cores, and per stream and frame.
 *
 * Memory: for N = --memory-n (default 500) pipelines, the growth of the
 * process's resident set (RSS, /proc/self/statm) from one pipeline to
 * N + 1, all playing and fed for a second, divided by N: per-stream memory,
 * excluding what all streams share (the model, FFTW's plan, the code).
 * The same with `identity` in place of earshot gives the pipeline's own
 * cost (appsrc, fakesink, pipeline, thread stack); the difference is
 * earshot's share.
 *
 * The machine has other work on it: the load average is printed before and
 * after each run; the result is only meaningful when the cores were free.
 * It prints figures and never fails on time.  Run it from a build tree:
 *   GST_PLUGIN_PATH=build/plugin build/bench/streams
 */
#include "decode.h"

#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void
die (const char *what)
{
  fprintf (stderr, "streams: %s\n", what);
  exit (1);
}

static gint64
mono_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
cpu_seconds (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6
      + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static double
rss_kib (void)
{
  long pages_total, pages_rss;
  FILE *f = fopen ("/proc/self/statm", "r");
  if (f == NULL || fscanf (f, "%ld %ld", &pages_total, &pages_rss) != 2)
    die ("cannot read /proc/self/statm");
  fclose (f);
  return (double) pages_rss * (double) sysconf (_SC_PAGESIZE) / 1024.0;
}

static void
print_load (const char *when)
{
  double l[3];
  if (getloadavg (l, 3) == 3)
    printf ("  load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

typedef struct
{
  const float *audio;
  guint rate;                   /* of audio and the streams' caps, Hz */
  size_t n;                     /* samples of audio */
  size_t buf;                   /* samples per buffer */
  gint64 period_ns;             /* duration of a buffer */
  const char *element;          /* "earshot" or "identity" */
  const char *model;
  gboolean messages;
} Config;

typedef struct
{
  GstElement *pipe;
  GstAppSrc *src;
  size_t offset;                /* where in the audio this stream starts */
  gint64 t0;                    /* when buffer 0 was due; set before play */
  gint64 max_lag;               /* ns, written by the streaming thread */
  gint done;                    /* buffers classified (atomic) */
} Stream;

static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Stream *s = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  gint64 now = mono_ns ();
  /* buffer k was due when its audio was complete: t0 + (k + 1) period */
  gint64 due = s->t0 + (gint64) GST_BUFFER_OFFSET_END (buf);
  gint64 lag = now - due;
  if (lag > s->max_lag)
    __atomic_store_n (&s->max_lag, lag, __ATOMIC_RELAXED);
  g_atomic_int_inc (&s->done);
  return GST_PAD_PROBE_OK;
}

static void
stream_init (Stream * s, const Config * c, guint index)
{
  gchar *desc;
  if (strcmp (c->element, "earshot") == 0)
    desc = g_strdup_printf ("appsrc name=src format=time ! earshot "
        "name=e model=\"%s\" post-messages=%s ! fakesink sync=false async=false",
        c->model, c->messages ? "true" : "false");
  else
    desc = g_strdup_printf ("appsrc name=src format=time ! %s name=e ! "
        "fakesink sync=false async=false", c->element);
  GError *error = NULL;
  memset (s, 0, sizeof *s);
  s->pipe = gst_parse_launch (desc, &error);
  g_free (desc);
  if (s->pipe == NULL)
    die (error->message);
  s->src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (s->pipe), "src"));
  GstCaps *caps = gst_caps_new_simple ("audio/x-raw",
      "format", G_TYPE_STRING, "F32LE", "rate", G_TYPE_INT, (gint) c->rate,
      "channels", G_TYPE_INT, 1, "layout", G_TYPE_STRING, "interleaved",
      NULL);
  g_object_set (s->src, "caps", caps, "max-bytes", (guint64) 0, NULL);
  gst_caps_unref (caps);
  GstElement *e = gst_bin_get_by_name (GST_BIN (s->pipe), "e");
  GstPad *pad = gst_element_get_static_pad (e, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, s, NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
  /* streams start at different places in the audio */
  s->offset = (size_t) ((guint64) index * 7919 * c->buf) % c->n;
  if (gst_element_set_state (s->pipe, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE)
    die ("a pipeline would not play");
}

static void
stream_clear (Stream * s)
{
  gst_element_set_state (s->pipe, GST_STATE_NULL);
  gst_object_unref (s->src);
  gst_object_unref (s->pipe);
}

/* Pushes buffer k of stream s: audio wrapped, not copied.  The buffer's
 * OFFSET_END carries its due time relative to t0, for the probe. */
static void
push (Stream * s, const Config * c, guint64 k)
{
  size_t start = (s->offset + k * c->buf) % c->n;
  size_t len = MIN (c->buf, c->n - start);     /* the loop point: shorter */
  GstBuffer *b = gst_buffer_new_wrapped_full (GST_MEMORY_FLAG_READONLY,
      (gpointer) (c->audio + start), len * sizeof (float), 0,
      len * sizeof (float), NULL, NULL);
  GST_BUFFER_PTS (b) = k * (guint64) c->period_ns;
  GST_BUFFER_DURATION (b) = gst_util_uint64_scale_int (len, GST_SECOND,
      (gint) c->rate);
  GST_BUFFER_OFFSET_END (b) = (k + 1) * (guint64) c->period_ns;
  gst_app_src_push_buffer (s->src, b);
}

static void
drain_bus (Stream * s)
{
  GstBus *bus = gst_element_get_bus (s->pipe);
  GstMessage *m;
  while ((m = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      GError *err;
      gst_message_parse_error (m, &err, NULL);
      die (err->message);
    }
    gst_message_unref (m);
  }
  gst_object_unref (bus);
}

/* Feeds every stream in real time with buffers k0 .. ticks - 1, buffer k
 * due at t0 + (k + 1) period. */
static void
feed (Stream * st, guint n, const Config * c, gint64 t0, guint64 k0,
    guint64 ticks)
{
  for (guint64 k = k0; k < ticks; k++) {
    gint64 due = t0 + (gint64) (k + 1) * c->period_ns;
    struct timespec ts = { due / 1000000000, due % 1000000000 };
    while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0);
    for (guint i = 0; i < n; i++)
      push (&st[i], c, k);
    if (c->messages || k % 50 == 0)
      for (guint i = 0; i < n; i++)
        drain_bus (&st[i]);
  }
}

/* Runs n streams for `seconds`; TRUE if all stayed within max_lag. */
static gboolean
run (guint n, const Config * c, double seconds, gint64 max_lag_ns)
{
  Stream *st = g_new0 (Stream, n);
  for (guint i = 0; i < n; i++)
    stream_init (&st[i], c, i);
  guint64 ticks = (guint64) (seconds * 1e9 / c->period_ns);

  /* Let every pipeline reach PLAYING, and take its first buffer (caps,
   * the element's set-up: a stream that joins, not one that runs) before
   * the clock starts: buffer 0 is untimed. */
  for (guint i = 0; i < n; i++)
    gst_element_get_state (st[i].pipe, NULL, NULL, GST_CLOCK_TIME_NONE);
  for (guint i = 0; i < n; i++)
    push (&st[i], c, 0);
  for (guint i = 0; i < n; i++)
    while (g_atomic_int_get (&st[i].done) < 1)
      g_usleep (1000);
  /* buffer 1 is due 100 ms from now */
  gint64 t0 = mono_ns () + 100 * GST_MSECOND - 2 * c->period_ns;
  for (guint i = 0; i < n; i++) {
    st[i].t0 = t0;
    __atomic_store_n (&st[i].max_lag, 0, __ATOMIC_RELAXED);
    g_atomic_int_set (&st[i].done, 1);
  }

  printf ("N = %u:\n", n);
  print_load ("before");
  double cpu0 = cpu_seconds ();
  feed (st, n, c, t0, 1, ticks + 1);
  ticks++;                      /* buffers 0 .. ticks - 1 in all */
  /* stragglers: everything was due by t_end; wait up to max_lag past it */
  gint64 t_end = t0 + (gint64) ticks * c->period_ns;
  gboolean all_done;
  do {
    all_done = TRUE;
    for (guint i = 0; i < n && all_done; i++)
      all_done = (guint64) g_atomic_int_get (&st[i].done) == ticks;
    if (!all_done)
      g_usleep (1000);
  } while (!all_done && mono_ns () < t_end + max_lag_ns);
  double cpu = cpu_seconds () - cpu0;
  double wall = (mono_ns () - t0) * 1e-9;

  gint64 worst = 0;
  double mean = 0.0;
  guint late = 0;
  guint64 missing = 0;
  for (guint i = 0; i < n; i++) {
    gint64 lag = __atomic_load_n (&st[i].max_lag, __ATOMIC_RELAXED);
    guint64 done = (guint64) g_atomic_int_get (&st[i].done);
    if (done < ticks) {
      missing += ticks - done;
      lag = MAX (lag, mono_ns () - t_end);
    }
    worst = MAX (worst, lag);
    mean += (double) lag / n;
    if (lag > max_lag_ns)
      late++;
  }
  gboolean ok = late == 0 && missing == 0;
  long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  double frames = (double) n * (ticks - 1) * c->buf / (c->rate / 100.0);
  printf ("  %.1f s of audio per stream in buffers of %.0f ms; worst lag "
      "%.1f ms, mean of each stream's worst %.1f ms; %u of %u streams "
      "later than %.0f ms, %" G_GUINT64_FORMAT " buffers unprocessed\n",
      (ticks - 1) * c->period_ns * 1e-9, c->period_ns * 1e-6, worst * 1e-6,
      mean * 1e-6, late, n, max_lag_ns * 1e-6, missing);
  printf ("  CPU %.2f s over %.2f s: %.0f %% of %ld cores; %.2f us per "
      "stream-frame (everything in the process); %s\n", cpu, wall,
      100.0 * cpu / wall / ncpu, ncpu, cpu / frames * 1e6,
      ok ? "REAL TIME" : "not real time");
  print_load ("after");
  fflush (stdout);
  for (guint i = 0; i < n; i++)
    stream_clear (&st[i]);
  g_free (st);
  return ok;
}

/* KiB of RSS per pipeline of `c`: (RSS of n + 1 - RSS of 1) / n, all
 * playing and fed for a second. */
static double
memory_per_stream (guint n, const Config * c)
{
  Stream *st = g_new0 (Stream, n + 1);
  stream_init (&st[0], c, 0);
  gst_element_get_state (st[0].pipe, NULL, NULL, GST_CLOCK_TIME_NONE);
  st[0].t0 = mono_ns ();
  feed (st, 1, c, st[0].t0, 0, 50);
  g_usleep (200000);
  double rss1 = rss_kib ();
  for (guint i = 1; i <= n; i++)
    stream_init (&st[i], c, i);
  for (guint i = 0; i <= n; i++)
    gst_element_get_state (st[i].pipe, NULL, NULL, GST_CLOCK_TIME_NONE);
  gint64 t0 = mono_ns ();
  for (guint i = 0; i <= n; i++)
    st[i].t0 = t0;
  feed (st, n + 1, c, t0, 0, (guint64) (1e9 / c->period_ns));
  g_usleep (200000);
  double rss = rss_kib ();
  for (guint i = 0; i <= n; i++)
    stream_clear (&st[i]);
  g_free (st);
  return (rss - rss1) / n;
}

/* memory_per_stream in a fresh process (this program with --memory-of):
 * in this one, memory that earlier runs freed would be reused and hide
 * the growth. */
static double
memory_in_child (const char *argv0, guint n, const Config * c,
    const char *element)
{
  gchar *n_str = g_strdup_printf ("%u", n);
  gchar *ms = g_strdup_printf ("%g", c->period_ns * 1e-6);
  gchar *rate = g_strdup_printf ("%u", c->rate);
  const gchar *args[] = { argv0, "--memory-of", element, "--memory-n", n_str,
    "--buffer-ms", ms, "--rate", rate, "--model", c->model, NULL };
  gchar *out = NULL;
  gint status;
  GError *error = NULL;
  if (!g_spawn_sync (NULL, (gchar **) args, NULL, G_SPAWN_DEFAULT, NULL,
          NULL, &out, NULL, &status, &error))
    die (error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    die ("the memory measurement failed");
  double kib = g_ascii_strtod (out, NULL);
  g_free (out);
  g_free (n_str);
  g_free (ms);
  g_free (rate);
  return kib;
}

int
main (int argc, char **argv)
{
  const char *argv0 = argv[0];
  const char *memory_of = NULL;
  Config c = { .element = "earshot", .rate = 16000 };
  double seconds = 10.0, buffer_ms = 20.0, max_lag_ms = 100.0;
  const char *input = EARSHOT_SOURCE_DIR "/examples/sample.ogg";
  guint memory_n = 500;
  GArray *ns = g_array_new (FALSE, FALSE, sizeof (guint));

  c.model = EARSHOT_SOURCE_DIR "/models/vad.earshot";
  gst_init (&argc, &argv);
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof (argv[++i]);
    else if (strcmp (argv[i], "--buffer-ms") == 0 && i + 1 < argc)
      buffer_ms = atof (argv[++i]);
    else if (strcmp (argv[i], "--max-lag-ms") == 0 && i + 1 < argc)
      max_lag_ms = atof (argv[++i]);
    else if (strcmp (argv[i], "--model") == 0 && i + 1 < argc)
      c.model = argv[++i];
    else if (strcmp (argv[i], "--rate") == 0 && i + 1 < argc)
      c.rate = (guint) atoi (argv[++i]);
    else if (strcmp (argv[i], "--input") == 0 && i + 1 < argc)
      input = argv[++i];
    else if (strcmp (argv[i], "--memory-n") == 0 && i + 1 < argc)
      memory_n = (guint) atoi (argv[++i]);
    else if (strcmp (argv[i], "--memory-of") == 0 && i + 1 < argc)
      memory_of = argv[++i];  /* internal: see memory_in_child() */
    else if (strcmp (argv[i], "--element") == 0 && i + 1 < argc)
      c.element = argv[++i];
    else if (strcmp (argv[i], "--messages") == 0)
      c.messages = TRUE;
    else if (argv[i][0] != '-' && atoi (argv[i]) > 0) {
      guint v = (guint) atoi (argv[i]);
      g_array_append_val (ns, v);
    } else {
      fprintf (stderr, "usage: streams [--seconds S] [--buffer-ms MS] "
          "[--max-lag-ms L] [--messages] [--model FILE] [--input FILE] "
          "[--rate HZ] [--memory-n N] [--element NAME] [N...]\n");
      return 2;
    }
  }
  if (!(seconds > 0) || !(buffer_ms >= 1) || !(max_lag_ms > 0))
    die ("--seconds, --buffer-ms and --max-lag-ms must be positive");
  if (c.rate < 8000 || c.rate > 192000)
    die ("--rate must be within 8000..192000 Hz");
  if (ns->len == 0) {
    static const guint def[] = { 100, 200, 300, 400, 500, 600, 800, 1000,
      1200, 1500, 2000, 2500, 3000 };
    g_array_append_vals (ns, def, G_N_ELEMENTS (def));
  }
  char *decode_error = NULL;
  c.audio = bench_decode (input, (int) c.rate, c.rate, &c.n, &decode_error);
  if (c.audio == NULL)
    die (decode_error);
  c.buf = (size_t) (buffer_ms * c.rate / 1000.0 + 0.5);
  c.period_ns = (gint64) c.buf * 1000000000 / c.rate;
  if (memory_of != NULL) {
    c.element = memory_of;
    printf ("%.3f\n", memory_per_stream (MAX (memory_n, 1), &c));
    return 0;
  }

  if (strcmp (c.element, "earshot") == 0)
    printf ("earshot many-streams bench: appsrc ! earshot model=%s "
        "post-messages=%s ! fakesink", c.model,
        c.messages ? "true" : "false");
  else
    printf ("earshot many-streams bench: appsrc ! %s ! fakesink", c.element);
  printf (", F32 mono at %u Hz in %.0f ms buffers at real-time pace, real "
      "time = every buffer classified within %.0f ms of its due time\n",
      c.rate, buffer_ms, max_lag_ms);

  guint best = 0;
  for (guint i = 0; i < ns->len; i++) {
    guint n = g_array_index (ns, guint, i);
    if (!run (n, &c, seconds, (gint64) (max_lag_ms * 1e6)))
      break;
    best = n;
  }
  printf ("\nlargest N in real time: %u%s\n", best,
      best == g_array_index (ns, guint, ns->len - 1) ? " (the largest tried)"
      : "");

  if (memory_n > 0) {
    double with = memory_in_child (argv0, memory_n, &c, "earshot");
    double without = memory_in_child (argv0, memory_n, &c, "identity");
    printf ("memory per stream (RSS growth / N, N = %u, shared model "
        "excluded): pipeline with earshot %.1f KiB, with identity instead "
        "%.1f KiB, earshot's share %.1f KiB\n", memory_n, with, without,
        with - without);
  }
  g_array_free (ns, TRUE);
  return 0;
}
