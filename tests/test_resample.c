/* test_resample.c — earshot_resample.h: which rates it takes, output counts
 * and the end-of-stream rule, time alignment and gain in the passband,
 * attenuation of what would alias, independence from how the input is
 * split, reset, and filter tables shared between resamplers. */
#include "earshot_resample.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define OUT_RATE 16000u

/* Resamples x[n] with r in calls of `chunk` samples (0: all at once), then
 * the latency's zeros; returns the outputs (*n_out of them).  *over counts
 * the calls that made more outputs than earshot_resampler_max_out allows.
 * No CHECK inside: test_shared_tables calls it from several threads. */
static float *
feed (earshot_resampler *r, const float *x, size_t n, size_t chunk,
    size_t *n_out, size_t *over)
{
  size_t lat = earshot_resampler_latency (r), made = 0;
  size_t cap = earshot_resampler_max_out (r, n)
      + earshot_resampler_max_out (r, lat) + 16;
  float *y = malloc (cap * sizeof *y);
  float *zeros = calloc (lat, sizeof *zeros);

  *over = 0;
  for (size_t done = 0; done < n;) {
    size_t len = chunk == 0 || chunk > n - done ? n - done : chunk;
    size_t got = earshot_resampler_process (r, x + done, len, y + made);
    *over += got > earshot_resampler_max_out (r, len);
    made += got;
    done += len;
  }
  made += earshot_resampler_process (r, zeros, lat, y + made);
  free (zeros);
  *n_out = made;
  return y;
}

/* feed() with a new resampler from in_rate, freed after. */
static float *
run (unsigned in_rate, const float *x, size_t n, size_t chunk, size_t *n_out)
{
  earshot_resampler *r;
  earshot_status st = earshot_resampler_new (in_rate, OUT_RATE, &r);
  size_t over;
  float *y;

  CHECK (st == EARSHOT_OK, "new (%u): %d", in_rate, (int) st);
  if (st != EARSHOT_OK) {
    *n_out = 0;
    return NULL;
  }
  y = feed (r, x, n, chunk, n_out, &over);
  CHECK (over == 0, "%u Hz in calls of %zu: %zu calls made more outputs "
      "than max_out", in_rate, chunk, over);
  earshot_resampler_free (r);
  return y;
}

static void
test_supports (void)
{
  static const unsigned yes[] = { 22050, 24000, 32000, 44100, 48000, 88200,
    96000, 176400, 192000, 64000, 1000000
  };
  earshot_resampler *r = (earshot_resampler *) 1;

  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    CHECK (earshot_resampler_supports (yes[i], OUT_RATE), "%u", yes[i]);
  /* not a downsampling, or too many phases (16000 / gcd) */
  CHECK (!earshot_resampler_supports (16000, OUT_RATE), "same rate");
  CHECK (!earshot_resampler_supports (8000, OUT_RATE), "upsampling");
  CHECK (!earshot_resampler_supports (44101, OUT_RATE), "44101 Hz");
  CHECK (!earshot_resampler_supports (44100, 0), "to 0 Hz");
  CHECK (earshot_resampler_new (8000, OUT_RATE, &r) == EARSHOT_ERR_INVALID,
      "new refuses upsampling");
  CHECK (r == NULL, "and sets *out to NULL");
}

/* N inputs and the latency's zeros give exactly ceil (N * 16000 / rate)
 * outputs, whatever the split. */
static void
test_counts (void)
{
  static const unsigned rates[] = { 22050, 32000, 44100, 48000, 96000,
    1000000 };
  static const size_t lens[] = { 0, 1, 2, 3, 440, 441, 442, 9999, 100000 };

  for (size_t ri = 0; ri < sizeof rates / sizeof rates[0]; ri++)
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
      size_t n = lens[li], got;
      float *x = calloc (n + 1, sizeof *x);
      float *y = run (rates[ri], x, n, 333, &got);
      uint64_t want = ((uint64_t) n * OUT_RATE + rates[ri] - 1) / rates[ri];

      CHECK (got == want, "%u Hz, %zu inputs: %zu outputs, want %llu",
          rates[ri], n, got, (unsigned long long) want);
      free (x);
      free (y);
    }
}

