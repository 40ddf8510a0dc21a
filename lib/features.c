/* features.c — streaming log-mel front end (see earshot_features.h).
 *
 * Data flow of one frame (shapes in brackets):
 *
 *   buf [win] --x window [win]--> fft_in [n_fft] (tail [win, n_fft) zero)
 *     --FFTW r2c--> fft_out [n_bins complex], n_bins = n_fft/2 + 1
 *     --|.|^2--> power [n_bins]
 *     --sparse filterbank--> mel power [n_mels] (double accumulators)
 *     --ln max(., log_floor)--> raw log-mel [n_mels]
 *     --(v - mean) * inv_std--> frame [n_mels]
 *
 * Streaming: `buf` holds the samples [t*hop, t*hop + fill) of the next frame
 * t.  A frame is complete when fill == win; pulling it computes the frame and
 * slides the buffer by hop (memmove of win - hop floats).  Because every
 * frame is computed from exactly the same win samples by the same code, the
 * way the stream was split into pushes cannot change a single bit.
 */
#include "earshot_features.h"
#include "earshot_math.h"
#include "earshot_private.h"

#include <assert.h>
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MELS 512u

/* Mel bands summed side by side (mel_bands()). */
#define EARSHOT_MEL_GROUP 4u
_Static_assert (EARSHOT_MEL_GROUP == 4,
    "mel_bands() sums a group's bands in two earshot_f64x2");

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

struct earshot_features {
  earshot_features_config cfg;
  uint32_t n_bins;          /* n_fft / 2 + 1 bins of the real FFT */

  /* Streaming state, rewound by earshot_features_reset(). */
  float *buf;               /* [win]: samples [n_frames*hop, +fill) */
  uint32_t fill;            /* real samples in buf; complete at win */
  uint64_t n_pushed;        /* samples taken since reset */
  uint64_t n_frames;        /* frames pulled since reset */
  bool flushed;             /* flush() called: no more pushes until reset */

  /* Immutable after new(). */
  float *window;            /* [win]: periodic window coefficients */
  float *fft_in;            /* [n_fft], fftwf_malloc; [win, n_fft) stays 0 */
  fftwf_complex *fft_out;   /* [n_bins], fftwf_malloc */
  fftwf_plan plan;          /* r2c of n_fft, shared (plan_acquire), run
                               on fft_in/fft_out with the new-array
                               execute */
  float *power;             /* [n_bins + pad]: |X[k]|^2 scratch; the pad
                               (the longest band, zero) lets mel_bands()
                               run short bands on with zero weights */

  /* Sparse filterbank: band m has weights[band_offset[m] + j] on bins
   * band_first[m] + j, 0 <= j < band_count[m]; zero elsewhere. */
  uint32_t *band_first;     /* [n_mels] */
  uint32_t *band_count;     /* [n_mels] */
  uint32_t *band_offset;    /* [n_mels] */
  float *weights;           /* [sum of band_count] */

  /* The same weights for mel_bands(): bands in groups of EARSHOT_MEL_GROUP
   * (the last group padded with empty bands), group g's weights as
   * [group_len[g] x EARSHOT_MEL_GROUP], zero beyond each band's count;
   * in double (exactly the float weights), so that the sums use them as
   * they are loaded. */
  uint32_t *gfirst;         /* [n_groups * EARSHOT_MEL_GROUP] first bins */
  uint32_t *group_len;      /* [n_groups] longest band of the group */
  double *gweights;         /* [sum of group_len x EARSHOT_MEL_GROUP] */

  float *mean;              /* [n_mels] or NULL: no normalisation */
  float *inv_std;           /* [n_mels] or NULL: 1 / std */
};

/* FFTW's planner (and, per its manual, every routine but the execute
 * family) must not run concurrently in one process: one lock for all of it. */
static pthread_mutex_t fftw_lock = PTHREAD_MUTEX_INITIALIZER;

earshot_features_config
earshot_features_default_config (void)
{
  earshot_features_config cfg = {
    .sample_rate = 16000,
    .win_length = 400,
    .hop_length = 160,
    .n_fft = 512,
    .n_mels = 40,
    .fmin = 0.0f,
    .fmax = 8000.0f,
    .window = EARSHOT_WINDOW_HANN,
    .mel_scale = EARSHOT_MEL_SLANEY,
    .log_floor = 1e-10f,
  };
  return cfg;
}

/* ---- mel scale ---------------------------------------------------------- */

/* Slaney (Auditory Toolbox, librosa htk=False): mel = 3 f / 200 below
 * 1 kHz (so 1 kHz is 15 mel), and above it 27 mel per factor 6.4 in
 * frequency, i.e. mel = 15 + ln(f / 1000) / (ln 6.4 / 27).
 * HTK: mel = 2595 log10(1 + f / 700). */
#define SLANEY_MIN_LOG_HZ 1000.0
#define SLANEY_MIN_LOG_MEL 15.0
#define SLANEY_LOGSTEP (log (6.4) / 27.0)

double
earshot_hz_to_mel (double hz, earshot_mel_scale scale)
{
  if (scale == EARSHOT_MEL_HTK)
    return 2595.0 * log10 (1.0 + hz / 700.0);
  if (hz >= SLANEY_MIN_LOG_HZ)
    return SLANEY_MIN_LOG_MEL + log (hz / SLANEY_MIN_LOG_HZ) / SLANEY_LOGSTEP;
  return 3.0 * hz / 200.0;
}

