/* bench/element — the `earshot` element's throughput on one core, with the
 * time per frame split into front end, network and the element's own work,
 * and the network's GFLOP/s beside cblas_sgemv and cblas_sgemm measured in
 * the same run.
 *
 *   element [--seconds S] [--buffer-ms MS] [--input FILE] [--profile]
 *           [MODEL...]
 *
 * The input (default examples/sample.ogg: 21 s of music, speech, noise and
 * silence) is decoded once, to F32 mono at 16 kHz, before anything is
 * timed.  MODEL is a .earshot file (default: models/vad.earshot and
 * models/sms.earshot).  For each model it measures, on this thread's CPU
 * time (CLOCK_THREAD_CPUTIME_ID), each figure the best of passes over the
 * whole input repeated for about S seconds (default 1):
 *
 *   element   GstHarness -> earshot (post-messages=false) -> harness sink:
 *             pre-decoded buffers of MS milliseconds (default 64, 1024
 *             samples: a typical decoder's buffer) wrapped without a copy,
 *             pushed, pulled and unreffed.  Everything the element does is
 *             in it, and the harness's own cost too (see `harness`).
 *   +messages the same with post-messages=true (one bus message per frame,
 *             popped from the element's bus and unreffed by the bench).
 *   harness   the same pushes through `identity`: what the harness and the
 *             buffers cost without earshot.
 *   front end earshot_features push and pull alone, same buffer sizes.
 *   network   earshot_net_step alone, on the frames of the input.
 *   rest      element - harness - front end - network: the element's own
 *             per-frame and per-buffer work (conversion, meta, smoothing,
 *             segments, time stamps).
 *   44.1 kHz stereo  the input decoded again at 44.1 kHz, as F32 stereo
 *             (right = 0.8 x left), through the element and through
 *             identity (both as `element` above): element - harness, and
 *             what the mix-down and resampling add over the 16 kHz mono
 *             run.
 *
 * Times are per 10 ms frame (one hop); "x real time" is audio time over CPU
 * time.  The network's GFLOP/s counts 2 flops per weight of its matrices
 * per frame.  Against it, on one OpenBLAS thread: cblas_sgemv over the very
 * matrices of the model, one call each per frame (what a BLAS gets for the
 * same products), cblas_sgemv on a 512 x 512 matrix (in L2), and
 * cblas_sgemm on the input projection of a whole buffer, [3H x I] . [I x F]
 * for the F frames of a buffer, and on 512^3.
 *
 * It also prints a checksum of every posterior the element attached (FNV-1a
 * of their bits): equal checksums mean bit-identical outputs, which is how
 * an optimisation is checked against the build before it.
 *
 * --profile runs only the element, messages off, for S seconds per model
 * (for perf record; it prints nothing else).
 *
 * It prints figures and never fails on time.  Run it from a build tree:
 *   GST_PLUGIN_PATH=build/plugin build/bench/element
 */
#include "decode.h"
#include "earshot_features.h"
#include "earshot_model.h"
#include "earshot_net.h"

#include <cblas.h>
#include <gst/app/gstappsink.h>
#include <gst/check/gstharness.h>
#include <gst/earshot/gstearshotmeta.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
extern void openblas_set_num_threads (int num_threads);
#endif

#define RATE 16000

static double
cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
die (const char *what)
{
  fprintf (stderr, "element: %s\n", what);
  exit (1);
}

typedef struct
{
  const float *audio;           /* interleaved */
  size_t n;                     /* samples per channel */
  size_t buf;                   /* samples per channel per buffer */
  double seconds;               /* per figure */
  int rate, channels;
} Input;

/* ---- the element ------------------------------------------------------- */

typedef struct
{
  GstHarness *h;
  GstBus *bus;
  GstClockTime pts;             /* of the next buffer */
  guint64 checksum;             /* FNV-1a of the posteriors' bits */
  guint64 frames;               /* frames seen in metas */
} Elem;

static Elem
elem_new (const char *factory, const char *model, gboolean messages,
    const Input * in)
{
  Elem e = { 0 };
  GstElement *el = gst_element_factory_make (factory, NULL);
  if (el == NULL)
    die ("no such element: is GST_PLUGIN_PATH set to the build's plugin/?");
  if (model != NULL)
    g_object_set (el, "model", model, "post-messages", messages, NULL);
  e.bus = gst_bus_new ();
  gst_element_set_bus (el, e.bus);
  e.h = gst_harness_new_with_element (el, "sink", "src");
  gst_object_unref (el);
  gchar *caps = g_strdup_printf ("audio/x-raw,format=F32LE,rate=%d,"
      "channels=%d,layout=interleaved%s", in->rate, in->channels,
      in->channels == 2 ? ",channel-mask=(bitmask)0x3" : "");
  gst_harness_set_src_caps_str (e.h, caps);
  g_free (caps);
  return e;
}

