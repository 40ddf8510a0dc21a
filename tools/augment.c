/* augment.c — on-the-fly data augmentation of decoded training audio.
 *
 * Augmentation alters the audio, so it runs on decoded samples, and the
 * altered signal then goes through the front end again (dataset.c); the
 * features the model learns from are computed exactly as at inference.
 * Every draw comes from an RNG state derived from (seed, epoch, file), so an
 * epoch's augmented data is the same in a resumed run as in an uninterrupted
 * one.
 *
 * In the order applied to a file picked for augmentation (probability
 * `prob` per file per epoch, so some clean data stays in every epoch):
 *   speed  resampling by linear interpolation by a factor s in
 *          1 +- speed_pct/100: tempo and pitch change together (tape-style).
 *          The file gets shorter or longer; its targets follow (see
 *          es_targets_resample).
 *   gain   a factor 10^(g/20), g uniform in [-gain_db, gain_db].
 *   noise  one noise signal from the list, starting at a random offset and
 *          looped as needed, scaled so that the file's RMS over the noise's
 *          RMS is an SNR drawn uniformly in [snr_min, snr_max] dB.  Files
 *          that are digital silence get no noise (their SNR is undefined).
 *          Noise added to the background class changes what that class
 *          sounds like: choose the noise list with that in mind.
 */
#include "earshot-tool.h"

#include <math.h>

gboolean
es_augment_enabled (const es_augment_opts *o)
{
  return o->prob > 0 && (o->gain_db > 0 || o->speed_pct > 0
      || o->n_noise > 0);
}

static double
mean_square (const float *x, gsize n)
{
  double s = 0;                 /* double: long sums */
  for (gsize i = 0; i < n; i++)
    s += (double) x[i] * x[i];
  return n ? s / (double) n : 0;
}

gboolean
es_augment (const es_augment_opts *o, uint64_t *rng, const float *x,
    gsize n, float **out, gsize *out_n, double *speed)
{
  *out = NULL;
  *out_n = 0;
  *speed = 1.0;
  /* Draw every random number, used or not, so the sequence a file consumes
   * does not depend on which augmentations are on. */
  double pick = es_rng_uniform (rng);
  double u_speed = es_rng_uniform (rng) * 2 - 1;
  double u_gain = es_rng_uniform (rng) * 2 - 1;
  double u_noise = es_rng_uniform (rng);
  double u_offset = es_rng_uniform (rng);
  double u_snr = es_rng_uniform (rng);
  if (!es_augment_enabled (o) || pick >= o->prob || n == 0)
    return FALSE;

  /* speed: y[j] = x(j * s), linear interpolation */
  double s = 1.0 + u_speed * o->speed_pct / 100.0;
  gsize m = n;
  float *y;
  if (o->speed_pct > 0 && s != 1.0) {
    m = (gsize) floor ((double) (n - 1) / s) + 1;
    y = g_new (float, m);
    for (gsize j = 0; j < m; j++) {
      double pos = (double) j * s;
      gsize i = (gsize) pos;
      double f = pos - (double) i;
      y[j] = i + 1 < n ? (float) ((1 - f) * x[i] + f * x[i + 1]) : x[n - 1];
    }
  } else {
    s = 1.0;
    y = g_memdup2 (x, n * sizeof (float));
  }

  if (o->gain_db > 0) {
    float g = (float) pow (10.0, u_gain * o->gain_db / 20.0);
    for (gsize j = 0; j < m; j++)
      y[j] *= g;
  }

  if (o->n_noise > 0) {
    gsize k = MIN ((gsize) (u_noise * (double) o->n_noise), o->n_noise - 1);
    const float *nz = o->noise[k];
    gsize nn = o->noise_len[k];
    double ps = mean_square (y, m), pn = mean_square (nz, nn);
    if (ps > 1e-12 && pn > 1e-12 && nn > 0) {
      double snr = o->snr_min + u_snr * (o->snr_max - o->snr_min);
      float a = (float) sqrt (ps / (pn * pow (10.0, snr / 10.0)));
      gsize off = MIN ((gsize) (u_offset * (double) nn), nn - 1);
      for (gsize j = 0; j < m; j++) {
        y[j] += a * nz[off];
        if (++off == nn)
          off = 0;
      }
    }
  }

  *out = y;
  *out_n = m;
  *speed = s;
  return TRUE;
}

void
es_targets_resample (const int32_t *targets, gsize n_frames, double speed,
    int32_t *out, gsize out_frames)
{
  /* New frame t covers new time [t, t+1) hops; its centre maps to the
   * original time (t + 0.5) * speed hops, inside original frame floor(.). */
  for (gsize t = 0; t < out_frames; t++) {
    double c = ((double) t + 0.5) * speed;
    gsize i = c < 0 ? 0 : (gsize) c;
    out[t] = targets[MIN (i, n_frames - 1)];
  }
}