double
earshot_mel_to_hz (double mel, earshot_mel_scale scale)
{
  if (scale == EARSHOT_MEL_HTK)
    return 700.0 * (pow (10.0, mel / 2595.0) - 1.0);
  if (mel >= SLANEY_MIN_LOG_MEL)
    return SLANEY_MIN_LOG_HZ
        * exp (SLANEY_LOGSTEP * (mel - SLANEY_MIN_LOG_MEL));
  return 200.0 * mel / 3.0;
}

/* The n_mels + 2 triangle corners f[0..n_mels+1] in Hz: equally spaced in
 * mel from fmin to fmax (as numpy.linspace: start + i * step, the last point
 * exactly the end).  Band m rises on [f[m], f[m+1]] and falls on
 * [f[m+1], f[m+2]]. */
static void
mel_points (const earshot_features_config *cfg, double *f)
{
  const uint32_t n = cfg->n_mels + 2;
  const double lo = earshot_hz_to_mel (cfg->fmin, cfg->mel_scale);
  const double hi = earshot_hz_to_mel (cfg->fmax, cfg->mel_scale);
  const double step = (hi - lo) / (double) (n - 1);

  for (uint32_t i = 0; i < n; i++) {
    double mel = i + 1 == n ? hi : lo + (double) i * step;
    f[i] = earshot_mel_to_hz (mel, cfg->mel_scale);
  }
}

/* Weight of a bin at frequency hz in band m, in double, as librosa's
 * mel(): max(0, min((hz - f[m]) / (f[m+1] - f[m]),
 *                   (f[m+2] - hz) / (f[m+2] - f[m+1]))),
 * times 2 / (f[m+2] - f[m]) for Slaney so that each triangle has unit area
 * in Hz (constant energy per band for white noise).  A degenerate triangle
 * (coincident corners) has weight 0 everywhere and is rejected as empty. */
static double
triangle (const earshot_features_config *cfg, const double *f, uint32_t m,
    double hz)
{
  const double rise = f[m + 1] - f[m];
  const double fall = f[m + 2] - f[m + 1];
  if (!(rise > 0.0) || !(fall > 0.0))
    return 0.0;
  double w = fmin ((hz - f[m]) / rise, (f[m + 2] - hz) / fall);
  if (!(w > 0.0))
    return 0.0;
  if (cfg->mel_scale == EARSHOT_MEL_SLANEY)
    w *= 2.0 / (f[m + 2] - f[m]);
  return w;
}

static double
bin_hz (const earshot_features_config *cfg, uint32_t k)
{
  return (double) k * (double) cfg->sample_rate / (double) cfg->n_fft;
}

/* The bins [*first, *first + *count) where band m has a non-zero weight (a
 * triangle is convex, so they are contiguous).  *count is 0 for an empty
 * band. */
static void
band_bins (const earshot_features_config *cfg, const double *f, uint32_t m,
    uint32_t *first, uint32_t *count)
{
  const uint32_t n_bins = cfg->n_fft / 2 + 1;
  /* Start one bin below the lower corner so rounding cannot skip a bin. */
  double k0 = floor (f[m] * (double) cfg->n_fft / (double) cfg->sample_rate);
  uint32_t k = k0 > 1.0 ? (uint32_t) k0 - 1 : 0;

  *first = 0;
  *count = 0;
  for (; k < n_bins && bin_hz (cfg, k) < f[m + 2]; k++) {
    if ((float) triangle (cfg, f, m, bin_hz (cfg, k)) > 0.0f) {
      if (*count == 0)
        *first = k;
      *count = k - *first + 1;
    }
  }
}

double
earshot_features_band_center (const earshot_features_config *cfg, uint32_t m)
{
  double f[MAX_MELS + 2];
  assert (cfg != NULL && cfg->n_mels <= MAX_MELS && m < cfg->n_mels);
  mel_points (cfg, f);
  return f[m + 1];
}

/* ---- configuration ------------------------------------------------------ */

