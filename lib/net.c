/* net.c — recurrent frame classifiers: layer stack and streaming step.
 * The sequence forward and backward (BPTT) that training runs are in
 * net_seq.c (earshot_net_private.h says why they are apart).
 *
 * Conventions.  Matrices are row-major; "[R x C]" in a comment is the shape
 * of the operand as stored.  Batched activations are time-major: row
 * t * B + b of an [N x K] block (N = T * B) belongs to frame t of sequence b.
 * Each operation has its maths in a one-line comment; dX is dL/dX (the
 * backward halves are in net_seq.c).
 *
 * Gates are stored fused, in the order of the header: a recurrent layer with
 * G gates (RNN 1, GRU 3, LSTM 4) has W [GH x I], U [GH x H], and its
 * pre-activations a = W x + b (+ U h) form one row of GH floats.
 */
#include "earshot_net_private.h"
#include "earshot_math.h"

#include <assert.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Small helpers ----------------------------------------------------- */

/* splitmix64 as a sequential generator: uniform in [0, 1) with 24 bits. */
static float
next_uniform (uint64_t *state)
{
  uint64_t z = mix64 (*state);
  *state += 0x9e3779b97f4a7c15u;
  return (float) (z >> 40) * (1.0f / 16777216.0f);
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

/* ---- Layer geometry ---------------------------------------------------- */

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

/* ---- Dense activations ------------------------------------------------- */

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

/* ---- Gate kernels ------------------------------------------------------ */

/* The elementwise part of a recurrent step, over the B sequences of one
 * time step (B = 1 for earshot_net_step, which runs the same kernels).
 * Each row function is one loop over the H units without calls or
 * branches, its arrays restrict-qualified, so it vectorises; EARSHOT_KERNEL
 * builds the B-row drivers once per instruction set (earshot_math.h).
 *
 * Forward, the gate block a of a row ([GH], rows of the header's gate
 * order) holds W x on entry, without the biases, and the gates after their
 * nonlinearity on exit.  The backward kernels are in net_seq.c. */

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

/* The kernels above for net_seq.c (earshot_net_private.h), under the
 * module's prefix; the step keeps calling the static kernels directly. */
void
earshot_net_activate (float *y, size_t rows, size_t n,
    earshot_activation act)
{
  activate (y, rows, n, act);
}

void
earshot_net_rnn_forward_gates (size_t rows, size_t h, float *x,
    const float *bias)
{
  rnn_forward_gates (rows, h, x, bias);
}

void
earshot_net_lstm_forward_gates (size_t rows, size_t h, float *a,
    const float *bias, const float *cp, float *cn, float *hn)
{
  lstm_forward_gates (rows, h, a, bias, cp, cn, hn);
}

void
earshot_net_gru_forward_gates (size_t rows, size_t h, float *a,
    const float *v, const float *bw, const float *bu, const float *hp,
    float *hn, float *un)
{
  gru_forward_gates (rows, h, a, v, bw, bu, hp, hn, un);
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

