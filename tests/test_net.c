/* test_net.c — earshot_net: parameter layout against a naive double
 * reference, gradients against central differences, streaming step against
 * the batched sequence forward, chunked against whole, validation, seeding,
 * and a tiny training run. */
#include "earshot_net.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- Test helpers ------------------------------------------------------ */

static uint64_t rng_state = 0x5eed;

/* splitmix64: uniform in [0, 1) */
static double
urand (void)
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  z ^= z >> 31;
  return (double) (z >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform in [-a, a) */
static float
frand (float a)
{
  return (float) ((2.0 * urand () - 1.0) * a);
}

static void
fill_rand (float *v, size_t n, float a)
{
  for (size_t k = 0; k < n; k++)
    v[k] = frand (a);
}

static void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size);
  if (p == NULL) {
    fprintf (stderr, "test_net: out of memory\n");
    exit (2);
  }
  return p;
}

static earshot_net *
make_net (const earshot_layer_spec *spec, size_t n)
{
  earshot_net *net = NULL;
  char err[256];
  earshot_status st = earshot_net_new (spec, n, &net, err, sizeof err);
  if (st != EARSHOT_OK) {
    fprintf (stderr, "test_net: earshot_net_new: %s\n", err);
    exit (2);
  }
  return net;
}

static earshot_net_workspace *
make_ws (const earshot_net *net, size_t t, size_t b)
{
  earshot_net_workspace *ws = NULL;
  if (earshot_net_workspace_new (net, t, b, &ws) != EARSHOT_OK) {
    fprintf (stderr, "test_net: earshot_net_workspace_new failed\n");
    exit (2);
  }
  return ws;
}

static double
max_abs_diff (const float *a, const float *b, size_t n)
{
  double m = 0.0;
  for (size_t k = 0; k < n; k++) {
    double d = fabs ((double) a[k] - (double) b[k]);
    m = d > m ? d : m;
  }
  return m;
}

#define L_DENSE(i, o, act) { EARSHOT_LAYER_DENSE, i, o, act }
#define L_CELL(type, i, o) { type, i, o, EARSHOT_ACT_LINEAR }
#define SOFTMAX(i, o) L_DENSE (i, o, EARSHOT_ACT_SOFTMAX)

typedef struct {
  const char *name;
  earshot_layer_spec spec[8];
  size_t n;
} net_case;

/* ---- 4. Naive reference step (double, plain loops) --------------------- */

#define REF_MAX_W 64

static double
ref_sig (double x)
{
  return 1.0 / (1.0 + exp (-x));
}

/* sum_k M[row, k] v[k] for M [rows x cols] row-major */
static double
ref_dot (const float *m, size_t row, size_t cols, const double *v)
{
  double s = 0.0;
  for (size_t k = 0; k < cols; k++)
    s += (double) m[row * cols + k] * v[k];
  return s;
}

/* One step written straight from the layout documented in earshot_net.h;
 * state is laid out as documented (per recurrent layer h, then LSTM c). */
static void
ref_step (const earshot_net *net, const double *x, double *state,
    double *probs)
{
  const float *params = earshot_net_params_const (net);
  double in[REF_MAX_W], out[REF_MAX_W];
  size_t nin = earshot_net_n_inputs (net), so = 0;
  memcpy (in, x, nin * sizeof *in);
  for (size_t l = 0; l < earshot_net_n_layers (net); l++) {
    const earshot_layer_spec *s = earshot_net_layer (net, l);
    const float *p = params + earshot_net_layer_offset (net, l);
    size_t I = s->n_in, H = s->n_out;
    if (s->type == EARSHOT_LAYER_DENSE) {
      const float *W = p, *b = p + H * I;      /* W [O x I], b [O] */
      for (size_t j = 0; j < H; j++) {
        double a = ref_dot (W, j, I, in) + b[j];
        switch (s->activation) {
          case EARSHOT_ACT_TANH: a = tanh (a); break;
          case EARSHOT_ACT_RELU: a = a > 0 ? a : 0; break;
          default: break;
        }
        out[j] = a;
      }
      if (s->activation == EARSHOT_ACT_SOFTMAX) {
        double sum = 0.0;
        for (size_t j = 0; j < H; j++)
          sum += exp (out[j]);
        for (size_t j = 0; j < H; j++)
          out[j] = exp (out[j]) / sum;
      }
    } else if (s->type == EARSHOT_LAYER_RNN) {
      /* W [H x I], U [H x H], b [H] */
      const float *W = p, *U = W + H * I, *b = U + H * H;
      double *h = state + so;
      for (size_t j = 0; j < H; j++)
        out[j] = tanh (ref_dot (W, j, I, in) + ref_dot (U, j, H, h) + b[j]);
      memcpy (h, out, H * sizeof *h);
      so += H;
    } else if (s->type == EARSHOT_LAYER_GRU) {
      /* W [3H x I], U [3H x H], bW [3H], bU [3H]; rows z, r, n */
      const float *W = p, *U = W + 3 * H * I, *bW = U + 3 * H * H;
      const float *bU = bW + 3 * H;
      double *h = state + so;
      for (size_t j = 0; j < H; j++) {
        size_t rz = j, rr = H + j, rn = 2 * H + j;
        double z = ref_sig (ref_dot (W, rz, I, in) + bW[rz]
            + ref_dot (U, rz, H, h) + bU[rz]);
        double r = ref_sig (ref_dot (W, rr, I, in) + bW[rr]
            + ref_dot (U, rr, H, h) + bU[rr]);
        double n = tanh (ref_dot (W, rn, I, in) + bW[rn]
            + r * (ref_dot (U, rn, H, h) + bU[rn]));
        out[j] = (1 - z) * n + z * h[j];
      }
      memcpy (h, out, H * sizeof *h);
      so += H;
    } else {
      /* LSTM: W [4H x I], U [4H x H], b [4H]; rows i, f, g, o */
      const float *W = p, *U = W + 4 * H * I, *b = U + 4 * H * H;
      double *h = state + so, *c = state + so + H, cn[REF_MAX_W];
      for (size_t j = 0; j < H; j++) {
        double a[4];
        for (size_t g = 0; g < 4; g++)
          a[g] = ref_dot (W, g * H + j, I, in) + ref_dot (U, g * H + j, H, h)
              + b[g * H + j];
        cn[j] = ref_sig (a[1]) * c[j] + ref_sig (a[0]) * tanh (a[2]);
        out[j] = ref_sig (a[3]) * tanh (cn[j]);
      }
      memcpy (h, out, H * sizeof *h);
      memcpy (c, cn, H * sizeof *c);
      so += 2 * H;
    }
    memcpy (in, out, H * sizeof *in);
  }
  memcpy (probs, in, earshot_net_n_outputs (net) * sizeof *probs);
}

