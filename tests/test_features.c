/* test_features.c — the log-mel front end against analytic facts and a
 * naive double-precision reference.
 *
 *   1. a sine at a band centre peaks in the band whose triangle holds it;
 *      silence is exactly ln(log_floor) everywhere;
 *   2. frames match a direct O(N^2) DFT + independently computed triangles
 *      within 1e-4 relative in mel power, for both scales, n_fft > win;
 *   3. any split of the stream into pushes gives bit-identical frames,
 *      ceil(N / hop) frames after flush, exact frames_for() predictions;
 *   4. normalisation is (raw - mean) / std;
 *   5. configuration and argument checks, reset, determinism across objects
 *      and threads;
 *   6. the mel scales: round trips and known values;
 *   7. frames equal, bit for bit, the plain computation: window, the same
 *      FFTW plan, power, each band summed in double over its bins in order,
 *      log (what the optimised loops must reproduce exactly);
 *   8. earshot_features_sum_squares;
 *   9. the shipped FFT plans: FFTW takes the wisdom and follows it (on
 *      x86-64 with AVX), and a front end made after FFTW forgot all wisdom
 *      gives the bits of one made before.
 */
#include "earshot_features.h"
#include "earshot_private.h"
#include "check.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- helpers ------------------------------------------------------------ */