earshot_status
earshot_features_config_check (const earshot_features_config *cfg, char *err,
    size_t err_size)
{
  const earshot_status inv = EARSHOT_ERR_INVALID;

  if (cfg == NULL)
    return earshot_fail (err, err_size, inv,
        "features: configuration is NULL");
  if (cfg->sample_rate < 1000 || cfg->sample_rate > 384000)
    return earshot_fail (err, err_size, inv,
        "features: sample_rate %u Hz is outside 1000 .. 384000",
        cfg->sample_rate);
  if (cfg->win_length < 16)
    return earshot_fail (err, err_size, inv,
        "features: win_length %u is below 16", cfg->win_length);
  if (cfg->hop_length < 1 || cfg->hop_length > cfg->win_length)
    return earshot_fail (err, err_size, inv,
        "features: hop_length %u is outside 1 .. win_length (%u)",
        cfg->hop_length, cfg->win_length);
  if (cfg->n_fft < cfg->win_length || cfg->n_fft > 65536)
    return earshot_fail (err, err_size, inv,
        "features: n_fft %u is outside win_length (%u) .. 65536",
        cfg->n_fft, cfg->win_length);
  if (cfg->n_mels < 1 || cfg->n_mels > MAX_MELS)
    return earshot_fail (err, err_size, inv,
        "features: n_mels %u is outside 1 .. %u", cfg->n_mels, MAX_MELS);
  if (!(cfg->fmin >= 0.0f) || !isfinite (cfg->fmin))
    return earshot_fail (err, err_size, inv,
        "features: fmin %g Hz is negative or not finite", (double) cfg->fmin);
  if (!(cfg->fmax > cfg->fmin)
      || !((double) cfg->fmax <= cfg->sample_rate / 2.0))
    return earshot_fail (err, err_size, inv,
        "features: fmax %g Hz is outside (fmin = %g, sample_rate / 2 = %g]",
        (double) cfg->fmax, (double) cfg->fmin, cfg->sample_rate / 2.0);
  if ((unsigned) cfg->window > EARSHOT_WINDOW_RECT)
    return earshot_fail (err, err_size, inv,
        "features: window %d is not a known window", (int) cfg->window);
  if ((unsigned) cfg->mel_scale > EARSHOT_MEL_HTK)
    return earshot_fail (err, err_size, inv,
        "features: mel_scale %d is not a known scale", (int) cfg->mel_scale);
  if (!(cfg->log_floor > 0.0f) || !isfinite (cfg->log_floor))
    return earshot_fail (err, err_size, inv,
        "features: log_floor %g is not a positive finite number",
        (double) cfg->log_floor);

  /* Every band must see at least one bin, or it would be constant
   * log(log_floor) whatever the input: too many bands for the FFT's
   * resolution at low frequencies. */
  double f[MAX_MELS + 2];
  mel_points (cfg, f);
  for (uint32_t m = 0; m < cfg->n_mels; m++) {
    uint32_t first, count;
    band_bins (cfg, f, m, &first, &count);
    if (count == 0)
      return earshot_fail (err, err_size, inv,
          "features: mel band %u (%.2f .. %.2f Hz) covers no FFT bin (bin "
          "spacing %.2f Hz); use fewer n_mels or a larger n_fft",
          m, f[m], f[m + 2], bin_hz (cfg, 1));
  }
  return EARSHOT_OK;
}

/* ---- life cycle --------------------------------------------------------- */

static void
fill_window (float *w, uint32_t n, earshot_window type)
{
  /* Periodic windows (denominator n, not n - 1): the window of an
   * n-sample DFT frame, as scipy.signal.get_window and librosa use. */
  for (uint32_t i = 0; i < n; i++) {
    double c = cos (2.0 * M_PI * (double) i / (double) n);
    switch (type) {
      case EARSHOT_WINDOW_HANN: w[i] = (float) (0.5 - 0.5 * c); break;
      case EARSHOT_WINDOW_HAMMING: w[i] = (float) (0.54 - 0.46 * c); break;
      case EARSHOT_WINDOW_RECT: w[i] = 1.0f; break;
    }
  }
}

/* Builds the sparse filterbank; the config has been checked, so every band
 * is non-empty. */
static earshot_status
build_filterbank (earshot_features *fe, char *err, size_t err_size)
{
  const earshot_features_config *cfg = &fe->cfg;
  const uint32_t n_mels = cfg->n_mels;
  double f[MAX_MELS + 2];
  size_t total = 0;

  mel_points (cfg, f);
  fe->band_first = malloc (n_mels * sizeof *fe->band_first);
  fe->band_count = malloc (n_mels * sizeof *fe->band_count);
  fe->band_offset = malloc (n_mels * sizeof *fe->band_offset);
  if (fe->band_first == NULL || fe->band_count == NULL
      || fe->band_offset == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
        "features: out of memory for the filterbank");

  for (uint32_t m = 0; m < n_mels; m++) {
    band_bins (cfg, f, m, &fe->band_first[m], &fe->band_count[m]);
    fe->band_offset[m] = (uint32_t) total;
    total += fe->band_count[m];
  }

  fe->weights = malloc ((total ? total : 1) * sizeof *fe->weights);
  if (fe->weights == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
        "features: out of memory for %zu filterbank weights", total);
  for (uint32_t m = 0; m < n_mels; m++)
    for (uint32_t j = 0; j < fe->band_count[m]; j++)
      fe->weights[fe->band_offset[m] + j] = (float) triangle (cfg, f, m,
          bin_hz (cfg, fe->band_first[m] + j));

  /* The grouped copy for mel_bands(); padding bands are empty (count 0,
   * first bin 0). */
  const uint32_t n_groups = (n_mels + EARSHOT_MEL_GROUP - 1)
      / EARSHOT_MEL_GROUP;
  size_t gtotal = 0;
  uint32_t longest = 0;
  fe->gfirst = calloc ((size_t) n_groups * EARSHOT_MEL_GROUP,
      sizeof *fe->gfirst);
  fe->group_len = calloc (n_groups, sizeof *fe->group_len);
  if (fe->gfirst == NULL || fe->group_len == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
        "features: out of memory for the filterbank");
  for (uint32_t m = 0; m < n_mels; m++) {
    uint32_t g = m / EARSHOT_MEL_GROUP;
    fe->gfirst[m] = fe->band_first[m];
    if (fe->band_count[m] > fe->group_len[g])
      fe->group_len[g] = fe->band_count[m];
  }
  for (uint32_t g = 0; g < n_groups; g++) {
    gtotal += (size_t) fe->group_len[g] * EARSHOT_MEL_GROUP;
    if (fe->group_len[g] > longest)
      longest = fe->group_len[g];
  }
  fe->gweights = calloc (gtotal ? gtotal : 1, sizeof *fe->gweights);
  /* P padded with `longest` zeros: a band run on to its group's length
   * reads at most first + longest - 1 < n_bins + longest. */
  fe->power = calloc ((size_t) fe->n_bins + longest, sizeof *fe->power);
  if (fe->gweights == NULL || fe->power == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
        "features: out of memory for the filterbank");
  double *gw = fe->gweights;
  for (uint32_t g = 0; g < n_groups; g++) {
    for (uint32_t b = 0; b < EARSHOT_MEL_GROUP; b++) {
      uint32_t m = g * EARSHOT_MEL_GROUP + b;
      for (uint32_t j = 0; m < n_mels && j < fe->band_count[m]; j++)
        gw[(size_t) j * EARSHOT_MEL_GROUP + b] =
            fe->weights[fe->band_offset[m] + j];
    }
    gw += (size_t) fe->group_len[g] * EARSHOT_MEL_GROUP;
  }
  return EARSHOT_OK;
}