static void
test_reference (void)
{
  static const net_case cases[] = {
    { "rnn", { L_CELL (EARSHOT_LAYER_RNN, 5, 6), SOFTMAX (6, 3) }, 2 },
    { "gru", { L_CELL (EARSHOT_LAYER_GRU, 5, 6), SOFTMAX (6, 3) }, 2 },
    { "lstm", { L_CELL (EARSHOT_LAYER_LSTM, 5, 6), SOFTMAX (6, 3) }, 2 },
    { "mixed", {
        L_CELL (EARSHOT_LAYER_GRU, 5, 6),
        L_DENSE (6, 7, EARSHOT_ACT_RELU),
        L_CELL (EARSHOT_LAYER_LSTM, 7, 4),
        L_CELL (EARSHOT_LAYER_RNN, 4, 5),
        L_DENSE (5, 6, EARSHOT_ACT_TANH),
        L_DENSE (6, 4, EARSHOT_ACT_LINEAR),
        SOFTMAX (4, 3) }, 7 },
    /* widths that are not multiples of the vector lengths (4 to 16 floats)
     * or of the step's 4-row, 8-column products: vector bodies and
     * remainders both run */
    { "wide", {
        L_CELL (EARSHOT_LAYER_GRU, 41, 37),
        L_CELL (EARSHOT_LAYER_LSTM, 37, 21),
        L_CELL (EARSHOT_LAYER_RNN, 21, 19),
        L_DENSE (19, 23, EARSHOT_ACT_TANH),
        SOFTMAX (23, 5) }, 5 },
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    earshot_net *net = make_net (cases[ci].spec, cases[ci].n);
    /* every parameter random and non-zero-ish, biases included */
    fill_rand (earshot_net_params (net), earshot_net_n_params (net), 0.7f);
    size_t ss = earshot_net_state_size (net), ni = earshot_net_n_inputs (net);
    size_t no = earshot_net_n_outputs (net);
    float *state = xcalloc (ss, sizeof *state);
    float *scratch = xcalloc (earshot_net_scratch_size (net), sizeof *scratch);
    float x[REF_MAX_W], probs[REF_MAX_W];
    double xd[REF_MAX_W], rstate[4 * REF_MAX_W] = { 0 }, rprobs[REF_MAX_W];
    for (size_t k = 0; k < ss; k++)
      rstate[k] = state[k] = frand (0.5f);
    double err_p = 0.0, err_s = 0.0;
    for (int t = 0; t < 30; t++) {
      for (size_t k = 0; k < ni; k++)
        xd[k] = x[k] = frand (1.5f);
      earshot_net_step (net, x, state, scratch, probs);
      ref_step (net, xd, rstate, rprobs);
      for (size_t k = 0; k < no; k++)
        err_p = fmax (err_p, fabs (probs[k] - rprobs[k]));
      for (size_t k = 0; k < ss; k++)
        err_s = fmax (err_s, fabs (state[k] - rstate[k]));
    }
    printf ("reference %-6s: max |step - ref| probs %.3g, state %.3g\n",
        cases[ci].name, err_p, err_s);
    CHECK (err_p <= 1e-5, "%s: probs differ from the reference by %g",
        cases[ci].name, err_p);
    CHECK (err_s <= 1e-5, "%s: state differs from the reference by %g",
        cases[ci].name, err_s);
    free (state);
    free (scratch);
    earshot_net_free (net);
  }
}

/* ---- 1. Gradients against central differences -------------------------- */

/* Weighted mean cross-entropy of the forward's probs, in double, written
 * from the header's formula. */
static double
ref_loss (const float *probs, const int32_t *targets, size_t n, size_t c,
    const float *cw)
{
  double num = 0.0, den = 0.0;
  for (size_t r = 0; r < n; r++) {
    if (targets[r] < 0)
      continue;
    double w = cw != NULL ? cw[targets[r]] : 1.0;
    num += w * -log ((double) probs[r * c + targets[r]]);
    den += w;
  }
  return den > 0 ? num / den : 0.0;
}

