/* bench/train — training throughput of the recurrent layers, against the
 * rate of cblas_sgemm measured in the same run.
 *
 *   train [--seconds S] [--threads N] [--batch B] [--chunk T] [--clock C]
 *
 * Every figure is the best of repeated passes over about S seconds (default
 * 1), so that other load on the machine disturbs it as little as possible.
 * --clock wall (the default) times passes on the monotonic clock; --clock
 * cpu on the process's CPU time, which leaves out the time a loaded machine
 * keeps the process waiting (with OpenBLAS threads, it adds up the CPU time
 * of all of them: figures per CPU, not per second).
 *
 * For GRU and LSTM layers of H = 64, 128 and 256 units over 40 inputs, with
 * B = 32 lanes and T = 100 frame chunks, it measures
 *
 *   net       earshot_net_forward_seq + earshot_net_backward_seq alone: the
 *             recurrent part (one recurrent layer and the softmax layer);
 *   trainer   whole earshot_trainer_epoch: also batching, clipping and the
 *             Adam update;
 *
 * in frames per second and GFLOP/s, counting 3 x 2 G H (I + H) flops per
 * frame for the recurrent layer (G gates: 3 GRU, 4 LSTM; the forward
 * products W x and U h, and twice that backward, for the input and weight
 * gradients) and nothing for the rest.  The references are cblas_sgemm on
 *
 *   step      the per-step recurrent product [G H x H] . [H x B], the shape
 *             the recurrence cannot batch further, and
 *   square    1024 x 1024 x 1024, the machine's practical peak.
 *
 * It prints figures and never fails on time.  OPENBLAS_NUM_THREADS or
 * --threads sets OpenBLAS's threads (default: OpenBLAS's own choice).
 */
#include "earshot_net.h"
#include "earshot_train.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
extern void openblas_set_num_threads (int num_threads);
extern int openblas_get_num_threads (void);
#endif

#define N_IN 40
#define N_CLASSES 4

static clockid_t bench_clock = CLOCK_MONOTONIC;
static uint64_t rng = 0x853c49e6748fea9bull;   /* bench_urand's state */

/* GFLOP/s of cblas_sgemm C[m x n] = A[m x k] B[k x n], repeated for about
 * `seconds`. */
static double
sgemm_rate (int m, int n, int k, double seconds)
{
  float *a = bench_xcalloc ("train", 1, (size_t) m * k * sizeof (float));
  float *b = bench_xcalloc ("train", 1, (size_t) k * n * sizeof (float));
  float *c = bench_xcalloc ("train", 1, (size_t) m * n * sizeof (float));
  for (size_t i = 0; i < (size_t) m * k; i++)
    a[i] = bench_urand (&rng);
  for (size_t i = 0; i < (size_t) k * n; i++)
    b[i] = bench_urand (&rng);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a,
      k, b, n, 0.0f, c, n);
  /* The best of blocks of at least 20 ms: other load on the machine only
   * ever slows a block down. */
  double best = 0, t_start = bench_seconds (bench_clock);
  do {
    long reps = 0;
    double t0 = bench_seconds (bench_clock), t;
    do {
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f,
          a, k, b, n, 0.0f, c, n);
      reps++;
    } while ((t = bench_seconds (bench_clock) - t0) < 0.02);
    double rate = 2.0 * m * n * (double) k * (double) reps / t / 1e9;
    if (rate > best)
      best = rate;
  } while (bench_seconds (bench_clock) - t_start < seconds);
  free (a);
  free (b);
  free (c);
  return best;
}

typedef struct {
  double net_fps, trainer_fps;
} result;

static result
bench_cell (earshot_layer_type cell, uint32_t h, uint32_t batch,
    uint32_t chunk, double seconds)
{
  result r = { 0, 0 };
  earshot_net *net;
  char err[256];
  if (earshot_net_new_stack (cell, N_IN, h, 1, N_CLASSES, &net, err,
          sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "train: %s\n", err);
    exit (1);
  }
  earshot_net_init (net, 1);

  /* net: forward + backward over T x B frames */
  size_t frames = (size_t) chunk * batch;
  float *x = bench_xcalloc ("train", 1, frames * N_IN * sizeof (float));
  int32_t *y = bench_xcalloc ("train", 1, frames * sizeof (int32_t));
  float *grad = bench_xcalloc ("train", 1, earshot_net_n_params (net) * sizeof (float));
  for (size_t i = 0; i < frames * N_IN; i++)
    x[i] = bench_urand (&rng);
  for (size_t i = 0; i < frames; i++)
    y[i] = (int32_t) ((bench_urand (&rng) + 1) * 0.5f * N_CLASSES) % N_CLASSES;
  earshot_net_workspace *ws;
  if (earshot_net_workspace_new (net, chunk, batch, &ws) != EARSHOT_OK) {
    fprintf (stderr, "train: cannot make a workspace\n");
    exit (1);
  }
  memset (grad, 0, earshot_net_n_params (net) * sizeof (float));
  double t_start = bench_seconds (bench_clock);
  do {                          /* the best of passes, as in sgemm_rate */
    double t0 = bench_seconds (bench_clock);
    earshot_net_forward_seq (net, ws, x, chunk, batch, NULL, NULL, NULL,
        NULL);
    earshot_net_backward_seq (net, ws, y, NULL, grad, NULL, NULL);
    double fps = (double) frames / (bench_seconds (bench_clock) - t0);
    if (fps > r.net_fps)
      r.net_fps = fps;
  } while (bench_seconds (bench_clock) - t_start < seconds);
  earshot_net_workspace_free (ws);

  /* trainer: whole epochs over B sequences of 4 T frames */
  size_t n_seq = batch, seq_len = 4 * (size_t) chunk;
  float *fx = bench_xcalloc ("train", 1, n_seq * seq_len * N_IN * sizeof (float));
  int32_t *fy = bench_xcalloc ("train", 1, n_seq * seq_len * sizeof (int32_t));
  for (size_t i = 0; i < n_seq * seq_len * N_IN; i++)
    fx[i] = bench_urand (&rng);
  for (size_t i = 0; i < n_seq * seq_len; i++)
    fy[i] = (int32_t) ((bench_urand (&rng) + 1) * 0.5f * N_CLASSES) % N_CLASSES;
  earshot_sequence *seqs = bench_xcalloc ("train", 1, n_seq * sizeof *seqs);
  for (size_t i = 0; i < n_seq; i++)
    seqs[i] = (earshot_sequence) { fx + i * seq_len * N_IN, fy + i * seq_len,
      seq_len };
  earshot_train_params p = earshot_train_default_params ();
  p.batch_size = batch;
  p.chunk_frames = chunk;
  earshot_trainer *tr;
  if (earshot_trainer_new (net, &p, &tr, err, sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "train: %s\n", err);
    exit (1);
  }
  earshot_train_stats st;
  t_start = bench_seconds (bench_clock);
  do {
    double t0 = bench_seconds (bench_clock);
    earshot_trainer_epoch (tr, seqs, n_seq, &st, NULL, NULL);
    double fps = (double) st.frames / (bench_seconds (bench_clock) - t0);
    if (fps > r.trainer_fps)
      r.trainer_fps = fps;
  } while (bench_seconds (bench_clock) - t_start < seconds);
  earshot_trainer_free (tr);
  earshot_net_free (net);
  free (seqs);
  free (fx);
  free (fy);
  free (x);
  free (y);
  free (grad);
  return r;
}