static void
elem_free (Elem * e)
{
  gst_element_set_bus (e->h->element, NULL);
  gst_harness_teardown (e->h);
  gst_bus_set_flushing (e->bus, TRUE);
  gst_object_unref (e->bus);
}

static void
hash_meta (Elem * e, GstBuffer * buf)
{
  GstEarshotMeta *m = gst_buffer_get_earshot_meta (buf);
  if (m == NULL)
    return;
  size_t n = (size_t) m->n_frames * m->n_channels * m->n_classes;
  const guint8 *p = (const guint8 *) m->probabilities;
  for (size_t i = 0; i < n * sizeof (float); i++)
    e->checksum = (e->checksum ^ p[i]) * 0x100000001b3ull;
  e->frames += m->n_frames;
}

/* One pass over the input; CPU seconds. */
static double
elem_pass (Elem * e, const Input * in, gboolean check)
{
  double t0 = cpu_now ();
  for (size_t off = 0; off < in->n; off += in->buf) {
    size_t len = MIN (in->buf, in->n - off);
    size_t bytes = len * (size_t) in->channels * sizeof (float);
    GstBuffer *buf = gst_buffer_new_wrapped_full (GST_MEMORY_FLAG_READONLY,
        (gpointer) (in->audio + off * (size_t) in->channels), bytes, 0,
        bytes, NULL, NULL);
    GstClockTime dur = gst_util_uint64_scale_int (len, GST_SECOND, in->rate);
    GST_BUFFER_PTS (buf) = e->pts;
    GST_BUFFER_DURATION (buf) = dur;
    e->pts += dur;
    if (gst_harness_push (e->h, buf) != GST_FLOW_OK)
      die ("push failed");
    GstBuffer *outbuf = gst_harness_pull (e->h);
    if (check)
      hash_meta (e, outbuf);
    gst_buffer_unref (outbuf);
    GstMessage *msg;
    while ((msg = gst_bus_pop (e->bus)))
      gst_message_unref (msg);
  }
  return cpu_now () - t0;
}

/* Best CPU seconds of a pass of `factory` (model NULL: no properties). */
static double
bench_elem (const char *factory, const char *model, gboolean messages,
    const Input * in, guint64 * checksum)
{
  Elem e = elem_new (factory, model, messages, in);
  e.checksum = 0xcbf29ce484222325ull;
  elem_pass (&e, in, TRUE);     /* warm-up, and the checksum of one pass */
  if (checksum)
    *checksum = e.checksum;
  double best = 1e30, spent = 0.0;
  do {
    double t = elem_pass (&e, in, FALSE);
    spent += t;
    best = MIN (best, t);
  } while (spent < in->seconds);
  elem_free (&e);
  return best;
}

/* ---- the core's parts alone -------------------------------------------- */

/* Best CPU seconds of the front end over the input; fills frames
 * [*n_frames x n_mels] on the first pass. */
static double
bench_front_end (const earshot_model * m, const Input * in, float **frames,
    size_t *n_frames)
{
  const earshot_features_config *cfg = earshot_model_features_config (m);
  earshot_features *fe;
  char err[256];
  if (earshot_features_new (cfg, earshot_model_norm_mean (m),
          earshot_model_norm_std (m), &fe, err, sizeof err) != EARSHOT_OK)
    die (err);
  size_t cap = in->n / cfg->hop_length + 1;
  *frames = g_new (float, cap * cfg->n_mels);
  *n_frames = 0;
  float *frame = g_new (float, cfg->n_mels);
  double best = 1e30, spent = 0.0;
  for (int pass = 0; spent < in->seconds || pass < 2; pass++) {
    double t0 = cpu_now ();
    for (size_t off = 0; off < in->n; off += in->buf) {
      size_t len = MIN (in->buf, in->n - off), used = 0;
      while (used < len) {
        used += earshot_features_push (fe, in->audio + off + used, len - used);
        while (earshot_features_pull (fe, frame))
          if (pass == 0 && *n_frames < cap)
            memcpy (*frames + (*n_frames)++ * cfg->n_mels, frame,
                cfg->n_mels * sizeof (float));
      }
    }
    double t = cpu_now () - t0;
    if (pass > 0) {
      spent += t;
      best = MIN (best, t);
    }
  }
  g_free (frame);
  earshot_features_free (fe);
  return best;
}

