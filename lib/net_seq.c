/* net_seq.c — the net module's batched sequence passes, which training
 * runs: forward over T frames of B sequences at once, and backward
 * through time (BPTT).  The layer stack, the streaming step and the
 * forward gate kernels are in net.c; the conventions (row-major, time-major
 * batches, fused gates) are those of its header comment.  The only code in
 * the core that calls CBLAS (see earshot_net_private.h for why it is a file
 * of its own). */
#include "earshot_net_private.h"
#include "earshot_math.h"

#include <assert.h>
#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Copies the row v [n] into each of the `rows` rows of m [rows x ld]. */
static void
fill_rows (float *m, size_t rows, size_t ld, const float *v, size_t n)
{
  for (size_t r = 0; r < rows; r++)
    memcpy (m + r * ld, v, n * sizeof *m);
}

/* ---- Backward kernels -------------------------------------------------- */

/* The backward halves of net.c's activations and gate kernels (see there
 * for the layout): dy [H] is dL/dh_t from the layer above, dh [H] the part
 * carried back from step t + 1. */

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
        earshot_net_rnn_forward_gates (b_len, h, at, p + q.b);
        break;
      case EARSHOT_LAYER_LSTM:
        /* A_t += H_{t-1} Uᵀ;  U: [4H x H] */
        gemm (false, true, b_len, gh, h, 1.0f, hp, h, um, h, 1.0f, at, gh);
        earshot_net_lstm_forward_gates (b_len, h, at, p + q.b, w->cs + t * bh,
            w->cs + (t + 1) * bh, hn);
        break;
      case EARSHOT_LAYER_GRU:
        /* V <- H_{t-1} Uᵀ;  U: [3H x H], V: [B x 3H] */
        gemm (false, true, b_len, gh, h, 1.0f, hp, h, um, h, 0.0f, tmp, gh);
        earshot_net_gru_forward_gates (b_len, h, at, tmp, p + q.b, p + q.bu,
            hp, hn, w->un + t * bh);
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
      earshot_net_activate (w->y, n, s->n_out, s->activation);
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