static double
forward_loss (const earshot_net *net, earshot_net_workspace *ws,
    const float *x, size_t t, size_t b, const float *state0,
    const earshot_net_train_opts *opts, const int32_t *targets,
    const float *cw, float *probs)
{
  earshot_status st = earshot_net_forward_seq (net, ws, x, t, b, state0, NULL,
      opts, probs);
  CHECK (st == EARSHOT_OK, "forward_seq: %s", earshot_status_str (st));
  return ref_loss (probs, targets, t * b, earshot_net_n_outputs (net), cw);
}

static void
test_gradients (void)
{
  /* Float32 forward, central differences with eps = 1e-2: smaller steps let
   * the float rounding of the loss (~1e-7, divided by 2 eps) dominate,
   * larger ones the O(eps^2) truncation error; 1e-2 keeps both near 1e-5
   * absolute, so the floor of 1e-3 in the denominator of the relative error
   * is safe. */
  const float eps = 1e-2f;
  const double tol = 1e-2;
  enum { I = 5, T = 7, B = 3, C = 3 };
  static const net_case cases[] = {
    { "rnn", { L_CELL (EARSHOT_LAYER_RNN, I, 5), SOFTMAX (5, C) }, 2 },
    { "gru", { L_CELL (EARSHOT_LAYER_GRU, I, 4), SOFTMAX (4, C) }, 2 },
    { "lstm", { L_CELL (EARSHOT_LAYER_LSTM, I, 6), SOFTMAX (6, C) }, 2 },
    { "gru+lstm+tanh", {
        L_CELL (EARSHOT_LAYER_GRU, I, 4),
        L_CELL (EARSHOT_LAYER_LSTM, 4, 5),
        L_DENSE (5, 6, EARSHOT_ACT_TANH),
        SOFTMAX (6, C) }, 4 },
    { "rnn+linear+dropout", {
        L_CELL (EARSHOT_LAYER_RNN, I, 5),
        L_DENSE (5, 4, EARSHOT_ACT_LINEAR),
        L_CELL (EARSHOT_LAYER_GRU, 4, 4),
        SOFTMAX (4, C) }, 4 },
    /* one 16-float vector and a remainder in every gate kernel */
    { "wide gru+lstm+rnn", {
        L_CELL (EARSHOT_LAYER_GRU, I, 18),
        L_CELL (EARSHOT_LAYER_LSTM, 18, 17),
        L_CELL (EARSHOT_LAYER_RNN, 17, 17),
        SOFTMAX (17, C) }, 4 },
  };
  static const float cw[C] = { 0.5f, 1.0f, 2.0f };

  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    earshot_net *net = make_net (cases[ci].spec, cases[ci].n);
    size_t np = earshot_net_n_params (net), ss = earshot_net_state_size (net);
    float *params = earshot_net_params (net);
    /* the wide case's fan-ins of up to 35 would saturate its gates at
     * 0.6, and flat gates leave the differences to float rounding */
    fill_rand (params, np, np > 1000 ? 0.3f : 0.6f);
    float x[T * B * I], probs[T * B * C];
    float *state0 = xcalloc (B * ss, sizeof *state0);
    int32_t targets[T * B];
    fill_rand (x, T * B * I, 1.0f);
    fill_rand (state0, B * ss, 0.5f);
    for (size_t r = 0; r < T * B; r++)
      targets[r] = urand () < 0.2 ? -1 : (int32_t) (urand () * C);
    targets[0] = -1;
    bool dropout = strstr (cases[ci].name, "dropout") != NULL;
    earshot_net_train_opts opts = { dropout ? 0.3f : 0.0f, 42 };
    earshot_net_workspace *ws = make_ws (net, T, B);
    float *grad = xcalloc (np, sizeof *grad);

    double l0 = forward_loss (net, ws, x, T, B, state0, &opts, targets, cw,
        probs);
    size_t correct = 0, counted = 0, want_correct = 0, want_counted = 0;
    double lb = earshot_net_backward_seq (net, ws, targets, cw, grad,
        &correct, &counted);
    for (size_t r = 0; r < T * B; r++) {
      if (targets[r] < 0)
        continue;
      want_counted++;
      size_t best = 0;
      for (size_t k = 1; k < C; k++)
        best = probs[r * C + k] > probs[r * C + best] ? k : best;
      want_correct += best == (size_t) targets[r];
    }
    CHECK_NEAR (lb, l0, 1e-6 * fabs (l0), "backward's loss vs reference");
    CHECK (counted == want_counted && correct == want_correct,
        "counts %zu/%zu, want %zu/%zu", correct, counted, want_correct,
        want_counted);

    double worst = 0.0;
    size_t worst_k = 0;
    for (size_t k = 0; k < np; k++) {
      float saved = params[k];
      params[k] = saved + eps;
      double lp = forward_loss (net, ws, x, T, B, state0, &opts, targets, cw,
          probs);
      params[k] = saved - eps;
      double lm = forward_loss (net, ws, x, T, B, state0, &opts, targets, cw,
          probs);
      params[k] = saved;
      double num = (lp - lm) / (2.0 * (double) eps), ana = grad[k];
      double rel = fabs (ana - num) / fmax (fabs (ana) + fabs (num), 1e-3);
      if (rel > worst) {
        worst = rel;
        worst_k = k;
      }
      CHECK (rel < tol, "%s: param %zu: analytic %.7g, numeric %.7g (rel %g)",
          cases[ci].name, k, ana, num, rel);
    }
    printf ("gradient %-18s: %3zu params, max relative error %.3g "
        "(param %zu), eps %g\n", cases[ci].name, np, worst, worst_k,
        (double) eps);

    /* a second backward adds the same gradient again */
    float *grad2 = xcalloc (np, sizeof *grad2);
    memcpy (grad2, grad, np * sizeof *grad2);
    forward_loss (net, ws, x, T, B, state0, &opts, targets, cw, probs);
    earshot_net_backward_seq (net, ws, targets, cw, grad2, NULL, NULL);
    double acc = 0.0;
    for (size_t k = 0; k < np; k++)
      acc = fmax (acc, fabs (grad2[k] - 2.0f * grad[k]));
    CHECK (acc <= 1e-6, "%s: backward does not accumulate (%g)",
        cases[ci].name, acc);

    free (grad2);
    free (grad);
    free (state0);
    earshot_net_workspace_free (ws);
    earshot_net_free (net);
  }
}

