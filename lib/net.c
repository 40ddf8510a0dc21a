/* net.c — recurrent frame classifiers: layer stack, streaming step,
 * sequence forward and backward (BPTT).
 *
 * Conventions.  Matrices are row-major; "[R x C]" in a comment is the shape
 * of the operand as stored.  Batched activations are time-major: row
 * t * B + b of an [N x K] block (N = T * B) belongs to frame t of sequence b.
 * Each operation keeps its forward and its backward side by side, with the
 * maths in a one-line comment; dX is dL/dX.
 *
 * Gates are stored fused, in the order of the header: a recurrent layer with
 * G gates (RNN 1, GRU 3, LSTM 4) has W [GH x I], U [GH x H], and its
 * pre-activations a = W x + b (+ U h) form one row of GH floats.
 */
#include "earshot_net.h"
#include "earshot_math.h"
#include "earshot_private.h"

#include <assert.h>
#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct earshot_net {
  size_t n_layers;
  earshot_layer_spec layers[EARSHOT_NET_MAX_LAYERS];
  size_t offset[EARSHOT_NET_MAX_LAYERS];    /* first parameter of each layer */
  size_t state_off[EARSHOT_NET_MAX_LAYERS]; /* first state float of each
                                               recurrent layer (0 for dense) */
  size_t n_params;
  size_t state_size;
  size_t scratch_size;
  size_t max_out;   /* widest layer output: one half of the step ping-pong */
  float *params;    /* [n_params], owned */
};

/* One layer's slice of the workspace.  N = T * B rows of the last forward;
 * the buffers are sized for max_t, max_b. */
typedef struct {
  float *xin;       /* [N x I]: layer 0: copy of x; later layers: input after
                       dropout (unused without dropout) */
  const float *in;  /* the input rows the last forward used (xin, or the
                       previous layer's output) */
  float *y;         /* dense: [N x O] outputs after the activation */
  float *hs;        /* recurrent: [(T+1)B x H]; rows 0..B-1 hold h0, row
                       (t+1)B + b holds h_t of sequence b, so rows 0..N-1 are
                       the h_{t-1} of every frame */
  float *cs;        /* LSTM: [(T+1)B x H] cell states, rows as hs */
  float *a;         /* GRU, LSTM: [N x GH] gates after their nonlinearity */
  float *un;        /* GRU: [N x H] Un h_{t-1} + bUn (needed for dr) */
} ws_layer;

struct earshot_net_workspace {
  size_t n_layers;
  earshot_layer_spec layers[EARSHOT_NET_MAX_LAYERS]; /* shape it was made for */
  size_t max_t, max_b;
  size_t t, b;          /* shape of the last forward; t == 0: none yet */
  float dropout;        /* dropout of the last forward (0: none) */
  uint64_t seed;        /* its mask seed */
  ws_layer l[EARSHOT_NET_MAX_LAYERS];
  float *dbuf[2];       /* [N x max width]: dY of a layer, dX of its input */
  float *da;            /* [N x max GH]: gate gradients (pre-activation;
                           GRU: the U side, see recurrent_backward) */
  float *dn;            /* [N x max H]: GRU d(a_n), the W side of the n gate */
  float *dh;            /* [B x max H]: dL/dh_{t-1} carried back in time */
  float *dc;            /* [B x max H]: dL/dc_{t-1} carried back in time */
  float *tmp;           /* [B x max GH]: GRU U h_{t-1} of one step */
  float *ones;          /* [N]: all 1, turns column sums into a GEMV */
  float *block;         /* the one allocation all of the above live in */
};

/* ---- Small helpers ----------------------------------------------------- */

/* a * b and a + b, saturating at SIZE_MAX so that an overflow can only make a
 * size too large to allocate, never wrap to a small one. */
static size_t
mul_sz (size_t a, size_t b)
{
  return (a != 0 && b > SIZE_MAX / a) ? SIZE_MAX : a * b;
}

