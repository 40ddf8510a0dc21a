/* train.c — training a net on labelled feature sequences: batching in lanes,
 * truncated BPTT through earshot_net, Adam and SGD, clipping, schedules,
 * checkpoints, and forward-only evaluation.
 *
 * The checkpoint format (version 1), all integers and floats little-endian:
 *
 *   "EARSHCK\x1a"  u32 version
 *   u32 n_layers   n_layers x { u32 type  u32 n_in  u32 n_out  u32 activation }
 *   u64 n_params
 *   params:  u32 optimizer  f32 learning_rate momentum beta1 beta2 epsilon
 *            weight_decay clip_norm  u32 warmup_steps  f32 lr_decay
 *            u32 chunk_frames batch_size  f32 dropout  u64 seed
 *            u32 n_class_weights (0 or n_outputs)  f32 class_weights[...]
 *   u64 steps  u32 epochs  u32 n_moments (Adam 2, SGD 1)  u64 rng[4]
 *   f32 params[n_params]  f32 moments[n_moments x n_params]
 *   u64 extra_size  byte extra[extra_size]
 *   u32 crc32 of every byte before it
 *
 * The loader parses with a bounds-checked reader before it trusts any count,
 * checks the length and the checksum, compares everything with the trainer,
 * and only then touches the trainer: a refused file leaves it as it was.
 */
#include "earshot_train.h"
#include "earshot_private.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_MAGIC "EARSHCK\x1a"
#define CKPT_MAGIC_LEN 8
#define CKPT_VERSION 1u

#define MAX_BATCH 4096u
#define MAX_CHUNK 100000u

/* earshot_evaluate's batch: lanes of sequences, frames per chunk.  Enough
 * rows (EVAL_LANES * EVAL_CHUNK) for the input GEMMs to run at full speed,
 * few enough that the workspace stays small for a large net. */
#define EVAL_LANES 8u
#define EVAL_CHUNK 256u

/* ---- Random numbers ---------------------------------------------------- */