int
main (int argc, char **argv)
{
  double seconds = 1.0;
  int threads = 0;
  uint32_t batch = 32, chunk = 100;

  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof (argv[++i]);
    else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
      threads = atoi (argv[++i]);
    else if (strcmp (argv[i], "--batch") == 0 && i + 1 < argc)
      batch = (uint32_t) atoi (argv[++i]);
    else if (strcmp (argv[i], "--chunk") == 0 && i + 1 < argc)
      chunk = (uint32_t) atoi (argv[++i]);
    else if (strcmp (argv[i], "--clock") == 0 && i + 1 < argc
        && (strcmp (argv[i + 1], "wall") == 0
            || strcmp (argv[i + 1], "cpu") == 0))
      bench_clock = strcmp (argv[++i], "cpu") == 0
          ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
    else {
      fprintf (stderr, "usage: train [--seconds S] [--threads N] "
          "[--batch B] [--chunk T] [--clock wall|cpu]\n");
      return 2;
    }
  }
  if (!(seconds > 0) || batch < 1 || chunk < 1) {
    fprintf (stderr, "train: --seconds, --batch and --chunk must be "
        "positive\n");
    return 2;
  }
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
  if (threads > 0)
    openblas_set_num_threads (threads);
  threads = openblas_get_num_threads ();
#endif

  double square = sgemm_rate (1024, 1024, 1024, seconds);
  printf ("earshot %s training throughput: %u inputs, 1 recurrent layer + "
      "softmax of %d,\nbatch %u, chunk %u, OpenBLAS threads %d, %s time\n",
      earshot_version (), N_IN, N_CLASSES, batch, chunk, threads,
      bench_clock == CLOCK_MONOTONIC ? "wall" : "CPU");
  printf ("sgemm 1024^3 (square): %.1f GFLOP/s\n\n", square);
  printf ("%-5s %4s  %11s %9s  %11s %9s  %11s  %7s %7s\n", "cell", "H",
      "net fr/s", "GFLOP/s", "train fr/s", "GFLOP/s", "sgemm step",
      "%step", "%square");

  const earshot_layer_type cells[] = { EARSHOT_LAYER_GRU, EARSHOT_LAYER_LSTM };
  const uint32_t hs[] = { 64, 128, 256 };
  for (size_t c = 0; c < 2; c++)
    for (size_t k = 0; k < 3; k++) {
      uint32_t h = hs[k], g = cells[c] == EARSHOT_LAYER_GRU ? 3 : 4;
      double flops = 6.0 * g * h * (double) (N_IN + h);   /* per frame */
      double step = sgemm_rate ((int) (g * h), (int) batch, (int) h,
          seconds / 2);
      result r = bench_cell (cells[c], h, batch, chunk, seconds);
      double net_gf = r.net_fps * flops / 1e9;
      double tr_gf = r.trainer_fps * flops / 1e9;
      printf ("%-5s %4u  %11.0f %9.2f  %11.0f %9.2f  %11.2f  %6.0f%% "
          "%6.0f%%\n", cells[c] == EARSHOT_LAYER_GRU ? "gru" : "lstm", h,
          r.net_fps, net_gf, r.trainer_fps, tr_gf, step,
          100 * net_gf / step, 100 * net_gf / square);
      fflush (stdout);
    }
  printf ("\nnet: forward_seq + backward_seq; train: whole trainer epochs; "
      "GFLOP/s count\n6 G H (I + H) flops per frame (the recurrent layer's "
      "products, forward and backward).\n%%step and %%square: the net's "
      "rate against sgemm of the per-step shape\n[G H x H] . [H x B] and of "
      "1024^3, measured above.\n");
  return 0;
}