/* ---- 2. Streaming step against the sequence forward --------------------- */

static const net_case stream_cases[] = {
  { "rnn", { L_CELL (EARSHOT_LAYER_RNN, 5, 8), SOFTMAX (8, 4) }, 2 },
  { "gru", { L_CELL (EARSHOT_LAYER_GRU, 5, 8), SOFTMAX (8, 4) }, 2 },
  { "lstm", { L_CELL (EARSHOT_LAYER_LSTM, 5, 8), SOFTMAX (8, 4) }, 2 },
  { "stack", {
      L_CELL (EARSHOT_LAYER_LSTM, 5, 8),
      L_CELL (EARSHOT_LAYER_GRU, 8, 6),
      L_DENSE (6, 7, EARSHOT_ACT_TANH),
      L_CELL (EARSHOT_LAYER_RNN, 7, 5),
      SOFTMAX (5, 4) }, 5 },
  /* the widths of a real model, and odd ones (see test_reference) */
  { "wide", {
      L_CELL (EARSHOT_LAYER_GRU, 40, 64),
      L_CELL (EARSHOT_LAYER_LSTM, 64, 37),
      L_CELL (EARSHOT_LAYER_RNN, 37, 19),
      SOFTMAX (19, 4) }, 4 },
};

/* A net of a case, initialised from a seed and with non-zero biases. */
static earshot_net *
stream_net (const net_case *c, uint64_t seed)
{
  earshot_net *net = make_net (c->spec, c->n);
  earshot_net_init (net, seed);
  float *p = earshot_net_params (net);
  for (size_t k = 0; k < earshot_net_n_params (net); k++)
    p[k] += frand (0.1f);
  return net;
}

static void
test_step_vs_seq (void)
{
  enum { T = 1000, B = 3 };
  const double tol = 1e-5;
  for (size_t ci = 0; ci < sizeof stream_cases / sizeof stream_cases[0];
      ci++) {
    earshot_net *net = stream_net (&stream_cases[ci], 100 + ci);
    size_t ni = earshot_net_n_inputs (net), no = earshot_net_n_outputs (net);
    size_t ss = earshot_net_state_size (net);
    float *x = xcalloc (T * B * ni, sizeof *x);
    float *x1 = xcalloc (T * ni, sizeof *x1);
    float *p_seq = xcalloc (T * B * no, sizeof *p_seq);
    float *p_one = xcalloc (T * no, sizeof *p_one);
    float *p_step = xcalloc (T * no, sizeof *p_step);
    float *state0 = xcalloc (B * ss, sizeof *state0);
    float *state_out = xcalloc (B * ss, sizeof *state_out);
    float *st = xcalloc (ss, sizeof *st), *st1 = xcalloc (ss, sizeof *st1);
    float *scratch = xcalloc (earshot_net_scratch_size (net), sizeof *scratch);
    earshot_net_workspace *ws = make_ws (net, T, B);
    fill_rand (x, T * B * ni, 1.5f);
    fill_rand (state0, B * ss, 0.5f);

    /* all B sequences at once */
    CHECK (earshot_net_forward_seq (net, ws, x, T, B, state0, state_out, NULL,
        p_seq) == EARSHOT_OK, "forward_seq B=%d", B);
    double e_step = 0.0, e_state = 0.0, e_batch = 0.0, e_bstate = 0.0;
    for (size_t b = 0; b < B; b++) {
      for (size_t t = 0; t < T; t++)
        memcpy (x1 + t * ni, x + (t * B + b) * ni, ni * sizeof *x1);
      /* the stepped stream */
      memcpy (st, state0 + b * ss, ss * sizeof *st);
      for (size_t t = 0; t < T; t++)
        earshot_net_step (net, x1 + t * ni, st, scratch, p_step + t * no);
      /* the same sequence alone, B = 1 */
      CHECK (earshot_net_forward_seq (net, ws, x1, T, 1, state0 + b * ss,
          st1, NULL, p_one) == EARSHOT_OK, "forward_seq B=1");
      e_step = fmax (e_step, max_abs_diff (p_step, p_one, T * no));
      e_state = fmax (e_state, max_abs_diff (st, st1, ss));
      for (size_t t = 0; t < T; t++)
        e_batch = fmax (e_batch, max_abs_diff (p_seq + (t * B + b) * no,
            p_one + t * no, no));
      e_bstate = fmax (e_bstate, max_abs_diff (state_out + b * ss, st1, ss));
    }
    printf ("step vs seq %-5s: %d frames, max |diff| step/B=1 %.3g, state "
        "%.3g, B=%d/B=1 %.3g, state %.3g\n", stream_cases[ci].name, T,
        e_step, e_state, B, e_batch, e_bstate);
    CHECK (e_step <= tol, "%s: step vs forward_seq: %g",
        stream_cases[ci].name, e_step);
    CHECK (e_state <= tol, "%s: stepped state vs state_out: %g",
        stream_cases[ci].name, e_state);
    CHECK (e_batch <= tol, "%s: B=%d vs B=1: %g", stream_cases[ci].name, B,
        e_batch);
    CHECK (e_bstate <= tol, "%s: B=%d state_out vs B=1: %g",
        stream_cases[ci].name, B, e_bstate);

    /* NULL state0 means zeros */
    memset (state0, 0, ss * sizeof *state0);
    earshot_net_forward_seq (net, ws, x1, 50, 1, state0, NULL, NULL, p_one);
    earshot_net_forward_seq (net, ws, x1, 50, 1, NULL, NULL, NULL, p_step);
    CHECK (max_abs_diff (p_one, p_step, 50 * no) == 0.0,
        "%s: NULL state0 is not zeros", stream_cases[ci].name);

    earshot_net_workspace_free (ws);
    free (scratch);
    free (st1);
    free (st);
    free (state_out);
    free (state0);
    free (p_step);
    free (p_one);
    free (p_seq);
    free (x1);
    free (x);
    earshot_net_free (net);
  }
}