/* splitmix64: a fixed seed gives the same signal on every platform. */
static uint64_t
rng_next (uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static double
rng_uniform (uint64_t *s)
{
  return (double) (rng_next (s) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static float *
noise (size_t n, double amp, uint64_t seed)
{
  float *x = malloc ((n ? n : 1) * sizeof *x);
  if (x == NULL) {
    fprintf (stderr, "out of memory\n");
    exit (2);
  }
  for (size_t i = 0; i < n; i++)
    x[i] = (float) (amp * rng_uniform (&seed));
  return x;
}

static earshot_features *
make (const earshot_features_config *cfg, const float *mean, const float *std)
{
  char err[256] = "";
  earshot_features *fe = NULL;
  earshot_status st = earshot_features_new (cfg, mean, std, &fe, err,
      sizeof err);
  if (st != EARSHOT_OK || fe == NULL) {
    fprintf (stderr, "earshot_features_new: %s: %s\n",
        earshot_status_str (st), err);
    exit (2);
  }
  return fe;
}

static size_t
expected_frames (const earshot_features_config *cfg, size_t n)
{
  return (n + cfg->hop_length - 1) / cfg->hop_length;
}

/* Streams x[0..n) through fe (fresh or just reset) in pushes of `chunk`
 * samples (0: everything at once; with a non-zero seed: random sizes 1 ..
 * 5000), pulling after every push, then flushes and pulls the tail.  Frames
 * go to out ([max_frames x n_mels]); returns their count.  Checks that
 * frames_for() predicted every chunk's frames and the tail exactly. */
static size_t
run (earshot_features *fe, const float *x, size_t n, size_t chunk,
    uint64_t seed, float *out, size_t max_frames, const char *what)
{
  const uint32_t n_mels = earshot_features_get_config (fe)->n_mels;
  size_t got = 0, pos = 0, mispredicted = 0, overflow = 0;
  float scratch[512];

  while (pos < n) {
    size_t c = chunk ? chunk : n;
    if (seed != 0)
      c = 1 + (size_t) (rng_next (&seed) % 5000);
    if (c > n - pos)
      c = n - pos;

    size_t predicted = earshot_features_frames_for (fe, c);
    size_t before = got, left = c;
    const float *p = x + pos;
    do {
      size_t used = earshot_features_push (fe, p, left);
      p += used;
      left -= used;
      for (;;) {
        float *dst = got < max_frames ? out + got * n_mels : scratch;
        if (!earshot_features_pull (fe, dst))
          break;
        if (got >= max_frames)
          overflow++;
        got++;
      }
    } while (left > 0);
    if (got - before != predicted)
      mispredicted++;
    pos += c;
  }

  earshot_features_flush (fe);
  size_t tail = earshot_features_frames_for (fe, 0);
  size_t before = got;
  for (;;) {
    float *dst = got < max_frames ? out + got * n_mels : scratch;
    if (!earshot_features_pull (fe, dst))
      break;
    if (got >= max_frames)
      overflow++;
    got++;
  }
  CHECK (mispredicted == 0, "%s: frames_for wrong for %zu pushes", what,
      mispredicted);
  CHECK (got - before == tail, "%s: flush gave %zu frames, frames_for said "
      "%zu", what, got - before, tail);
  CHECK (overflow == 0, "%s: %zu frames beyond %zu", what, overflow,
      max_frames);
  CHECK (earshot_features_frame_count (fe) == got, "%s: frame_count %llu vs "
      "%zu pulled", what,
      (unsigned long long) earshot_features_frame_count (fe), got);
  return got < max_frames ? got : max_frames;
}

/* ---- independent reference ---------------------------------------------- */

/* The scales, written from their definitions rather than from features.c:
 * Slaney: f / (200/3) below 1 kHz, 15 + 27 log_6.4 (f / 1000) above;
 * HTK: 2595 log10 (1 + f / 700). */
static double
ref_hz_to_mel (double f, earshot_mel_scale scale)
{
  if (scale == EARSHOT_MEL_HTK)
    return 2595.0 * log10 (1.0 + f / 700.0);
  return f < 1000.0 ? f / (200.0 / 3.0) : 15.0 + 27.0 * log (f / 1000.0)
      / log (6.4);
}

static double
ref_mel_to_hz (double mel, earshot_mel_scale scale)
{
  if (scale == EARSHOT_MEL_HTK)
    return 700.0 * (exp (mel / 2595.0 * log (10.0)) - 1.0);
  return mel < 15.0 ? mel * (200.0 / 3.0) : 1000.0 * pow (6.4, (mel - 15.0)
      / 27.0);
}

/* Triangle corners f[0 .. n_mels + 1] in Hz. */
static void
ref_points (const earshot_features_config *cfg, double *f)
{
  double lo = ref_hz_to_mel (cfg->fmin, cfg->mel_scale);
  double hi = ref_hz_to_mel (cfg->fmax, cfg->mel_scale);
  for (uint32_t i = 0; i < cfg->n_mels + 2; i++)
    f[i] = ref_mel_to_hz (lo + (hi - lo) * i / (cfg->n_mels + 1),
        cfg->mel_scale);
}

/* Weight of frequency hz in band m: the triangle (f[m], f[m+1], f[m+2])
 * with peak 1 (HTK) or area 1 (Slaney: peak 2 / (f[m+2] - f[m])). */
static double
ref_weight (const earshot_features_config *cfg, const double *f, uint32_t m,
    double hz)
{
  double w;
  if (hz <= f[m] || hz >= f[m + 2])
    return 0.0;
  if (hz <= f[m + 1])
    w = (hz - f[m]) / (f[m + 1] - f[m]);
  else
    w = (f[m + 2] - hz) / (f[m + 2] - f[m + 1]);
  if (cfg->mel_scale == EARSHOT_MEL_SLANEY)
    w *= 2.0 / (f[m + 2] - f[m]);
  return w;
}

static double
ref_window (const earshot_features_config *cfg, uint32_t i)
{
  double c = cos (2.0 * M_PI * i / cfg->win_length);
  switch (cfg->window) {
    case EARSHOT_WINDOW_HANN: return 0.5 - 0.5 * c;
    case EARSHOT_WINDOW_HAMMING: return 0.54 - 0.46 * c;
    case EARSHOT_WINDOW_RECT: return 1.0;
  }
  return NAN;
}

/* Log-mel of frame t of x[0..n) (zero beyond n), all in double:
 * X[k] = sum_i w[i] x[t*hop + i] e^{-2 pi j k i / n_fft} by direct sum,
 * mel[m] = sum_k W[m](k sr / n_fft) |X[k]|^2, out[m] = ln max(mel, floor). */
static void
ref_frame (const earshot_features_config *cfg, const double *f,
    const double *cos_tab, const double *sin_tab, const float *x, size_t n,
    size_t t, double *frame_buf, double *power, double *out)
{
  const uint32_t n_fft = cfg->n_fft, n_bins = n_fft / 2 + 1;

  for (uint32_t i = 0; i < cfg->win_length; i++) {
    size_t j = t * cfg->hop_length + i;
    frame_buf[i] = ref_window (cfg, i) * (j < n ? (double) x[j] : 0.0);
  }
  for (uint32_t k = 0; k < n_bins; k++) {
    double re = 0.0, im = 0.0;
    uint32_t idx = 0;   /* k * i mod n_fft: exact twiddle index */
    for (uint32_t i = 0; i < cfg->win_length; i++) {
      re += frame_buf[i] * cos_tab[idx];
      im -= frame_buf[i] * sin_tab[idx];
      idx += k;
      if (idx >= n_fft)
        idx -= n_fft;
    }
    power[k] = re * re + im * im;
  }
  for (uint32_t m = 0; m < cfg->n_mels; m++) {
    double mel = 0.0;
    for (uint32_t k = 0; k < n_bins; k++)
      mel += ref_weight (cfg, f, m, (double) k * cfg->sample_rate / n_fft)
          * power[k];
    out[m] = log (fmax (mel, (double) cfg->log_floor));
  }
}

/* ---- 1. sines and silence ----------------------------------------------- */

static void
test_sine_in_band (earshot_mel_scale scale)
{
  earshot_features_config cfg = earshot_features_default_config ();
  cfg.mel_scale = scale;
  earshot_features *fe = make (&cfg, NULL, NULL);
  const uint32_t bands[] = { 1, 4, 10, 17, 25, 33, 38 };
  const size_t n = 8000;
  float *x = malloc (n * sizeof *x);
  float frame[40];
  double f[42];

  ref_points (&cfg, f);
  for (size_t b = 0; b < sizeof bands / sizeof bands[0]; b++) {
    double hz = earshot_features_band_center (&cfg, bands[b]);

    /* The band that owns hz: the largest triangle weight there. */
    uint32_t want = 0;
    for (uint32_t m = 1; m < cfg.n_mels; m++)
      if (ref_weight (&cfg, f, m, hz) > ref_weight (&cfg, f, want, hz))
        want = m;
    CHECK (want == bands[b], "scale %d: %g Hz owned by band %u, not %u",
        (int) scale, hz, want, bands[b]);

    for (size_t i = 0; i < n; i++)
      x[i] = (float) (0.5 * sin (2.0 * M_PI * hz * (double) i
          / cfg.sample_rate));
    earshot_features_reset (fe);
    /* Frame 20 lies well inside the signal: no start-up, no padding. */
    size_t got = 0;
    for (size_t pos = 0; pos < n && got <= 20;) {
      pos += earshot_features_push (fe, x + pos, n - pos);
      while (got <= 20 && earshot_features_pull (fe, frame))
        got++;
    }
    uint32_t peak = 0;
    for (uint32_t m = 1; m < cfg.n_mels; m++)
      if (frame[m] > frame[peak])
        peak = m;
    CHECK (peak == want, "scale %d: sine at %.2f Hz peaks in band %u, "
        "expected %u", (int) scale, hz, peak, want);
  }
  free (x);
  earshot_features_free (fe);
}

static void
test_silence (void)
{
  earshot_features_config cfg = earshot_features_default_config ();
  for (int s = 0; s < 2; s++) {
    cfg.mel_scale = s ? EARSHOT_MEL_HTK : EARSHOT_MEL_SLANEY;
    earshot_features *fe = make (&cfg, NULL, NULL);
    const size_t n = 3210;
    float *x = calloc (n, sizeof *x);
    float *out = malloc (expected_frames (&cfg, n) * cfg.n_mels * sizeof *out);
    size_t got = run (fe, x, n, 0, 0, out, expected_frames (&cfg, n),
        "silence");
    /* Exactly: the library takes ln in double of the float floor. */
    const float want = (float) log ((double) cfg.log_floor);
    size_t bad = 0;
    for (size_t i = 0; i < got * cfg.n_mels; i++)
      bad += out[i] != want;
    CHECK (got == expected_frames (&cfg, n), "silence: %zu frames", got);
    CHECK (bad == 0, "silence: %zu values differ from ln(log_floor) = %.9g",
        bad, (double) want);
    free (x);
    free (out);
    earshot_features_free (fe);
  }
}

/* ---- 2. naive reference ------------------------------------------------- */

/* Relative error of the mel power: with a = library log-mel, b = reference,
 * |e^a - e^b| / e^b = |expm1 (a - b)|.  (Noise keeps every band far above
 * log_floor, so the floor never enters.) */
static double
test_reference (const earshot_features_config *cfg, const char *what)
{
  earshot_features *fe = make (cfg, NULL, NULL);
  const uint32_t n_fft = cfg->n_fft, n_bins = n_fft / 2 + 1;
  const size_t n = 12 * cfg->hop_length + cfg->win_length + 37;
  const size_t frames = expected_frames (cfg, n);
  float *x = noise (n, 0.5, 0x5eed + n_fft);
  float *out = malloc (frames * cfg->n_mels * sizeof *out);
  double *cos_tab = malloc (n_fft * sizeof *cos_tab);
  double *sin_tab = malloc (n_fft * sizeof *sin_tab);
  double *frame_buf = malloc (cfg->win_length * sizeof *frame_buf);
  double *power = malloc (n_bins * sizeof *power);
  double *ref = malloc (cfg->n_mels * sizeof *ref);
  double *f = malloc ((cfg->n_mels + 2) * sizeof *f);
  double max_rel = 0.0, max_w = 0.0, max_win = 0.0;

  for (uint32_t i = 0; i < n_fft; i++) {
    cos_tab[i] = cos (2.0 * M_PI * i / n_fft);
    sin_tab[i] = sin (2.0 * M_PI * i / n_fft);
  }
  ref_points (cfg, f);

  /* The filterbank and window the library applies, against the formulas:
   * weights within 1e-6 of the band's peak, window within 1e-7. */
  for (uint32_t m = 0; m < cfg->n_mels; m++) {
    double peak = ref_weight (cfg, f, m, f[m + 1]);
    for (uint32_t k = 0; k < n_bins; k++) {
      double w = ref_weight (cfg, f, m, (double) k * cfg->sample_rate / n_fft);
      double d = fabs (earshot_features_filter_weight (fe, m, k) - w) / peak;
      max_w = fmax (max_w, d);
    }
  }
  for (uint32_t i = 0; i < cfg->win_length; i++)
    max_win = fmax (max_win, fabs (earshot_features_window_coef (fe, i)
        - ref_window (cfg, i)));
  CHECK (max_w <= 1e-6, "%s: filter weights off by %g of the peak", what,
      max_w);
  CHECK (max_win <= 1e-7, "%s: window off by %g", what, max_win);

  size_t got = run (fe, x, n, 0, 0, out, frames, what);
  CHECK (got == frames, "%s: %zu frames, expected %zu", what, got, frames);
  for (size_t t = 0; t < got; t++) {
    ref_frame (cfg, f, cos_tab, sin_tab, x, n, t, frame_buf, power, ref);
    for (uint32_t m = 0; m < cfg->n_mels; m++) {
      double a = out[t * cfg->n_mels + m];
      double rel = fabs (expm1 (a - ref[m]));
      max_rel = isnan (rel) ? INFINITY : fmax (max_rel, rel);
    }
  }
  CHECK (max_rel <= 1e-4, "%s: max relative mel-power error %g", what,
      max_rel);

  free (x);
  free (out);
  free (cos_tab);
  free (sin_tab);
  free (frame_buf);
  free (power);
  free (ref);
  free (f);
  earshot_features_free (fe);
  return max_rel;
}

static void
test_references (void)
{
  static const earshot_features_config cfgs[] = {
    { 16000, 400, 160, 1024, 40, 20.0f, 7600.0f, EARSHOT_WINDOW_HANN,
      EARSHOT_MEL_SLANEY, 1e-10f },
    { 22050, 512, 128, 2048, 64, 0.0f, 11025.0f, EARSHOT_WINDOW_HAMMING,
      EARSHOT_MEL_HTK, 1e-10f },
    { 8000, 200, 80, 255, 24, 60.0f, 3900.0f, EARSHOT_WINDOW_RECT,
      EARSHOT_MEL_SLANEY, 1e-6f },
    { 44100, 1024, 441, 1500, 80, 30.0f, 16000.0f, EARSHOT_WINDOW_HANN,
      EARSHOT_MEL_HTK, 1e-10f },
  };
  double worst = 0.0;
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
    char what[64];
    snprintf (what, sizeof what, "reference config %zu", i);
    worst = fmax (worst, test_reference (&cfgs[i], what));
  }
  printf ("features: max relative mel-power error vs naive DFT: %.3g\n",
      worst);
}

/* ---- 3. streaming ------------------------------------------------------- */

static void
test_streaming (const earshot_features_config *cfg, const char *what)
{
  /* Three seconds (plus a partial hop) of noise and two tones that switch
   * on and off, so frames differ from each other. */
  const size_t n = 3 * cfg->sample_rate + 77;
  const size_t frames = expected_frames (cfg, n);
  float *x = noise (n, 0.2, 42);
  for (size_t i = 0; i < n; i++) {
    double t = (double) i / cfg->sample_rate;
    x[i] += (float) ((t < 1.5 ? 0.3 : 0.0) * sin (2.0 * M_PI * 440.0 * t)
        + (t > 1.0 ? 0.2 : 0.0) * sin (2.0 * M_PI * 3000.0 * t));
  }

  const size_t bytes = frames * cfg->n_mels * sizeof (float);
  float *whole = malloc (bytes), *split = malloc (bytes);
  earshot_features *fe = make (cfg, NULL, NULL);
  CHECK (earshot_features_frames_for (fe, n) == (n - cfg->win_length)
      / cfg->hop_length + 1, "%s: frames_for(N) on a fresh object", what);
  size_t got = run (fe, x, n, 0, 0, whole, frames, what);
  CHECK (got == frames, "%s: one push gave %zu frames, expected %zu", what,
      got, frames);
  earshot_features_free (fe);

  const size_t chunks[] = { 1, 7, 160, 4096, 0 };
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
    char name[96];
    if (chunks[c])
      snprintf (name, sizeof name, "%s, chunks of %zu", what, chunks[c]);
    else
      snprintf (name, sizeof name, "%s, random chunks", what);
    fe = make (cfg, NULL, NULL);   /* a fresh object: plans must agree too */
    memset (split, 0xff, bytes);
    size_t g = run (fe, x, n, chunks[c] ? chunks[c] : 1, chunks[c] ? 0 : 1234,
        split, frames, name);
    CHECK (g == frames && memcmp (whole, split, bytes) == 0, "%s: frames "
        "differ from one push (%zu frames)", name, g);
    earshot_features_free (fe);
  }

  /* reset, then the same signal: the same frames as a fresh object. */
  fe = make (cfg, NULL, NULL);
  float *other = noise (5000, 0.9, 7);
  float scratch[512];
  size_t used = earshot_features_push (fe, other, 5000);
  CHECK (earshot_features_pull (fe, scratch), "%s: first frame", what);
  earshot_features_push (fe, other + used, 100);   /* leave a partial frame */
  earshot_features_reset (fe);
  CHECK (earshot_features_frame_count (fe) == 0, "%s: reset frame count",
      what);
  memset (split, 0xff, bytes);
  got = run (fe, x, n, 333, 0, split, frames, what);
  CHECK (got == frames && memcmp (whole, split, bytes) == 0, "%s: frames "
      "after reset differ from a fresh object", what);
  earshot_features_free (fe);
  free (other);

  free (x);
  free (whole);
  free (split);
}

/* Frame counts after a flush for short and awkward lengths, and the push
 * contract (takes only what completes a frame; nothing after flush). */
static void
test_framing (void)
{
  earshot_features_config cfg = earshot_features_default_config ();
  cfg.hop_length = 150;   /* does not divide win_length = 400 */
  earshot_features *fe = make (&cfg, NULL, NULL);
  const size_t lengths[] = { 0, 1, 149, 150, 151, 399, 400, 401, 550, 551,
    1000 };
  float *x = noise (2000, 0.5, 99);
  float out[20 * 40];

  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    earshot_features_reset (fe);
    size_t got = run (fe, x, lengths[i], 0, 0, out, 20, "framing");
    CHECK (got == expected_frames (&cfg, lengths[i]), "N = %zu: %zu frames, "
        "expected %zu", lengths[i], got, expected_frames (&cfg, lengths[i]));
  }

  earshot_features_reset (fe);
  CHECK (earshot_features_push (fe, x, 2000) == 400, "first push takes one "
      "window");
  CHECK (earshot_features_push (fe, x + 400, 1600) == 0, "push takes "
      "nothing while a frame waits");
  CHECK (earshot_features_frames_for (fe, 0) == 1, "frames_for(0) counts "
      "the waiting frame");
  CHECK (earshot_features_pull (fe, out), "the complete frame pulls");
  CHECK (!earshot_features_pull (fe, out), "only one frame is complete");
  CHECK (earshot_features_push (fe, x + 400, 1600) == 150, "then one hop");
  CHECK (earshot_features_pull (fe, out) && earshot_features_frame_count (fe)
      == 2, "second frame");
  earshot_features_flush (fe);
  CHECK (earshot_features_push (fe, x, 10) == 0, "push after flush takes "
      "nothing");
  /* 550 samples: ceil(550 / 150) = 4 frames, 2 already pulled. */
  CHECK (earshot_features_frames_for (fe, 1000) == 2, "tail after flush");
  size_t tail = 0;
  while (earshot_features_pull (fe, out))
    tail++;
  CHECK (tail == 2 && earshot_features_frame_count (fe) == 4, "tail of %zu "
      "frames", tail);
  earshot_features_reset (fe);
  CHECK (earshot_features_push (fe, x, 10) == 10, "push after reset");

  free (x);
  earshot_features_free (fe);
}