static size_t
add_sz (size_t a, size_t b)
{
  return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t
max_sz (size_t a, size_t b)
{
  return a > b ? a : b;
}

/* splitmix64's output function: a bijective 64-bit mixer. */
static uint64_t
mix64 (uint64_t z)
{
  z += 0x9e3779b97f4a7c15u;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* splitmix64 as a sequential generator: uniform in [0, 1) with 24 bits. */
static float
next_uniform (uint64_t *state)
{
  uint64_t z = mix64 (*state);
  *state += 0x9e3779b97f4a7c15u;
  return (float) (z >> 40) * (1.0f / 16777216.0f);
}

/* The one wrapper around cblas_sgemm, row-major:
 * C [m x n] <- alpha op(A) op(B) + beta C, op(A) [m x k], op(B) [k x n]. */
static void
gemm (bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha,
    const float *a, size_t lda, const float *b, size_t ldb, float beta,
    float *c, size_t ldc)
{
  cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
      trans_b ? CblasTrans : CblasNoTrans, (int) m, (int) n, (int) k, alpha,
      a, (int) lda, b, (int) ldb, beta, c, (int) ldc);
}

/* y [m] <- alpha A x + beta y, A [m x n] row-major (or Aᵀ x, y [n]). */
static void
gemv (bool trans, size_t m, size_t n, float alpha, const float *a,
    size_t lda, const float *x, float beta, float *y)
{
  cblas_sgemv (CblasRowMajor, trans ? CblasTrans : CblasNoTrans, (int) m,
      (int) n, alpha, a, (int) lda, x, 1, beta, y, 1);
}

/* y [m] <- A x (accumulate: y += A x), A [m x n] row-major: the streaming
 * step's products.  Not cblas_sgemv, which spreads products from 192 x 64
 * up over threads when OpenBLAS has them (OPENBLAS_NUM_THREADS unset, as in
 * a GStreamer pipeline): on a loaded two-core machine that made a frame of
 * a two-layer GRU 2 to 4 times slower, and it keeps a second core spinning.
 * This is faster than cblas_sgemv on one thread at these sizes: eight
 * (then four) rows at a time, each a dot product in eight lanes (GNU C
 * vector types: one AVX register or two SSE ones), the lanes summed
 * pairwise, the last n % 8 columns and m % 4 rows in plain loops. */

#define SUM8(v) \
  ((((v)[0] + (v)[4]) + ((v)[1] + (v)[5])) \
      + (((v)[2] + (v)[6]) + ((v)[3] + (v)[7])))

/* t <- [SUM8 (s0), ..., SUM8 (s7)] for the accumulators of eight rows,
 * with the very additions of SUM8 in the same order (so the same bits),
 * all eight rows at once: first each row's halves (v0+v4, v1+v5, v2+v6,
 * v3+v7), two rows per vector; then the neighbouring pairs, twice.  Float
 * addition is commutative, so which operand comes from which shuffle does
 * not matter.  A macro, not a function: vectors passed by value to a
 * function built without AVX would change the ABI (-Wpsabi). */
#define HALVES8(a, b) \
  (__builtin_shufflevector (a, b, 0, 1, 2, 3, 8, 9, 10, 11) \
      + __builtin_shufflevector (a, b, 4, 5, 6, 7, 12, 13, 14, 15))
#define PAIRS8(a, b) \
  (__builtin_shufflevector (a, b, 0, 2, 8, 10, 4, 6, 12, 14) \
      + __builtin_shufflevector (a, b, 1, 3, 9, 11, 5, 7, 13, 15))
#define SUM8X8(t, s0, s1, s2, s3, s4, s5, s6, s7) \
  do { \
    /* h01 = [row 0 | row 1], each (v0+v4, v1+v5, v2+v6, v3+v7) */ \
    earshot_f32x8 h01 = HALVES8 (s0, s1), h23 = HALVES8 (s2, s3); \
    earshot_f32x8 h45 = HALVES8 (s4, s5), h67 = HALVES8 (s6, s7); \
    /* c0: rows 0, 2, 1, 3, two half-sums each; c1: rows 4, 6, 5, 7 */ \
    earshot_f32x8 c0 = PAIRS8 (h01, h23), c1 = PAIRS8 (h45, h67); \
    /* f: rows 0, 2, 4, 6, 1, 3, 5, 7 */ \
    earshot_f32x8 f = PAIRS8 (c0, c1); \
    (t) = __builtin_shufflevector (f, f, 0, 4, 1, 5, 2, 6, 3, 7); \
  } while (0)

static EARSHOT_KERNEL void
matvec (size_t m, size_t n, const float *restrict a,
    const float *restrict x, bool accumulate, float *restrict y)
{
  size_t r = 0;
  /* Eight rows at a time: x is loaded once per eight rows, and the lane
   * sums are done together (SUM8X8).  Each row's sum is computed exactly
   * as in the four-row loop below. */
  for (; r + 8 <= m; r += 8) {
    const float *ar = a + r * n;
    earshot_f32x8 s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
    earshot_f32x8 s4 = { 0 }, s5 = { 0 }, s6 = { 0 }, s7 = { 0 };
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
      earshot_f32x8 xv, v0, v1, v2, v3, v4, v5, v6, v7;
      memcpy (&xv, x + k, sizeof xv);
      memcpy (&v0, ar + k, sizeof v0);
      memcpy (&v1, ar + n + k, sizeof v1);
      memcpy (&v2, ar + 2 * n + k, sizeof v2);
      memcpy (&v3, ar + 3 * n + k, sizeof v3);
      memcpy (&v4, ar + 4 * n + k, sizeof v4);
      memcpy (&v5, ar + 5 * n + k, sizeof v5);
      memcpy (&v6, ar + 6 * n + k, sizeof v6);
      memcpy (&v7, ar + 7 * n + k, sizeof v7);
      s0 += v0 * xv;
      s1 += v1 * xv;
      s2 += v2 * xv;
      s3 += v3 * xv;
      s4 += v4 * xv;
      s5 += v5 * xv;
      s6 += v6 * xv;
      s7 += v7 * xv;
    }
    earshot_f32x8 t;
    SUM8X8 (t, s0, s1, s2, s3, s4, s5, s6, s7);
    if (k < n) {
      float tq[8];
      memcpy (tq, &t, sizeof tq);
      for (; k < n; k++)
        for (int q = 0; q < 8; q++)
          tq[q] += ar[q * n + k] * x[k];
      memcpy (&t, tq, sizeof t);
    }
    /* y <- y + t (or t) as one vector: the same additions as per row, and
     * no vector-to-scalar round trip through memory */
    if (accumulate) {
      earshot_f32x8 yv;
      memcpy (&yv, y + r, sizeof yv);
      t = yv + t;
    }
    memcpy (y + r, &t, sizeof t);
  }
  for (; r + 4 <= m; r += 4) {
    const float *a0 = a + r * n, *a1 = a0 + n, *a2 = a1 + n, *a3 = a2 + n;
    earshot_f32x8 s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
      earshot_f32x8 xv, v0, v1, v2, v3;
      memcpy (&xv, x + k, sizeof xv);
      memcpy (&v0, a0 + k, sizeof v0);
      memcpy (&v1, a1 + k, sizeof v1);
      memcpy (&v2, a2 + k, sizeof v2);
      memcpy (&v3, a3 + k, sizeof v3);
      s0 += v0 * xv;
      s1 += v1 * xv;
      s2 += v2 * xv;
      s3 += v3 * xv;
    }
    float t[4] = { SUM8 (s0), SUM8 (s1), SUM8 (s2), SUM8 (s3) };
    for (; k < n; k++) {
      t[0] += a0[k] * x[k];
      t[1] += a1[k] * x[k];
      t[2] += a2[k] * x[k];
      t[3] += a3[k] * x[k];
    }
    for (int q = 0; q < 4; q++)
      y[r + q] = accumulate ? y[r + q] + t[q] : t[q];
  }
  for (; r < m; r++) {
    float t = 0.0f;
    for (size_t k = 0; k < n; k++)
      t += a[r * n + k] * x[k];
    y[r] = accumulate ? y[r] + t : t;
  }
}

#undef SUM8
#undef SUM8X8
#undef PAIRS8
#undef HALVES8

/* Copies the row v [n] into each of the `rows` rows of m [rows x ld]. */
static void
fill_rows (float *m, size_t rows, size_t ld, const float *v, size_t n)
{
  for (size_t r = 0; r < rows; r++)
    memcpy (m + r * ld, v, n * sizeof *m);
}

/* ---- Layer geometry ---------------------------------------------------- */

static size_t
n_gates (earshot_layer_type type)
{
  switch (type) {
    case EARSHOT_LAYER_DENSE: return 1;
    case EARSHOT_LAYER_RNN: return 1;
    case EARSHOT_LAYER_GRU: return 3;
    case EARSHOT_LAYER_LSTM: return 4;
  }
  return 0;
}

static bool
is_recurrent (earshot_layer_type type)
{
  return type == EARSHOT_LAYER_RNN || type == EARSHOT_LAYER_GRU
      || type == EARSHOT_LAYER_LSTM;
}

/* Offsets of a layer's matrices inside its parameter slice.  Only for
 * validated specs (every product below fits: the total is <= 2^28). */
typedef struct {
  size_t w;   /* W [GH x I] */
  size_t u;   /* U [GH x H] (recurrent) */
  size_t b;   /* b [GH] (GRU: bW) */
  size_t bu;  /* GRU: bU [3H] */
  size_t n;   /* floats in the layer */
} layer_parts;

static layer_parts
parts_of (const earshot_layer_spec *s)
{
  size_t i = s->n_in, h = s->n_out, gh = n_gates (s->type) * h;
  layer_parts p;
  p.w = 0;
  if (s->type == EARSHOT_LAYER_DENSE) {
    p.u = p.bu = 0;
    p.b = gh * i;
    p.n = p.b + gh;
  } else {
    p.u = gh * i;
    p.b = p.u + gh * h;
    p.bu = p.b + gh;
    p.n = p.bu + (s->type == EARSHOT_LAYER_GRU ? gh : 0);
  }
  return p;
}

size_t
earshot_layer_spec_n_params (const earshot_layer_spec *spec)
{
  if (spec == NULL)
    return 0;
  uint64_t g = n_gates (spec->type);
  uint64_t i = spec->n_in, h = spec->n_out;
  if (g == 0 || i == 0 || h == 0 || i > EARSHOT_NET_MAX_UNITS
      || h > EARSHOT_NET_MAX_UNITS)
    return 0;
  if (spec->type == EARSHOT_LAYER_DENSE
      && (spec->activation < EARSHOT_ACT_LINEAR
          || spec->activation > EARSHOT_ACT_SOFTMAX))
    return 0;
  /* Widths are <= 2^16, so each term is < 2^36: no 64-bit overflow. */
  uint64_t n;
  if (spec->type == EARSHOT_LAYER_DENSE)
    n = h * i + h;
  else
    n = g * h * i + g * h * h + g * h
        + (spec->type == EARSHOT_LAYER_GRU ? g * h : 0);
  return n <= EARSHOT_NET_MAX_PARAMS ? (size_t) n : 0;
}

/* Scratch floats of one recurrent step (cell_step): the gate row, for
 * LSTM a copy of c, for GRU U h, a copy of h and u. */
static size_t
step_scratch (const earshot_layer_spec *s)
{
  size_t h = s->n_out, gh = n_gates (s->type) * h;
  switch (s->type) {
    case EARSHOT_LAYER_GRU: return 2 * gh + 2 * h;
    case EARSHOT_LAYER_LSTM: return gh + h;
    case EARSHOT_LAYER_RNN:
    case EARSHOT_LAYER_DENSE: return gh;
  }
  return 0;
}

/* ---- Construction ------------------------------------------------------ */