/* ---- 3. Chunked forward with carried state equals one long forward ------ */

static void
test_chunks (void)
{
  enum { T = 1000, B = 2 };
  const double tol = 1e-5;
  for (size_t ci = 0; ci < sizeof stream_cases / sizeof stream_cases[0];
      ci++) {
    earshot_net *net = stream_net (&stream_cases[ci], 200 + ci);
    size_t ni = earshot_net_n_inputs (net), no = earshot_net_n_outputs (net);
    size_t ss = earshot_net_state_size (net);
    float *x = xcalloc (T * B * ni, sizeof *x);
    float *p_whole = xcalloc (T * B * no, sizeof *p_whole);
    float *p_chunk = xcalloc (T * B * no, sizeof *p_chunk);
    float *state0 = xcalloc (B * ss, sizeof *state0);
    float *s_whole = xcalloc (B * ss, sizeof *s_whole);
    float *st = xcalloc (B * ss, sizeof *st);
    earshot_net_workspace *big = make_ws (net, T, B);
    earshot_net_workspace *small = make_ws (net, 150, B);
    fill_rand (x, T * B * ni, 1.5f);
    fill_rand (state0, B * ss, 0.5f);

    earshot_net_forward_seq (net, big, x, T, B, state0, s_whole, NULL,
        p_whole);
    /* random chunk sizes; state_out aliases state0 */
    memcpy (st, state0, B * ss * sizeof *st);
    size_t n_chunks = 0;
    for (size_t t0 = 0; t0 < T; n_chunks++) {
      size_t len = 1 + (size_t) (urand () * 150);
      len = len > T - t0 ? T - t0 : len;
      CHECK (earshot_net_forward_seq (net, small, x + t0 * B * ni, len, B, st,
          st, NULL, p_chunk + t0 * B * no) == EARSHOT_OK, "chunk at %zu", t0);
      t0 += len;
    }
    double e_p = max_abs_diff (p_whole, p_chunk, T * B * no);
    double e_s = max_abs_diff (s_whole, st, B * ss);
    printf ("chunks %-5s: %zu chunks, max |diff| probs %.3g, state %.3g\n",
        stream_cases[ci].name, n_chunks, e_p, e_s);
    CHECK (e_p <= tol, "%s: chunked probs differ by %g",
        stream_cases[ci].name, e_p);
    CHECK (e_s <= tol, "%s: chunked state differs by %g",
        stream_cases[ci].name, e_s);

    earshot_net_workspace_free (small);
    earshot_net_workspace_free (big);
    free (st);
    free (s_whole);
    free (state0);
    free (p_chunk);
    free (p_whole);
    free (x);
    earshot_net_free (net);
  }
}

/* ---- 5. Validation, accessors, ownership -------------------------------- */

static void
expect_invalid (const char *what, const earshot_layer_spec *spec, size_t n)
{
  earshot_net *net = (earshot_net *) &net;   /* not NULL: must come back so */
  char err[256] = "";
  earshot_status st = earshot_net_new (spec, n, &net, err, sizeof err);
  CHECK (st == EARSHOT_ERR_INVALID, "%s: status %s", what,
      earshot_status_str (st));
  CHECK (net == NULL, "%s: *out not NULL", what);
  CHECK (err[0] != '\0', "%s: empty message", what);
  printf ("rejected %-22s: %s\n", what, err);
  if (st == EARSHOT_OK)
    earshot_net_free (net);
}