/* Objects created, run and freed on several threads at once (planning
 * other sizes meanwhile) give the same bits as one made on the main thread:
 * the planner lock works and the plan does not depend on who made it. */
typedef struct {
  const float *x;
  size_t n;
  float *out;               /* [frames x n_mels] */
  size_t frames;
  size_t got;
} thread_job;

static void *
thread_main (void *arg)
{
  thread_job *job = arg;
  earshot_features_config cfg = earshot_features_default_config ();
  earshot_features_config big = cfg;
  big.n_fft = 2048;
  for (int round = 0; round < 4; round++) {
    earshot_features *other = make (&big, NULL, NULL);
    earshot_features *fe = make (&cfg, NULL, NULL);
    size_t pos = 0;
    job->got = 0;
    while (pos < job->n) {
      pos += earshot_features_push (fe, job->x + pos, job->n - pos);
      while (job->got < job->frames && earshot_features_pull (fe,
            job->out + job->got * cfg.n_mels))
        job->got++;
    }
    earshot_features_flush (fe);
    while (job->got < job->frames && earshot_features_pull (fe,
          job->out + job->got * cfg.n_mels))
      job->got++;
    earshot_features_free (fe);
    earshot_features_free (other);
  }
  return NULL;
}

static void
test_threads (void)
{
  enum { N_THREADS = 4 };
  earshot_features_config cfg = earshot_features_default_config ();
  const size_t n = 8000;
  const size_t frames = expected_frames (&cfg, n);
  const size_t bytes = frames * cfg.n_mels * sizeof (float);
  float *x = noise (n, 0.5, 2024);
  float *want = malloc (bytes);
  earshot_features *fe = make (&cfg, NULL, NULL);
  run (fe, x, n, 0, 0, want, frames, "threads reference");
  earshot_features_free (fe);

  thread_job jobs[N_THREADS];
  pthread_t tids[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) {
    jobs[i] = (thread_job) { x, n, malloc (bytes), frames, 0 };
    CHECK (pthread_create (&tids[i], NULL, thread_main, &jobs[i]) == 0,
        "pthread_create %d", i);
  }
  for (int i = 0; i < N_THREADS; i++) {
    pthread_join (tids[i], NULL);
    CHECK (jobs[i].got == frames && memcmp (jobs[i].out, want, bytes) == 0,
        "thread %d: %zu frames, differ from the main thread's", i,
        jobs[i].got);
    free (jobs[i].out);
  }
  free (x);
  free (want);
}