/* splitmix64: expands a seed into the xoshiro state. */
static uint64_t
splitmix64 (uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static void
rng_seed (uint64_t r[4], uint64_t seed)
{
  uint64_t s = seed;
  for (int i = 0; i < 4; i++)
    r[i] = splitmix64 (&s);
}

static uint64_t
rotl (uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna). */
static uint64_t
rng_next (uint64_t r[4])
{
  uint64_t result = rotl (r[1] * 5, 7) * 9;
  uint64_t t = r[1] << 17;
  r[2] ^= r[0];
  r[3] ^= r[1];
  r[1] ^= r[2];
  r[0] ^= r[3];
  r[2] ^= t;
  r[3] = rotl (r[3], 45);
  return result;
}

/* Uniform in [0, n), n >= 1, without modulo bias: values below 2^64 mod n
 * are redrawn, so the rest is a whole number of copies of [0, n). */
static uint64_t
rng_below (uint64_t r[4], uint64_t n)
{
  uint64_t threshold = (0 - n) % n;
  uint64_t x;
  do
    x = rng_next (r);
  while (x < threshold);
  return x % n;
}

/* ---- Small helpers ----------------------------------------------------- */

static size_t
min_sz (size_t a, size_t b)
{
  return a < b ? a : b;
}

/* calloc of n elements, at least one, so that an empty buffer (a net without
 * recurrent state) is still a valid pointer; NULL on overflow or failure. */
static void *
alloc0 (size_t n, size_t size)
{
  return calloc (n > 0 ? n : 1, size);
}

/* Index of the largest value, the first on ties: net.c's rule. */
static size_t
argmax (const float *p, size_t n)
{
  size_t best = 0;
  for (size_t k = 1; k < n; k++)
    best = p[k] > p[best] ? k : best;
  return best;
}

/* The sequences an epoch or an evaluation may use: non-NULL arrays, targets
 * below n_classes, finite features; empty ones only where allowed. */
static bool
sequences_ok (const earshot_sequence *seqs, size_t n_seqs, size_t n_inputs,
    size_t n_classes, bool allow_empty)
{
  if (n_seqs > 0 && seqs == NULL)
    return false;
  for (size_t s = 0; s < n_seqs; s++) {
    const earshot_sequence *q = &seqs[s];
    if (q->n_frames == 0) {
      if (!allow_empty)
        return false;
      continue;
    }
    if (q->features == NULL || q->targets == NULL
        || q->n_frames > SIZE_MAX / n_inputs)
      return false;
    for (size_t t = 0; t < q->n_frames; t++)
      if (q->targets[t] >= 0 && (size_t) q->targets[t] >= n_classes)
        return false;
    for (size_t k = 0; k < q->n_frames * n_inputs; k++)
      if (!isfinite (q->features[k]))
        return false;
  }
  return true;
}

static bool
class_weights_ok (const float *w, size_t n)
{
  if (w == NULL)
    return true;
  for (size_t c = 0; c < n; c++)
    if (!(isfinite (w[c]) && w[c] >= 0.0f))
      return false;
  return true;
}

/* ---- Lanes ------------------------------------------------------------- */

/* B lanes walk sequences in a given order, each in consecutive chunks, the
 * recurrent state carried per lane in state [B x S]; a lane that takes a new
 * sequence zeroes its state.  Shared by training (shuffled order, random
 * start offsets) and evaluation (given order, offset 0). */
typedef struct {
  size_t seq;       /* index into seqs, or SIZE_MAX: idle */
  size_t pos;       /* next frame of that sequence */
  size_t len;       /* frames of it in the current chunk */
} lane;

typedef struct {
  const earshot_sequence *seqs;
  const size_t *order;    /* [n] sequence indices, or NULL: 0..n-1 */
  const size_t *offset;   /* [n] first frame of each (by position in order),
                             or NULL: 0 */
  size_t n;               /* sequences to visit */
  size_t next;            /* position in order of the next one */
  lane *lanes;            /* [b] */
  size_t t, b;            /* chunk frames, lanes */
  size_t n_in, ss;        /* floats per frame, per lane state */
} feeder;

static void
feeder_start (feeder *f)
{
  f->next = 0;
  for (size_t b = 0; b < f->b; b++)
    f->lanes[b].seq = SIZE_MAX;
}

/* Fills x [T' x B x n_in] and y [T' x B] with the next chunk of every lane;
 * frames past a lane's data are zero with target -1.  Idle lanes take the
 * next sequence, with zero state.  Returns T' (the longest lane's chunk, at
 * most t), 0 when every sequence is done. */
static size_t
feeder_fill (feeder *f, float *x, int32_t *y, float *state)
{
  size_t t_eff = 0;
  for (size_t b = 0; b < f->b; b++) {
    lane *ln = &f->lanes[b];
    /* Empty sequences (evaluation allows them) are passed over, so that a
     * round of them cannot end the walk early. */
    while (ln->seq == SIZE_MAX && f->next < f->n) {
      size_t s = f->order != NULL ? f->order[f->next] : f->next;
      size_t pos = f->offset != NULL ? f->offset[f->next] : 0;
      f->next++;
      if (pos >= f->seqs[s].n_frames)
        continue;
      ln->seq = s;
      ln->pos = pos;
      memset (state + b * f->ss, 0, f->ss * sizeof *state);
    }
    ln->len = 0;
    if (ln->seq != SIZE_MAX) {
      ln->len = min_sz (f->t, f->seqs[ln->seq].n_frames - ln->pos);
      t_eff = ln->len > t_eff ? ln->len : t_eff;
    }
  }
  for (size_t t = 0; t < t_eff; t++) {
    for (size_t b = 0; b < f->b; b++) {
      const lane *ln = &f->lanes[b];
      float *row = x + (t * f->b + b) * f->n_in;
      if (t < ln->len) {
        const earshot_sequence *q = &f->seqs[ln->seq];
        size_t frame = ln->pos + t;
        memcpy (row, q->features + frame * f->n_in, f->n_in * sizeof *row);
        y[t * f->b + b] = q->targets[frame];
      } else {
        memset (row, 0, f->n_in * sizeof *row);
        y[t * f->b + b] = -1;
      }
    }
  }
  return t_eff;
}

/* Moves every lane past its chunk; returns the sequence frames consumed. */
static size_t
feeder_advance (feeder *f)
{
  size_t done = 0;
  for (size_t b = 0; b < f->b; b++) {
    lane *ln = &f->lanes[b];
    if (ln->seq == SIZE_MAX)
      continue;
    ln->pos += ln->len;
    done += ln->len;
    if (ln->pos >= f->seqs[ln->seq].n_frames)
      ln->seq = SIZE_MAX;
  }
  return done;
}

/* ---- Statistics -------------------------------------------------------- */

/* Frames with a target in probs [n x c] / y [n]: adds to the confusion
 * matrix [c x c] (row target, column argmax), the class-weight sum and the
 * weighted cross-entropy sum (as earshot_net_backward_seq computes it).
 * Returns the frames counted. */
static size_t
score (const float *probs, const int32_t *y, size_t n, size_t c,
    const float *weights, uint64_t *confusion, double *wsum, double *lsum)
{
  size_t counted = 0;
  for (size_t r = 0; r < n; r++) {
    if (y[r] < 0)
      continue;
    const float *p = probs + r * c;
    size_t k = (size_t) y[r];
    double w = weights != NULL ? weights[k] : 1.0;
    double py = p[k] > FLT_MIN ? p[k] : FLT_MIN;
    confusion[k * c + argmax (p, c)]++;
    if (wsum != NULL)
      *wsum += w;
    if (lsum != NULL)
      *lsum -= w * log (py);
    counted++;
  }
  return counted;
}

/* Frames, accuracy and macro-F1 from a confusion matrix [c x c]; the F1 mean
 * runs over the classes that occur as a target or as a prediction. */
static void
stats_from_confusion (earshot_train_stats *st, const uint64_t *confusion,
    size_t c)
{
  uint64_t total = 0, correct = 0;
  double f1_sum = 0.0;
  size_t f1_n = 0;
  for (size_t k = 0; k < c; k++) {
    uint64_t tp = confusion[k * c + k], row = 0, col = 0;
    for (size_t j = 0; j < c; j++) {
      row += confusion[k * c + j];
      col += confusion[j * c + k];
    }
    total += row;
    correct += tp;
    if (row + col > 0) {
      /* F1 = 2 tp / (2 tp + fp + fn) = 2 tp / (row + col) */
      f1_sum += 2.0 * (double) tp / (double) (row + col);
      f1_n++;
    }
  }
  st->frames = (size_t) total;
  st->correct = (size_t) correct;
  st->accuracy = total > 0 ? (double) correct / (double) total : 0.0;
  st->macro_f1 = f1_n > 0 ? f1_sum / (double) f1_n : 0.0;
}

/* ---- The trainer ------------------------------------------------------- */

struct earshot_trainer {
  earshot_net *net;             /* borrowed, trained in place */
  earshot_train_params params;  /* class_weights points at our copy */
  float *class_weights;         /* [c] owned copy, or NULL */
  size_t n_params, n_in, n_classes, state_size;
  earshot_net_workspace *ws;    /* for T = chunk_frames, B = batch_size */
  float *x;                     /* [T x B x n_in] batch input */
  int32_t *y;                   /* [T x B] batch targets */
  float *state;                 /* [B x state_size] carried per lane */
  float *probs;                 /* [T x B x c] outputs of the batch */
  lane *lanes;                  /* [B] */
  uint64_t *confusion;          /* [c x c] of the current epoch */
  float *grad;                  /* [n_params] */
  float *m;                     /* [n_params] Adam first moment / SGD
                                   velocity */
  float *v;                     /* [n_params] Adam second moment; NULL for
                                   SGD */
  size_t *order;                /* [cap_seqs] epoch's visiting order */
  size_t *offset;               /* [cap_seqs] start frame per position */
  size_t cap_seqs;
  uint64_t rng[4];              /* xoshiro256** state */
  uint64_t steps;               /* optimiser updates so far */
  uint32_t epochs;              /* completed epochs */
};

earshot_train_params
earshot_train_default_params (void)
{
  earshot_train_params p;
  memset (&p, 0, sizeof p);
  p.optimizer = EARSHOT_OPT_ADAM;
  p.learning_rate = 1e-3f;
  p.momentum = 0.9f;
  p.beta1 = 0.9f;
  p.beta2 = 0.999f;
  p.epsilon = 1e-8f;
  p.weight_decay = 0.0f;
  p.clip_norm = 5.0f;
  p.warmup_steps = 0;
  p.lr_decay = 1.0f;
  p.chunk_frames = 100;
  p.batch_size = 32;
  p.dropout = 0.0f;
  p.seed = 0;
  p.class_weights = NULL;
  return p;
}

/* A float field within [lo, hi] (or [lo, hi) with open_hi, (lo, hi] with
 * open_lo), and finite. */
static bool
in_range (float v, float lo, float hi, bool open_lo, bool open_hi)
{
  if (!isfinite (v))
    return false;
  if (open_lo ? !(v > lo) : !(v >= lo))
    return false;
  return open_hi ? v < hi : v <= hi;
}

static earshot_status
check_params (const earshot_train_params *p, size_t n_classes, char *err,
    size_t err_size)
{
  const earshot_status inv = EARSHOT_ERR_INVALID;
  if (p->optimizer != EARSHOT_OPT_ADAM && p->optimizer != EARSHOT_OPT_SGD)
    return earshot_fail (err, err_size, inv, "optimizer %d is neither "
        "EARSHOT_OPT_ADAM nor EARSHOT_OPT_SGD", (int) p->optimizer);
  if (!in_range (p->learning_rate, 0.0f, FLT_MAX, true, false))
    return earshot_fail (err, err_size, inv, "learning_rate is %g; it must "
        "be finite and > 0", (double) p->learning_rate);
  if (!in_range (p->momentum, 0.0f, 1.0f, false, true))
    return earshot_fail (err, err_size, inv, "momentum is %g; it must be in "
        "[0, 1)", (double) p->momentum);
  if (!in_range (p->beta1, 0.0f, 1.0f, false, true))
    return earshot_fail (err, err_size, inv, "beta1 is %g; it must be in "
        "[0, 1)", (double) p->beta1);
  if (!in_range (p->beta2, 0.0f, 1.0f, false, true))
    return earshot_fail (err, err_size, inv, "beta2 is %g; it must be in "
        "[0, 1)", (double) p->beta2);
  if (!in_range (p->epsilon, 0.0f, FLT_MAX, true, false))
    return earshot_fail (err, err_size, inv, "epsilon is %g; it must be "
        "finite and > 0", (double) p->epsilon);
  if (!in_range (p->weight_decay, 0.0f, FLT_MAX, false, false))
    return earshot_fail (err, err_size, inv, "weight_decay is %g; it must be "
        "finite and >= 0", (double) p->weight_decay);
  if (!in_range (p->clip_norm, 0.0f, FLT_MAX, false, false))
    return earshot_fail (err, err_size, inv, "clip_norm is %g; it must be "
        "finite and >= 0 (0: no clipping)", (double) p->clip_norm);
  if (!in_range (p->lr_decay, 0.0f, 1.0f, true, false))
    return earshot_fail (err, err_size, inv, "lr_decay is %g; it must be in "
        "(0, 1]", (double) p->lr_decay);
  if (p->chunk_frames < 1 || p->chunk_frames > MAX_CHUNK)
    return earshot_fail (err, err_size, inv, "chunk_frames is %u; it must be "
        "in 1..%u", p->chunk_frames, MAX_CHUNK);
  if (p->batch_size < 1 || p->batch_size > MAX_BATCH)
    return earshot_fail (err, err_size, inv, "batch_size is %u; it must be "
        "in 1..%u", p->batch_size, MAX_BATCH);
  if (!in_range (p->dropout, 0.0f, 1.0f, false, true))
    return earshot_fail (err, err_size, inv, "dropout is %g; it must be in "
        "[0, 1)", (double) p->dropout);
  if (p->class_weights != NULL) {
    double sum = 0.0;
    for (size_t c = 0; c < n_classes; c++) {
      float w = p->class_weights[c];
      if (!in_range (w, 0.0f, FLT_MAX, false, false))
        return earshot_fail (err, err_size, inv, "class_weights[%zu] is %g; "
            "every weight must be finite and >= 0", c, (double) w);
      sum += w;
    }
    if (!(sum > 0.0))
      return earshot_fail (err, err_size, inv, "class_weights are all 0; at "
          "least one class must count");
  }
  return EARSHOT_OK;
}

earshot_status
earshot_trainer_new (earshot_net *net, const earshot_train_params *params,
    earshot_trainer **out, char *err, size_t err_size)
{
  assert (net != NULL && params != NULL && out != NULL);
  *out = NULL;
  size_t c = earshot_net_n_outputs (net);
  earshot_status st = check_params (params, c, err, err_size);
  if (st != EARSHOT_OK)
    return st;

  earshot_trainer *tr = calloc (1, sizeof *tr);
  if (tr == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
  tr->net = net;
  tr->params = *params;
  tr->n_params = earshot_net_n_params (net);
  tr->n_in = earshot_net_n_inputs (net);
  tr->n_classes = c;
  tr->state_size = earshot_net_state_size (net);
  size_t t = params->chunk_frames, b = params->batch_size;

  /* T <= 1e5 and B <= 4096: every product below fits in 64 bits. */
  st = earshot_net_workspace_new (net, t, b, &tr->ws);
  if (st != EARSHOT_OK) {
    earshot_trainer_free (tr);
    return earshot_fail (err, err_size, st, "cannot make a workspace for "
        "chunk_frames %zu x batch_size %zu: %s", t, b,
        earshot_status_str (st));
  }
  tr->x = alloc0 (t * b * tr->n_in, sizeof *tr->x);
  tr->y = alloc0 (t * b, sizeof *tr->y);
  tr->state = alloc0 (b * tr->state_size, sizeof *tr->state);
  tr->probs = alloc0 (t * b * c, sizeof *tr->probs);
  tr->lanes = alloc0 (b, sizeof *tr->lanes);
  tr->confusion = alloc0 (c * c, sizeof *tr->confusion);
  tr->grad = alloc0 (tr->n_params, sizeof *tr->grad);
  tr->m = alloc0 (tr->n_params, sizeof *tr->m);
  if (params->optimizer == EARSHOT_OPT_ADAM)
    tr->v = alloc0 (tr->n_params, sizeof *tr->v);
  if (params->class_weights != NULL) {
    tr->class_weights = alloc0 (c, sizeof *tr->class_weights);
    if (tr->class_weights != NULL)
      memcpy (tr->class_weights, params->class_weights,
          c * sizeof *tr->class_weights);
  }
  tr->params.class_weights = tr->class_weights;
  if (tr->x == NULL || tr->y == NULL || tr->state == NULL
      || tr->probs == NULL || tr->lanes == NULL || tr->confusion == NULL
      || tr->grad == NULL || tr->m == NULL
      || (params->optimizer == EARSHOT_OPT_ADAM && tr->v == NULL)
      || (params->class_weights != NULL && tr->class_weights == NULL)) {
    earshot_trainer_free (tr);
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory "
        "for the training buffers");
  }
  rng_seed (tr->rng, params->seed);
  *out = tr;
  if (err != NULL && err_size > 0)
    err[0] = '\0';
  return EARSHOT_OK;
}

void
earshot_trainer_free (earshot_trainer *tr)
{
  if (tr == NULL)
    return;
  earshot_net_workspace_free (tr->ws);
  free (tr->x);
  free (tr->y);
  free (tr->state);
  free (tr->probs);
  free (tr->lanes);
  free (tr->confusion);
  free (tr->grad);
  free (tr->m);
  free (tr->v);
  free (tr->class_weights);
  free (tr->order);
  free (tr->offset);
  free (tr);
}

uint32_t
earshot_trainer_epochs (const earshot_trainer *tr)
{
  assert (tr != NULL);
  return tr->epochs;
}

uint64_t
earshot_trainer_steps (const earshot_trainer *tr)
{
  assert (tr != NULL);
  return tr->steps;
}

/* The rate of optimiser step number `step` (0-based) in epoch `epoch`:
 * linear warm-up lr (step + 1) / warmup, then lr * lr_decay^epoch. */
static double
rate_at (const earshot_train_params *p, uint64_t step, uint32_t epoch)
{
  double lr = (double) p->learning_rate * pow ((double) p->lr_decay, epoch);
  if (step < p->warmup_steps)
    lr *= (double) (step + 1) / (double) p->warmup_steps;
  return lr;
}

/* One update of the flat parameter array from tr->grad, the gradient scaled
 * by gscale (the clip).  Decoupled weight decay acts on the old weights:
 *   Adam: m <- b1 m + (1-b1) g,  v <- b2 v + (1-b2) g^2,
 *         w <- w - lr (m / (1-b1^t) / (sqrt(v / (1-b2^t)) + eps) + wd w)
 *   SGD:  m <- mu m + g,  w <- w - lr (m + wd w) */
static void
optimizer_update (earshot_trainer *tr, float lr, float gscale)
{
  const earshot_train_params *p = &tr->params;
  float *w = earshot_net_params (tr->net);
  const float *g = tr->grad;
  float *m = tr->m, *v = tr->v;
  size_t n = tr->n_params;
  float wd = p->weight_decay;

  if (p->optimizer == EARSHOT_OPT_ADAM) {
    double t = (double) tr->steps + 1.0;
    float b1 = p->beta1, b2 = p->beta2, eps = p->epsilon;
    float c1 = (float) (1.0 / (1.0 - pow ((double) b1, t)));
    float c2 = (float) (1.0 / (1.0 - pow ((double) b2, t)));
    for (size_t k = 0; k < n; k++) {
      float gk = g[k] * gscale;
      m[k] = b1 * m[k] + (1.0f - b1) * gk;
      v[k] = b2 * v[k] + (1.0f - b2) * gk * gk;
      w[k] -= lr * (m[k] * c1 / (sqrtf (v[k] * c2) + eps) + wd * w[k]);
    }
  } else {
    float mu = p->momentum;
    for (size_t k = 0; k < n; k++) {
      m[k] = mu * m[k] + g[k] * gscale;
      w[k] -= lr * (m[k] + wd * w[k]);
    }
  }
}

/* Makes room for n sequences in the epoch's order and offset arrays; they
 * only ever grow. */
static bool
reserve_seqs (earshot_trainer *tr, size_t n)
{
  if (n <= tr->cap_seqs)
    return true;
  if (n > SIZE_MAX / sizeof (size_t))
    return false;
  size_t *o = realloc (tr->order, n * sizeof *o);
  if (o == NULL)
    return false;
  tr->order = o;
  size_t *f = realloc (tr->offset, n * sizeof *f);
  if (f == NULL)
    return false;
  tr->offset = f;
  tr->cap_seqs = n;
  return true;
}

static void
epoch_stats (const earshot_trainer *tr, earshot_train_stats *stats,
    double loss_sum, double weight_sum, double lr_last)
{
  stats->loss = weight_sum > 0.0 ? loss_sum / weight_sum : 0.0;
  stats_from_confusion (stats, tr->confusion, tr->n_classes);
  stats->steps = tr->steps;
  stats->learning_rate = lr_last;
}

earshot_status
earshot_trainer_epoch (earshot_trainer *tr, const earshot_sequence *seqs,
    size_t n_seqs, earshot_train_stats *stats,
    earshot_progress_fn progress, void *user)
{
  assert (tr != NULL && stats != NULL);
  const earshot_train_params *p = &tr->params;
  size_t c = tr->n_classes, t_max = p->chunk_frames, b = p->batch_size;

  memset (stats, 0, sizeof *stats);
  stats->steps = tr->steps;
  if (n_seqs == 0 || !sequences_ok (seqs, n_seqs, tr->n_in, c, false))
    return EARSHOT_ERR_INVALID;
  if (!reserve_seqs (tr, n_seqs))
    return EARSHOT_ERR_NOMEM;

  /* The epoch's draws, in a fixed order: the shuffle (Fisher-Yates), one
   * start offset per sequence, then one dropout seed per batch. */
  for (size_t k = 0; k < n_seqs; k++)
    tr->order[k] = k;
  for (size_t k = n_seqs - 1; k > 0; k--) {
    size_t j = (size_t) rng_below (tr->rng, (uint64_t) k + 1);
    size_t tmp = tr->order[k];
    tr->order[k] = tr->order[j];
    tr->order[j] = tmp;
  }
  size_t total = 0;
  for (size_t k = 0; k < n_seqs; k++) {
    size_t n = seqs[tr->order[k]].n_frames;
    tr->offset[k] = (size_t) rng_below (tr->rng, min_sz (t_max, n));
    total += n - tr->offset[k];
  }

  feeder f = { seqs, tr->order, tr->offset, n_seqs, 0, tr->lanes, t_max, b,
    tr->n_in, tr->state_size };
  feeder_start (&f);
  memset (tr->confusion, 0, c * c * sizeof *tr->confusion);
  double loss_sum = 0.0, weight_sum = 0.0, lr_last = rate_at (p, tr->steps,
      tr->epochs);
  size_t done = 0;
  bool finished = true;
  size_t t_len;
  while ((t_len = feeder_fill (&f, tr->x, tr->y, tr->state)) > 0) {
    earshot_net_train_opts opts = { p->dropout, rng_next (tr->rng) };
    earshot_status st = earshot_net_forward_seq (tr->net, tr->ws, tr->x,
        t_len, b, tr->state, tr->state, &opts, tr->probs);
    assert (st == EARSHOT_OK);
    (void) st;

    double wsum = 0.0;
    size_t counted = score (tr->probs, tr->y, t_len * b, c,
        tr->class_weights, tr->confusion, &wsum, NULL);
    /* A batch without a target frame has no gradient: no update. */
    if (counted > 0 && wsum > 0.0) {
      memset (tr->grad, 0, tr->n_params * sizeof *tr->grad);
      double loss = earshot_net_backward_seq (tr->net, tr->ws, tr->y,
          tr->class_weights, tr->grad, NULL, NULL);
      loss_sum += loss * wsum;
      weight_sum += wsum;

      /* Clip by the global L2 norm: g <- g * min(1, clip / |g|). */
      double sq = 0.0;
      for (size_t k = 0; k < tr->n_params; k++)
        sq += (double) tr->grad[k] * tr->grad[k];
      double norm = sqrt (sq);
      if (!isfinite (norm)) {
        /* Diverged: keep the last good parameters and stop. */
        epoch_stats (tr, stats, loss_sum, weight_sum, lr_last);
        return EARSHOT_ERR_INVALID;
      }
      float gscale = 1.0f;
      if (p->clip_norm > 0.0f && norm > p->clip_norm)
        gscale = (float) (p->clip_norm / norm);

      lr_last = rate_at (p, tr->steps, tr->epochs);
      optimizer_update (tr, (float) lr_last, gscale);
      tr->steps++;
    }

    done += feeder_advance (&f);
    if (progress != NULL && !progress (user, done, total)) {
      finished = done == total;
      break;
    }
  }

  if (finished)
    tr->epochs++;
  epoch_stats (tr, stats, loss_sum, weight_sum, lr_last);
  return EARSHOT_OK;
}

/* ---- Evaluation -------------------------------------------------------- */

earshot_status
earshot_evaluate (const earshot_net *net, const earshot_sequence *seqs,
    size_t n_seqs, const float *class_weights, uint64_t *confusion,
    earshot_train_stats *stats)
{
  assert (net != NULL && stats != NULL);
  size_t n_in = earshot_net_n_inputs (net), c = earshot_net_n_outputs (net);
  size_t ss = earshot_net_state_size (net);

  memset (stats, 0, sizeof *stats);
  if (!sequences_ok (seqs, n_seqs, n_in, c, true)
      || !class_weights_ok (class_weights, c))
    return EARSHOT_ERR_INVALID;
  size_t longest = 0;
  for (size_t s = 0; s < n_seqs; s++)
    longest = seqs[s].n_frames > longest ? seqs[s].n_frames : longest;
  if (longest == 0)
    return EARSHOT_OK;

  size_t t = min_sz (EVAL_CHUNK, longest), b = min_sz (EVAL_LANES, n_seqs);
  earshot_net_workspace *ws = NULL;
  earshot_status st = earshot_net_workspace_new (net, t, b, &ws);
  if (st != EARSHOT_OK)
    return st;
  float *x = alloc0 (t * b * n_in, sizeof *x);
  int32_t *y = alloc0 (t * b, sizeof *y);
  float *state = alloc0 (b * ss, sizeof *state);
  float *probs = alloc0 (t * b * c, sizeof *probs);
  lane *lanes = alloc0 (b, sizeof *lanes);
  uint64_t *conf = alloc0 (c * c, sizeof *conf);
  if (x == NULL || y == NULL || state == NULL || probs == NULL
      || lanes == NULL || conf == NULL) {
    st = EARSHOT_ERR_NOMEM;
    goto out;
  }

  feeder f = { seqs, NULL, NULL, n_seqs, 0, lanes, t, b, n_in, ss };
  feeder_start (&f);
  double wsum = 0.0, lsum = 0.0;
  size_t t_len;
  while ((t_len = feeder_fill (&f, x, y, state)) > 0) {
    st = earshot_net_forward_seq (net, ws, x, t_len, b, state, state, NULL,
        probs);
    assert (st == EARSHOT_OK);
    score (probs, y, t_len * b, c, class_weights, conf, &wsum, &lsum);
    feeder_advance (&f);
  }
  stats->loss = wsum > 0.0 ? lsum / wsum : 0.0;
  stats_from_confusion (stats, conf, c);
  if (confusion != NULL)
    for (size_t k = 0; k < c * c; k++)
      confusion[k] += conf[k];
  st = EARSHOT_OK;
out:
  earshot_net_workspace_free (ws);
  free (x);
  free (y);
  free (state);
  free (probs);
  free (lanes);
  free (conf);
  return st;
}

/* ---- Checkpoint encoding ----------------------------------------------- */

/* A bounds-checked reader; `what` names the field being read, for the
 * message when the data ends inside it. */
typedef struct {
  const unsigned char *p;
  size_t left;
  const char *what;
} reader;

static bool
rd_take (reader *r, size_t n, const char *what, const unsigned char **out)
{
  r->what = what;
  if (n > r->left)
    return false;
  *out = r->p;
  r->p += n;
  r->left -= n;
  return true;
}

static bool
rd_u32 (reader *r, const char *what, uint32_t *v)
{
  const unsigned char *p;
  if (!rd_take (r, 4, what, &p))
    return false;
  *v = earshot_get_u32 (p);
  return true;
}

static bool
rd_u64 (reader *r, const char *what, uint64_t *v)
{
  const unsigned char *p;
  if (!rd_take (r, 8, what, &p))
    return false;
  *v = earshot_get_u64 (p);
  return true;
}

/* The params fields in file order; also the order load compares them in. */
typedef struct {
  const char *name;
  size_t off;
  bool is_float;
} param_field;

#define PF(name, is_float) { #name, offsetof (earshot_train_params, name), \
  is_float }