static void
test_validation (void)
{
  {
    earshot_layer_spec s[] = { L_CELL (EARSHOT_LAYER_GRU, 5, 6),
      SOFTMAX (7, 3) };
    expect_invalid ("width mismatch", s, 2);
  }
  {
    earshot_layer_spec s[] = { SOFTMAX (5, 4), SOFTMAX (4, 3) };
    expect_invalid ("softmax not last", s, 2);
  }
  {
    earshot_layer_spec s[] = { L_CELL (EARSHOT_LAYER_GRU, 5, 6),
      L_DENSE (6, 3, EARSHOT_ACT_TANH) };
    expect_invalid ("last not softmax", s, 2);
  }
  {
    earshot_layer_spec s[] = { L_CELL (EARSHOT_LAYER_LSTM, 5, 6) };
    expect_invalid ("last recurrent", s, 1);
  }
  {
    earshot_layer_spec s[] = { L_CELL (EARSHOT_LAYER_GRU, 5, 0),
      SOFTMAX (0, 3) };
    expect_invalid ("zero units", s, 2);
  }
  {
    earshot_layer_spec s[] = { L_DENSE (5, 1u << 31, EARSHOT_ACT_TANH),
      SOFTMAX (1u << 31, 3) };
    expect_invalid ("2^31 units", s, 2);
  }
  {
    earshot_layer_spec s[] = { SOFTMAX (65536, 65536) };
    expect_invalid ("too many parameters", s, 1);
  }
  {
    earshot_layer_spec s[] = { SOFTMAX (5, 1) };
    expect_invalid ("one class", s, 1);
  }
  {
    earshot_layer_spec s[] = { { (earshot_layer_type) 9, 5, 5, 0 },
      SOFTMAX (5, 3) };
    expect_invalid ("unknown type", s, 2);
  }
  {
    earshot_layer_spec s[] = { L_DENSE (5, 5, (earshot_activation) 7),
      SOFTMAX (5, 3) };
    expect_invalid ("unknown activation", s, 2);
  }
  {
    earshot_layer_spec s[EARSHOT_NET_MAX_LAYERS + 1];
    for (size_t k = 0; k < EARSHOT_NET_MAX_LAYERS; k++)
      s[k] = (earshot_layer_spec) L_DENSE (4, 4, EARSHOT_ACT_TANH);
    s[EARSHOT_NET_MAX_LAYERS] = (earshot_layer_spec) SOFTMAX (4, 3);
    expect_invalid ("too many layers", s, EARSHOT_NET_MAX_LAYERS + 1);
    /* exactly the limit is fine */
    earshot_net *net = NULL;
    CHECK (earshot_net_new (s + 1, EARSHOT_NET_MAX_LAYERS, &net, NULL, 0)
        == EARSHOT_OK, "%d layers rejected", EARSHOT_NET_MAX_LAYERS);
    earshot_net_free (net);
  }
  expect_invalid ("no layers", NULL, 0);

  /* stacks */
  earshot_net *net = NULL;
  char err[256] = "";
  CHECK (earshot_net_new_stack (EARSHOT_LAYER_DENSE, 5, 8, 2, 3, &net, err,
      sizeof err) == EARSHOT_ERR_INVALID && net == NULL && err[0] != '\0',
      "stack of dense layers accepted");
  CHECK (earshot_net_new_stack (EARSHOT_LAYER_GRU, 5, 8, 64, 3, &net, err,
      sizeof err) == EARSHOT_ERR_INVALID && err[0] != '\0',
      "stack of 65 layers accepted");
  CHECK (earshot_net_new_stack (EARSHOT_LAYER_LSTM, 5, 6, 2, 3, &net, err,
      sizeof err) == EARSHOT_OK && net != NULL, "stack: %s", err);

  /* accessors of the LSTM(5,6) -> LSTM(6,6) -> softmax(6,3) stack */
  CHECK (earshot_net_n_layers (net) == 3, "n_layers");
  CHECK (earshot_net_n_inputs (net) == 5 && earshot_net_n_outputs (net) == 3,
      "widths");
  CHECK (earshot_net_layer (net, 1)->type == EARSHOT_LAYER_LSTM
      && earshot_net_layer (net, 1)->n_in == 6
      && earshot_net_layer (net, 2)->activation == EARSHOT_ACT_SOFTMAX,
      "layer specs");
  size_t want[3] = { 4 * 6 * 5 + 4 * 6 * 6 + 4 * 6, 4 * 6 * 6 * 2 + 4 * 6,
    6 * 3 + 3 };
  size_t off = 0;
  for (size_t l = 0; l < 3; l++) {
    CHECK (earshot_net_layer_n_params (net, l) == want[l]
        && earshot_layer_spec_n_params (earshot_net_layer (net, l)) == want[l],
        "layer %zu: %zu params, want %zu", l,
        earshot_net_layer_n_params (net, l), want[l]);
    CHECK (earshot_net_layer_offset (net, l) == off, "layer %zu offset", l);
    off += want[l];
  }
  CHECK (earshot_net_n_params (net) == off, "n_params");
  CHECK (earshot_net_params (net) == earshot_net_params_const (net),
      "params accessors");
  CHECK (earshot_net_state_size (net) == 2 * 6 + 2 * 6, "state size");
  {
    earshot_layer_spec g = L_CELL (EARSHOT_LAYER_GRU, 5, 6);
    earshot_layer_spec r = L_CELL (EARSHOT_LAYER_RNN, 5, 6);
    earshot_layer_spec z = L_CELL (EARSHOT_LAYER_RNN, 5, 0);
    CHECK (earshot_layer_spec_n_params (&g) == 3 * 6 * 5 + 3 * 6 * 6 + 2 * 18,
        "gru params");
    CHECK (earshot_layer_spec_n_params (&r) == 6 * 5 + 6 * 6 + 6,
        "rnn params");
    CHECK (earshot_layer_spec_n_params (&z) == 0, "invalid spec params");
  }

  /* a copy is deep */
  earshot_net_init (net, 7);
  earshot_net *copy = NULL;
  CHECK (earshot_net_copy (net, &copy) == EARSHOT_OK && copy != NULL, "copy");
  CHECK (earshot_net_n_params (copy) == earshot_net_n_params (net)
      && memcmp (earshot_net_params (copy), earshot_net_params (net),
          earshot_net_n_params (net) * sizeof (float)) == 0
      && earshot_net_params (copy) != earshot_net_params (net),
      "copy is not a deep copy");
  earshot_net_params (copy)[0] += 1.0f;
  CHECK (earshot_net_params (copy)[0] != earshot_net_params (net)[0],
      "copy shares parameters");

  /* NULL frees */
  earshot_net_free (NULL);
  earshot_net_workspace_free (NULL);

  /* workspace limits */
  earshot_net_workspace *ws = NULL;
  CHECK (earshot_net_workspace_new (net, 0, 4, &ws) == EARSHOT_ERR_INVALID
      && ws == NULL, "workspace with max_t 0");
  CHECK (earshot_net_workspace_new (net, SIZE_MAX / 2, 4, &ws)
      == EARSHOT_ERR_INVALID && ws == NULL, "workspace of SIZE_MAX/2 steps");
  ws = make_ws (net, 10, 2);
  float x[11 * 3 * 5] = { 0 }, probs[11 * 3 * 3];
  CHECK (earshot_net_forward_seq (net, ws, x, 11, 1, NULL, NULL, NULL, probs)
      == EARSHOT_ERR_INVALID, "T > max_t accepted");
  CHECK (earshot_net_forward_seq (net, ws, x, 3, 3, NULL, NULL, NULL, probs)
      == EARSHOT_ERR_INVALID, "B > max_b accepted");
  CHECK (earshot_net_forward_seq (net, ws, x, 0, 1, NULL, NULL, NULL, probs)
      == EARSHOT_ERR_INVALID, "T = 0 accepted");
  earshot_net_train_opts bad = { 1.0f, 1 };
  CHECK (earshot_net_forward_seq (net, ws, x, 10, 2, NULL, NULL, &bad, probs)
      == EARSHOT_ERR_INVALID, "dropout 1 accepted");
  CHECK (earshot_net_forward_seq (net, ws, x, 10, 2, NULL, NULL, NULL, probs)
      == EARSHOT_OK, "T = max_t, B = max_b rejected");

  /* no counted frame: loss 0, gradient untouched */
  int32_t none[20];
  for (size_t k = 0; k < 20; k++)
    none[k] = -1;
  float *grad = xcalloc (earshot_net_n_params (net), sizeof *grad);
  size_t correct = 9, counted = 9;
  double l = earshot_net_backward_seq (net, ws, none, NULL, grad, &correct,
      &counted);
  double gmax = 0.0;
  for (size_t k = 0; k < earshot_net_n_params (net); k++)
    gmax = fmax (gmax, fabs (grad[k]));
  CHECK (l == 0.0 && gmax == 0.0 && counted == 0 && correct == 0,
      "no counted frames: loss %g, |grad| %g, counted %zu", l, gmax, counted);

  /* dropout: same seed same outputs, other seed other outputs */
  float pa[30 * 3], pb[30 * 3];
  fill_rand (x, 10 * 2 * 5, 1.0f);
  earshot_net_train_opts o1 = { 0.5f, 1 }, o2 = { 0.5f, 2 };
  earshot_net_forward_seq (net, ws, x, 10, 2, NULL, NULL, &o1, pa);
  earshot_net_forward_seq (net, ws, x, 10, 2, NULL, NULL, &o1, pb);
  CHECK (memcmp (pa, pb, 10 * 2 * 3 * sizeof *pa) == 0,
      "dropout is not deterministic");
  earshot_net_forward_seq (net, ws, x, 10, 2, NULL, NULL, &o2, pb);
  CHECK (max_abs_diff (pa, pb, 10 * 2 * 3) > 1e-4,
      "dropout seed makes no difference");

  free (grad);
  earshot_net_workspace_free (ws);
  earshot_net_free (copy);
  earshot_net_free (net);
}

