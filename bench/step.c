/* bench/step — the streaming step, earshot_net_step, one frame at a time as
 * the element runs it.
 *
 *   step [--seconds S] [--clock wall|cpu]
 *
 * For a few stacks over 40 inputs with a softmax of 4 it prints the time
 * per frame and the rate at which the step goes through the weights (every
 * parameter is read once per frame), the best of blocks of 2000 frames over
 * about S seconds (default 1) per net.  --clock as in bench/train.  The
 * step does not call BLAS, so OPENBLAS_NUM_THREADS does not change it.
 * It prints figures and never fails on time.
 */
#include "earshot_net.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_IN 40
#define N_CLASSES 4
#define BLOCK 2000

static clockid_t bench_clock = CLOCK_MONOTONIC;
static uint64_t rng = 0x853c49e6748fea9bull;   /* bench_urand's state */

/* Best seconds per frame of `layers` recurrent layers of `cell`. */
static double
bench_net (earshot_layer_type cell, uint32_t hidden, uint32_t layers,
    double seconds, size_t *n_params)
{
  earshot_net *net;
  char err[256];
  if (earshot_net_new_stack (cell, N_IN, hidden, layers, N_CLASSES, &net,
          err, sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "step: %s\n", err);
    exit (1);
  }
  earshot_net_init (net, 1);
  *n_params = earshot_net_n_params (net);
  float *state = bench_xcalloc ("step", earshot_net_state_size (net), sizeof (float));
  float *scratch = bench_xcalloc ("step", earshot_net_scratch_size (net), sizeof (float));
  /* 64 different frames, so that the state keeps changing */
  float *x = bench_xcalloc ("step", 64 * N_IN, sizeof (float)), probs[N_CLASSES];
  for (size_t k = 0; k < 64 * N_IN; k++)
    x[k] = bench_urand (&rng);
  double best = 1e30, t_start = bench_seconds (bench_clock);
  do {
    double t0 = bench_seconds (bench_clock);
    for (int i = 0; i < BLOCK; i++)
      earshot_net_step (net, x + (i & 63) * N_IN, state, scratch, probs);
    double t = (bench_seconds (bench_clock) - t0) / BLOCK;
    if (t < best)
      best = t;
  } while (bench_seconds (bench_clock) - t_start < seconds);
  free (x);
  free (scratch);
  free (state);
  earshot_net_free (net);
  return best;
}

int
main (int argc, char **argv)
{
  double seconds = 1.0;
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof (argv[++i]);
    else if (strcmp (argv[i], "--clock") == 0 && i + 1 < argc
        && (strcmp (argv[i + 1], "wall") == 0
            || strcmp (argv[i + 1], "cpu") == 0))
      bench_clock = strcmp (argv[++i], "cpu") == 0
          ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
    else {
      fprintf (stderr, "usage: step [--seconds S] [--clock wall|cpu]\n");
      return 2;
    }
  }
  if (!(seconds > 0)) {
    fprintf (stderr, "step: --seconds must be positive\n");
    return 2;
  }

  static const struct {
    earshot_layer_type cell;
    uint32_t hidden, layers;
  } nets[] = {
    { EARSHOT_LAYER_GRU, 64, 1 },
    { EARSHOT_LAYER_GRU, 64, 2 },
    { EARSHOT_LAYER_LSTM, 64, 2 },
    { EARSHOT_LAYER_GRU, 128, 2 },
  };
  printf ("earshot %s streaming step: %d inputs, softmax of %d, %s time\n\n",
      earshot_version (), N_IN, N_CLASSES,
      bench_clock == CLOCK_MONOTONIC ? "wall" : "CPU");
  printf ("%-5s %4s %6s  %8s  %10s  %8s\n", "cell", "H", "layers", "params",
      "us/frame", "GB/s");
  for (size_t k = 0; k < sizeof nets / sizeof nets[0]; k++) {
    size_t n_params;
    double t = bench_net (nets[k].cell, nets[k].hidden, nets[k].layers,
        seconds, &n_params);
    printf ("%-5s %4u %6u  %8zu  %10.3f  %8.1f\n",
        nets[k].cell == EARSHOT_LAYER_GRU ? "gru" : "lstm", nets[k].hidden,
        nets[k].layers, n_params, t * 1e6,
        (double) n_params * sizeof (float) / t / 1e9);
    fflush (stdout);
  }
  printf ("\nGB/s: the parameters (float32) read per second, each once per "
      "frame.\n");
  return 0;
}