static const param_field param_fields[] = {
  PF (learning_rate, true), PF (momentum, true), PF (beta1, true),
  PF (beta2, true), PF (epsilon, true), PF (weight_decay, true),
  PF (clip_norm, true), PF (warmup_steps, false), PF (lr_decay, true),
  PF (chunk_frames, false), PF (batch_size, false), PF (dropout, true),
};
#undef PF
#define N_PARAM_FIELDS (sizeof param_fields / sizeof param_fields[0])

/* Float and uint32 fields alike are 4 bytes; both are stored as their bits. */
static uint32_t
field_bits (const earshot_train_params *p, const param_field *f)
{
  uint32_t u;
  memcpy (&u, (const char *) p + f->off, sizeof u);
  return u;
}

static uint32_t
float_bits (float f)
{
  uint32_t u;
  memcpy (&u, &f, sizeof u);
  return u;
}

static earshot_status
serialise (const earshot_trainer *tr, const void *extra, size_t extra_size,
    earshot_buf *o)
{
  const earshot_net *net = tr->net;
  const earshot_train_params *p = &tr->params;
  size_t nl = earshot_net_n_layers (net);

  earshot_buf_put (o, CKPT_MAGIC, CKPT_MAGIC_LEN);
  earshot_buf_put_u32 (o, CKPT_VERSION);
  earshot_buf_put_u32 (o, (uint32_t) nl);
  for (size_t l = 0; l < nl; l++) {
    const earshot_layer_spec *s = earshot_net_layer (net, l);
    earshot_buf_put_u32 (o, (uint32_t) s->type);
    earshot_buf_put_u32 (o, s->n_in);
    earshot_buf_put_u32 (o, s->n_out);
    earshot_buf_put_u32 (o, (uint32_t) s->activation);
  }
  earshot_buf_put_u64 (o, tr->n_params);

  earshot_buf_put_u32 (o, (uint32_t) p->optimizer);
  for (size_t k = 0; k < N_PARAM_FIELDS; k++)
    earshot_buf_put_u32 (o, field_bits (p, &param_fields[k]));
  earshot_buf_put_u64 (o, p->seed);
  earshot_buf_put_u32 (o, tr->class_weights != NULL ? (uint32_t) tr->n_classes : 0);
  if (tr->class_weights != NULL)
    earshot_buf_put_f32s (o, tr->class_weights, tr->n_classes);

  earshot_buf_put_u64 (o, tr->steps);
  earshot_buf_put_u32 (o, tr->epochs);
  earshot_buf_put_u32 (o, tr->v != NULL ? 2 : 1);
  for (int i = 0; i < 4; i++)
    earshot_buf_put_u64 (o, tr->rng[i]);
  earshot_buf_put_f32s (o, earshot_net_params_const (net), tr->n_params);
  earshot_buf_put_f32s (o, tr->m, tr->n_params);
  if (tr->v != NULL)
    earshot_buf_put_f32s (o, tr->v, tr->n_params);
  earshot_buf_put_u64 (o, extra_size);
  earshot_buf_put (o, extra, extra_size);
  if (o->failed)
    return EARSHOT_ERR_NOMEM;
  earshot_buf_put_u32 (o, earshot_crc32 (0, o->data, o->len));
  return o->failed ? EARSHOT_ERR_NOMEM : EARSHOT_OK;
}