/* ---- The shipped FFT plans ---------------------------------------------
 *
 * FFTW_ESTIMATE on its own picks a plan by a cost model; FFTW_MEASURE and
 * FFTW_PATIENT time candidates, so they may pick differently from run to
 * run and machine to machine, and the features would then differ in their
 * last bits.  The library ships, as FFTW wisdom, the plans FFTW_PATIENT
 * chose for 256, 512, 1,024 and 2,048 points (real to complex, single
 * precision, PRESERVE_INPUT, fftwf_malloc's alignment) on the project's
 * machine with Debian 12's FFTW 3.3.10 (`bench/fft --make-wisdom`), and
 * imports it before each new plan: ESTIMATE then follows it.  Fixed plans,
 * 1.2-1.5x faster than ESTIMATE's own (`bench/fft`).
 *
 * The wisdom names the codelets, some of them AVX.  FFTW takes it only
 * from the same build configuration (the signature on the first line);
 * this code offers it only where the CPU runs every codelet it names,
 * since FFTW drops all its wisdom when wisdom names a codelet the CPU
 * cannot run.  Elsewhere ESTIMATE plans alone, as it always did. */
static const char fft_wisdom[] =
  "(fftw-3.3.10 fftwf_wisdom #x9e7d4dee #xdb14fed1 #x34bf76a4 #xeb6e8fdf\n"
  "  (fftwf_codelet_hc2cfdftv_32_sse2 0 #x11048 #x11048 #x0 #x3f67885c #x1d118905 #x1b4c027b #x7ecffc87)\n"
  "  (fftwf_codelet_r2cf_8 2 #x11048 #x11048 #x0 #xa8e723ad #x5577b756 #x19ace181 #xf0b6f4b2)\n"
  "  (fftwf_codelet_n2fv_32_avx 0 #x11048 #x11048 #x0 #x1bfd5ad9 #xc4c1f496 #x706c43ea #xb35a0b93)\n"
  "  (fftwf_codelet_t2fv_8_avx 0 #x11048 #x11048 #x0 #xb0bde699 #x3baa1ac0 #xdbbed5b2 #x3b1456c3)\n"
  "  (fftwf_codelet_n2fv_32_avx 0 #x11048 #x11048 #x0 #x464701a4 #x62cd293e #x4ab4a208 #x6d653035)\n"
  "  (fftwf_codelet_r2cfII_8 2 #x11048 #x11048 #x0 #x76fa2a50 #xf4668261 #xbf8b003e #xbfa64206)\n"
  "  (fftwf_dft_vrank_geq1_register 0 #x11048 #x11048 #x0 #xcdae671b #x4630593c #xfeb2034a #x300da013)\n"
  "  (fftwf_codelet_r2cf_8 2 #x11048 #x11048 #x0 #xe75b944c #x09ac1906 #x449b29ce #x7b6666b0)\n"
  "  (fftwf_codelet_hc2cfdftv_8_sse2 0 #x11048 #x11048 #x0 #x85773c49 #x9a968ccc #xbd37e819 #xac77e6a4)\n"
  "  (fftwf_codelet_r2cf_32 2 #x11048 #x11048 #x0 #x4aa01773 #x085d5ba6 #xf0d94bd6 #xb5f135da)\n"
  "  (fftwf_codelet_r2cf_8 2 #x11048 #x11048 #x0 #xaae37515 #xc366903c #xc804fee2 #x44fc70a7)\n"
  "  (fftwf_codelet_n2fv_32_avx 0 #x11048 #x11048 #x0 #x12d24524 #x289b57fa #x2bd8cbf3 #xaac91103)\n"
  "  (fftwf_codelet_hc2cfdftv_8_sse2 0 #x11048 #x11048 #x0 #x4bb69ce7 #x4599107c #x14ecc846 #x282ba2c3)\n"
  "  (fftwf_codelet_r2cfII_8 2 #x11048 #x11048 #x0 #x9b71d905 #x7d7faf81 #x09c45860 #x2a522386)\n"
  "  (fftwf_codelet_r2cfII_32 2 #x11048 #x11048 #x0 #x88a4ff6b #x826ad3e6 #xe82d5bb8 #x83a8bc94)\n"
  "  (fftwf_codelet_hc2cfdftv_8_sse2 0 #x11048 #x11048 #x0 #xc447d79d #x3bb36c12 #x2e7c8386 #xc241521c)\n"
  "  (fftwf_codelet_n2fv_64_avx 0 #x11048 #x11048 #x0 #x03406dff #xc8fa0a2c #x62a9a61e #xa394d874)\n"
  "  (fftwf_codelet_r2cfII_8 2 #x11048 #x11048 #x0 #x23fb2e26 #x3fe4d3f4 #x78d7c0db #xaba9deb1)\n"
  ")\n";