/* A sine in the passband comes out at the same amplitude and at the right
 * time (flat within 0.01 dB): output j is the input at j / 16000 s.  A
 * half-sample slip would be an error of about 0.1 at 1 kHz. */
static void
test_passband (void)
{
  static const unsigned rates[] = { 22050, 44100, 48000, 96000 };
  static const double freqs[] = { 100.0, 1000.0, 3000.0, 6000.0 };

  for (size_t ri = 0; ri < sizeof rates / sizeof rates[0]; ri++)
    for (size_t fi = 0; fi < sizeof freqs / sizeof freqs[0]; fi++) {
      unsigned rate = rates[ri];
      size_t n = rate, got;       /* one second */
      float *x = malloc (n * sizeof *x);
      float *y;
      double max_err = 0.0;

      for (size_t i = 0; i < n; i++)
        x[i] = (float) (0.5 * sin (2.0 * M_PI * freqs[fi] * i / rate + 0.3));
      y = run (rate, x, n, 1000, &got);
      /* away from the ends (the silence before and after) */
      for (size_t j = 200; j + 200 < got; j++) {
        double want = 0.5 * sin (2.0 * M_PI * freqs[fi] * j / OUT_RATE + 0.3);
        double e = fabs (y[j] - want);
        if (e > max_err)
          max_err = e;
      }
      CHECK (max_err <= 5e-4, "%u Hz, %g Hz sine: error up to %g", rate,
          freqs[fi], max_err);
      free (x);
      free (y);
    }
}

/* What lies above the output's Nyquist frequency (and would fold back into
 * the band) is removed: at least 70 dB down from 9 kHz on. */
static void
test_stopband (void)
{
  static const unsigned rates[] = { 44100, 48000 };
  static const double freqs[] = { 9000.0, 12000.0, 15000.0, 20000.0 };

  for (size_t ri = 0; ri < sizeof rates / sizeof rates[0]; ri++)
    for (size_t fi = 0; fi < sizeof freqs / sizeof freqs[0]; fi++) {
      unsigned rate = rates[ri];
      size_t n = rate, got;
      float *x = malloc (n * sizeof *x);
      float *y;
      double peak = 0.0;

      for (size_t i = 0; i < n; i++)
        x[i] = (float) sin (2.0 * M_PI * freqs[fi] * i / rate);
      y = run (rate, x, n, 0, &got);
      for (size_t j = 200; j + 200 < got; j++)
        if (fabs (y[j]) > peak)
          peak = fabs (y[j]);
      CHECK (peak <= 3.2e-4, "%u Hz, %g Hz sine: comes out at %g (%.1f dB)",
          rate, freqs[fi], peak, 20.0 * log10 (peak));
      free (x);
      free (y);
    }
}

/* The outputs do not depend on how the input is split into calls, and a
 * reset resampler gives what a new one does; DC passes at gain 1. */
static void
test_chunks_and_reset (void)
{
  static const size_t chunks[] = { 1, 7, 160, 441, 1023, 1024, 1025, 8193,
    0 };
  const size_t n = 3 * 44100 + 17;
  float *x = malloc (n * sizeof *x);
  float *ref, *y;
  size_t n_ref, got;
  uint32_t s = 12345;

  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    x[i] = (float) ((s >> 8) * (1.0 / 16777216.0) - 0.5);
  }
  ref = run (44100, x, n, 0, &n_ref);
  for (size_t ci = 0; ci < sizeof chunks / sizeof chunks[0]; ci++) {
    y = run (44100, x, n, chunks[ci], &got);
    CHECK (got == n_ref && memcmp (y, ref, got * sizeof *y) == 0,
        "chunks of %zu: outputs differ from one call's", chunks[ci]);
    free (y);
  }

  {
    earshot_resampler *r;
    float *a;
    size_t m1, m2;

    if (earshot_resampler_new (44100, OUT_RATE, &r) != EARSHOT_OK)
      abort ();
    a = malloc (earshot_resampler_max_out (r, n) * sizeof *a);

    m1 = earshot_resampler_process (r, x, n / 2, a);
    earshot_resampler_reset (r);
    m2 = earshot_resampler_process (r, x, n, a);
    CHECK (m1 > 0 && m2 <= n_ref && memcmp (a, ref, m2 * sizeof *a) == 0,
        "after a reset the outputs are a new resampler's");
    for (size_t i = 0; i < n; i++)
      x[i] = 0.25f;
    earshot_resampler_reset (r);
    m2 = earshot_resampler_process (r, x, n, a);
    CHECK_NEAR (a[m2 / 2], 0.25, 1e-6, "DC gain");
    earshot_resampler_free (r);
    free (a);
  }
  free (ref);
  free (x);
}