/* ---- 4. normalisation --------------------------------------------------- */

static void
test_normalisation (void)
{
  earshot_features_config cfg = earshot_features_default_config ();
  float mean[40], std[40];
  uint64_t seed = 3;
  for (int m = 0; m < 40; m++) {
    mean[m] = (float) (5.0 * rng_uniform (&seed));
    std[m] = (float) (1.75 + 1.25 * rng_uniform (&seed));   /* 0.5 .. 3 */
  }
  earshot_features *raw_fe = make (&cfg, NULL, NULL);
  earshot_features *norm_fe = make (&cfg, mean, std);
  const size_t n = 16000;
  const size_t frames = expected_frames (&cfg, n);
  float *x = noise (n, 0.3, 11);
  float *raw = malloc (frames * 40 * sizeof *raw);
  float *norm = malloc (frames * 40 * sizeof *norm);
  size_t a = run (raw_fe, x, n, 0, 0, raw, frames, "raw");
  size_t b = run (norm_fe, x, n, 0, 0, norm, frames, "normalised");
  double max_err = 0.0;
  CHECK (a == frames && b == frames, "normalisation: %zu / %zu frames", a, b);
  for (size_t i = 0; i < frames * 40; i++) {
    double want = ((double) raw[i] - mean[i % 40]) / std[i % 40];
    double e = fabs (norm[i] - want);
    max_err = e <= max_err ? max_err : e;   /* a NaN makes it NaN */
  }
  CHECK (max_err <= 1e-5, "normalised output off by %g", max_err);
  free (x);
  free (raw);
  free (norm);
  earshot_features_free (raw_fe);
  earshot_features_free (norm_fe);
}