/* Which instruction sets the codelets named in fft_wisdom need. */
static bool
fft_wisdom_runs_here (void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init ();
  if (strstr (fft_wisdom, "_avx512") != NULL
      && !__builtin_cpu_supports ("avx512f"))
    return false;
  if (strstr (fft_wisdom, "_avx2") != NULL && !__builtin_cpu_supports ("avx2"))
    return false;
  if (strstr (fft_wisdom, "_avx") != NULL && !__builtin_cpu_supports ("avx"))
    return false;
  /* SSE2 is part of x86-64; any other SIMD family is not x86's */
  return strstr (fft_wisdom, "_kcvi") == NULL
      && strstr (fft_wisdom, "_neon") == NULL
      && strstr (fft_wisdom, "_altivec") == NULL
      && strstr (fft_wisdom, "_vsx") == NULL;
#else
  return false;
#endif
}

/* Offers FFTW the shipped wisdom; true if it took it.  Call with
 * fftw_lock held. */
static bool
import_wisdom (void)
{
  return fft_wisdom_runs_here ()
      && fftwf_import_wisdom_from_string (fft_wisdom) != 0;
}

bool
earshot_fft_import_wisdom (void)
{
  pthread_mutex_lock (&fftw_lock);
  bool ok = import_wisdom ();
  pthread_mutex_unlock (&fftw_lock);
  return ok;
}

/* One plan per FFT size for the whole process, shared by every front end
 * of that size: fftwf_execute_dft_r2c on other arrays of the same
 * alignment (fftwf_malloc's) is thread safe, and a plan is a few KiB that
 * N streams need not hold N times.  Reference counted, all under
 * fftw_lock. */
typedef struct shared_plan {
  struct shared_plan *next;
  uint32_t n_fft;
  unsigned refs;
  fftwf_plan plan;
} shared_plan;

static shared_plan *shared_plans;   /* under fftw_lock */

/* A reference to the r2c plan of n_fft points, or NULL (out of memory, or
 * FFTW could not plan).  Call with fftw_lock held. */
static fftwf_plan
plan_acquire (uint32_t n_fft)
{
  shared_plan *p;

  for (p = shared_plans; p != NULL; p = p->next) {
    if (p->n_fft == n_fft) {
      p->refs++;
      return p->plan;
    }
  }
  /* Again for every new plan, under the lock: other code in the process
   * may have told FFTW to forget its wisdom since.  The same wisdom twice
   * is the same wisdom. */
  (void) import_wisdom ();
  p = calloc (1, sizeof *p);
  float *in = fftwf_malloc (n_fft * sizeof *in);
  fftwf_complex *out = fftwf_malloc ((n_fft / 2 + 1) * sizeof *out);
  if (p != NULL && in != NULL && out != NULL) {
    /* ESTIMATE, following the shipped wisdom where it applies: the plan
     * is a deterministic function of n_fft, the (fftwf_malloc, hence
     * SIMD) alignment, the FFTW build and the CPU's instruction sets, so
     * every process computes the same bits; MEASURE would time candidates
     * and could differ from run to run.  (FFTW would still prefer wisdom
     * that other code in the process measured for this size.)  ESTIMATE
     * does not touch the arrays, so these are only the model of the
     * arrays execute is given.  PRESERVE_INPUT keeps the zero tail of
     * fft_in intact (the default for 1-d r2c, stated here because the
     * code relies on it). */
    p->plan = fftwf_plan_dft_r2c_1d ((int) n_fft, in, out,
        FFTW_ESTIMATE | FFTW_PRESERVE_INPUT);
  }
  fftwf_free (in);
  fftwf_free (out);
  if (p == NULL || p->plan == NULL) {
    free (p);
    return NULL;
  }
  p->n_fft = n_fft;
  p->refs = 1;
  p->next = shared_plans;
  shared_plans = p;
  return p->plan;
}

/* Drops a reference taken by plan_acquire.  Call with fftw_lock held. */
static void
plan_release (fftwf_plan plan)
{
  for (shared_plan **pp = &shared_plans; *pp != NULL; pp = &(*pp)->next) {
    shared_plan *p = *pp;
    if (p->plan == plan) {
      if (--p->refs == 0) {
        *pp = p->next;
        fftwf_destroy_plan (p->plan);
        free (p);
      }
      return;
    }
  }
  assert (0 && "plan_release of an unknown plan");
}

