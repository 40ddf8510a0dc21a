/* test_math.c — earshot_math.h: exp, logistic and tanh against libm in
 * double on a dense grid of floats (every exponent, both signs), the limits
 * (+-inf, +-0, NaN, saturation, subnormal results), and the array forms
 * built the way lib/net.c builds its gate kernels (tests/meson.build passes
 * the same flags), so the clone this machine runs is the one tested. */
#include "earshot_math.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

/* The documented accuracy: relative error where the result is a normal
 * float, absolute error below FLT_MIN (one subnormal step). */
#define MAX_REL 2e-7
#define MAX_SUBNORMAL_ABS 0x1p-149

static EARSHOT_KERNEL void
vec_exp (float *y, const float *x, size_t n)
{
  earshot_expf_v (y, x, n);
}

static EARSHOT_KERNEL void
vec_sigmoid (float *y, const float *x, size_t n)
{
  earshot_sigmoidf_v (y, x, n);
}

static EARSHOT_KERNEL void
vec_tanh (float *y, const float *x, size_t n)
{
  earshot_tanhf_v (y, x, n);
}

static double
ref_sigmoid (double x)
{
  return 1.0 / (1.0 + exp (-x));
}

typedef struct {
  const char *name;
  double (*ref) (double);
  float (*scalar) (float);
  void (*vec) (float *, const float *, size_t);
} math_fn;

static const math_fn fns[] = {
  { "exp", exp, earshot_expf, vec_exp },
  { "sigmoid", ref_sigmoid, earshot_sigmoidf, vec_sigmoid },
  { "tanh", tanh, earshot_tanhf, vec_tanh },
};
#define N_FNS (sizeof fns / sizeof fns[0])

/* Worst errors of one function over everything it was checked on. */
typedef struct {
  double rel, rel_x;        /* worst relative error (normal results) */
  double sub, sub_x;        /* worst absolute error (subnormal results) */
  size_t bad;               /* points out of tolerance or limits */
  double bad_x;             /* the first of them */
} errors;

/* Checks y = f(x) against the double reference. */
static void
account (errors *e, double x, float y, double ref)
{
  bool ok;
  float rf = (float) ref;
  if (isnan (x)) {
    ok = isnan (y);
  } else if (isinf (rf)) {
    ok = y == rf;                         /* overflows exactly as libm */
  } else if (fabs (ref) >= FLT_MIN) {
    double rel = fabs ((double) y - ref) / fabs (ref);
    if (rel > e->rel) {
      e->rel = rel;
      e->rel_x = x;
    }
    ok = rel <= MAX_REL;
  } else {
    double abs_err = fabs ((double) y - ref);
    if (abs_err > e->sub) {
      e->sub = abs_err;
      e->sub_x = x;
    }
    ok = abs_err <= MAX_SUBNORMAL_ABS;
  }
  if (!ok && e->bad++ == 0)
    e->bad_x = x;
}

static float
from_bits (uint32_t u)
{
  return earshot_u2f (u);
}

/* Every 1021st bit pattern (4.2 million floats: every binade of both signs,
 * NaNs and infinities among them), through the array form in blocks, then
 * a sample through the scalar form. */
static void
test_grid (void)
{
  enum { BLOCK = 4096 };
  static float x[BLOCK], y[BLOCK];
  errors err[N_FNS] = { { 0 } };
  errors err_scalar[N_FNS] = { { 0 } };
  size_t points = 0;
  uint64_t u = 0;
  while (u < (1ull << 32)) {
    size_t n = 0;
    for (; n < BLOCK && u < (1ull << 32); n++, u += 1021)
      x[n] = from_bits ((uint32_t) u);
    points += n;
    for (size_t f = 0; f < N_FNS; f++) {
      fns[f].vec (y, x, n);
      for (size_t k = 0; k < n; k++) {
        double ref = fns[f].ref (x[k]);
        account (&err[f], x[k], y[k], ref);
        if (k % 7 == 0)
          account (&err_scalar[f], x[k], fns[f].scalar (x[k]), ref);
      }
    }
  }
  for (size_t f = 0; f < N_FNS; f++) {
    printf ("%-8s %zu floats: max rel error %.3g (x = %.9g), max abs error "
        "below FLT_MIN %.3g (x = %.9g); scalar form %.3g\n", fns[f].name,
        points, err[f].rel, err[f].rel_x, err[f].sub, err[f].sub_x,
        err_scalar[f].rel);
    CHECK (err[f].bad == 0, "%s: %zu floats out of tolerance, the first "
        "x = %.9g", fns[f].name, err[f].bad, err[f].bad_x);
    CHECK (err_scalar[f].bad == 0, "%s (scalar): %zu floats out of "
        "tolerance, the first x = %.9g", fns[f].name, err_scalar[f].bad,
        err_scalar[f].bad_x);
  }
}

/* Near the places where the approximations switch or clamp, every float
 * within 300 steps, and around each, the values the checks rely on. */
static void
test_edges (void)
{
  const float edges[] = { 0.0f, 0.625f, -0.625f, 9.5f, -9.5f, 88.72284f,
    88.8f, -87.33654f, -103.27893f, -103.97208f, -104.0f, 17.0f, -17.0f,
    0.34657359f, -0.34657359f, FLT_MIN, -FLT_MIN };
  errors err[N_FNS] = { { 0 } };
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    float x = edges[i];
    for (int s = 0; s < 300; s++)
      x = nextafterf (x, -INFINITY);
    float xs[600], ys[600];
    for (int s = 0; s < 600; s++, x = nextafterf (x, INFINITY))
      xs[s] = x;
    for (size_t f = 0; f < N_FNS; f++) {
      fns[f].vec (ys, xs, 600);
      for (int s = 0; s < 600; s++)
        account (&err[f], xs[s], ys[s], fns[f].ref (xs[s]));
    }
  }
  for (size_t f = 0; f < N_FNS; f++)
    CHECK (err[f].bad == 0, "%s near the edges: %zu floats out of "
        "tolerance, the first x = %.9g", fns[f].name, err[f].bad,
        err[f].bad_x);
}

