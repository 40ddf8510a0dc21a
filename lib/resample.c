/* resample.c — polyphase FIR downsampler (see earshot_resample.h). */
#include "earshot_resample.h"

#include "earshot_math.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Taps per phase are a multiple of this (zero taps in front), so that the
 * dot product runs in whole vectors. */
#define LANES 16u            /* dot() below is written for 16 */
/* Input taken per round of process(), to bound the history buffer: a
 * typical buffer (1,024 samples at 44.1 kHz, 960 in 20 ms at 48 kHz) in
 * one round; longer ones take several, which changes no output. */
#define PIECE 1024u

struct earshot_resampler {
  unsigned l, m;                /* out_rate / in_rate = l / m, lowest terms */
  unsigned step, step_phase;    /* m / l and m % l: from one output to the
                                 * next, i += step, phase += step_phase */
  size_t k;                     /* reach to each side, input samples */
  size_t taps;                  /* per phase: 2k rounded up to LANES */
  const float *table;           /* [l][taps]; phase p, tap t weighs input
                                 * i + k - taps + 1 + t for an output at
                                 * i + p / l.  Shared (table_acquire) */
  float *buf;                   /* input from absolute index buf_start */
  size_t buf_len, buf_cap;
  int64_t buf_start;
  int64_t i;                    /* next output's time is i + phase / l */
  unsigned phase;
};