/* ---- 6. Deterministic initialisation ----------------------------------- */

static void
test_init (void)
{
  enum { I = 5, H = 6, C = 3 };
  earshot_layer_spec spec[] = { L_CELL (EARSHOT_LAYER_LSTM, I, H),
    L_CELL (EARSHOT_LAYER_GRU, H, H), SOFTMAX (H, C) };
  earshot_net *a = make_net (spec, 3), *b = make_net (spec, 3);
  size_t np = earshot_net_n_params (a);
  earshot_net_init (a, 1234);
  earshot_net_init (b, 1234);
  CHECK (memcmp (earshot_net_params (a), earshot_net_params (b),
      np * sizeof (float)) == 0, "same seed, different parameters");
  earshot_net_init (b, 1235);
  CHECK (memcmp (earshot_net_params (a), earshot_net_params (b),
      np * sizeof (float)) != 0, "different seeds, same parameters");

  /* LSTM: W [4H x I], U [4H x H], b [4H] with rows i, f, g, o */
  const float *p = earshot_net_params (a);
  const float *bias = p + 4 * H * I + 4 * H * H;
  bool forget_one = true, other_zero = true, w_in = true, u_in = true;
  float wlim = sqrtf (6.0f / (I + 4 * H)), ulim = 1.0f / sqrtf (H);
  double w_sum2 = 0.0;
  for (size_t j = 0; j < 4 * H; j++) {
    if (j >= H && j < 2 * H)
      forget_one &= bias[j] == 1.0f;
    else
      other_zero &= bias[j] == 0.0f;
  }
  for (size_t k = 0; k < 4 * H * I; k++) {
    w_in &= fabsf (p[k]) <= wlim;
    w_sum2 += p[k] * p[k];
  }
  for (size_t k = 0; k < 4 * H * H; k++)
    u_in &= fabsf (p[4 * H * I + k]) <= ulim;
  CHECK (forget_one, "LSTM forget biases are not exactly 1");
  CHECK (other_zero, "other LSTM biases are not 0");
  CHECK (w_in && u_in, "initial weights out of range");
  /* uniform(-a, a) has variance a^2 / 3; 120 samples: within 40 % */
  double var = w_sum2 / (4 * H * I), want = wlim * wlim / 3.0;
  CHECK (fabs (var - want) < 0.4 * want, "W variance %g, want %g", var, want);

  /* GRU biases (both) zero */
  size_t off = earshot_net_layer_offset (a, 1);
  bool gru_zero = true;
  for (size_t k = 3 * H * H + 3 * H * H; k < 3 * H * H * 2 + 6 * H; k++)
    gru_zero &= p[off + k] == 0.0f;
  CHECK (gru_zero, "GRU biases are not 0");
  earshot_net_free (a);
  earshot_net_free (b);
}

