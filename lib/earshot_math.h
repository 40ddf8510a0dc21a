/* earshot_math.h — fast float exp, logistic and tanh for the nets; not
 * installed.
 *
 * libm's expf and tanhf are calls the compiler cannot vectorise, and tanhf
 * goes through expm1f, which is slow: together they took about a third of a
 * training step.  These are branch-free (selects, not jumps, and no calls),
 * so a loop over an array of them vectorises; compile the loop with the
 * vectoriser's full cost model (lib/meson.build does, for the core).
 *
 *   float y = earshot_sigmoidf (x);               // one value
 *   earshot_tanhf_v (y, x, n);                    // y[k] = tanh(x[k])
 *
 * Accuracy against libm in double, wherever the result is a normal float
 * (measured over every float; tests/test_math.c checks a dense grid against
 * a bound of 2e-7): exp 1 ulp (relative error < 8.5e-8), sigmoid 2.4 ulp
 * (< 1.8e-7), tanh 1.4 ulp (< 1.5e-7).  Results below FLT_MIN (exp and
 * sigmoid of x < -87.33) are subnormals within 2^-149 of the truth, or 0.
 * Limits, as in float: exp(x) = +inf for x >= 88.722839 and 0 for x <= -104,
 * sigmoid(x) = 1 for x >= 17 and 0 at -inf, tanh(x) = +-1 for |x| >= 9.5,
 * tanh(-0) = -0.
 * NaN in gives NaN out, so a diverged net stays visibly diverged.  Within
 * one build on one machine the same input gives the same bits, in a
 * vectorised loop or in its scalar remainder.
 */
#ifndef EARSHOT_MATH_H
#define EARSHOT_MATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A function whose loops should vectorise for the machine it runs on: built
 * for x86-64-v4 (AVX-512), x86-64-v3 (AVX2, FMA) and the baseline, chosen
 * once at load time.  lib/meson.build defines EARSHOT_HAVE_TARGET_CLONES
 * where the compiler supports it; elsewhere it is a plain function.  The
 * clones round differently (FMA), so results may differ between machines
 * in the last bits, never between runs on one machine. */
#if defined(EARSHOT_HAVE_TARGET_CLONES)
#define EARSHOT_KERNEL \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EARSHOT_KERNEL
#endif

/* Eight and four floats as one value (GNU C vector types): one AVX or
 * SSE register where the target has it, two otherwise.  For the products
 * whose order of additions is spelled out (net.c's matvec, resample.c's
 * dot), so that their bits do not depend on what the vectoriser does. */
typedef float earshot_f32x8 __attribute__((vector_size (32)));
typedef float earshot_f32x4 __attribute__((vector_size (16)));
/* Two doubles: features.c's sums (mel bands side by side, squares). */
typedef double earshot_f64x2 __attribute__((vector_size (16)));

/* A helper an EARSHOT_KERNEL function calls (a row of gates, a dot
 * product, the functions below): inlined into every clone, so that it is
 * built for the clone's instruction set.  Out of line it would be the
 * baseline build, which rounds differently (no FMA), and whether GCC
 * inlines a plain `inline` function into the clones depends on the size of
 * the whole file. */
#if defined(__GNUC__)
#define EARSHOT_KERNEL_INLINE static inline __attribute__((always_inline))
#else
#define EARSHOT_KERNEL_INLINE static inline
#endif

EARSHOT_KERNEL_INLINE uint32_t
earshot_f2u (float f)
{
  uint32_t u;
  memcpy (&u, &f, sizeof u);
  return u;
}

EARSHOT_KERNEL_INLINE float
earshot_u2f (uint32_t u)
{
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* 2^n as a float, for -126 <= n <= 127 (any other n gives meaningless
 * bits, but no undefined behaviour: earshot_expf of NaN relies on it). */
EARSHOT_KERNEL_INLINE float
earshot_pow2i (int32_t n)
{
  return earshot_u2f ((uint32_t) (n + 127) << 23);
}

/* e^x.  Range reduction x = n ln2 + r, |r| <= ln2 / 2, with ln2 split in
 * two so that n ln2_hi is exact; e^r = 1 + r + r^2 P(r) with Cephes' degree
 * 5 minimax P.  The result is scaled by 2^n in two halves, so that n from
 * -150 (subnormal results) to 128 (overflow to +inf) needs no special case:
 * x is clamped to [-104, 88.8], beyond which e^x rounds to 0 or +inf. */
EARSHOT_KERNEL_INLINE float
earshot_expf (float x)
{
  /* Comparisons with NaN are false: NaN passes both clamps. */
  float xc = x > 88.8f ? 88.8f : x;
  xc = xc < -104.0f ? -104.0f : xc;
  /* n = round(x / ln2): adding 1.5 * 2^23 rounds to an integer, which then
   * sits in the low mantissa bits (no float-to-int conversion, so NaN is no
   * undefined behaviour). */
  const float shifter = 12582912.0f;
  float t = xc * 1.44269504088896341f + shifter;
  float fn = t - shifter;
  int32_t n = (int32_t) (earshot_f2u (t) - earshot_f2u (shifter));
  float r = xc - fn * 0.693359375f;           /* ln2_hi: 9 bits, exact */
  r = r - fn * -2.12194440e-4f;               /* ln2_lo */
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  int32_t n1 = n / 2;                         /* 2^n = 2^n1 2^(n - n1) */
  return p * earshot_pow2i (n1) * earshot_pow2i (n - n1);
}

/* 1 / (1 + e^-x), from e^-|x| <= 1 only, so nothing overflows:
 * x >= 0: 1 / (1 + e),  x < 0: e / (1 + e),  e = e^-|x|. */
EARSHOT_KERNEL_INLINE float
earshot_sigmoidf (float x)
{
  float e = earshot_expf (-__builtin_fabsf (x));
  return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

/* tanh x.  |x| < 0.625: Cephes' odd minimax polynomial x + x^3 P(x^2),
 * free of the cancellation of the exp form there; otherwise
 * 1 - 2 / (e^2|x| + 1), with |x| capped at 9.5, where tanh is 1 in float. */
EARSHOT_KERNEL_INLINE float
earshot_tanhf (float x)
{
  float ax = __builtin_fabsf (x);
  ax = ax > 9.5f ? 9.5f : ax;
  float z = ax * ax;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = ax + ax * z * p;
  float large = 1.0f - 2.0f / (earshot_expf (2.0f * ax) + 1.0f);
  return __builtin_copysignf (ax < 0.625f ? small : large, x);
}

/* Array forms: y[k] <- f(x[k]) for k < n; y may be x (in place), but must
 * not otherwise overlap it. */
EARSHOT_KERNEL_INLINE void
earshot_expf_v (float *y, const float *x, size_t n)
{
  for (size_t k = 0; k < n; k++)
    y[k] = earshot_expf (x[k]);
}

EARSHOT_KERNEL_INLINE void
earshot_sigmoidf_v (float *y, const float *x, size_t n)
{
  for (size_t k = 0; k < n; k++)
    y[k] = earshot_sigmoidf (x[k]);
}

EARSHOT_KERNEL_INLINE void
earshot_tanhf_v (float *y, const float *x, size_t n)
{
  for (size_t k = 0; k < n; k++)
    y[k] = earshot_tanhf (x[k]);
}

#endif /* EARSHOT_MATH_H */