static const char *
type_name (earshot_layer_type type)
{
  switch (type) {
    case EARSHOT_LAYER_DENSE: return "dense";
    case EARSHOT_LAYER_RNN: return "rnn";
    case EARSHOT_LAYER_GRU: return "gru";
    case EARSHOT_LAYER_LSTM: return "lstm";
  }
  return "unknown";
}

earshot_status
earshot_net_new (const earshot_layer_spec *layers, size_t n_layers,
    earshot_net **out, char *err, size_t err_size)
{
  const earshot_status inv = EARSHOT_ERR_INVALID;
  assert (out != NULL);
  *out = NULL;
  if (layers == NULL || n_layers == 0)
    return earshot_fail (err, err_size, inv, "a net needs at least one layer");
  if (n_layers > EARSHOT_NET_MAX_LAYERS)
    return earshot_fail (err, err_size, inv,
        "%zu layers, more than the limit of %d", n_layers,
        EARSHOT_NET_MAX_LAYERS);

  uint64_t total = 0;
  for (size_t i = 0; i < n_layers; i++) {
    const earshot_layer_spec *s = &layers[i];
    const char *name = type_name (s->type);
    if (n_gates (s->type) == 0)
      return earshot_fail (err, err_size, inv,
          "layer %zu: unknown layer type %d", i, (int) s->type);
    if (s->n_in == 0 || s->n_out == 0)
      return earshot_fail (err, err_size, inv,
          "layer %zu (%s): %u inputs and %u units; both must be at least 1",
          i, name, s->n_in, s->n_out);
    if (s->n_in > EARSHOT_NET_MAX_UNITS || s->n_out > EARSHOT_NET_MAX_UNITS)
      return earshot_fail (err, err_size, inv,
          "layer %zu (%s): %u inputs and %u units; the limit is %u", i, name,
          s->n_in, s->n_out, EARSHOT_NET_MAX_UNITS);
    if (s->type == EARSHOT_LAYER_DENSE
        && (s->activation < EARSHOT_ACT_LINEAR
            || s->activation > EARSHOT_ACT_SOFTMAX))
      return earshot_fail (err, err_size, inv,
          "layer %zu (dense): unknown activation %d", i, (int) s->activation);
    if (s->type == EARSHOT_LAYER_DENSE && s->activation == EARSHOT_ACT_SOFTMAX
        && i + 1 != n_layers)
      return earshot_fail (err, err_size, inv,
          "layer %zu (dense): softmax is only allowed on the last layer", i);
    if (i > 0 && s->n_in != layers[i - 1].n_out)
      return earshot_fail (err, err_size, inv,
          "layer %zu (%s) takes %u inputs but layer %zu (%s) gives %u", i,
          name, s->n_in, i - 1, type_name (layers[i - 1].type),
          layers[i - 1].n_out);
    size_t n = earshot_layer_spec_n_params (s);
    if (n == 0)
      return earshot_fail (err, err_size, inv,
          "layer %zu (%s): more than %u parameters", i, name,
          EARSHOT_NET_MAX_PARAMS);
    total += n;
  }
  const earshot_layer_spec *last = &layers[n_layers - 1];
  if (last->type != EARSHOT_LAYER_DENSE
      || last->activation != EARSHOT_ACT_SOFTMAX)
    return earshot_fail (err, err_size, inv,
        "the last layer (%zu, %s) must be dense with softmax", n_layers - 1,
        type_name (last->type));
  if (last->n_out < 2)
    return earshot_fail (err, err_size, inv,
        "the softmax layer has %u output; at least 2 classes are needed",
        last->n_out);
  if (total > EARSHOT_NET_MAX_PARAMS)
    return earshot_fail (err, err_size, inv,
        "%llu parameters in all, more than the limit of %u",
        (unsigned long long) total, EARSHOT_NET_MAX_PARAMS);

  earshot_net *net = calloc (1, sizeof *net);
  if (net == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
  net->n_layers = n_layers;
  memcpy (net->layers, layers, n_layers * sizeof *layers);
  size_t scratch_gates = 0;
  for (size_t i = 0; i < n_layers; i++) {
    earshot_layer_spec *s = &net->layers[i];
    if (s->type != EARSHOT_LAYER_DENSE)
      s->activation = EARSHOT_ACT_LINEAR;   /* documented as ignored */
    net->offset[i] = net->n_params;
    net->n_params += parts_of (s).n;
    net->max_out = max_sz (net->max_out, s->n_out);
    if (is_recurrent (s->type)) {
      net->state_off[i] = net->state_size;
      net->state_size += (s->type == EARSHOT_LAYER_LSTM ? 2u : 1u) * s->n_out;
    }
    scratch_gates = max_sz (scratch_gates, step_scratch (s));
  }
  net->scratch_size = 2 * net->max_out + scratch_gates;
  net->params = calloc (net->n_params, sizeof *net->params);
  if (net->params == NULL) {
    size_t n = net->n_params;
    free (net);
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
        "out of memory for %zu parameters", n);
  }
  *out = net;
  if (err != NULL && err_size > 0)
    err[0] = '\0';
  return EARSHOT_OK;
}

earshot_status
earshot_net_new_stack (earshot_layer_type cell, uint32_t n_in,
    uint32_t hidden, uint32_t n_layers, uint32_t n_classes,
    earshot_net **out, char *err, size_t err_size)
{
  assert (out != NULL);
  *out = NULL;
  if (!is_recurrent (cell))
    return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
        "stack cell must be rnn, gru or lstm, not %s", type_name (cell));
  if (n_layers >= EARSHOT_NET_MAX_LAYERS)
    return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
        "%u recurrent layers plus the output layer exceed the limit of %d "
        "layers", n_layers, EARSHOT_NET_MAX_LAYERS);
  earshot_layer_spec spec[EARSHOT_NET_MAX_LAYERS];
  uint32_t width = n_in;
  for (uint32_t i = 0; i < n_layers; i++) {
    spec[i] = (earshot_layer_spec) { cell, width, hidden, EARSHOT_ACT_LINEAR };
    width = hidden;
  }
  spec[n_layers] = (earshot_layer_spec) { EARSHOT_LAYER_DENSE, width,
    n_classes, EARSHOT_ACT_SOFTMAX };
  return earshot_net_new (spec, (size_t) n_layers + 1, out, err, err_size);
}

earshot_status
earshot_net_copy (const earshot_net *net, earshot_net **out)
{
  assert (net != NULL && out != NULL);
  *out = NULL;
  earshot_net *c = malloc (sizeof *c);
  if (c == NULL)
    return EARSHOT_ERR_NOMEM;
  *c = *net;
  c->params = malloc (net->n_params * sizeof *c->params);
  if (c->params == NULL) {
    free (c);
    return EARSHOT_ERR_NOMEM;
  }
  memcpy (c->params, net->params, net->n_params * sizeof *c->params);
  *out = c;
  return EARSHOT_OK;
}

void
earshot_net_free (earshot_net *net)
{
  if (net == NULL)
    return;
  free (net->params);
  free (net);
}

/* uniform(-limit, limit) into v [n] */
static void
fill_uniform (float *v, size_t n, float limit, uint64_t *rng)
{
  for (size_t k = 0; k < n; k++)
    v[k] = (2.0f * next_uniform (rng) - 1.0f) * limit;
}