/* Best CPU seconds of the net over the frames. */
static double
bench_net (const earshot_net * net, const float *frames, size_t n_frames,
    double seconds)
{
  float *state = g_new0 (float, earshot_net_state_size (net) + 1);
  float *scratch = g_new0 (float, earshot_net_scratch_size (net) + 1);
  float *probs = g_new0 (float, earshot_net_n_outputs (net));
  uint32_t n_in = earshot_net_n_inputs (net);
  double best = 1e30, spent = 0.0;
  for (int pass = 0; spent < seconds || pass < 2; pass++) {
    double t0 = cpu_now ();
    for (size_t i = 0; i < n_frames; i++)
      earshot_net_step (net, frames + i * n_in, state, scratch, probs);
    double t = cpu_now () - t0;
    if (pass > 0) {
      spent += t;
      best = MIN (best, t);
    }
  }
  g_free (probs);
  g_free (scratch);
  g_free (state);
  return best;
}

/* Flops of the net's matrices per frame: 2 per weight. */
static double
net_flops (const earshot_net * net)
{
  double f = 0.0;
  for (size_t l = 0; l < earshot_net_n_layers (net); l++) {
    const earshot_layer_spec *s = earshot_net_layer (net, l);
    double g = s->type == EARSHOT_LAYER_GRU ? 3 : s->type == EARSHOT_LAYER_LSTM
        ? 4 : 1;
    f += 2.0 * g * s->n_out * s->n_in;
    if (s->type != EARSHOT_LAYER_DENSE)
      f += 2.0 * g * s->n_out * s->n_out;
  }
  return f;
}

/* GFLOP/s of cblas_sgemv over the net's own matrices, each once per
 * "frame", as many frames as fit in about `seconds` (best of blocks). */
static double
sgemv_net_rate (const earshot_net * net, double seconds)
{
  size_t nl = earshot_net_n_layers (net);
  const float *p = earshot_net_params_const (net);
  float x[4096], y[4096];
  for (size_t k = 0; k < 4096; k++)
    x[k] = (float) (k % 7) * 0.1f;
  double best = 1e30, spent = 0.0;
  const int block = 1000;
  do {
    double t0 = cpu_now ();
    for (int r = 0; r < block; r++) {
      for (size_t l = 0; l < nl; l++) {
        const earshot_layer_spec *s = earshot_net_layer (net, l);
        const float *w = p + earshot_net_layer_offset (net, l);
        int g = s->type == EARSHOT_LAYER_GRU ? 3 : s->type ==
            EARSHOT_LAYER_LSTM ? 4 : 1;
        int rows = g * (int) s->n_out;
        cblas_sgemv (CblasRowMajor, CblasNoTrans, rows, (int) s->n_in, 1.0f,
            w, (int) s->n_in, x, 1, 0.0f, y, 1);
        if (s->type != EARSHOT_LAYER_DENSE)
          cblas_sgemv (CblasRowMajor, CblasNoTrans, rows, (int) s->n_out,
              1.0f, w + (size_t) rows * s->n_in, (int) s->n_out, x, 1, 1.0f,
              y, 1);
      }
    }
    double t = (cpu_now () - t0) / block;
    spent += t * block;
    best = MIN (best, t);
  } while (spent < seconds);
  return net_flops (net) / best / 1e9;
}

/* GFLOP/s of cblas_sgemv [m x n] . x, best of blocks over `seconds`. */
static double
sgemv_rate (int m, int n, double seconds)
{
  float *a = g_new (float, (size_t) m * n), *x = g_new (float, n);
  float *y = g_new0 (float, m);
  for (size_t k = 0; k < (size_t) m * n; k++)
    a[k] = (float) (k % 13) * 0.01f;
  for (int k = 0; k < n; k++)
    x[k] = 0.5f;
  double best = 1e30, spent = 0.0;
  const int block = 200;
  do {
    double t0 = cpu_now ();
    for (int r = 0; r < block; r++)
      cblas_sgemv (CblasRowMajor, CblasNoTrans, m, n, 1.0f, a, n, x, 1, 0.0f,
          y, 1);
    double t = (cpu_now () - t0) / block;
    spent += t * block;
    best = MIN (best, t);
  } while (spent < seconds);
  g_free (a);
  g_free (x);
  g_free (y);
  return 2.0 * m * n / best / 1e9;
}