/* ---- 5. checks ---------------------------------------------------------- */

static void
expect_invalid (const earshot_features_config *cfg, const char *field,
    const char *what)
{
  char err[256] = "";
  earshot_status st = earshot_features_config_check (cfg, err, sizeof err);
  CHECK (st == EARSHOT_ERR_INVALID, "%s: accepted (status %d)", what,
      (int) st);
  CHECK (err[0] != '\0' && strstr (err, field) != NULL, "%s: message \"%s\" "
      "does not name %s", what, err, field);
  CHECK (earshot_features_config_check (cfg, NULL, 0) == EARSHOT_ERR_INVALID,
      "%s: without a message buffer", what);

  static int sentinel;
  earshot_features *fe = (earshot_features *) (void *) &sentinel;  /* -> NULL */
  st = earshot_features_new (cfg, NULL, NULL, &fe, err, sizeof err);
  CHECK (st == EARSHOT_ERR_INVALID && fe == NULL, "%s: new() accepted it",
      what);
}

static void
test_checks (void)
{
  const earshot_features_config def = earshot_features_default_config ();
  earshot_features_config c;
  char err[256] = "";

  CHECK (earshot_features_config_check (&def, err, sizeof err) == EARSHOT_OK,
      "default config rejected: %s", err);

  c = def; c.hop_length = c.win_length + 1;
  expect_invalid (&c, "hop_length", "hop > win");
  c = def; c.hop_length = 0;
  expect_invalid (&c, "hop_length", "hop 0");
  c = def; c.n_fft = c.win_length - 1;
  expect_invalid (&c, "n_fft", "n_fft < win");
  c = def; c.n_fft = 131072; c.win_length = 1024;
  expect_invalid (&c, "n_fft", "n_fft > 65536");
  c = def; c.fmax = 8000.5f;
  expect_invalid (&c, "fmax", "fmax > sr/2");
  c = def; c.fmin = 4000.0f; c.fmax = 4000.0f;
  expect_invalid (&c, "fmin", "fmin == fmax");
  c = def; c.fmin = 5000.0f; c.fmax = 4000.0f;
  expect_invalid (&c, "fmin", "fmin > fmax");
  c = def; c.fmin = -1.0f;
  expect_invalid (&c, "fmin", "fmin < 0");
  c = def; c.fmax = NAN;
  expect_invalid (&c, "fmax", "fmax NaN");
  c = def; c.n_mels = 0;
  expect_invalid (&c, "n_mels", "n_mels 0");
  c = def; c.n_mels = 513;
  expect_invalid (&c, "n_mels", "n_mels 513");
  c = def; c.n_mels = 128; c.n_fft = 64; c.win_length = 64; c.hop_length = 32;
  expect_invalid (&c, "band", "128 mels on a 64-point FFT");
  /* HTK, 128 mels on 0 .. 8 kHz: band 0 spans 0 .. 28 Hz, below bin 1
   * (31.25 Hz) of a 512-point FFT. */
  c = def; c.n_mels = 128; c.mel_scale = EARSHOT_MEL_HTK;
  expect_invalid (&c, "band 0", "128 HTK mels on a 512-point FFT");
  c = def; c.sample_rate = 0;
  expect_invalid (&c, "sample_rate", "sample_rate 0");
  c = def; c.sample_rate = 400000; c.fmax = 8000.0f;
  expect_invalid (&c, "sample_rate", "sample_rate 400000");
  c = def; c.win_length = 8; c.hop_length = 4;
  expect_invalid (&c, "win_length", "win 8");
  c = def; c.log_floor = 0.0f;
  expect_invalid (&c, "log_floor", "log_floor 0");
  c = def; c.window = (earshot_window) 7;
  expect_invalid (&c, "window", "window 7");
  c = def; c.mel_scale = (earshot_mel_scale) 2;
  expect_invalid (&c, "mel_scale", "mel_scale 2");

  /* Normalisation arguments. */
  float mean[40] = { 0 }, std[40];
  for (int m = 0; m < 40; m++)
    std[m] = 1.0f;
  const float bad_std[] = { 0.0f, -1.0f, NAN, INFINITY };
  for (size_t i = 0; i < sizeof bad_std / sizeof bad_std[0]; i++) {
    earshot_features *fe = NULL;
    std[3] = bad_std[i];
    err[0] = '\0';
    earshot_status st = earshot_features_new (&def, mean, std, &fe, err,
        sizeof err);
    CHECK (st == EARSHOT_ERR_INVALID && fe == NULL && strstr (err, "std[3]"),
        "std[3] = %g: status %d, \"%s\"", (double) bad_std[i], (int) st, err);
  }
  std[3] = 1.0f;
  earshot_features *fe = NULL;
  CHECK (earshot_features_new (&def, NULL, std, &fe, err, sizeof err)
      == EARSHOT_ERR_INVALID && fe == NULL, "std without mean accepted");
  CHECK (earshot_features_new (&def, mean, std, &fe, NULL, 0) == EARSHOT_OK
      && fe != NULL, "valid normalisation rejected");
  CHECK (memcmp (earshot_features_get_config (fe), &def, sizeof def) == 0,
      "get_config returns the configuration");
  earshot_features_free (fe);
  earshot_features_free (NULL);

  /* Band-centre and filterbank invariants on the default config. */
  fe = make (&def, NULL, NULL);
  double f[42];
  ref_points (&def, f);
  for (uint32_t m = 0; m < def.n_mels; m++) {
    double centre = earshot_features_band_center (&def, m);
    CHECK (fabs (centre - f[m + 1]) <= 1e-9 * f[m + 1], "band %u centre %g "
        "vs %g", m, centre, f[m + 1]);
  }
  earshot_features_free (fe);
}