earshot_status
earshot_trainer_save_checkpoint (const earshot_trainer *tr, const char *path,
    const void *extra, size_t extra_size, char *err, size_t err_size)
{
  assert (tr != NULL && path != NULL);
  if (extra == NULL && extra_size > 0)
    return earshot_fail (err, err_size, EARSHOT_ERR_INVALID, "extra is NULL "
        "but extra_size is %zu", extra_size);
  earshot_buf o = { 0 };
  earshot_status st = serialise (tr, extra, extra_size, &o);
  if (st != EARSHOT_OK) {
    free (o.data);
    return earshot_fail (err, err_size, st, "cannot serialise the "
        "checkpoint: %s", earshot_status_str (st));
  }
  st = earshot_write_file_atomic (path, o.data, o.len, err, err_size);
  free (o.data);
  if (st == EARSHOT_OK && err != NULL && err_size > 0)
    err[0] = '\0';
  return st;
}

/* ---- Checkpoint loading ------------------------------------------------ */

/* A parsed checkpoint: scalars decoded, arrays left in place as pointers
 * into the file's bytes. */
typedef struct {
  uint32_t n_layers;
  earshot_layer_spec layers[EARSHOT_NET_MAX_LAYERS];
  uint64_t n_params;
  earshot_train_params params;   /* class_weights unused; see cw */
  uint32_t n_class_weights;
  const unsigned char *cw;       /* [n_class_weights] f32 */
  uint64_t steps;
  uint32_t epochs, n_moments;
  uint64_t rng[4];
  const unsigned char *weights;  /* [n_params] f32 */
  const unsigned char *moments;  /* [n_moments x n_params] f32 */
  uint64_t extra_size;
  const unsigned char *extra;
} ckpt;