void
earshot_net_init (earshot_net *net, uint64_t seed)
{
  assert (net != NULL);
  uint64_t rng = mix64 (seed);
  memset (net->params, 0, net->n_params * sizeof *net->params);
  for (size_t l = 0; l < net->n_layers; l++) {
    const earshot_layer_spec *s = &net->layers[l];
    float *p = net->params + net->offset[l];
    layer_parts q = parts_of (s);
    size_t i = s->n_in, h = s->n_out, gh = n_gates (s->type) * h;
    /* Glorot over the fused matrix W [GH x I]: fan_in I, fan_out GH (the
     * Keras convention for gated layers). */
    fill_uniform (p + q.w, gh * i, sqrtf (6.0f / (float) (i + gh)), &rng);
    if (is_recurrent (s->type))
      fill_uniform (p + q.u, gh * h, 1.0f / sqrtf ((float) h), &rng);
    if (s->type == EARSHOT_LAYER_LSTM)
      for (size_t j = 0; j < h; j++)
        p[q.b + h + j] = 1.0f;    /* forget gate rows are h..2h-1 */
  }
}

/* ---- Accessors --------------------------------------------------------- */

size_t
earshot_net_n_layers (const earshot_net *net)
{
  assert (net != NULL);
  return net->n_layers;
}

const earshot_layer_spec *
earshot_net_layer (const earshot_net *net, size_t i)
{
  assert (net != NULL && i < net->n_layers);
  return &net->layers[i];
}

uint32_t
earshot_net_n_inputs (const earshot_net *net)
{
  assert (net != NULL);
  return net->layers[0].n_in;
}

uint32_t
earshot_net_n_outputs (const earshot_net *net)
{
  assert (net != NULL);
  return net->layers[net->n_layers - 1].n_out;
}

size_t
earshot_net_layer_n_params (const earshot_net *net, size_t i)
{
  assert (net != NULL && i < net->n_layers);
  return parts_of (&net->layers[i]).n;
}

size_t
earshot_net_layer_offset (const earshot_net *net, size_t i)
{
  assert (net != NULL && i < net->n_layers);
  return net->offset[i];
}

size_t
earshot_net_n_params (const earshot_net *net)
{
  assert (net != NULL);
  return net->n_params;
}

float *
earshot_net_params (earshot_net *net)
{
  assert (net != NULL);
  return net->params;
}

const float *
earshot_net_params_const (const earshot_net *net)
{
  assert (net != NULL);
  return net->params;
}

size_t
earshot_net_state_size (const earshot_net *net)
{
  assert (net != NULL);
  return net->state_size;
}

size_t
earshot_net_scratch_size (const earshot_net *net)
{
  assert (net != NULL);
  return net->scratch_size;
}

/* ---- Dense activations (forward and backward) -------------------------- */

/* y [rows x n] <- act(y), in place; softmax per row. */
static EARSHOT_KERNEL void
activate (float *y, size_t rows, size_t n, earshot_activation act)
{
  size_t total = rows * n;
  switch (act) {
    case EARSHOT_ACT_LINEAR:
      break;
    case EARSHOT_ACT_TANH:
      earshot_tanhf_v (y, y, total);
      break;
    case EARSHOT_ACT_RELU:
      for (size_t k = 0; k < total; k++)
        y[k] = y[k] > 0.0f ? y[k] : 0.0f;
      break;
    case EARSHOT_ACT_SOFTMAX:
      for (size_t r = 0; r < rows; r++) {
        float *v = y + r * n;
        /* p_k = exp(z_k - max z) / sum_j exp(z_j - max z) */
        float m = v[0];
        for (size_t k = 1; k < n; k++)
          m = v[k] > m ? v[k] : m;
        double sum = 0.0;
        for (size_t k = 0; k < n; k++) {
          v[k] = earshot_expf (v[k] - m);
          sum += v[k];
        }
        float inv = (float) (1.0 / sum);
        for (size_t k = 0; k < n; k++)
          v[k] *= inv;
      }
      break;
  }
}

/* dy [total] <- dy * act'(z), given y = act(z).  Softmax never comes here:
 * its backward is fused with the cross-entropy. */
static void
activate_backward (float *dy, const float *y, size_t total,
    earshot_activation act)
{
  switch (act) {
    case EARSHOT_ACT_LINEAR:
    case EARSHOT_ACT_SOFTMAX:
      break;
    case EARSHOT_ACT_TANH:
      for (size_t k = 0; k < total; k++)   /* tanh' = 1 - y^2 */
        dy[k] *= 1.0f - y[k] * y[k];
      break;
    case EARSHOT_ACT_RELU:
      for (size_t k = 0; k < total; k++)   /* relu' = [y > 0] */
        dy[k] = y[k] > 0.0f ? dy[k] : 0.0f;
      break;
  }
}

/* ---- Gate kernels (forward and backward) ------------------------------- */

/* The elementwise part of a recurrent step, over the B sequences of one
 * time step (B = 1 for earshot_net_step, which runs the same kernels).
 * Each row function is one loop over the H units without calls or
 * branches, its arrays restrict-qualified, so it vectorises; EARSHOT_KERNEL
 * builds the B-row drivers once per instruction set (earshot_math.h).
 *
 * Forward, the gate block a of a row ([GH], rows of the header's gate
 * order) holds W x on entry, without the biases, and the gates after their
 * nonlinearity on exit.  Backward, dy [H] is dL/dh_t from the layer above and
 * dh [H] the part carried back from step t + 1. */

/* h' = tanh(a + b);  x [H]: a in, h' out */
EARSHOT_KERNEL_INLINE void
rnn_row_forward (size_t h, float *restrict x, const float *restrict bias)
{
  for (size_t j = 0; j < h; j++)
    x[j] = earshot_tanhf (x[j] + bias[j]);
}

/* x [rows x H] (the rows of h_t, holding W x + U h_{t-1}) <- tanh(x + b) */
static EARSHOT_KERNEL void
rnn_forward_gates (size_t rows, size_t h, float *x, const float *bias)
{
  for (size_t b = 0; b < rows; b++)
    rnn_row_forward (h, x + b * h, bias);
}

/* d(a) <- (dy + dh) (1 - h'^2) */
EARSHOT_KERNEL_INLINE void
rnn_row_backward (size_t h, const float *restrict dy,
    const float *restrict dh, const float *restrict hn, float *restrict da)
{
  for (size_t j = 0; j < h; j++)
    da[j] = (dy[j] + dh[j]) * (1.0f - hn[j] * hn[j]);
}

static EARSHOT_KERNEL void
rnn_backward_gates (size_t rows, size_t h, const float *dy, const float *dh,
    const float *hn, float *da)
{
  for (size_t b = 0; b < rows; b++)
    rnn_row_backward (h, dy + b * h, dh + b * h, hn + b * h, da + b * h);
}

/* LSTM:  i, f, o = sig(.), g = tanh(.);  c' = f c + i g,  h' = o tanh(c') */
EARSHOT_KERNEL_INLINE void
lstm_row_forward (size_t h, float *restrict ai, float *restrict af,
    float *restrict ag, float *restrict ao, const float *restrict bias,
    const float *restrict cp, float *restrict cn, float *restrict hn)
{
  const float *bi = bias, *bf = bias + h, *bg = bias + 2 * h;
  const float *bo = bias + 3 * h;
  for (size_t j = 0; j < h; j++) {
    float ig = earshot_sigmoidf (ai[j] + bi[j]);
    float fg = earshot_sigmoidf (af[j] + bf[j]);
    float gg = earshot_tanhf (ag[j] + bg[j]);
    float og = earshot_sigmoidf (ao[j] + bo[j]);
    ai[j] = ig;
    af[j] = fg;
    ag[j] = gg;
    ao[j] = og;
    float c = fg * cp[j] + ig * gg;
    cn[j] = c;
    hn[j] = og * earshot_tanhf (c);
  }
}

/* a [rows x 4H]; c_{t-1}, c_t, h_t: [rows x H] */
static EARSHOT_KERNEL void
lstm_forward_gates (size_t rows, size_t h, float *a, const float *bias,
    const float *cp, float *cn, float *hn)
{
  for (size_t b = 0; b < rows; b++) {
    float *ab = a + b * 4 * h;
    lstm_row_forward (h, ab, ab + h, ab + 2 * h, ab + 3 * h, bias,
        cp + b * h, cn + b * h, hn + b * h);
  }
}