/* ---- 6. mel scales ------------------------------------------------------ */

static void
test_mel_scale (void)
{
  double worst = 0.0;
  for (int s = 0; s < 2; s++) {
    earshot_mel_scale scale = s ? EARSHOT_MEL_HTK : EARSHOT_MEL_SLANEY;
    for (double hz = 0.5; hz < 200000.0; hz *= 1.01) {
      double back = earshot_mel_to_hz (earshot_hz_to_mel (hz, scale), scale);
      worst = fmax (worst, fabs (back - hz) / hz);
    }
    const double edges[] = { 999.999, 1000.0, 1000.001 };
    for (size_t i = 0; i < 3; i++) {
      double back = earshot_mel_to_hz (earshot_hz_to_mel (edges[i], scale),
          scale);
      worst = fmax (worst, fabs (back - edges[i]) / edges[i]);
    }
    CHECK_NEAR (earshot_hz_to_mel (0.0, scale), 0.0, 1e-12, "0 Hz is 0 mel");
  }
  CHECK (worst <= 1e-6, "hz -> mel -> hz round trip off by %g relative",
      worst);

  CHECK_NEAR (earshot_hz_to_mel (1000.0, EARSHOT_MEL_HTK), 999.9855371396244,
      1e-9, "HTK 1000 Hz");
  CHECK_NEAR (earshot_hz_to_mel (700.0, EARSHOT_MEL_HTK), 781.1728387480312,
      1e-9, "HTK 700 Hz");
  CHECK_NEAR (earshot_hz_to_mel (1000.0, EARSHOT_MEL_SLANEY), 15.0, 1e-12,
      "Slaney 1000 Hz");
  CHECK_NEAR (earshot_hz_to_mel (500.0, EARSHOT_MEL_SLANEY), 7.5, 1e-12,
      "Slaney 500 Hz (linear part)");
  CHECK_NEAR (earshot_hz_to_mel (6400.0, EARSHOT_MEL_SLANEY), 42.0, 1e-12,
      "Slaney 6400 Hz (one log step of 27 mel per factor 6.4)");
  CHECK_NEAR (earshot_mel_to_hz (15.0, EARSHOT_MEL_SLANEY), 1000.0, 1e-9,
      "Slaney 15 mel");
}