/* Parses data [size] (magic and version already checked) into *c.  Every
 * count is checked against the bytes left before it is used. */
static earshot_status
parse_checkpoint (const unsigned char *data, size_t size, ckpt *c,
    const char *path, char *err, size_t err_size)
{
  reader r = { data + CKPT_MAGIC_LEN + 4, size - CKPT_MAGIC_LEN - 4, "" };
  const unsigned char *p;
  uint32_t u;

  memset (c, 0, sizeof *c);
  if (!rd_u32 (&r, "the layer count", &c->n_layers))
    goto truncated;
  if (c->n_layers < 1 || c->n_layers > EARSHOT_NET_MAX_LAYERS)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: corrupted "
        "checkpoint: %u layers", path, c->n_layers);
  for (uint32_t l = 0; l < c->n_layers; l++) {
    earshot_layer_spec *s = &c->layers[l];
    uint32_t type, act;
    if (!rd_u32 (&r, "a layer", &type) || !rd_u32 (&r, "a layer", &s->n_in)
        || !rd_u32 (&r, "a layer", &s->n_out)
        || !rd_u32 (&r, "a layer", &act))
      goto truncated;
    s->type = (earshot_layer_type) type;
    s->activation = (earshot_activation) act;
  }
  if (!rd_u64 (&r, "the parameter count", &c->n_params))
    goto truncated;
  if (c->n_params == 0 || c->n_params > EARSHOT_NET_MAX_PARAMS)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: corrupted "
        "checkpoint: %llu parameters", path,
        (unsigned long long) c->n_params);

  earshot_train_params *tp = &c->params;
  if (!rd_u32 (&r, "the optimizer", &u))
    goto truncated;
  tp->optimizer = (earshot_optimizer) u;
  for (size_t k = 0; k < N_PARAM_FIELDS; k++) {
    if (!rd_u32 (&r, param_fields[k].name, &u))
      goto truncated;
    memcpy ((char *) tp + param_fields[k].off, &u, sizeof u);
  }
  if (!rd_u64 (&r, "seed", &tp->seed))
    goto truncated;
  if (!rd_u32 (&r, "class_weights", &c->n_class_weights))
    goto truncated;
  if (c->n_class_weights > EARSHOT_NET_MAX_UNITS)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: corrupted "
        "checkpoint: %u class weights", path, c->n_class_weights);
  if (!rd_take (&r, (size_t) c->n_class_weights * 4, "class_weights",
          &c->cw))
    goto truncated;

  if (!rd_u64 (&r, "the step counter", &c->steps)
      || !rd_u32 (&r, "the epoch counter", &c->epochs)
      || !rd_u32 (&r, "the moment count", &c->n_moments))
    goto truncated;
  if (c->n_moments != 1 && c->n_moments != 2)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: corrupted "
        "checkpoint: %u optimiser moment arrays", path, c->n_moments);
  for (int i = 0; i < 4; i++)
    if (!rd_u64 (&r, "the random generator state", &c->rng[i]))
      goto truncated;
  /* n_params <= 2^28: these products fit. */
  size_t np = (size_t) c->n_params;
  if (!rd_take (&r, np * 4, "the parameters", &c->weights)
      || !rd_take (&r, np * 4 * c->n_moments, "the optimiser moments",
          &c->moments)
      || !rd_u64 (&r, "the extra size", &c->extra_size))
    goto truncated;
  /* Compared before the cast: a 64-bit size may not fit a size_t. */
  r.what = "the extra data";
  if (c->extra_size > r.left
      || !rd_take (&r, (size_t) c->extra_size, r.what, &c->extra))
    goto truncated;
  if (!rd_take (&r, 4, "the checksum", &p))
    goto truncated;
  if (r.left != 0)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: corrupted "
        "checkpoint: %zu stray bytes after the checksum", path, r.left);
  return EARSHOT_OK;