static unsigned
gcd (unsigned a, unsigned b)
{
  while (b != 0) {
    unsigned t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* Modified Bessel function of the first kind, order 0 (its power series;
 * x <= 20 here, where 60 terms are exact to double precision). */
static double
bessel_i0 (double x)
{
  double term = 1.0, sum = 1.0, q = x * x / 4.0;

  for (int j = 1; j < 60; j++) {
    term *= q / ((double) j * j);
    sum += term;
  }
  return sum;
}

void
earshot_mix_down_f32 (const float *x, size_t n, unsigned channels,
    float *out)
{
  const float w = 1.0f / (float) channels;

  if (channels == 2) {          /* the common case, in a loop that vectorises */
    for (size_t i = 0; i < n; i++)
      out[i] = w * x[2 * i] + w * x[2 * i + 1];
    return;
  }
  for (size_t i = 0; i < n; i++) {
    float acc = w * x[i * channels];
    for (unsigned c = 1; c < channels; c++)
      acc += w * x[i * channels + c];
    out[i] = acc;
  }
}

void
earshot_mix_down_s16 (const int16_t *x, size_t n, unsigned channels,
    float *out)
{
  const float w = 1.0f / (float) channels / 32768.0f;

  for (size_t i = 0; i < n; i++) {
    float acc = w * (float) x[i * channels];
    for (unsigned c = 1; c < channels; c++)
      acc += w * (float) x[i * channels + c];
    out[i] = acc;
  }
}

bool
earshot_resampler_supports (unsigned in_rate, unsigned out_rate)
{
  if (out_rate == 0 || in_rate <= out_rate)
    return false;
  return out_rate / gcd (in_rate, out_rate) <= EARSHOT_RESAMPLER_MAX_PHASES;
}

/* Fills table [r->l][r->taps] for r's shape; w: room for r->taps
 * doubles. */
static void
build_table (const earshot_resampler *r, unsigned in_rate, unsigned out_rate,
    float *table, double *w)
{
  const double rho = EARSHOT_RESAMPLER_CUTOFF * out_rate / in_rate;
  const double i0_beta = bessel_i0 (EARSHOT_RESAMPLER_BETA);
  const size_t lead = r->taps - 2 * r->k;   /* zero taps in front */

  for (unsigned p = 0; p < r->l; p++) {
    float *h = table + (size_t) p * r->taps;
    double d = (double) p / r->l, sum = 0.0;

    for (size_t t = 0; t < lead; t++)
      w[t] = 0.0;
    for (size_t t = lead; t < r->taps; t++) {
      /* time of this tap's input relative to the output, input samples */
      double tau = ((double) (t - lead) - (double) r->k + 1.0) - d;
      double u = tau / (double) r->k, x = M_PI * rho * tau;
      double sinc = fabs (x) < 1e-12 ? 1.0 : sin (x) / x;

      w[t] = fabs (u) < 1.0 ? rho * sinc * bessel_i0 (EARSHOT_RESAMPLER_BETA
              * sqrt (1.0 - u * u)) / i0_beta : 0.0;
      sum += w[t];
    }
    for (size_t t = 0; t < r->taps; t++)
      h[t] = (float) (w[t] / sum);
  }
}

/* One filter table per pair of rates for the whole process, shared by
 * every resampler of those rates (immutable once built): 500 streams from
 * 44.1 kHz hold one 61,440-byte table, not 500.  Keyed by the rates
 * themselves, not L / M: the cutoff is computed from them. */
typedef struct shared_table {
  struct shared_table *next;
  unsigned in_rate, out_rate;
  unsigned refs;
  float *table;
} shared_table;

static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;
static shared_table *tables;        /* under tables_lock */

/* A reference to the table of r's rates, built on first use; NULL when
 * out of memory. */
static const float *
table_acquire (const earshot_resampler *r, unsigned in_rate,
    unsigned out_rate)
{
  shared_table *t;
  const float *table = NULL;

  pthread_mutex_lock (&tables_lock);
  for (t = tables; t != NULL; t = t->next) {
    if (t->in_rate == in_rate && t->out_rate == out_rate) {
      t->refs++;
      table = t->table;
      break;
    }
  }
  if (table == NULL) {
    double *w = malloc (r->taps * sizeof *w);
    t = calloc (1, sizeof *t);
    float *built = malloc ((size_t) r->l * r->taps * sizeof *built);
    if (w != NULL && t != NULL && built != NULL) {
      build_table (r, in_rate, out_rate, built, w);
      t->in_rate = in_rate;
      t->out_rate = out_rate;
      t->refs = 1;
      t->table = built;
      t->next = tables;
      tables = t;
      table = built;
    } else {
      free (t);
      free (built);
    }
    free (w);
  }
  pthread_mutex_unlock (&tables_lock);
  return table;
}

/* Drops a reference taken by table_acquire; the last one frees it. */
static void
table_release (const float *table)
{
  pthread_mutex_lock (&tables_lock);
  for (shared_table **pp = &tables; *pp != NULL; pp = &(*pp)->next) {
    shared_table *t = *pp;
    if (t->table == table) {
      if (--t->refs == 0) {
        *pp = t->next;
        free (t->table);
        free (t);
      }
      break;
    }
  }
  pthread_mutex_unlock (&tables_lock);
}

earshot_status
earshot_resampler_new (unsigned in_rate, unsigned out_rate,
    earshot_resampler **out)
{
  earshot_resampler *r;
  unsigned g;

  *out = NULL;
  if (!earshot_resampler_supports (in_rate, out_rate))
    return EARSHOT_ERR_INVALID;
  r = calloc (1, sizeof *r);
  if (r == NULL)
    return EARSHOT_ERR_NOMEM;
  g = gcd (in_rate, out_rate);
  r->l = out_rate / g;
  r->m = in_rate / g;
  r->step = r->m / r->l;
  r->step_phase = r->m % r->l;
  r->k = ((size_t) EARSHOT_RESAMPLER_HALF_TAPS * r->m + r->l - 1) / r->l;
  r->taps = (2 * r->k + LANES - 1) / LANES * LANES;
  r->buf_cap = r->taps + PIECE;
  r->buf = malloc (r->buf_cap * sizeof (float));
  if (r->buf != NULL)
    r->table = table_acquire (r, in_rate, out_rate);
  if (r->buf == NULL || r->table == NULL) {
    earshot_resampler_free (r);
    return EARSHOT_ERR_NOMEM;
  }
  earshot_resampler_reset (r);
  *out = r;
  return EARSHOT_OK;
}

void
earshot_resampler_free (earshot_resampler *r)
{
  if (r == NULL)
    return;
  if (r->table != NULL)
    table_release (r->table);
  free (r->buf);
  free (r);
}

void
earshot_resampler_reset (earshot_resampler *r)
{
  /* the first output (time 0) reads from input k - taps + 1: silence */
  r->buf_len = r->taps - r->k - 1;
  r->buf_start = -(int64_t) r->buf_len;
  memset (r->buf, 0, r->buf_len * sizeof (float));
  r->i = 0;
  r->phase = 0;
}

size_t
earshot_resampler_latency (const earshot_resampler *r)
{
  return r->k;
}

size_t
earshot_resampler_max_out (const earshot_resampler *r, size_t n)
{
  return (n * r->l + r->m - 1) / r->m + 1;
}

/* The dot product in LANES partial sums, added pairwise at the end: a fixed
 * order, so the result does not depend on the call, or on the instruction
 * set (but for FMA).  In vector types (earshot_math.h), so that the sums
 * stay in registers: as a plain array of 16 the compiler vectorised the
 * products but kept the partial sums on the stack (104 instructions per
 * output at 44.1 kHz under callgrind; now 73, the same bits). */
EARSHOT_KERNEL_INLINE float
dot (const float *restrict h, const float *restrict x, size_t n)
{
  earshot_f32x8 lo = { 0 }, hi = { 0 };

  for (size_t t = 0; t < n; t += LANES) {
    earshot_f32x8 h0, h1, x0, x1;
    memcpy (&h0, h + t, sizeof h0);
    memcpy (&h1, h + t + 8, sizeof h1);
    memcpy (&x0, x + t, sizeof x0);
    memcpy (&x1, x + t + 8, sizeof x1);
    lo += h0 * x0;
    hi += h1 * x1;
  }
  /* lanes j and j + 8, then j and j + 4, j and j + 2, 0 and 1 */
  lo += hi;
  earshot_f32x4 q, q_hi;
  memcpy (&q, &lo, sizeof q);
  memcpy (&q_hi, (const char *) &lo + sizeof q, sizeof q_hi);
  q += q_hi;
  return (q[0] + q[2]) + (q[1] + q[3]);
}

/* Every output the buffer now completes, into y; returns how many.  The
 * loop and the inlined dot() are built per instruction set (one dispatch
 * per call, not per output).  The state is copied into locals for the
 * loop: the project builds with -fno-strict-aliasing, so a store to y
 * would otherwise make the compiler reload every field of r per output. */
EARSHOT_KERNEL static size_t
outputs (earshot_resampler *r, float *restrict y)
{
  const float *restrict table = r->table, *restrict buf = r->buf;
  const size_t taps = r->taps, len = r->buf_len;
  const unsigned l = r->l, step = r->step, step_phase = r->step_phase;
  /* where the next output's first tap reads, in buf (>= 0: process()
   * keeps that much) */
  const size_t o0 = (size_t) (r->i + (int64_t) r->k - (int64_t) taps + 1
      - r->buf_start);
  size_t o = o0, made = 0;
  unsigned phase = r->phase;

  while (o + taps <= len) {
    y[made++] = dot (table + (size_t) phase * taps, buf + o, taps);
    o += step;
    phase += step_phase;
    if (phase >= l) {
      phase -= l;
      o++;
    }
  }
  r->i += (int64_t) (o - o0);
  r->phase = phase;
  return made;
}

size_t
earshot_resampler_process (earshot_resampler *r, const float *x, size_t n,
    float *y)
{
  size_t made = 0;

  while (n > 0) {
    size_t take = n < PIECE ? n : PIECE;
    int64_t keep;

    memcpy (r->buf + r->buf_len, x, take * sizeof (float));
    r->buf_len += take;
    x += take;
    n -= take;
    made += outputs (r, y + made);
    /* keep what the next output reads from on */
    keep = r->i + (int64_t) r->k - (int64_t) r->taps + 1;
    if (keep > r->buf_start) {
      size_t drop = (size_t) (keep - r->buf_start);
      if (drop > r->buf_len)
        drop = r->buf_len;
      memmove (r->buf, r->buf + drop, (r->buf_len - drop) * sizeof (float));
      r->buf_len -= drop;
      r->buf_start += (int64_t) drop;
    }
  }
  return made;
}