/* ---- 7. the plain computation, bit for bit ------------------------------ */

/* Frame by frame, the front end against the loops it replaced: float
 * window product, an FFTW r2c plan made with the library's flags on
 * fftwf_malloc arrays, float power, per band a double sum over every bin in
 * order (zero weights outside the band add +0.0 and change nothing), then
 * (float) log.  The optimised code sums four bands side by side and pads
 * short ones; it must still give these very bits.  Scalar code on both
 * sides: exact equality holds where neither contracts a * b + c into an
 * FMA (x86-64 baseline, the CI machine); elsewhere a 1e-6 tolerance. */
static void
test_plain_bits (const earshot_features_config *cfg, const char *what)
{
  earshot_features *fe;
  char err[256];
  CHECK (earshot_features_new (cfg, NULL, NULL, &fe, err, sizeof err)
      == EARSHOT_OK, "%s: %s", what, err);
  if (fe == NULL)
    return;
  const uint32_t win = cfg->win_length, hop = cfg->hop_length;
  const uint32_t n_fft = cfg->n_fft, n_bins = n_fft / 2 + 1;
  const size_t n = 40 * hop + win;
  float *x = noise (n, 0.5, 77);
  float *in = fftwf_malloc (n_fft * sizeof *in);
  fftwf_complex *out = fftwf_malloc (n_bins * sizeof *out);
  fftwf_plan plan = fftwf_plan_dft_r2c_1d ((int) n_fft, in, out,
      FFTW_ESTIMATE | FFTW_PRESERVE_INPUT);
  float *power = malloc (n_bins * sizeof *power);
  float frame[512];
  size_t pushed = 0, t = 0, mismatches = 0;
  double worst = 0.0;

  CHECK (plan != NULL && power != NULL, "%s: set-up", what);
  while (pushed < n) {
    pushed += earshot_features_push (fe, x + pushed, n - pushed);
    while (earshot_features_pull (fe, frame)) {
      memset (in, 0, n_fft * sizeof *in);
      for (uint32_t i = 0; i < win; i++)
        in[i] = x[t * hop + i] * earshot_features_window_coef (fe, i);
      fftwf_execute (plan);
      for (uint32_t k = 0; k < n_bins; k++)
        power[k] = out[k][0] * out[k][0] + out[k][1] * out[k][1];
      for (uint32_t m = 0; m < cfg->n_mels; m++) {
        double acc = 0.0;
        for (uint32_t k = 0; k < n_bins; k++)
          acc += (double) earshot_features_filter_weight (fe, m, k)
              * (double) power[k];
        double lf = cfg->log_floor;
        float want = (float) log (acc > lf ? acc : lf);
        if (memcmp (&want, &frame[m], sizeof want) != 0)
          mismatches++;
        worst = fmax (worst, fabs ((double) want - frame[m]));
      }
      t++;
    }
  }
  CHECK (t == 40 + 1, "%s: %zu frames", what, t);
#if defined(__x86_64__)
  CHECK (mismatches == 0, "%s: %zu of %zu values differ from the plain "
      "computation (worst by %g)", what, mismatches, t * cfg->n_mels, worst);
#else
  CHECK (worst <= 1e-6, "%s: worst difference %g", what, worst);
#endif
  fftwf_destroy_plan (plan);
  fftwf_free (in);
  fftwf_free (out);
  free (power);
  free (x);
  earshot_features_free (fe);
}

/* ---- 9. the shipped FFT plans ------------------------------------------ */

/* The frames of the default front end over 42.5 hops of fixed noise,
 * flushed: 43 of 40 bands, into out. */
static void
default_frames (float *out)
{
  earshot_features_config cfg = earshot_features_default_config ();
  earshot_features *fe = make (&cfg, NULL, NULL);
  const size_t n = 40 * cfg.hop_length + cfg.win_length;
  float *x = noise (n, 0.5, 99);
  size_t got = run (fe, x, n, 0, 0, out, 43, "shipped plans");
  CHECK (got == 43, "shipped plans: %zu frames", got);
  free (x);
  earshot_features_free (fe);
}