static earshot_status
build_fft (earshot_features *fe, char *err, size_t err_size)
{
  const uint32_t n_fft = fe->cfg.n_fft;

  pthread_mutex_lock (&fftw_lock);
  fe->fft_in = fftwf_malloc (n_fft * sizeof *fe->fft_in);
  fe->fft_out = fftwf_malloc (fe->n_bins * sizeof *fe->fft_out);
  if (fe->fft_in != NULL && fe->fft_out != NULL)
    fe->plan = plan_acquire (n_fft);
  pthread_mutex_unlock (&fftw_lock);

  if (fe->fft_in == NULL || fe->fft_out == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
        "features: out of memory for FFT buffers of %u points", n_fft);
  if (fe->plan == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
        "features: FFTW could not plan a real FFT of %u points", n_fft);
  /* Zero the input once so its padding [win, n_fft) is zero for every
   * frame. */
  memset (fe->fft_in, 0, n_fft * sizeof *fe->fft_in);
  return EARSHOT_OK;
}

earshot_status
earshot_features_new (const earshot_features_config *cfg, const float *mean,
    const float *std, earshot_features **out, char *err, size_t err_size)
{
  earshot_status st;
  earshot_features *fe;

  assert (out != NULL);
  *out = NULL;
  st = earshot_features_config_check (cfg, err, err_size);
  if (st != EARSHOT_OK)
    return st;
  if ((mean == NULL) != (std == NULL))
    return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
        "features: mean and std must both be given or both be NULL");
  if (mean != NULL) {
    for (uint32_t m = 0; m < cfg->n_mels; m++) {
      if (!isfinite (mean[m]))
        return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
            "features: mean[%u] = %g is not finite", m, (double) mean[m]);
      if (!(std[m] > 0.0f) || !isfinite (std[m]))
        return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
            "features: std[%u] = %g is not a positive finite number", m,
            (double) std[m]);
    }
  }

  fe = calloc (1, sizeof *fe);
  if (fe == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
        "features: out of memory");
  fe->cfg = *cfg;
  fe->n_bins = cfg->n_fft / 2 + 1;

  fe->buf = malloc (cfg->win_length * sizeof *fe->buf);
  fe->window = malloc (cfg->win_length * sizeof *fe->window);
  if (fe->buf == NULL || fe->window == NULL) {
    st = earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
        "features: out of memory for the frame buffers");
    goto error;
  }
  fill_window (fe->window, cfg->win_length, cfg->window);

  if (mean != NULL) {
    fe->mean = malloc (cfg->n_mels * sizeof *fe->mean);
    fe->inv_std = malloc (cfg->n_mels * sizeof *fe->inv_std);
    if (fe->mean == NULL || fe->inv_std == NULL) {
      st = earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
          "features: out of memory for the normalisation");
      goto error;
    }
    for (uint32_t m = 0; m < cfg->n_mels; m++) {
      fe->mean[m] = mean[m];
      fe->inv_std[m] = 1.0f / std[m];
    }
  }

  st = build_filterbank (fe, err, err_size);
  if (st != EARSHOT_OK)
    goto error;
  st = build_fft (fe, err, err_size);
  if (st != EARSHOT_OK)
    goto error;

  earshot_features_reset (fe);
  *out = fe;
  return EARSHOT_OK;

error:
  earshot_features_free (fe);
  return st;
}

void
earshot_features_free (earshot_features *fe)
{
  if (fe == NULL)
    return;
  pthread_mutex_lock (&fftw_lock);
  if (fe->plan != NULL)
    plan_release (fe->plan);
  fftwf_free (fe->fft_in);
  fftwf_free (fe->fft_out);
  pthread_mutex_unlock (&fftw_lock);
  free (fe->buf);
  free (fe->window);
  free (fe->power);
  free (fe->band_first);
  free (fe->band_count);
  free (fe->band_offset);
  free (fe->weights);
  free (fe->gfirst);
  free (fe->group_len);
  free (fe->gweights);
  free (fe->mean);
  free (fe->inv_std);
  free (fe);
}

void
earshot_features_reset (earshot_features *fe)
{
  assert (fe != NULL);
  fe->fill = 0;
  fe->n_pushed = 0;
  fe->n_frames = 0;
  fe->flushed = false;
}

const earshot_features_config *
earshot_features_get_config (const earshot_features *fe)
{
  assert (fe != NULL);
  return &fe->cfg;
}

/* ---- streaming ---------------------------------------------------------- */

/* Frames complete once `n` samples have been pushed: frame t needs samples
 * up to t*hop + win - 1, so t <= (n - win) / hop. */
static uint64_t
complete_frames (const earshot_features_config *cfg, uint64_t n)
{
  if (n < cfg->win_length)
    return 0;
  return (n - cfg->win_length) / cfg->hop_length + 1;
}

/* After a flush: one frame per hop interval that received a sample,
 * ceil(n / hop). */
static uint64_t
flushed_frames (const earshot_features_config *cfg, uint64_t n)
{
  return (n + cfg->hop_length - 1) / cfg->hop_length;
}