truncated:
  return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: truncated or "
      "corrupted checkpoint (%zu bytes; it ends inside %s)", path, size,
      r.what);
}

static const char *
layer_name (earshot_layer_type t)
{
  switch (t) {
    case EARSHOT_LAYER_DENSE: return "dense";
    case EARSHOT_LAYER_RNN: return "rnn";
    case EARSHOT_LAYER_GRU: return "gru";
    case EARSHOT_LAYER_LSTM: return "lstm";
  }
  return "unknown";
}

/* "gru 40 -> 64", "dense 64 -> 3 softmax" */
static void
describe_layer (const earshot_layer_spec *s, char *buf, size_t size)
{
  static const char *const acts[] = { "linear", "tanh", "relu", "softmax" };
  const char *act = "";
  if (s->type == EARSHOT_LAYER_DENSE)
    act = (unsigned) s->activation < 4 ? acts[s->activation] : "unknown";
  snprintf (buf, size, "%s %u -> %u%s%s", layer_name (s->type), s->n_in,
      s->n_out, *act ? " " : "", act);
}

static const char *
optimizer_name (earshot_optimizer o)
{
  switch (o) {
    case EARSHOT_OPT_ADAM: return "adam";
    case EARSHOT_OPT_SGD: return "sgd";
  }
  return "unknown";
}