/* GFLOP/s of cblas_sgemm C [m x n] = A [m x k] B [k x n]. */
static double
sgemm_rate (int m, int n, int k, double seconds)
{
  float *a = g_new (float, (size_t) m * k), *b = g_new (float, (size_t) k * n);
  float *c = g_new0 (float, (size_t) m * n);
  for (size_t i = 0; i < (size_t) m * k; i++)
    a[i] = (float) (i % 13) * 0.01f;
  for (size_t i = 0; i < (size_t) k * n; i++)
    b[i] = (float) (i % 11) * 0.01f;
  int block = (double) m * n * k > 1e8 ? 1 : 200;
  double best = 1e30, spent = 0.0;
  do {
    double t0 = cpu_now ();
    for (int r = 0; r < block; r++)
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f,
          a, k, b, n, 0.0f, c, n);
    double t = (cpu_now () - t0) / block;
    spent += t * block;
    best = MIN (best, t);
  } while (spent < seconds);
  g_free (a);
  g_free (b);
  g_free (c);
  return 2.0 * m * n * k / best / 1e9;
}

/* ---- main -------------------------------------------------------------- */

static void
print_row (const char *what, double sec, size_t frames, double audio_s)
{
  printf ("  %-22s %9.3f us/frame  %8.0f x real time\n", what,
      sec / (double) frames * 1e6, audio_s / sec);
}

static gboolean profile_only;

static void
bench_model (const char *path, const Input * in, const Input * in44)
{
  if (profile_only) {
    bench_elem ("earshot", path, FALSE, in, NULL);
    return;
  }
  earshot_model *m;
  char err[512];
  if (earshot_model_load (path, &m, err, sizeof err) != EARSHOT_OK)
    die (err);
  const earshot_features_config *cfg = earshot_model_features_config (m);
  const earshot_net *net = earshot_model_net (m);
  if (cfg->sample_rate != RATE)
    die ("the bench decodes to 16 kHz; the model wants another rate");
  size_t frames = in->n / cfg->hop_length;      /* complete hop intervals */
  double audio_s = (double) in->n / RATE;

  guint64 sum;
  double t_elem = bench_elem ("earshot", path, FALSE, in, &sum);
  double t_msg = bench_elem ("earshot", path, TRUE, in, NULL);
  double t_harness = bench_elem ("identity", NULL, FALSE, in, NULL);
  double t_elem44 = bench_elem ("earshot", path, FALSE, in44, NULL);
  double t_harness44 = bench_elem ("identity", NULL, FALSE, in44, NULL);
  float *feat;
  size_t n_feat;
  double t_fe = bench_front_end (m, in, &feat, &n_feat);
  double t_net = bench_net (net, feat, n_feat, in->seconds);
  g_free (feat);

  printf ("%s: %zu parameters, %u mel bands, %zu frames per pass\n", path,
      earshot_net_n_params (net), cfg->n_mels, frames);
  print_row ("element", t_elem, frames, audio_s);
  print_row ("element - harness", t_elem - t_harness, frames, audio_s);
  print_row ("element, +messages", t_msg, frames, audio_s);
  printf ("  split of the element (messages off):\n");
  print_row ("front end", t_fe, frames, audio_s);
  print_row ("network", t_net, frames, audio_s);
  print_row ("rest (meta, element)", t_elem - t_harness - t_fe - t_net,
      frames, audio_s);
  print_row ("harness + buffers", t_harness, frames, audio_s);
  print_row ("messages", t_msg - t_elem, frames, audio_s);
  printf ("  the same audio as 44.1 kHz stereo F32 (mix-down and resampling "
      "in the element):\n");
  print_row ("element - harness", t_elem44 - t_harness44, frames, audio_s);
  print_row ("over 16 kHz mono", t_elem44 - t_harness44 - t_elem + t_harness,
      frames, audio_s);

  double flops = net_flops (net);
  double net_rate = flops * (double) n_feat / t_net / 1e9;
  double gemv_net = sgemv_net_rate (net, in->seconds);
  size_t fpb = in->buf / cfg->hop_length ? in->buf / cfg->hop_length : 1;
  const earshot_layer_spec *l0 = earshot_net_layer (net, 0);
  int g0 = l0->type == EARSHOT_LAYER_GRU ? 3 : l0->type == EARSHOT_LAYER_LSTM
      ? 4 : 1;
  double gemm_proj = sgemm_rate (g0 * (int) l0->n_out, (int) fpb,
      (int) l0->n_in, in->seconds);
  printf ("  network: %.0f flops per frame, %.2f GFLOP/s; cblas_sgemv on the "
      "same matrices %.2f GFLOP/s (network = %.0f %% of it)\n", flops,
      net_rate, gemv_net, 100.0 * net_rate / gemv_net);
  printf ("  cblas_sgemm of one buffer's input projection [%d x %u] . "
      "[%u x %zu]: %.2f GFLOP/s\n", g0 * (int) l0->n_out, l0->n_in,
      l0->n_in, fpb, gemm_proj);
  printf ("  posteriors checksum %016" G_GINT64_MODIFIER "x\n\n", sum);
  fflush (stdout);
  earshot_model_free (m);
}