/* ---- shared filter tables ---------------------------------------------- */

/* Resamplers of one pair of rates share one table (built by the first,
 * freed by the last): several alive at once, created and freed in any
 * order and from several threads, each still gives a lone resampler's
 * outputs.  (A table freed too early or twice is a use after free, which
 * the ASan build of this test reports.) */

#define SHARED_N (44100 / 2 + 3)

static float shared_x[SHARED_N];
static float *shared_ref[2];          /* 44.1 and 48 kHz, run() alone */
static size_t shared_ref_n[2];
static const unsigned shared_rates[2] = { 44100, 48000 };

/* Outputs of r for shared_x in calls of `chunk` (feed()): whether they
 * equal shared_ref[which], within max_out.  Frees r. */
static int
shared_matches (earshot_resampler *r, int which, size_t chunk)
{
  size_t made, over;
  float *y = feed (r, shared_x, SHARED_N, chunk, &made, &over);
  int ok = over == 0 && made == shared_ref_n[which]
      && memcmp (y, shared_ref[which], made * sizeof *y) == 0;

  earshot_resampler_free (r);
  free (y);
  return ok;
}

static earshot_resampler *
shared_new (int which)
{
  earshot_resampler *r;
  if (earshot_resampler_new (shared_rates[which], OUT_RATE, &r) != EARSHOT_OK)
    abort ();
  return r;
}

static void *
shared_thread (void *arg)
{
  uintptr_t id = (uintptr_t) arg, bad = 0;

  for (int i = 0; i < 12; i++) {
    int which = (int) ((id + (uintptr_t) i) % 2);
    earshot_resampler *r = shared_new (which);
    bad += !shared_matches (r, which, 160 + 37 * id);
  }
  return (void *) bad;
}

static void
test_shared_tables (void)
{
  uint32_t s = 777;
  for (size_t i = 0; i < SHARED_N; i++) {
    s = s * 1664525u + 1013904223u;
    shared_x[i] = (float) ((s >> 8) * (1.0 / 16777216.0) - 0.5);
  }
  for (int w = 0; w < 2; w++)
    shared_ref[w] = run (shared_rates[w], shared_x, SHARED_N, 0,
        &shared_ref_n[w]);

  /* a and b share 44.1 kHz's table, c has 48 kHz's; a goes first, then d
   * takes a reference while b still holds one; after all are gone a new
   * one builds the table again */
  earshot_resampler *a = shared_new (0), *b = shared_new (0);
  earshot_resampler *c = shared_new (1);
  CHECK (shared_matches (a, 0, 441), "first of two at 44.1 kHz");
  earshot_resampler *d = shared_new (0);
  CHECK (shared_matches (c, 1, 960), "48 kHz beside two at 44.1 kHz");
  CHECK (shared_matches (b, 0, 1024), "second at 44.1 kHz, after the first "
      "was freed");
  CHECK (shared_matches (d, 0, 7), "a third, made while the second lived");
  CHECK (shared_matches (shared_new (0), 0, 4096), "a new one after all "
      "were freed");

  pthread_t th[4];
  for (uintptr_t t = 0; t < 4; t++)
    CHECK (pthread_create (&th[t], NULL, shared_thread, (void *) t) == 0,
        "thread %u", (unsigned) t);
  for (int t = 0; t < 4; t++) {
    void *bad = NULL;
    pthread_join (th[t], &bad);
    CHECK (bad == NULL, "thread %d: %lu of 12 resamplers gave other outputs "
        "than a lone one", t, (unsigned long) (uintptr_t) bad);
  }
  free (shared_ref[0]);
  free (shared_ref[1]);
}

int
main (void)
{
  test_supports ();
  test_counts ();
  test_passband ();
  test_stopband ();
  test_chunks_and_reset ();
  test_shared_tables ();
  return check_finish ("resample");
}