/* The checkpoint must be of this trainer: same layers, same params. */
static earshot_status
match_trainer (const ckpt *c, const earshot_trainer *tr, const char *path,
    char *err, size_t err_size)
{
  const earshot_status inv = EARSHOT_ERR_INVALID;
  const earshot_net *net = tr->net;
  size_t nl = earshot_net_n_layers (net);
  if (c->n_layers != nl)
    return earshot_fail (err, err_size, inv, "%s: the checkpoint's net has "
        "%u layers, the trainer's %zu", path, c->n_layers, nl);
  for (size_t l = 0; l < nl; l++) {
    const earshot_layer_spec *a = &c->layers[l];
    const earshot_layer_spec *b = earshot_net_layer (net, l);
    if (a->type != b->type || a->n_in != b->n_in || a->n_out != b->n_out
        || a->activation != b->activation) {
      char da[64], db[64];
      describe_layer (a, da, sizeof da);
      describe_layer (b, db, sizeof db);
      return earshot_fail (err, err_size, inv, "%s: layer %zu of the "
          "checkpoint is %s, the trainer's net has %s", path, l, da, db);
    }
  }
  if (c->n_params != tr->n_params)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: corrupted "
        "checkpoint: %llu parameters for layers of %zu", path,
        (unsigned long long) c->n_params, tr->n_params);

  const earshot_train_params *a = &c->params, *b = &tr->params;
  if (a->optimizer != b->optimizer)
    return earshot_fail (err, err_size, inv, "%s: the checkpoint was made "
        "with optimizer %s, the trainer uses %s", path,
        optimizer_name (a->optimizer), optimizer_name (b->optimizer));
  for (size_t k = 0; k < N_PARAM_FIELDS; k++) {
    const param_field *f = &param_fields[k];
    if (field_bits (a, f) == field_bits (b, f))
      continue;
    if (f->is_float)
      return earshot_fail (err, err_size, inv, "%s: the checkpoint was made "
          "with %s %g, the trainer has %g", path, f->name,
          (double) *(const float *) ((const char *) a + f->off),
          (double) *(const float *) ((const char *) b + f->off));
    return earshot_fail (err, err_size, inv, "%s: the checkpoint was made "
        "with %s %u, the trainer has %u", path, f->name, field_bits (a, f),
        field_bits (b, f));
  }
  if (a->seed != b->seed)
    return earshot_fail (err, err_size, inv, "%s: the checkpoint was made "
        "with seed %llu, the trainer has %llu", path,
        (unsigned long long) a->seed, (unsigned long long) b->seed);
  size_t ncw = tr->class_weights != NULL ? tr->n_classes : 0;
  if (c->n_class_weights != ncw)
    return earshot_fail (err, err_size, inv, "%s: the checkpoint was made "
        "%s class_weights, the trainer %s", path,
        c->n_class_weights ? "with" : "without", ncw ? "has them" : "has "
        "none");
  for (size_t k = 0; k < ncw; k++)
    if (earshot_get_u32 (c->cw + 4 * k) != float_bits (tr->class_weights[k]))
      return earshot_fail (err, err_size, inv, "%s: the checkpoint was made "
          "with class_weights[%zu] %g, the trainer has %g", path, k,
          (double) earshot_get_f32 (c->cw + 4 * k), (double) tr->class_weights[k]);
  uint32_t moments = tr->v != NULL ? 2 : 1;
  if (c->n_moments != moments)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: corrupted "
        "checkpoint: %u moment arrays for this optimizer", path,
        c->n_moments);
  return EARSHOT_OK;
}