static void
test_shipped_plans (void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx")) {
    /* ESTIMATE's own plan for 512 points, then the one it makes with the
     * wisdom: a different plan, or the wisdom no longer applies (an FFTW
     * with another configuration, a typo in the string) */
    float *in = fftwf_malloc (512 * sizeof *in);
    fftwf_complex *out = fftwf_malloc (257 * sizeof *out);
    fftwf_forget_wisdom ();
    fftwf_plan own = fftwf_plan_dft_r2c_1d (512, in, out,
        FFTW_ESTIMATE | FFTW_PRESERVE_INPUT);
    CHECK (earshot_fft_import_wisdom (), "FFTW refused the shipped wisdom");
    fftwf_plan shipped = fftwf_plan_dft_r2c_1d (512, in, out,
        FFTW_ESTIMATE | FFTW_PRESERVE_INPUT);
    char *a = fftwf_sprint_plan (own), *b = fftwf_sprint_plan (shipped);
    CHECK (strcmp (a, b) != 0, "the shipped wisdom did not change the "
        "512-point plan:\n%s", a);
    free (a);
    free (b);
    fftwf_destroy_plan (own);
    fftwf_destroy_plan (shipped);
    fftwf_free (in);
    fftwf_free (out);
  }
#endif
  /* No front end is alive here, so the next one plans anew: after FFTW
   * forgot everything, it must import the wisdom again itself. */
  float before[43 * 40], after[43 * 40];
  default_frames (before);
  fftwf_forget_wisdom ();
  default_frames (after);
  CHECK (memcmp (before, after, sizeof before) == 0, "frames differ after "
      "fftwf_forget_wisdom");
}

/* ---- 8. the level meter's sum of squares -------------------------------- */

/* earshot_features_sum_squares: the index-order sum within rounding, every
 * length around the eight-lane blocks; NaN and Inf as 0 and the others
 * clamped to +-EARSHOT_FEATURES_MAX_SAMPLE, as push() takes them, in
 * buffers longer than the slow path's block too. */
static void
test_sum_squares (void)
{
  float *x = noise (1000, 0.5, 5);
  const double max = EARSHOT_FEATURES_MAX_SAMPLE;

  for (size_t n = 0; n <= 41; n++) {
    long double want = 0.0L;
    for (size_t i = 0; i < n; i++)
      want += (long double) x[i] * x[i];
    double got = earshot_features_sum_squares (x, n);
    CHECK (fabs (got - (double) want) <= 1e-14 * (double) want,
        "sum of squares of %zu samples: %.17g, want %.17Lg", n, got, want);
  }
  CHECK (earshot_features_sum_squares (NULL, 0) == 0.0, "no samples");

  long double clean = 0.0L;
  for (size_t i = 0; i < 1000; i++)
    clean += (long double) x[i] * x[i];
  /* replace five samples: two non-finite (count 0), two beyond the clamp
   * (count max^2), one at the clamp; subtract what they were */
  const size_t at[5] = { 3, 300, 301, 700, 999 };
  const float put[5] = { NAN, INFINITY, -3000.0f, 2.0e30f, -1000.0f };
  long double want = clean;
  for (int k = 0; k < 5; k++) {
    want -= (long double) x[at[k]] * x[at[k]];
    x[at[k]] = put[k];
  }
  want += 3.0L * max * max;
  double got = earshot_features_sum_squares (x, 1000);
  CHECK (fabs (got - (double) want) <= 1e-12 * (double) want,
      "hostile samples: %.17g, want %.17Lg", got, want);
  x[3] = -INFINITY;
  got = earshot_features_sum_squares (x + 3, 1);
  CHECK (got == 0.0, "-Inf alone: %g", got);
  /* finite, but over the clamp: the plain sum is finite and too large */
  const float loud[3] = { 0.5f, -3000.0f, 0.25f };
  got = earshot_features_sum_squares (loud, 3);
  CHECK (got == 0.25 + max * max + 0.0625, "a sample beyond the clamp: "
      "%.17g", got);
  free (x);
}

int
main (void)
{
  test_mel_scale ();
  test_checks ();
  test_sine_in_band (EARSHOT_MEL_SLANEY);
  test_sine_in_band (EARSHOT_MEL_HTK);
  test_silence ();
  test_references ();
  test_framing ();

  {
    earshot_features_config pc = earshot_features_default_config ();
    test_plain_bits (&pc, "plain bits, default");
    pc.n_mels = 64;               /* 64 % 4 == 0; 37 leaves a partial group */
    test_plain_bits (&pc, "plain bits, 64 bands");
    pc.n_mels = 37;
    pc.mel_scale = EARSHOT_MEL_HTK;
    pc.n_fft = 1024;
    test_plain_bits (&pc, "plain bits, 37 HTK bands, n_fft 1024");
  }

  earshot_features_config cfg = earshot_features_default_config ();
  test_streaming (&cfg, "default");
  cfg.mel_scale = EARSHOT_MEL_HTK;
  cfg.window = EARSHOT_WINDOW_HAMMING;
  cfg.hop_length = 150;
  cfg.n_fft = 1024;
  test_streaming (&cfg, "HTK, hop 150");
  cfg.hop_length = cfg.win_length;
  test_streaming (&cfg, "hop = win");

  test_threads ();
  test_normalisation ();
  test_sum_squares ();
  test_shipped_plans ();
  return check_finish ("features");
}