/* Exact values and limits, each through the array and the scalar form. */
static void
test_limits (void)
{
  typedef struct {
    size_t f;
    float x, want;
  } exact;
  const float inf = INFINITY;
  const exact cases[] = {
    { 0, 0.0f, 1.0f }, { 0, -0.0f, 1.0f }, { 0, -inf, 0.0f },
    { 0, inf, inf }, { 0, 88.8f, inf }, { 0, 1000.0f, inf },
    { 0, -104.0f, 0.0f }, { 0, -1000.0f, 0.0f }, { 0, FLT_MAX, inf },
    { 1, 0.0f, 0.5f }, { 1, inf, 1.0f }, { 1, -inf, 0.0f },
    { 1, 17.0f, 1.0f }, { 1, 1e30f, 1.0f }, { 1, -1e30f, 0.0f },
    { 2, inf, 1.0f }, { 2, -inf, -1.0f }, { 2, 9.5f, 1.0f },
    { 2, -12.0f, -1.0f }, { 2, 1e30f, 1.0f }, { 2, 1e-30f, 1e-30f },
    { 2, -0x1p-140f, -0x1p-140f },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const exact *c = &cases[i];
    float y;
    fns[c->f].vec (&y, &c->x, 1);
    CHECK (y == c->want, "%s(%g) = %.9g, want %.9g", fns[c->f].name,
        (double) c->x, (double) y, (double) c->want);
    y = fns[c->f].scalar (c->x);
    CHECK (y == c->want, "%s(%g) = %.9g (scalar), want %.9g",
        fns[c->f].name, (double) c->x, (double) y, (double) c->want);
  }

  /* tanh keeps the sign of zero */
  float z[2] = { 0.0f, -0.0f }, t[2];
  vec_tanh (t, z, 2);
  CHECK (t[0] == 0.0f && !signbit (t[0]) && t[1] == 0.0f && signbit (t[1]),
      "tanh(+0), tanh(-0) = %g, %g", (double) t[0], (double) t[1]);

  /* NaN in, NaN out, whatever its sign or payload */
  float nan[3] = { NAN, -NAN, from_bits (0x7f800001u) }, y[3];
  for (size_t f = 0; f < N_FNS; f++) {
    fns[f].vec (y, nan, 3);
    for (int k = 0; k < 3; k++) {
      CHECK (isnan (y[k]), "%s(NaN #%d) = %g", fns[f].name, k, (double) y[k]);
      CHECK (isnan (fns[f].scalar (nan[k])), "%s(NaN #%d) (scalar) is a "
          "number", fns[f].name, k);
    }
  }
}

/* Over sorted inputs the outputs never decrease and stay in range; tanh is
 * exactly odd.  A linear grid, fine where the functions bend. */
static void
test_shape (void)
{
  enum { N = 200001 };
  float *x = malloc (N * sizeof *x), *y = malloc (N * sizeof *y);
  float *yn = malloc (N * sizeof *yn);
  if (x == NULL || y == NULL || yn == NULL) {
    fprintf (stderr, "test_math: out of memory\n");
    exit (2);
  }
  for (int k = 0; k < N; k++)
    x[k] = (float) (k - N / 2) * 1e-4f;   /* [-10, 10] */
  for (size_t f = 0; f < N_FNS; f++) {
    fns[f].vec (y, x, N);
    size_t drops = 0, out = 0;
    for (int k = 1; k < N; k++)
      drops += y[k] < y[k - 1];
    for (int k = 0; k < N; k++)
      out += f == 0 ? !(y[k] > 0.0f)
          : f == 1 ? !(y[k] >= 0.0f && y[k] <= 1.0f)
          : !(y[k] >= -1.0f && y[k] <= 1.0f);
    CHECK (drops == 0, "%s decreases %zu times on [-10, 10]", fns[f].name,
        drops);
    CHECK (out == 0, "%s leaves its range %zu times", fns[f].name, out);
  }
  for (int k = 0; k < N; k++)
    yn[k] = -x[k];
  vec_tanh (y, x, N);
  vec_tanh (yn, yn, N);                   /* in place */
  size_t odd = 0;
  for (int k = 0; k < N; k++)
    odd += yn[k] != -y[k];
  CHECK (odd == 0, "tanh(-x) != -tanh(x) at %zu points", odd);
  free (x);
  free (y);
  free (yn);
}

/* A vectorised loop and its scalar remainder give the same bits: the value
 * of element k does not depend on n or on where the vector blocks fall. */
static void
test_vector_vs_remainder (void)
{
  enum { N = 67 };
  float x[N], whole[N], one;
  for (int k = 0; k < N; k++)
    x[k] = (float) (k - N / 2) * 0.37f;
  size_t diff = 0;
  for (size_t f = 0; f < N_FNS; f++) {
    fns[f].vec (whole, x, N);
    for (int k = 0; k < N; k++) {
      fns[f].vec (&one, &x[k], 1);
      diff += earshot_f2u (one) != earshot_f2u (whole[k]);
    }
  }
  CHECK (diff == 0, "%zu values differ between one call over %d floats "
      "and one call per float", diff, N);
}

int
main (void)
{
  test_grid ();
  test_edges ();
  test_limits ();
  test_shape ();
  test_vector_vs_remainder ();
  return check_finish ("math");
}