/* With dh_t = dy + dh and dc_t = dc + dh_t o (1 - tanh^2 c'):
 *   d(a_i) = dc_t g i (1 - i),    d(a_f) = dc_t c f (1 - f),
 *   d(a_g) = dc_t i (1 - g^2),    d(a_o) = dh_t tanh(c') o (1 - o),
 * and dc <- dc_t f, carried to step t - 1.  tanh(c') is recomputed: cheaper
 * than storing it. */
EARSHOT_KERNEL_INLINE void
lstm_row_backward (size_t h, const float *restrict dy,
    const float *restrict dh, float *restrict dc, const float *restrict a,
    const float *restrict cp, const float *restrict cn, float *restrict di,
    float *restrict df, float *restrict dg, float *restrict dout)
{
  const float *ai = a, *af = a + h, *ag = a + 2 * h, *ao = a + 3 * h;
  for (size_t j = 0; j < h; j++) {
    float ig = ai[j], fg = af[j], gg = ag[j], og = ao[j];
    float d = dy[j] + dh[j], tc = earshot_tanhf (cn[j]);
    float dct = dc[j] + d * og * (1.0f - tc * tc);
    di[j] = dct * gg * ig * (1.0f - ig);
    df[j] = dct * cp[j] * fg * (1.0f - fg);
    dg[j] = dct * ig * (1.0f - gg * gg);
    dout[j] = d * tc * og * (1.0f - og);
    dc[j] = dct * fg;
  }
}

/* a, da: [rows x 4H]; the rest [rows x H] */
static EARSHOT_KERNEL void
lstm_backward_gates (size_t rows, size_t h, const float *dy, const float *dh,
    float *dc, const float *a, const float *cp, const float *cn, float *da)
{
  for (size_t b = 0; b < rows; b++) {
    float *d = da + b * 4 * h;
    size_t k = b * h;
    lstm_row_backward (h, dy + k, dh + k, dc + k, a + b * 4 * h, cp + k,
        cn + k, d, d + h, d + 2 * h, d + 3 * h);
  }
}

/* GRU, with v = U h_{t-1} (no bias):
 *   z = sig(az + bWz + bUz + vz),  r = sig(ar + bWr + bUr + vr),
 *   u = vn + bUn,  n = tanh(an + bWn + r u),  h' = (1 - z) n + z h;
 * u is kept for dr.  bw = bW [3H], bu = bU [3H]. */
EARSHOT_KERNEL_INLINE void
gru_row_forward (size_t h, float *restrict az, float *restrict ar,
    float *restrict an, const float *restrict v, const float *restrict bw,
    const float *restrict bu, const float *restrict hp,
    float *restrict hn, float *restrict un)
{
  const float *vz = v, *vr = v + h, *vn = v + 2 * h;
  for (size_t j = 0; j < h; j++) {
    float z = earshot_sigmoidf (az[j] + bw[j] + bu[j] + vz[j]);
    float r = earshot_sigmoidf (ar[j] + bw[h + j] + bu[h + j] + vr[j]);
    float u = vn[j] + bu[2 * h + j];
    float n = earshot_tanhf (an[j] + bw[2 * h + j] + r * u);
    az[j] = z;
    ar[j] = r;
    an[j] = n;
    un[j] = u;
    hn[j] = (1.0f - z) * n + z * hp[j];
  }
}

/* a, v: [rows x 3H]; h_{t-1}, h_t, u: [rows x H] */
static EARSHOT_KERNEL void
gru_forward_gates (size_t rows, size_t h, float *a, const float *v,
    const float *bw, const float *bu, const float *hp, float *hn, float *un)
{
  for (size_t b = 0; b < rows; b++) {
    float *ab = a + b * 3 * h;
    size_t k = b * h;
    gru_row_forward (h, ab, ab + h, ab + 2 * h, v + b * 3 * h, bw, bu,
        hp + k, hn + k, un + k);
  }
}

/* With dh_t = dy + dh:  d(an) = dh_t (1 - z) (1 - n^2) (the W side of n),
 *   d(az) = dh_t (h - n) z (1 - z),  d(ar) = d(an) u r (1 - r),
 *   d(Un h + bUn) = d(an) r,  and dh <- dh_t z, the direct path into
 * h_{t-1} (the caller adds the products with U).  What U h sees,
 * d(az), d(ar), d(an) r, goes to du [3H] (one GEMM with U carries it back
 * in time), d(an) to dn [H]. */
EARSHOT_KERNEL_INLINE void
gru_row_backward (size_t h, const float *restrict dy, float *restrict dh,
    const float *restrict a, const float *restrict un,
    const float *restrict hp, float *restrict dz, float *restrict dr,
    float *restrict dnr, float *restrict dn)
{
  const float *az = a, *ar = a + h, *an = a + 2 * h;
  for (size_t j = 0; j < h; j++) {
    float z = az[j], r = ar[j], n = an[j];
    float d = dy[j] + dh[j];
    float dnj = d * (1.0f - z) * (1.0f - n * n);
    dz[j] = d * (hp[j] - n) * z * (1.0f - z);
    dr[j] = dnj * un[j] * r * (1.0f - r);
    dnr[j] = dnj * r;
    dn[j] = dnj;
    dh[j] = d * z;
  }
}

/* a, du: [rows x 3H]; the rest [rows x H] */
static EARSHOT_KERNEL void
gru_backward_gates (size_t rows, size_t h, const float *dy, float *dh,
    const float *a, const float *un, const float *hp, float *du, float *dn)
{
  for (size_t b = 0; b < rows; b++) {
    float *d = du + b * 3 * h;
    size_t k = b * h;
    gru_row_backward (h, dy + k, dh + k, a + b * 3 * h, un + k, hp + k, d,
        d + h, d + 2 * h, dn + k);
  }
}

/* ---- Streaming step ---------------------------------------------------- */

/* One recurrent cell step for one stream.  x [I], state h [H] (LSTM: then
 * c [H]) updated in place; g: scratch of step_scratch() floats. */
static void
cell_step (const earshot_layer_spec *s, const float *p, const float *x,
    float *h, float *g)
{
  layer_parts q = parts_of (s);
  size_t i = s->n_in, n = s->n_out, gh = n_gates (s->type) * n;
  const float *w = p + q.w, *u = p + q.u;

  /* g <- W x;  W: [GH x I] */
  matvec (gh, i, w, x, false, g);

  switch (s->type) {
    case EARSHOT_LAYER_RNN:
      /* g += U h;  U: [H x H];  h' = tanh(g + b) */
      matvec (gh, n, u, h, true, g);
      memcpy (h, g, n * sizeof *h);
      rnn_forward_gates (1, n, h, p + q.b);
      break;
    case EARSHOT_LAYER_LSTM: {
      /* g += U h;  U: [4H x H], rows i, f, g, o */
      matvec (gh, n, u, h, true, g);
      float *cp = g + gh;       /* the kernel must not update c in place */
      memcpy (cp, h + n, n * sizeof *cp);
      lstm_forward_gates (1, n, g, p + q.b, cp, h + n, h);
      break;
    }
    case EARSHOT_LAYER_GRU: {
      /* v <- U h;  U: [3H x H], rows z, r, n */
      float *v = g + gh, *hp = v + gh, *un = hp + n;
      matvec (gh, n, u, h, false, v);
      memcpy (hp, h, n * sizeof *hp);   /* nor h */
      gru_forward_gates (1, n, g, v, p + q.b, p + q.bu, hp, h, un);
      break;
    }
    case EARSHOT_LAYER_DENSE:
      assert (0 && "dense layer in cell_step");
      break;
  }
}