int
main (int argc, char **argv)
{
  Input in = { .seconds = 1.0 };
  double buffer_ms = 64.0;
  const char *input = EARSHOT_SOURCE_DIR "/examples/sample.ogg";
  GPtrArray *models = g_ptr_array_new ();

  gst_init (&argc, &argv);
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      in.seconds = atof (argv[++i]);
    else if (strcmp (argv[i], "--buffer-ms") == 0 && i + 1 < argc)
      buffer_ms = atof (argv[++i]);
    else if (strcmp (argv[i], "--input") == 0 && i + 1 < argc)
      input = argv[++i];
    else if (strcmp (argv[i], "--profile") == 0)
      profile_only = TRUE;
    else if (argv[i][0] != '-')
      g_ptr_array_add (models, argv[i]);
    else {
      fprintf (stderr, "usage: element [--seconds S] [--buffer-ms MS] "
          "[--input FILE] [--profile] [MODEL.earshot...]\n");
      return 2;
    }
  }
  if (!(in.seconds > 0) || !(buffer_ms >= 1.0 / RATE * 1000))
    die ("--seconds and --buffer-ms must be positive");
  if (models->len == 0) {
    g_ptr_array_add (models, (gpointer) EARSHOT_SOURCE_DIR "/models/vad.earshot");
    g_ptr_array_add (models, (gpointer) EARSHOT_SOURCE_DIR "/models/sms.earshot");
  }
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
  openblas_set_num_threads (1);
#endif
  char *decode_error = NULL;
  in.audio = bench_decode (input, RATE, RATE, &in.n, &decode_error);
  if (in.audio == NULL)
    die (decode_error);
  in.buf = (size_t) (buffer_ms * RATE / 1000.0 + 0.5);
  if (in.buf < 1)
    in.buf = 1;
  in.rate = RATE;
  in.channels = 1;

  /* The same audio as 44.1 kHz stereo: decoded again at that rate, the
   * right channel a little quieter. */
  Input in44 = in;
  size_t n44;
  float *mono44 = bench_decode (input, 44100, 44100, &n44, &decode_error);
  if (mono44 == NULL)
    die (decode_error);
  float *stereo44 = g_new (float, 2 * n44);
  for (size_t i = 0; i < n44; i++) {
    stereo44[2 * i] = mono44[i];
    stereo44[2 * i + 1] = 0.8f * mono44[i];
  }
  g_free (mono44);
  in44.audio = stereo44;
  in44.n = n44;
  in44.rate = 44100;
  in44.buf = (size_t) (buffer_ms * 44100 / 1000.0 + 0.5);
  if (in44.buf < 1)
    in44.buf = 1;

  double load[3] = { 0 };
  if (getloadavg (load, 3) < 0)
    load[0] = load[1] = load[2] = -1;
  printf ("earshot element bench: %s, %.1f s of audio, buffers of %zu "
      "samples (%.1f ms), thread CPU time, best of passes over %.1f s; "
      "load average %.2f %.2f %.2f\n\n", input, (double) in.n / RATE, in.buf,
      in.buf * 1000.0 / RATE, in.seconds, load[0], load[1], load[2]);

  for (guint i = 0; i < models->len; i++)
    bench_model (g_ptr_array_index (models, i), &in, &in44);
  if (profile_only)
    return 0;

  printf ("BLAS references (one thread): cblas_sgemv 512 x 512 %.2f GFLOP/s, "
      "cblas_sgemm 512^3 %.2f GFLOP/s\n", sgemv_rate (512, 512, in.seconds),
      sgemm_rate (512, 512, 512, in.seconds));
  if (getloadavg (load, 3) >= 0)
    printf ("load average at the end %.2f %.2f %.2f\n", load[0], load[1],
        load[2]);
  g_free ((gpointer) in.audio);
  g_free (stereo44);
  g_ptr_array_free (models, TRUE);
  return 0;
}