/* y[i] <- x[i] clamped to +-EARSHOT_FEATURES_MAX_SAMPLE, 0 if not finite
 * (|v| < inf is false for NaN and +-Inf): selects only, so it
 * vectorises. */
EARSHOT_KERNEL static void
sanitize (size_t n, const float *restrict x, float *restrict y)
{
  const float hi = EARSHOT_FEATURES_MAX_SAMPLE;
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    float c = v > hi ? hi : v;
    c = c < -hi ? -hi : c;
    y[i] = __builtin_fabsf (v) < __builtin_inff () ? c : 0.0f;
  }
}

/* sum x[i]^2 in double, eight partial sums (four pairs) that run side by
 * side: a single running sum waits on each addition in turn, ~0.8 ns a
 * sample.  The squares are exact in double, so every clone (FMA or not)
 * gives the same bits. */
EARSHOT_KERNEL static double
sum_squares (const float *restrict x, size_t n)
{
  earshot_f64x2 a0 = { 0.0, 0.0 }, a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;

  for (; i + 8 <= n; i += 8) {
    const earshot_f64x2 d0 = { x[i], x[i + 1] };
    const earshot_f64x2 d1 = { x[i + 2], x[i + 3] };
    const earshot_f64x2 d2 = { x[i + 4], x[i + 5] };
    const earshot_f64x2 d3 = { x[i + 6], x[i + 7] };
    a0 += d0 * d0;
    a1 += d1 * d1;
    a2 += d2 * d2;
    a3 += d3 * d3;
  }
  a0 += a2;
  a1 += a3;
  a0 += a1;
  double sum = a0[0] + a0[1];
  for (; i < n; i++)
    sum += (double) x[i] * x[i];
  return sum;
}

double
earshot_features_sum_squares (const float *x, size_t n)
{
  assert (x != NULL || n == 0);
  const double max = EARSHOT_FEATURES_MAX_SAMPLE;
  double sum = sum_squares (x, n);
  /* No sample needs the clamp if the plain sum is at most max^2 (a float
   * squared fits a double; a NaN or an Inf fails the comparison).
   * Otherwise the sum again, of the samples sanitised as push() does, a
   * block at a time. */
  if (sum <= max * max)
    return sum;
  float block[256];
  sum = 0.0;
  for (size_t i = 0; i < n; i += sizeof block / sizeof block[0]) {
    size_t m = n - i < sizeof block / sizeof block[0] ? n - i
        : sizeof block / sizeof block[0];
    sanitize (m, x + i, block);
    sum += sum_squares (block, m);
  }
  return sum;
}

size_t
earshot_features_push (earshot_features *fe, const float *samples, size_t n)
{
  assert (fe != NULL && (samples != NULL || n == 0));
  if (fe->flushed)
    return 0;
  size_t take = fe->cfg.win_length - fe->fill;
  if (take > n)
    take = n;
  /* Hostile input must not poison what follows: a NaN or Inf would turn
   * every frame it touches, and through the network every later state, into
   * NaN.  Non-finite samples count as 0; finite ones are clamped to
   * +-EARSHOT_FEATURES_MAX_SAMPLE, so the power spectrum cannot overflow. */
  sanitize (take, samples, fe->buf + fe->fill);
  fe->fill += (uint32_t) take;
  fe->n_pushed += take;
  return take;
}

/* x[i] * w[i] into y [n]: a plain loop the compiler vectorises (locals
 * and restrict: the project builds with -fno-strict-aliasing, so stores
 * through the struct's pointers would otherwise force reloads).  One
 * rounding per product, so every clone gives the same bits. */
EARSHOT_KERNEL static void
apply_window (size_t n, const float *restrict x, const float *restrict w,
    float *restrict y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] * w[i];
}

/* P[k] = |X[k]|^2 = re^2 + im^2, unscaled (no 1/n_fft, no one-sided
 * doubling): the convention of librosa's power spectrogram.  X holds n
 * interleaved (re, im) pairs.  Not an EARSHOT_KERNEL: an AVX2 clone would
 * fuse the sum into an FMA, which rounds once instead of twice, and the
 * features would then depend on the machine. */
static void
power_spectrum (size_t n, const float *restrict x, float *restrict p)
{
  for (size_t k = 0; k < n; k++) {
    float re = x[2 * k], im = x[2 * k + 1];
    p[k] = re * re + im * im;
  }
}

/* mel[m] = sum_j W[m][j] P[first[m] + j], accumulated in double in the
 * order j = 0, 1, ... for each band.  The bands are taken EARSHOT_MEL_GROUP
 * (four) at a time, each in a lane of a pair of doubles (one SSE2
 * register), so that their sums overlap instead of waiting on one another;
 * a band shorter than its group's longest runs on with zero weights over
 * the zero-padded end of P (adding +0.0 to a sum >= 0 leaves it unchanged),
 * so every band's sum is the same, bit for bit, as that of the plain loop
 * over the band alone.  Each product is exact in double (24 x 24 bits), so
 * a fused multiply-add rounds as the separate multiply and add do: the
 * AVX2 and AVX-512 clones give the baseline's bits. */