void
earshot_net_step (const earshot_net *net, const float *x, float *state,
    float *scratch, float *probs)
{
  assert (net != NULL && x != NULL && scratch != NULL && probs != NULL);
  assert (state != NULL || net->state_size == 0);
  /* Dense outputs alternate between two halves so a layer never writes the
   * buffer it reads; recurrent layers output into their state. */
  float *buf[2] = { scratch, scratch + net->max_out };
  float *g = scratch + 2 * net->max_out;
  int next = 0;
  const float *in = x;
  for (size_t l = 0; l < net->n_layers; l++) {
    const earshot_layer_spec *s = &net->layers[l];
    const float *p = net->params + net->offset[l];
    if (s->type == EARSHOT_LAYER_DENSE) {
      layer_parts q = parts_of (s);
      float *y = l + 1 == net->n_layers ? probs : buf[next];
      next ^= 1;
      /* y <- act(W x + b);  W: [O x I] */
      memcpy (y, p + q.b, s->n_out * sizeof *y);
      matvec (s->n_out, s->n_in, p + q.w, in, true, y);
      activate (y, 1, s->n_out, s->activation);
      in = y;
    } else {
      float *h = state + net->state_off[l];
      cell_step (s, p, in, h, g);
      in = h;
    }
  }
}

/* ---- Workspace --------------------------------------------------------- */

/* Carves n floats (rounded up to 64 bytes) from a block.  With base NULL it
 * only sizes: *used grows (saturating) and NULL comes back. */
static float *
carve (float *base, size_t *used, size_t n)
{
  float *p = base != NULL ? base + *used : NULL;
  *used = add_sz (*used, mul_sz (add_sz (n, 15) / 16, 16));
  return p;
}

/* Lays the workspace out in `base` (or only sizes it with base NULL);
 * returns the float count, SIZE_MAX on overflow. */
static size_t
ws_layout (earshot_net_workspace *ws, const earshot_net *net, float *base)
{
  size_t n = mul_sz (ws->max_t, ws->max_b);
  size_t nb = mul_sz (add_sz (ws->max_t, 1), ws->max_b);
  size_t used = 0, width = 0, gates = 0, hidden = 0;
  for (size_t l = 0; l < net->n_layers; l++) {
    const earshot_layer_spec *s = &net->layers[l];
    ws_layer *w = &ws->l[l];
    size_t h = s->n_out, gh = n_gates (s->type) * h;
    w->xin = carve (base, &used, mul_sz (n, s->n_in));
    if (s->type == EARSHOT_LAYER_DENSE) {
      w->y = carve (base, &used, mul_sz (n, h));
    } else {
      w->hs = carve (base, &used, mul_sz (nb, h));
      if (s->type == EARSHOT_LAYER_LSTM)
        w->cs = carve (base, &used, mul_sz (nb, h));
      if (s->type != EARSHOT_LAYER_RNN)
        w->a = carve (base, &used, mul_sz (n, gh));
      if (s->type == EARSHOT_LAYER_GRU)
        w->un = carve (base, &used, mul_sz (n, h));
      hidden = max_sz (hidden, h);
    }
    /* layer 0 needs no dX */
    width = max_sz (width, max_sz (h, l > 0 ? s->n_in : 0));
    gates = max_sz (gates, gh);
  }
  ws->dbuf[0] = carve (base, &used, mul_sz (n, width));
  ws->dbuf[1] = carve (base, &used, mul_sz (n, width));
  ws->da = carve (base, &used, mul_sz (n, gates));
  ws->dn = carve (base, &used, mul_sz (n, hidden));
  ws->dh = carve (base, &used, mul_sz (ws->max_b, hidden));
  ws->dc = carve (base, &used, mul_sz (ws->max_b, hidden));
  ws->tmp = carve (base, &used, mul_sz (ws->max_b, gates));
  ws->ones = carve (base, &used, n);
  return used;
}

earshot_status
earshot_net_workspace_new (const earshot_net *net, size_t max_t,
    size_t max_b, earshot_net_workspace **out)
{
  assert (net != NULL && out != NULL);
  *out = NULL;
  /* BLAS takes int dimensions: N = T * B rows (and the h0 rows) must fit. */
  if (max_t == 0 || max_b == 0
      || mul_sz (add_sz (max_t, 1), max_b) > (size_t) INT_MAX)
    return EARSHOT_ERR_INVALID;
  earshot_net_workspace *ws = calloc (1, sizeof *ws);
  if (ws == NULL)
    return EARSHOT_ERR_NOMEM;
  ws->n_layers = net->n_layers;
  memcpy (ws->layers, net->layers, net->n_layers * sizeof *net->layers);
  ws->max_t = max_t;
  ws->max_b = max_b;
  size_t n = ws_layout (ws, net, NULL);
  if (n == SIZE_MAX || n > SIZE_MAX / sizeof (float)) {
    free (ws);
    return EARSHOT_ERR_NOMEM;
  }
  ws->block = malloc (n * sizeof (float));
  if (ws->block == NULL) {
    free (ws);
    return EARSHOT_ERR_NOMEM;
  }
  ws_layout (ws, net, ws->block);
  for (size_t k = 0; k < max_t * max_b; k++)
    ws->ones[k] = 1.0f;
  *out = ws;
  return EARSHOT_OK;
}

void
earshot_net_workspace_free (earshot_net_workspace *ws)
{
  if (ws == NULL)
    return;
  free (ws->block);
  free (ws);
}

/* The workspace must have been made for a net of this shape. */
static bool
ws_fits (const earshot_net_workspace *ws, const earshot_net *net)
{
  if (ws->n_layers != net->n_layers)
    return false;
  for (size_t l = 0; l < net->n_layers; l++) {
    const earshot_layer_spec *a = &ws->layers[l], *b = &net->layers[l];
    if (a->type != b->type || a->n_in != b->n_in || a->n_out != b->n_out)
      return false;
  }
  return true;
}

/* Output rows [N x n_out] of layer l in the last forward of B sequences. */
static const float *
layer_output (const earshot_net_workspace *ws, const earshot_net *net,
    size_t l)
{
  const earshot_layer_spec *s = &net->layers[l];
  if (s->type == EARSHOT_LAYER_DENSE)
    return ws->l[l].y;
  return ws->l[l].hs + ws->b * s->n_out;
}

/* ---- Dropout (forward and backward) ------------------------------------ */

/* Inverted dropout with a counter-based mask: element k of layer l's input
 * is kept iff the 24-bit hash of (seed, l, k) >= p * 2^24, so the backward
 * pass regenerates the mask instead of storing it. */
static uint64_t
dropout_key (uint64_t seed, size_t layer)
{
  return mix64 (seed ^ mix64 ((uint64_t) layer));
}

static bool
dropout_keep (uint64_t key, size_t k, uint32_t threshold)
{
  return (uint32_t) (mix64 (key + (uint64_t) k * 0x9e3779b97f4a7c15u) >> 40)
      >= threshold;
}

static uint32_t
dropout_threshold (float p)
{
  return (uint32_t) ((double) p * 16777216.0);
}

/* x' <- x * m / (1 - p), m ~ Bernoulli(1 - p);  x, x': [n] */
static void
dropout_forward (const float *x, float *xd, size_t n, float p, uint64_t key)
{
  uint32_t threshold = dropout_threshold (p);
  float scale = 1.0f / (1.0f - p);
  for (size_t k = 0; k < n; k++)
    xd[k] = dropout_keep (key, k, threshold) ? x[k] * scale : 0.0f;
}

/* dx <- dx' * m / (1 - p), in place */
static void
dropout_backward (float *d, size_t n, float p, uint64_t key)
{
  uint32_t threshold = dropout_threshold (p);
  float scale = 1.0f / (1.0f - p);
  for (size_t k = 0; k < n; k++)
    d[k] = dropout_keep (key, k, threshold) ? d[k] * scale : 0.0f;
}

/* ---- Sequence forward -------------------------------------------------- */

/* A recurrent layer over T steps of B sequences.  in [N x I]; w->hs rows
 * 0..B-1 (and w->cs for LSTM) already hold the initial state.  tmp:
 * [B x GH] of workspace. */