/* The state a trainer can only have reached by training: a live generator,
 * finite parameters and moments, a non-negative second moment. */
static earshot_status
check_values (const ckpt *c, const char *path, char *err, size_t err_size)
{
  if ((c->rng[0] | c->rng[1] | c->rng[2] | c->rng[3]) == 0)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: corrupted "
        "checkpoint: the random generator state is all zero", path);
  size_t np = (size_t) c->n_params;
  for (size_t k = 0; k < np; k++)
    if (!isfinite (earshot_get_f32 (c->weights + 4 * k)))
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: corrupted "
          "checkpoint: parameter %zu is not finite", path, k);
  for (size_t k = 0; k < np * c->n_moments; k++) {
    float v = earshot_get_f32 (c->moments + 4 * k);
    if (!isfinite (v) || (k >= np && v < 0.0f))
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: corrupted "
          "checkpoint: optimiser moment %zu is %g", path, k, (double) v);
  }
  return EARSHOT_OK;
}

static void
decode_f32s (float *dst, const unsigned char *src, size_t n)
{
  for (size_t k = 0; k < n; k++)
    dst[k] = earshot_get_f32 (src + 4 * k);
}

earshot_status
earshot_trainer_load_checkpoint (earshot_trainer *tr, const char *path,
    void **extra, size_t *extra_size, char *err, size_t err_size)
{
  assert (tr != NULL && path != NULL);
  if (extra != NULL)
    *extra = NULL;
  if (extra_size != NULL)
    *extra_size = 0;

  unsigned char *data;
  size_t size;
  earshot_status st = earshot_read_file (path, SIZE_MAX / 2, &data, &size,
      err, err_size);
  if (st != EARSHOT_OK)
    return st;

  ckpt c;
  if (size < CKPT_MAGIC_LEN || memcmp (data, CKPT_MAGIC, CKPT_MAGIC_LEN) != 0) {
    st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s is not an "
        "Earshot checkpoint (bad magic)", path);
    goto out;
  }
  if (size < CKPT_MAGIC_LEN + 4) {
    st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT, "%s: truncated "
        "checkpoint (%zu bytes)", path, size);
    goto out;
  }
  uint32_t version = earshot_get_u32 (data + CKPT_MAGIC_LEN);
  if (version != CKPT_VERSION) {
    st = earshot_fail (err, err_size, EARSHOT_ERR_VERSION, "%s: checkpoint "
        "format version %u; this build of earshot %s reads version %u", path,
        version, earshot_version (), CKPT_VERSION);
    goto out;
  }
  st = parse_checkpoint (data, size, &c, path, err, err_size);
  if (st != EARSHOT_OK)
    goto out;
  uint32_t stored = earshot_get_u32 (data + size - 4);
  uint32_t crc = earshot_crc32 (0, data, size - 4);
  if (stored != crc) {
    st = earshot_fail (err, err_size, EARSHOT_ERR_CHECKSUM, "%s: checksum "
        "mismatch (stored %08x, computed %08x): the checkpoint is corrupted",
        path, stored, crc);
    goto out;
  }
  st = match_trainer (&c, tr, path, err, err_size);
  if (st == EARSHOT_OK)
    st = check_values (&c, path, err, err_size);
  if (st != EARSHOT_OK)
    goto out;

  /* Everything checked: the only failure left is the copy of extra, so it
   * goes first and the trainer changes all at once. */
  void *blob = NULL;
  if (extra != NULL && c.extra_size > 0) {
    blob = malloc ((size_t) c.extra_size);
    if (blob == NULL) {
      st = earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory "
          "for %llu bytes of extra data",
          (unsigned long long) c.extra_size);
      goto out;
    }
    memcpy (blob, c.extra, (size_t) c.extra_size);
  }
  size_t np = tr->n_params;
  decode_f32s (earshot_net_params (tr->net), c.weights, np);
  decode_f32s (tr->m, c.moments, np);
  if (tr->v != NULL)
    decode_f32s (tr->v, c.moments + 4 * np, np);
  memcpy (tr->rng, c.rng, sizeof tr->rng);
  tr->steps = c.steps;
  tr->epochs = c.epochs;
  if (extra != NULL)
    *extra = blob;
  if (extra_size != NULL)
    *extra_size = (size_t) c.extra_size;
  if (err != NULL && err_size > 0)
    err[0] = '\0';
  st = EARSHOT_OK;
out:
  free (data);
  return st;
}