EARSHOT_KERNEL static void
mel_bands (const earshot_features *fe, const float *restrict p,
    double *restrict mel)
{
  const uint32_t n_mels = fe->cfg.n_mels;
  const double *restrict w = fe->gweights;

  for (uint32_t m0 = 0; m0 < n_mels; m0 += EARSHOT_MEL_GROUP) {
    const uint32_t len = fe->group_len[m0 / EARSHOT_MEL_GROUP];
    const float *restrict p0 = p + fe->gfirst[m0];
    const float *restrict p1 = p + fe->gfirst[m0 + 1];
    const float *restrict p2 = p + fe->gfirst[m0 + 2];
    const float *restrict p3 = p + fe->gfirst[m0 + 3];
    earshot_f64x2 a01 = { 0.0, 0.0 }, a23 = { 0.0, 0.0 };

    for (uint32_t j = 0; j < len; j++, w += EARSHOT_MEL_GROUP) {
      earshot_f64x2 w01, w23;
      memcpy (&w01, w, sizeof w01);
      memcpy (&w23, w + 2, sizeof w23);
      const earshot_f64x2 p01 = { p0[j], p1[j] }, p23 = { p2[j], p3[j] };
      a01 += w01 * p01;
      a23 += w23 * p23;
    }
    memcpy (mel + m0, &a01, sizeof a01);
    memcpy (mel + m0 + 2, &a23, sizeof a23);
  }
}

/* The frame of the samples in buf (zero beyond fill): window, r2c FFT,
 * power, filterbank, log, normalisation. */
static void
compute_frame (earshot_features *fe, float *frame)
{
  const earshot_features_config *cfg = &fe->cfg;
  float *fft_in = fe->fft_in;
  float *power = fe->power;
  double mel[MAX_MELS + EARSHOT_MEL_GROUP];

  apply_window (cfg->win_length, fe->buf, fe->window, fft_in);
  fftwf_execute_dft_r2c (fe->plan, fft_in, fe->fft_out);
  power_spectrum (fe->n_bins, (const float *) fe->fft_out, power);
  mel_bands (fe, power, mel);

  /* v = ln max(mel, log_floor), then normalised */
  const double lfloor = cfg->log_floor;
  const float *mean = fe->mean, *inv_std = fe->inv_std;
  for (uint32_t m = 0; m < cfg->n_mels; m++) {
    double acc = mel[m];
    float v = (float) log (acc > lfloor ? acc : lfloor);
    if (mean != NULL)
      v = (v - mean[m]) * inv_std[m];
    frame[m] = v;
  }
}

void
earshot_features_silence (const earshot_features *fe, float *frame)
{
  assert (fe != NULL && frame != NULL);
  /* compute_frame's last step with every band's sum at 0. */
  const double lfloor = fe->cfg.log_floor;
  for (uint32_t m = 0; m < fe->cfg.n_mels; m++) {
    float v = (float) log (lfloor);
    if (fe->mean != NULL)
      v = (v - fe->mean[m]) * fe->inv_std[m];
    frame[m] = v;
  }
}

bool
earshot_features_pull (earshot_features *fe, float *frame)
{
  assert (fe != NULL && frame != NULL);
  const uint32_t win = fe->cfg.win_length, hop = fe->cfg.hop_length;

  if (fe->fill < win) {
    /* Incomplete: only a flush makes it a frame, and only while some hop
     * interval with real samples has no frame yet. */
    if (!fe->flushed || fe->n_frames >= flushed_frames (&fe->cfg, fe->n_pushed))
      return false;
    memset (fe->buf + fe->fill, 0, (win - fe->fill) * sizeof *fe->buf);
  }
  compute_frame (fe, frame);

  /* Slide to frame t + 1: it starts hop samples later. */
  memmove (fe->buf, fe->buf + hop, (win - hop) * sizeof *fe->buf);
  fe->fill = fe->fill > hop ? fe->fill - hop : 0;
  fe->n_frames++;
  return true;
}

void
earshot_features_flush (earshot_features *fe)
{
  assert (fe != NULL);
  fe->flushed = true;
}

size_t
earshot_features_frames_for (const earshot_features *fe, size_t n)
{
  uint64_t total;

  assert (fe != NULL);
  if (fe->flushed)   /* pushes take nothing; what is left is the tail */
    total = flushed_frames (&fe->cfg, fe->n_pushed);
  else
    total = complete_frames (&fe->cfg, fe->n_pushed + n);
  return (size_t) (total - fe->n_frames);
}

uint64_t
earshot_features_frame_count (const earshot_features *fe)
{
  assert (fe != NULL);
  return fe->n_frames;
}

/* ---- introspection ------------------------------------------------------ */

float
earshot_features_filter_weight (const earshot_features *fe, uint32_t m,
    uint32_t k)
{
  assert (fe != NULL && m < fe->cfg.n_mels && k < fe->n_bins);
  if (k < fe->band_first[m] || k - fe->band_first[m] >= fe->band_count[m])
    return 0.0f;
  return fe->weights[fe->band_offset[m] + (k - fe->band_first[m])];
}

float
earshot_features_window_coef (const earshot_features *fe, uint32_t i)
{
  assert (fe != NULL && i < fe->cfg.win_length);
  return fe->window[i];
}