static void
recurrent_forward (const earshot_layer_spec *s, const float *p, ws_layer *w,
    const float *in, size_t t_len, size_t b_len, float *tmp)
{
  layer_parts q = parts_of (s);
  size_t i = s->n_in, h = s->n_out, gh = n_gates (s->type) * h;
  size_t n = t_len * b_len, bh = b_len * h;
  const float *wm = p + q.w, *um = p + q.u;
  /* RNN pre-activations go straight into the output rows (tanh in place). */
  float *a = s->type == EARSHOT_LAYER_RNN ? w->hs + bh : w->a;

  /* A <- X Wᵀ, all frames at once;  X: [N x I], W: [GH x I], A: [N x GH].
   * The gate kernels add the bias. */
  gemm (false, true, n, gh, i, 1.0f, in, i, wm, i, 0.0f, a, gh);

  for (size_t t = 0; t < t_len; t++) {
    const float *hp = w->hs + t * bh;     /* h_{t-1}: [B x H] */
    float *hn = w->hs + (t + 1) * bh;     /* h_t: [B x H] */
    float *at = a + t * b_len * gh;       /* [B x GH] */
    switch (s->type) {
      case EARSHOT_LAYER_RNN:
        /* A_t += H_{t-1} Uᵀ;  U: [H x H];  h_t = tanh(A_t + b) */
        gemm (false, true, b_len, gh, h, 1.0f, hp, h, um, h, 1.0f, at, gh);
        rnn_forward_gates (b_len, h, at, p + q.b);
        break;
      case EARSHOT_LAYER_LSTM:
        /* A_t += H_{t-1} Uᵀ;  U: [4H x H] */
        gemm (false, true, b_len, gh, h, 1.0f, hp, h, um, h, 1.0f, at, gh);
        lstm_forward_gates (b_len, h, at, p + q.b, w->cs + t * bh,
            w->cs + (t + 1) * bh, hn);
        break;
      case EARSHOT_LAYER_GRU:
        /* V <- H_{t-1} Uᵀ;  U: [3H x H], V: [B x 3H] */
        gemm (false, true, b_len, gh, h, 1.0f, hp, h, um, h, 0.0f, tmp, gh);
        gru_forward_gates (b_len, h, at, tmp, p + q.b, p + q.bu, hp, hn,
            w->un + t * bh);
        break;
      case EARSHOT_LAYER_DENSE:
        assert (0 && "dense layer in recurrent_forward");
        break;
    }
  }
}

earshot_status
earshot_net_forward_seq (const earshot_net *net, earshot_net_workspace *ws,
    const float *x, size_t t_len, size_t b_len, const float *state0,
    float *state_out, const earshot_net_train_opts *opts, float *probs)
{
  assert (net != NULL && ws != NULL && x != NULL);
  assert (ws_fits (ws, net));
  float dropout = opts != NULL ? opts->dropout : 0.0f;
  if (t_len == 0 || b_len == 0 || t_len > ws->max_t || b_len > ws->max_b
      || !(dropout >= 0.0f && dropout < 1.0f))
    return EARSHOT_ERR_INVALID;
  size_t n = t_len * b_len, ss = net->state_size;
  ws->t = t_len;
  ws->b = b_len;
  ws->dropout = dropout;
  ws->seed = opts != NULL ? opts->seed : 0;

  /* Initial states into the h0 (and c0) rows, before anything can write
   * state_out, which may alias state0. */
  for (size_t l = 0; l < net->n_layers; l++) {
    const earshot_layer_spec *s = &net->layers[l];
    if (!is_recurrent (s->type))
      continue;
    size_t h = s->n_out;
    for (size_t b = 0; b < b_len; b++) {
      const float *st = state0 != NULL ? state0 + b * ss + net->state_off[l]
          : NULL;
      if (st != NULL)
        memcpy (ws->l[l].hs + b * h, st, h * sizeof (float));
      else
        memset (ws->l[l].hs + b * h, 0, h * sizeof (float));
      if (s->type == EARSHOT_LAYER_LSTM) {
        if (st != NULL)
          memcpy (ws->l[l].cs + b * h, st + h, h * sizeof (float));
        else
          memset (ws->l[l].cs + b * h, 0, h * sizeof (float));
      }
    }
  }

  /* The input is kept: the first layer's dW needs it after x is gone. */
  memcpy (ws->l[0].xin, x, n * net->layers[0].n_in * sizeof (float));
  const float *in = ws->l[0].xin;
  for (size_t l = 0; l < net->n_layers; l++) {
    const earshot_layer_spec *s = &net->layers[l];
    const float *p = net->params + net->offset[l];
    ws_layer *w = &ws->l[l];
    if (l > 0 && dropout > 0.0f) {
      dropout_forward (in, w->xin, n * s->n_in, dropout,
          dropout_key (ws->seed, l));
      in = w->xin;
    }
    w->in = in;
    if (s->type == EARSHOT_LAYER_DENSE) {
      layer_parts q = parts_of (s);
      /* Y <- act(X Wᵀ + 1 bᵀ);  X: [N x I], W: [O x I], Y: [N x O] */
      fill_rows (w->y, n, s->n_out, p + q.b, s->n_out);
      gemm (false, true, n, s->n_out, s->n_in, 1.0f, in, s->n_in, p + q.w,
          s->n_in, 1.0f, w->y, s->n_out);
      activate (w->y, n, s->n_out, s->activation);
    } else {
      recurrent_forward (s, p, w, in, t_len, b_len, ws->tmp);
    }
    in = layer_output (ws, net, l);
  }

  if (probs != NULL)
    memcpy (probs, in, n * earshot_net_n_outputs (net) * sizeof *probs);

  if (state_out != NULL) {
    for (size_t l = 0; l < net->n_layers; l++) {
      const earshot_layer_spec *s = &net->layers[l];
      if (!is_recurrent (s->type))
        continue;
      size_t h = s->n_out, last = t_len * b_len * h;   /* row T*B: h_{T-1} */
      for (size_t b = 0; b < b_len; b++) {
        float *st = state_out + b * ss + net->state_off[l];
        memcpy (st, ws->l[l].hs + last + b * h, h * sizeof *st);
        if (s->type == EARSHOT_LAYER_LSTM)
          memcpy (st + h, ws->l[l].cs + last + b * h, h * sizeof *st);
      }
    }
  }
  return EARSHOT_OK;
}

/* ---- Backward ---------------------------------------------------------- */

/* Dense layer.  dy [N x O] is dL/dY on entry (for softmax: already dL/dZ)
 * and is overwritten with dL/dZ; dx [N x I] (NULL: not wanted) receives
 * dL/dX. */
static void
dense_backward (const earshot_layer_spec *s, const float *p, float *g,
    const ws_layer *w, size_t n, float *dy, float *dx, const float *ones)
{
  layer_parts q = parts_of (s);
  size_t i = s->n_in, o = s->n_out;
  /* dZ <- dY * act'(Z) */
  activate_backward (dy, w->y, n * o, s->activation);
  /* dW += dZᵀ X;  dZ: [N x O], X: [N x I], dW: [O x I] */
  gemm (true, false, o, i, n, 1.0f, dy, o, w->in, i, 1.0f, g + q.w, i);
  /* db += dZᵀ 1 */
  gemv (true, n, o, 1.0f, dy, o, ones, 1.0f, g + q.b);
  /* dX <- dZ W;  W: [O x I] */
  if (dx != NULL)
    gemm (false, false, n, i, o, 1.0f, dy, o, p + q.w, i, 0.0f, dx, i);
}

/* Recurrent layer, BPTT over all T steps.  dy [N x H] is dL/dh_t from the
 * layer above; dx [N x I] (NULL: not wanted) receives dL/dX.  The carry
 * into h_{-1} (state0) is dropped: truncated BPTT. */