/* ---- 7. A tiny training run -------------------------------------------- */

/* Toy task: class 1 iff the sum of channel 0 over the last 3 frames is
 * positive; channel 1 is a distractor.  Frames 0 and 1 are not scored. */
static void
toy_batch (float *x, int32_t *y, size_t t_len, size_t b_len)
{
  for (size_t b = 0; b < b_len; b++) {
    for (size_t t = 0; t < t_len; t++) {
      float *f = x + (t * b_len + b) * 2;
      f[0] = frand (1.0f);
      f[1] = frand (1.0f);
      if (t < 2) {
        y[t * b_len + b] = -1;
        continue;
      }
      float s = f[0] + x[((t - 1) * b_len + b) * 2]
          + x[((t - 2) * b_len + b) * 2];
      y[t * b_len + b] = s > 0.0f;
    }
  }
}

static void
test_training (void)
{
  enum { T = 24, B = 16, STEPS = 200 };
  earshot_net *net = NULL;
  CHECK (earshot_net_new_stack (EARSHOT_LAYER_GRU, 2, 12, 1, 2, &net, NULL, 0)
      == EARSHOT_OK, "toy net");
  earshot_net_init (net, 3);
  size_t np = earshot_net_n_params (net);
  float *p = earshot_net_params (net);
  float *g = xcalloc (np, sizeof *g), *m = xcalloc (np, sizeof *m);
  float *v = xcalloc (np, sizeof *v);
  float x[T * B * 2], xv[T * B * 2];
  int32_t y[T * B], yv[T * B];
  earshot_net_workspace *ws = make_ws (net, T, B);
  toy_batch (xv, yv, T, B);      /* held out */

  earshot_net_forward_seq (net, ws, xv, T, B, NULL, NULL, NULL, NULL);
  double before = earshot_net_backward_seq (net, ws, yv, NULL, g, NULL, NULL);

  /* Adam, lr 0.02 */
  const float lr = 0.02f, b1 = 0.9f, b2 = 0.999f;
  float b1t = 1.0f, b2t = 1.0f;
  for (int step = 0; step < STEPS; step++) {
    toy_batch (x, y, T, B);
    memset (g, 0, np * sizeof *g);
    earshot_net_forward_seq (net, ws, x, T, B, NULL, NULL, NULL, NULL);
    earshot_net_backward_seq (net, ws, y, NULL, g, NULL, NULL);
    b1t *= b1;
    b2t *= b2;
    for (size_t k = 0; k < np; k++) {
      m[k] = b1 * m[k] + (1 - b1) * g[k];
      v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
      p[k] -= lr * (m[k] / (1 - b1t)) / (sqrtf (v[k] / (1 - b2t)) + 1e-8f);
    }
  }
  earshot_net_forward_seq (net, ws, xv, T, B, NULL, NULL, NULL, NULL);
  size_t correct = 0, counted = 0;
  double after = earshot_net_backward_seq (net, ws, yv, NULL, g, &correct,
      &counted);
  printf ("training: held-out loss %.4f -> %.4f after %d Adam steps, "
      "accuracy %.3f\n", before, after, STEPS, (double) correct / counted);
  CHECK (after <= 0.5 * before, "loss %g -> %g: not halved", before, after);

  earshot_net_workspace_free (ws);
  free (v);
  free (m);
  free (g);
  earshot_net_free (net);
}

int
main (void)
{
  test_reference ();
  test_gradients ();
  test_step_vs_seq ();
  test_chunks ();
  test_validation ();
  test_init ();
  test_training ();
  return check_finish ("net");
}
