/* bench/fft.c — the front end's FFT: the plan FFTW_ESTIMATE makes on its
 * own against the plan libearshot uses (ESTIMATE guided by the wisdom it
 * ships, lib/features.c), per transform size, in the same run.
 *
 *   fft [--seconds S] [N...]        time the plans (default N: 256 512 1024 2048)
 *   fft --make-wisdom [N...]        print FFTW_PATIENT's wisdom for these sizes
 *
 * Every figure is one real-to-complex transform of N points, the best of
 * passes over about S seconds (default 0.5) of the thread's CPU time.  The
 * two plans' outputs are compared too: they are different algorithms, so
 * their bits differ, by a few float roundings.
 *
 * --make-wisdom is how the shipped wisdom was made: it plans every size
 * with FFTW_PATIENT (timing candidates on this machine) and prints the
 * wisdom FFTW exports, to paste into lib/features.c.  Run it on an idle
 * machine; a different run may choose differently, which is why the
 * library ships one fixed choice instead of measuring its own. */
#include "earshot_private.h"

#include <fftw3.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
cpu_now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t);
  return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

/* The same flags and (fftwf_malloc) alignment as lib/features.c. */
static fftwf_plan
plan (int n, unsigned flags, float **in, fftwf_complex **out)
{
  *in = fftwf_malloc ((size_t) n * sizeof **in);
  *out = fftwf_malloc ((size_t) (n / 2 + 1) * sizeof **out);
  if (*in == NULL || *out == NULL) {
    fprintf (stderr, "fft: out of memory\n");
    exit (1);
  }
  fftwf_plan p = fftwf_plan_dft_r2c_1d (n, *in, *out,
      flags | FFTW_PRESERVE_INPUT);
  if (p == NULL) {
    fprintf (stderr, "fft: FFTW could not plan %d points\n", n);
    exit (1);
  }
  return p;
}

/* Seconds per transform: the best pass of 1,000 transforms. */
static double
time_plan (fftwf_plan p, float *in, fftwf_complex *out, double seconds)
{
  double best = 1e30, start = cpu_now ();
  do {
    double t0 = cpu_now ();
    for (int k = 0; k < 1000; k++)
      fftwf_execute_dft_r2c (p, in, out);
    double t = (cpu_now () - t0) / 1000;
    if (t < best)
      best = t;
  } while (cpu_now () - start < seconds);
  return best;
}

static void
fill (float *in, int n)
{
  /* a 25 ms-like window of a chirp, zero-padded as the front end does */
  int win = n * 25 / 32;
  for (int i = 0; i < n; i++)
    in[i] = i < win ? (float) sin (0.001 * i * i) : 0.0f;
}

int
main (int argc, char **argv)
{
  double seconds = 0.5;
  int make_wisdom = 0, sizes[64], n_sizes = 0;

  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof (argv[++i]);
    else if (strcmp (argv[i], "--make-wisdom") == 0)
      make_wisdom = 1;
    else if (argv[i][0] != '-' && atoi (argv[i]) >= 2 && n_sizes < 64)
      sizes[n_sizes++] = atoi (argv[i]);
    else {
      fprintf (stderr, "usage: fft [--seconds S] [N...]\n"
          "       fft --make-wisdom [N...]\n");
      return 2;
    }
  }
  if (n_sizes == 0) {
    static const int def[] = { 256, 512, 1024, 2048 };
    for (n_sizes = 0; n_sizes < 4; n_sizes++)
      sizes[n_sizes] = def[n_sizes];
  }

  if (make_wisdom) {
    for (int i = 0; i < n_sizes; i++) {
      float *in;
      fftwf_complex *out;
      fftwf_destroy_plan (plan (sizes[i], FFTW_PATIENT, &in, &out));
      fftwf_free (in);
      fftwf_free (out);
    }
    char *w = fftwf_export_wisdom_to_string ();
    fputs (w, stdout);
    free (w);
    return 0;
  }

  /* Per size: ESTIMATE's own plan while FFTW has no wisdom, then the
   * library's: the shipped wisdom imported as the front end imports it
   * before it plans. */
  printf ("earshot FFT bench: one r2c transform of N points, best of passes "
      "over %.1f s of thread CPU time\n", seconds);
  printf ("%6s %12s %12s %9s %16s  %s\n", "N", "ESTIMATE us", "earshot us",
      "ratio", "max |diff|/max", "earshot's plan");
  for (int i = 0; i < n_sizes; i++) {
    int n = sizes[i];
    float *in0, *in1;
    fftwf_complex *out0, *out1;
    fftwf_forget_wisdom ();
    fftwf_plan p0 = plan (n, FFTW_ESTIMATE, &in0, &out0);
    bool taken = earshot_fft_import_wisdom ();
    fftwf_plan p1 = plan (n, FFTW_ESTIMATE, &in1, &out1);
    fill (in0, n);
    fill (in1, n);
    double t0 = time_plan (p0, in0, out0, seconds);
    double t1 = time_plan (p1, in1, out1, seconds);
    double diff = 0.0, max = 0.0;
    for (int k = 0; k <= n / 2; k++)
      for (int c = 0; c < 2; c++) {
        double d = fabs ((double) out0[k][c] - out1[k][c]);
        diff = d > diff ? d : diff;
        max = fabs (out0[k][c]) > max ? fabs (out0[k][c]) : max;
      }
    char *s0 = fftwf_sprint_plan (p0), *s1 = fftwf_sprint_plan (p1);
    /* the plan's outermost solver: the first line of FFTW's description */
    char shape[80];
    snprintf (shape, sizeof shape, "%s", !taken
        ? "ESTIMATE's (FFTW did not take the wisdom here)"
        : strcmp (s0, s1) == 0 ? "ESTIMATE's (no wisdom for this size)" : s1);
    shape[strcspn (shape, "\n")] = '\0';
    printf ("%6d %12.3f %12.3f %8.2fx %16.2e  %s\n", n, t0 * 1e6, t1 * 1e6,
        t0 / t1, max > 0 ? diff / max : 0.0, shape);
    free (s0);
    free (s1);
    fftwf_destroy_plan (p0);
    fftwf_destroy_plan (p1);
    fftwf_free (in0);
    fftwf_free (in1);
    fftwf_free (out0);
    fftwf_free (out1);
  }
  return 0;
}