static void
recurrent_backward (const earshot_layer_spec *s, const float *p, float *g,
    const ws_layer *w, size_t t_len, size_t b_len, const float *dy,
    float *dx, earshot_net_workspace *ws)
{
  layer_parts q = parts_of (s);
  size_t i = s->n_in, h = s->n_out, gh = n_gates (s->type) * h;
  size_t n = t_len * b_len, bh = b_len * h;
  const float *um = p + q.u;
  /* dA: [N x GH], the gradients of the pre-activations U h_{t-1} sees; for
   * GRU they differ from the W side in the n rows, whose W side is dN. */
  float *da = ws->da, *dh = ws->dh, *dc = ws->dc, *dn = ws->dn;

  memset (dh, 0, bh * sizeof *dh);
  memset (dc, 0, bh * sizeof *dc);
  for (size_t t = t_len; t-- > 0;) {
    const float *dyt = dy + t * bh;       /* dL/dh_t from above: [B x H] */
    float *dat = da + t * b_len * gh;     /* [B x GH] */
    const float *at = s->type == EARSHOT_LAYER_RNN ? NULL
        : w->a + t * b_len * gh;          /* gates [B x GH]; RNN: none */
    switch (s->type) {
      case EARSHOT_LAYER_RNN:
        rnn_backward_gates (b_len, h, dyt, dh, w->hs + (t + 1) * bh, dat);
        break;
      case EARSHOT_LAYER_LSTM:
        lstm_backward_gates (b_len, h, dyt, dh, dc, at, w->cs + t * bh,
            w->cs + (t + 1) * bh, dat);
        break;
      case EARSHOT_LAYER_GRU:
        gru_backward_gates (b_len, h, dyt, dh, at, w->un + t * bh,
            w->hs + t * bh, dat, dn + t * bh);
        break;
      case EARSHOT_LAYER_DENSE:
        assert (0 && "dense layer in recurrent_backward");
        break;
    }
    if (t == 0)
      break;      /* no gradient into state0 */
    /* dh_{t-1} <- dA_t U (GRU: += , after the direct path dh_t z);
     * dA_t: [B x GH], U: [GH x H] */
    gemm (false, false, b_len, h, gh, 1.0f, dat, gh, um, h,
        s->type == EARSHOT_LAYER_GRU ? 1.0f : 0.0f, dh, h);
  }

  /* Weight gradients over all N frames at once.  hs rows 0..N-1 are the
   * h_{t-1} of every frame: Hp [N x H]. */
  const float *hprev = w->hs;
  /* dU += dAᵀ Hp;  U: [GH x H];  GRU: dbU += dAᵀ 1 */
  gemm (true, false, gh, h, n, 1.0f, da, gh, hprev, h, 1.0f, g + q.u, h);
  if (s->type == EARSHOT_LAYER_GRU) {
    gemv (true, n, gh, 1.0f, da, gh, ws->ones, 1.0f, g + q.bu);
    /* The W side: dA[z,r] and dN.
     * dW[z,r] += dA[z,r]ᵀ X,  dW[n] += dNᵀ X;  X: [N x I], W: [3H x I] */
    gemm (true, false, 2 * h, i, n, 1.0f, da, gh, w->in, i, 1.0f, g + q.w, i);
    gemm (true, false, h, i, n, 1.0f, dn, h, w->in, i, 1.0f,
        g + q.w + 2 * h * i, i);
    /* db[z,r] += dA[z,r]ᵀ 1,  db[n] += dNᵀ 1 */
    gemv (true, n, 2 * h, 1.0f, da, gh, ws->ones, 1.0f, g + q.b);
    gemv (true, n, h, 1.0f, dn, h, ws->ones, 1.0f, g + q.b + 2 * h);
    /* dX <- dA[z,r] W[z,r] + dN W[n] */
    if (dx != NULL) {
      gemm (false, false, n, i, 2 * h, 1.0f, da, gh, p + q.w, i, 0.0f, dx,
          i);
      gemm (false, false, n, i, h, 1.0f, dn, h, p + q.w + 2 * h * i, i,
          1.0f, dx, i);
    }
  } else {
    /* dW += dAᵀ X;  dA: [N x GH], X: [N x I], dW: [GH x I] */
    gemm (true, false, gh, i, n, 1.0f, da, gh, w->in, i, 1.0f, g + q.w, i);
    /* db += dAᵀ 1 */
    gemv (true, n, gh, 1.0f, da, gh, ws->ones, 1.0f, g + q.b);
    /* dX <- dA W;  W: [GH x I] */
    if (dx != NULL)
      gemm (false, false, n, i, gh, 1.0f, da, gh, p + q.w, i, 0.0f, dx, i);
  }
}

double
earshot_net_backward_seq (const earshot_net *net, earshot_net_workspace *ws,
    const int32_t *targets, const float *class_weights, float *grad,
    size_t *n_correct, size_t *n_counted)
{
  assert (net != NULL && ws != NULL && targets != NULL && grad != NULL);
  assert (ws_fits (ws, net));
  assert (ws->t > 0 && "backward without a forward");
  size_t t_len = ws->t, b_len = ws->b, n = t_len * b_len;
  size_t nl = net->n_layers, c = earshot_net_n_outputs (net);
  const float *prob = ws->l[nl - 1].y;    /* [N x C] */

  /* Pass 1: the normaliser sum w[y] and the accuracy counts. */
  double wsum = 0.0;
  size_t counted = 0, correct = 0;
  for (size_t r = 0; r < n; r++) {
    int32_t y = targets[r];
    if (y < 0)
      continue;
    assert ((uint32_t) y < c);
    wsum += class_weights != NULL ? class_weights[y] : 1.0;
    counted++;
    const float *pr = prob + r * c;
    size_t best = 0;
    for (size_t k = 1; k < c; k++)
      best = pr[k] > pr[best] ? k : best;
    correct += best == (size_t) y;
  }
  if (n_correct != NULL)
    *n_correct = correct;
  if (n_counted != NULL)
    *n_counted = counted;
  if (counted == 0 || !(wsum > 0.0))
    return 0.0;

  /* Pass 2: softmax and cross-entropy fused.
   * L = sum_r w_r * -log p[r, y_r] / sum_r w_r
   * dZ[r] <- w_r / sum w * (p[r] - onehot(y_r));  dZ: [N x C] */
  int cur = 0;
  float *dz = ws->dbuf[cur];
  double loss = 0.0;
  for (size_t r = 0; r < n; r++) {
    int32_t y = targets[r];
    const float *pr = prob + r * c;
    float *d = dz + r * c;
    if (y < 0) {
      memset (d, 0, c * sizeof *d);
      continue;
    }
    double wr = class_weights != NULL ? class_weights[y] : 1.0;
    float scale = (float) (wr / wsum);
    double py = pr[y] > FLT_MIN ? pr[y] : FLT_MIN;
    loss -= wr * log (py);
    for (size_t k = 0; k < c; k++)
      d[k] = scale * pr[k];
    d[y] -= scale;
  }

  /* Layers top down; dbuf[cur] holds dL/d(output of layer l). */
  for (size_t l = nl; l-- > 0;) {
    const earshot_layer_spec *s = &net->layers[l];
    const float *p = net->params + net->offset[l];
    float *g = grad + net->offset[l];
    float *dy = ws->dbuf[cur];
    float *dx = l > 0 ? ws->dbuf[cur ^ 1] : NULL;
    if (s->type == EARSHOT_LAYER_DENSE)
      dense_backward (s, p, g, &ws->l[l], n, dy, dx, ws->ones);
    else
      recurrent_backward (s, p, g, &ws->l[l], t_len, b_len, dy, dx, ws);
    if (dx != NULL && ws->dropout > 0.0f)
      dropout_backward (dx, n * s->n_in, ws->dropout,
          dropout_key (ws->seed, l));
    cur ^= 1;
  }
  return loss / wsum;
}
