/* test_train.c — earshot_train: a memory task learnt by every cell type,
 * bit-identical determinism and resume, checkpoint robustness, clipping and
 * single optimiser steps against a hand computation, evaluation against
 * frame-by-frame stepping, the schedule, the progress callback and
 * parameter validation. */
#include "earshot_train.h"

#include <float.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* ---- Test helpers ------------------------------------------------------ */

/* splitmix64: uniform in [0, 1) */
static double
urand (uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  z ^= z >> 31;
  return (double) (z >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform in [-a, a) */
static float
frand (uint64_t *s, float a)
{
  return (float) ((2.0 * urand (s) - 1.0) * a);
}

/* uniform integer in [0, n) */
static size_t
irand (uint64_t *s, size_t n)
{
  return (size_t) (urand (s) * (double) n);
}

static void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size);
  if (p == NULL) {
    fprintf (stderr, "test_train: out of memory\n");
    exit (2);
  }
  return p;
}

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static earshot_net *
make_stack (earshot_layer_type cell, uint32_t n_in, uint32_t hidden,
    uint32_t layers, uint32_t classes, uint64_t seed)
{
  earshot_net *net = NULL;
  char err[256];
  if (earshot_net_new_stack (cell, n_in, hidden, layers, classes, &net, err,
          sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "test_train: earshot_net_new_stack: %s\n", err);
    exit (2);
  }
  earshot_net_init (net, seed);
  return net;
}

static earshot_net *
copy_net (const earshot_net *net)
{
  earshot_net *c = NULL;
  if (earshot_net_copy (net, &c) != EARSHOT_OK) {
    fprintf (stderr, "test_train: earshot_net_copy failed\n");
    exit (2);
  }
  return c;
}

static earshot_trainer *
make_trainer (earshot_net *net, const earshot_train_params *p)
{
  earshot_trainer *tr = NULL;
  char err[256];
  if (earshot_trainer_new (net, p, &tr, err, sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "test_train: earshot_trainer_new: %s\n", err);
    exit (2);
  }
  return tr;
}

static bool
same_params (const earshot_net *a, const earshot_net *b)
{
  size_t n = earshot_net_n_params (a);
  return n == earshot_net_n_params (b)
      && memcmp (earshot_net_params_const (a), earshot_net_params_const (b),
          n * sizeof (float)) == 0;
}

/* FNV-1a of the parameter bits, to compare runs across processes. */
static uint64_t
params_hash (const earshot_net *net)
{
  const unsigned char *p = (const unsigned char *) earshot_net_params_const (
      net);
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t k = 0; k < earshot_net_n_params (net) * sizeof (float); k++)
    h = (h ^ p[k]) * 0x100000001b3u;
  return h;
}

/* A data set: n sequences with their own feature and target arrays. */
typedef struct {
  earshot_sequence *seqs;
  float **x;
  int32_t **y;
  size_t n;
} dataset;

static void
dataset_alloc (dataset *d, size_t n, const size_t *lengths, size_t n_in)
{
  d->n = n;
  d->seqs = xcalloc (n, sizeof *d->seqs);
  d->x = xcalloc (n, sizeof *d->x);
  d->y = xcalloc (n, sizeof *d->y);
  for (size_t s = 0; s < n; s++) {
    d->x[s] = xcalloc (lengths[s] * n_in, sizeof (float));
    d->y[s] = xcalloc (lengths[s], sizeof (int32_t));
    d->seqs[s] = (earshot_sequence) { d->x[s], d->y[s], lengths[s] };
  }
}

static void
dataset_free (dataset *d)
{
  for (size_t s = 0; s < d->n; s++) {
    free (d->x[s]);
    free (d->y[s]);
  }
  free (d->x);
  free (d->y);
  free (d->seqs);
}

/* The memory task.  4 inputs: channel 0 is a distractor, channels 1..3 carry
 * noise and, now and then, a marker (+1.5 on channel 1 + k) of class k.  The
 * target of every frame is the class of the latest marker, so the net has to
 * hold it over the gap (3 to 14 frames) until the next one; frames before the
 * first marker have no target. */
enum { TASK_IN = 4, TASK_CLASSES = 3 };

static void
make_task (dataset *d, size_t n, size_t frames, uint64_t seed)
{
  size_t *len = xcalloc (n, sizeof *len);
  for (size_t s = 0; s < n; s++)
    len[s] = frames;
  dataset_alloc (d, n, len, TASK_IN);
  free (len);
  uint64_t r = seed;
  for (size_t s = 0; s < n; s++) {
    float *x = d->x[s];
    int32_t *y = d->y[s];
    size_t next = irand (&r, 3);
    int32_t cls = -1;
    for (size_t t = 0; t < frames; t++) {
      float *f = x + t * TASK_IN;
      f[0] = frand (&r, 1.0f);
      for (int k = 1; k < TASK_IN; k++)
        f[k] = frand (&r, 0.25f);
      if (t == next) {
        cls = (int32_t) irand (&r, TASK_CLASSES);
        f[1 + cls] += 1.5f;
        next = t + 3 + irand (&r, 12);
      }
      y[t] = cls;
    }
  }
}

/* Frame-by-frame earshot_net_step over every sequence from zero state: the
 * confusion matrix [c x c] of argmax (first maximum on ties) and the
 * weighted cross-entropy. */
static void
step_reference (const earshot_net *net, const dataset *d,
    const float *weights, uint64_t *confusion, double *loss)
{
  size_t c = earshot_net_n_outputs (net), n_in = earshot_net_n_inputs (net);
  float *state = xcalloc (earshot_net_state_size (net), sizeof *state);
  float *scratch = xcalloc (earshot_net_scratch_size (net), sizeof *scratch);
  float *probs = xcalloc (c, sizeof *probs);
  double wsum = 0.0, lsum = 0.0;
  memset (confusion, 0, c * c * sizeof *confusion);
  for (size_t s = 0; s < d->n; s++) {
    memset (state, 0, earshot_net_state_size (net) * sizeof *state);
    for (size_t t = 0; t < d->seqs[s].n_frames; t++) {
      earshot_net_step (net, d->x[s] + t * n_in, state, scratch, probs);
      int32_t y = d->y[s][t];
      if (y < 0)
        continue;
      size_t best = 0;
      for (size_t k = 1; k < c; k++)
        best = probs[k] > probs[best] ? k : best;
      confusion[(size_t) y * c + best]++;
      double w = weights != NULL ? weights[y] : 1.0;
      double py = probs[y] > FLT_MIN ? probs[y] : FLT_MIN;
      wsum += w;
      lsum -= w * log (py);
    }
  }
  *loss = wsum > 0.0 ? lsum / wsum : 0.0;
  free (probs);
  free (scratch);
  free (state);
}

/* ---- 1. Learning ------------------------------------------------------- */

static void
test_learning (void)
{
  dataset train, valid;
  make_task (&train, 96, 120, 11);
  make_task (&valid, 16, 160, 12);
  /* Settings that passed with a margin for each of 6 (init seed, trainer
   * seed) pairs tried: worst validation accuracy RNN 0.993, LSTM 0.9965,
   * GRU 1.0. */
  static const struct {
    earshot_layer_type cell;
    const char *name;
    uint32_t hidden;
    float lr;
    int epochs;
  } cells[] = {
    { EARSHOT_LAYER_GRU, "gru", 16, 0.02f, 8 },
    { EARSHOT_LAYER_LSTM, "lstm", 16, 0.02f, 8 },
    { EARSHOT_LAYER_RNN, "rnn", 24, 0.02f, 25 },
  };
  for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
    double t0 = now ();
    earshot_net *net = make_stack (cells[i].cell, TASK_IN, cells[i].hidden,
        1, TASK_CLASSES, 100 + i);
    earshot_train_params p = earshot_train_default_params ();
    p.learning_rate = cells[i].lr;
    p.lr_decay = 0.9f;
    p.chunk_frames = 16;
    p.batch_size = 8;
    p.seed = 7;
    earshot_trainer *tr = make_trainer (net, &p);
    earshot_train_stats st, ev_train, ev_valid;
    int epoch;
    for (epoch = 0; epoch < cells[i].epochs; epoch++) {
      CHECK (earshot_trainer_epoch (tr, train.seqs, train.n, &st, NULL, NULL)
          == EARSHOT_OK, "%s: epoch %d", cells[i].name, epoch);
    }
    earshot_evaluate (net, train.seqs, train.n, NULL, NULL, &ev_train);
    earshot_evaluate (net, valid.seqs, valid.n, NULL, NULL, &ev_valid);
    printf ("train: %-4s H=%u: %d epochs (%llu steps) in %.2f s; last epoch "
        "loss %.4f acc %.4f; evaluate: train acc %.4f, valid acc %.4f "
        "(loss %.4f, macro-F1 %.4f); params %016llx\n", cells[i].name,
        cells[i].hidden, epoch,
        (unsigned long long) st.steps, now () - t0, st.loss, st.accuracy,
        ev_train.accuracy, ev_valid.accuracy, ev_valid.loss,
        ev_valid.macro_f1, (unsigned long long) params_hash (net));
    CHECK (ev_train.accuracy >= 0.98, "%s: training accuracy %.4f",
        cells[i].name, ev_train.accuracy);
    CHECK (ev_valid.accuracy >= 0.98, "%s: validation accuracy %.4f",
        cells[i].name, ev_valid.accuracy);
    CHECK (ev_valid.macro_f1 >= 0.98, "%s: validation macro-F1 %.4f",
        cells[i].name, ev_valid.macro_f1);

    /* The trained net, evaluated in chunks, against stepping. */
    uint64_t conf[TASK_CLASSES * TASK_CLASSES];
    double ref_loss;
    step_reference (net, &valid, NULL, conf, &ref_loss);
    uint64_t correct = conf[0] + conf[4] + conf[8];
    CHECK (correct == ev_valid.correct, "%s: evaluate %zu correct, stepping "
        "%llu", cells[i].name, ev_valid.correct, (unsigned long long) correct);
    earshot_trainer_free (tr);
    earshot_net_free (net);
  }
  dataset_free (&valid);
  dataset_free (&train);
}

/* ---- 2. Determinism ---------------------------------------------------- */

static void
test_determinism (void)
{
  dataset d;
  make_task (&d, 12, 90, 21);
  earshot_net *init = make_stack (EARSHOT_LAYER_GRU, TASK_IN, 10, 2,
      TASK_CLASSES, 5);
  earshot_net *a = copy_net (init), *b = copy_net (init), *c = copy_net (init);
  earshot_train_params p = earshot_train_default_params ();
  p.learning_rate = 0.01f;
  p.chunk_frames = 20;
  p.batch_size = 5;
  p.dropout = 0.2f;
  p.weight_decay = 0.01f;
  p.seed = 42;
  earshot_trainer *ta = make_trainer (a, &p), *tb = make_trainer (b, &p);
  p.seed = 43;
  earshot_trainer *tc = make_trainer (c, &p);
  earshot_train_stats sa, sb, sc;
  for (int e = 0; e < 2; e++) {
    earshot_trainer_epoch (ta, d.seqs, d.n, &sa, NULL, NULL);
    earshot_trainer_epoch (tb, d.seqs, d.n, &sb, NULL, NULL);
    earshot_trainer_epoch (tc, d.seqs, d.n, &sc, NULL, NULL);
  }
  CHECK (same_params (a, b), "same seed: parameters differ");
  CHECK (memcmp (&sa.loss, &sb.loss, sizeof sa.loss) == 0
      && sa.correct == sb.correct && sa.steps == sb.steps,
      "same seed: statistics differ");
  CHECK (!same_params (a, c), "seeds 42 and 43 gave the same parameters");
  CHECK (!same_params (a, init), "training changed nothing");
  printf ("train: determinism: params %016llx (seed 42), %016llx (seed 43)\n",
      (unsigned long long) params_hash (a),
      (unsigned long long) params_hash (c));
  earshot_trainer_free (ta);
  earshot_trainer_free (tb);
  earshot_trainer_free (tc);
  earshot_net_free (a);
  earshot_net_free (b);
  earshot_net_free (c);
  earshot_net_free (init);
  dataset_free (&d);
}

/* ---- 3. Resume --------------------------------------------------------- */

typedef struct {
  double best_loss;
  uint32_t patience;
  char note[12];
} tool_state;

static void
test_resume (const char *dir)
{
  dataset d;
  make_task (&d, 10, 70, 31);
  char path[512];
  snprintf (path, sizeof path, "%s/resume.ckpt", dir);
  static const float weights[TASK_CLASSES] = { 1.0f, 2.0f, 0.5f };

  for (int opt = 0; opt < 2; opt++) {
    earshot_net *init = make_stack (EARSHOT_LAYER_LSTM, TASK_IN, 8, 2,
        TASK_CLASSES, 9);
    earshot_net *a = copy_net (init), *b = copy_net (init);
    earshot_train_params p = earshot_train_default_params ();
    p.optimizer = opt ? EARSHOT_OPT_SGD : EARSHOT_OPT_ADAM;
    p.learning_rate = opt ? 0.05f : 0.01f;
    p.chunk_frames = 12;
    p.batch_size = 4;
    p.dropout = 0.1f;
    p.warmup_steps = 7;
    p.lr_decay = 0.8f;
    p.weight_decay = 0.001f;
    p.class_weights = weights;
    p.seed = 1234;
    const char *name = opt ? "sgd" : "adam";

    earshot_trainer *ta = make_trainer (a, &p);
    earshot_train_stats sa, sb;
    for (int e = 0; e < 3; e++)
      earshot_trainer_epoch (ta, d.seqs, d.n, &sa, NULL, NULL);

    earshot_trainer *tb = make_trainer (b, &p);
    earshot_trainer_epoch (tb, d.seqs, d.n, &sb, NULL, NULL);
    tool_state ts = { 0.125, 3, "resume me" };
    char err[512] = "";
    CHECK (earshot_trainer_save_checkpoint (tb, path, &ts, sizeof ts, err,
            sizeof err) == EARSHOT_OK, "%s: save: %s", name, err);
    uint64_t steps1 = earshot_trainer_steps (tb);
    earshot_trainer_free (tb);
    earshot_net_free (b);

    /* A fresh net with other weights and a fresh trainer. */
    earshot_net *r = make_stack (EARSHOT_LAYER_LSTM, TASK_IN, 8, 2,
        TASK_CLASSES, 77);
    earshot_trainer *tr = make_trainer (r, &p);
    void *extra = NULL;
    size_t extra_size = 0;
    CHECK (earshot_trainer_load_checkpoint (tr, path, &extra, &extra_size,
            err, sizeof err) == EARSHOT_OK, "%s: load: %s", name, err);
    CHECK (extra_size == sizeof ts && extra != NULL
        && memcmp (extra, &ts, sizeof ts) == 0, "%s: extra blob did not "
        "round-trip (%zu bytes)", name, extra_size);
    free (extra);
    CHECK (earshot_trainer_epochs (tr) == 1 && earshot_trainer_steps (tr)
        == steps1, "%s: counters %u/%llu after load, expected 1/%llu", name,
        earshot_trainer_epochs (tr),
        (unsigned long long) earshot_trainer_steps (tr),
        (unsigned long long) steps1);
    earshot_train_stats sr;
    for (int e = 0; e < 2; e++)
      earshot_trainer_epoch (tr, d.seqs, d.n, &sr, NULL, NULL);
    CHECK (same_params (a, r), "%s: 1 + checkpoint + 2 epochs differs from 3 "
        "epochs straight", name);
    CHECK (memcmp (&sa.loss, &sr.loss, sizeof sa.loss) == 0
        && sa.steps == sr.steps && sa.learning_rate == sr.learning_rate,
        "%s: last-epoch statistics differ after resume", name);

    /* extra NULL/0: nothing stored, nothing returned. */
    CHECK (earshot_trainer_save_checkpoint (tr, path, NULL, 0, err,
            sizeof err) == EARSHOT_OK, "%s: save without extra: %s", name,
        err);
    extra = (void *) &ts;
    CHECK (earshot_trainer_load_checkpoint (tr, path, &extra, &extra_size,
            err, sizeof err) == EARSHOT_OK && extra == NULL
        && extra_size == 0, "%s: load without extra: %s", name, err);
    CHECK (earshot_trainer_load_checkpoint (tr, path, NULL, NULL, err,
            sizeof err) == EARSHOT_OK, "%s: load with extra not wanted: %s",
        name, err);

    earshot_trainer_free (tr);
    earshot_trainer_free (ta);
    earshot_net_free (r);
    earshot_net_free (a);
    earshot_net_free (init);
  }
  unlink (path);
  dataset_free (&d);
}

/* ---- 4. Checkpoint robustness ------------------------------------------ */

static unsigned char *
slurp (const char *path, size_t *size)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return NULL;
  fseek (f, 0, SEEK_END);
  long n = ftell (f);
  fseek (f, 0, SEEK_SET);
  unsigned char *b = xcalloc ((size_t) n, 1);
  *size = fread (b, 1, (size_t) n, f);
  fclose (f);
  return b;
}

static void
spit (const char *path, const unsigned char *data, size_t size)
{
  FILE *f = fopen (path, "wb");
  if (f == NULL || fwrite (data, 1, size, f) != size) {
    fprintf (stderr, "test_train: cannot write %s\n", path);
    exit (2);
  }
  fclose (f);
}

/* Loading path into tr must fail with a message and leave the net alone. */
static earshot_status
expect_refused (earshot_trainer *tr, const earshot_net *net,
    const float *before, const char *path, const char *what, char *err,
    size_t err_size)
{
  void *extra = (void *) &extra;
  size_t extra_size = 99;
  err[0] = '\0';
  earshot_status st = earshot_trainer_load_checkpoint (tr, path, &extra,
      &extra_size, err, err_size);
  CHECK (st != EARSHOT_OK, "%s: accepted", what);
  CHECK (err[0] != '\0', "%s: refused without a message", what);
  CHECK (extra == NULL && extra_size == 0, "%s: extra not cleared", what);
  CHECK (memcmp (earshot_net_params_const (net), before,
          earshot_net_n_params (net) * sizeof (float)) == 0,
      "%s: the net changed", what);
  if (st == EARSHOT_OK)
    free (extra);
  return st;
}

static void
test_checkpoint_robustness (const char *dir)
{
  char good[512], bad[512], err[512];
  snprintf (good, sizeof good, "%s/good.ckpt", dir);
  snprintf (bad, sizeof bad, "%s/bad.ckpt", dir);
  dataset d;
  make_task (&d, 3, 20, 41);
  for (size_t s = 0; s < d.n; s++)     /* 2 inputs: reuse the first two */
    for (size_t t = 0; t < 20; t++)
      d.y[s][t] = d.y[s][t] < 0 ? -1 : d.y[s][t] % 2;

  earshot_net *net = make_stack (EARSHOT_LAYER_RNN, TASK_IN, 3, 1, 2, 1);
  earshot_train_params p = earshot_train_default_params ();
  p.chunk_frames = 8;
  p.batch_size = 2;
  earshot_trainer *tr = make_trainer (net, &p);
  earshot_train_stats st;
  earshot_trainer_epoch (tr, d.seqs, d.n, &st, NULL, NULL);
  CHECK (earshot_trainer_save_checkpoint (tr, good, "extra", 5, err,
          sizeof err) == EARSHOT_OK, "save: %s", err);
  size_t size = 0;
  unsigned char *bytes = slurp (good, &size);
  CHECK (bytes != NULL && size > 100, "checkpoint is %zu bytes", size);

  /* The trainer under attack holds other weights, which must survive. */
  earshot_net *victim = make_stack (EARSHOT_LAYER_RNN, TASK_IN, 3, 1, 2, 2);
  earshot_trainer *tv = make_trainer (victim, &p);
  size_t np = earshot_net_n_params (victim);
  float *before = xcalloc (np, sizeof *before);
  memcpy (before, earshot_net_params_const (victim), np * sizeof *before);

  int truncated_ok = 0;
  for (size_t n = 0; n < size; n++) {
    spit (bad, bytes, n);
    char what[64];
    snprintf (what, sizeof what, "truncated to %zu bytes", n);
    truncated_ok += expect_refused (tv, victim, before, bad, what, err,
        sizeof err) != EARSHOT_OK;
  }
  CHECK (truncated_ok == (int) size, "%d of %zu truncations refused",
      truncated_ok, size);
  spit (bad, bytes, size / 2);
  expect_refused (tv, victim, before, bad, "half", err, sizeof err);
  printf ("train: checkpoint %zu bytes; truncated to %zu: \"%s\"\n", size,
      size / 2, err);

  uint64_t r = 99;
  unsigned char *mut = xcalloc (size, 1);
  int flips_ok = 0, n_flips = 0;
  for (int i = 0; i < 400; i++, n_flips++) {
    memcpy (mut, bytes, size);
    if (i < 300) {    /* one bit */
      size_t at = irand (&r, size);
      mut[at] ^= (unsigned char) (1u << irand (&r, 8));
    } else {          /* a burst of random bytes */
      size_t at = irand (&r, size - 8);
      for (int k = 0; k < 8; k++)
        mut[at + (size_t) k] = (unsigned char) irand (&r, 256);
      if (memcmp (mut, bytes, size) == 0)
        continue;
    }
    spit (bad, mut, size);
    flips_ok += expect_refused (tv, victim, before, bad, "flipped", err,
        sizeof err) != EARSHOT_OK;
  }
  CHECK (flips_ok == n_flips, "%d of %d corruptions refused", flips_ok,
      n_flips);
  memcpy (mut, bytes, size);
  mut[size - 1] ^= 0x80;
  spit (bad, mut, size);
  CHECK (expect_refused (tv, victim, before, bad, "crc", err, sizeof err)
      == EARSHOT_ERR_CHECKSUM, "a bad checksum gave \"%s\"", err);
  memcpy (mut, bytes, size);
  mut[8] = 2;
  spit (bad, mut, size);
  CHECK (expect_refused (tv, victim, before, bad, "version", err, sizeof err)
      == EARSHOT_ERR_VERSION, "version 2 gave \"%s\"", err);
  memcpy (mut, bytes, size);
  mut[0] = 'X';
  spit (bad, mut, size);
  CHECK (expect_refused (tv, victim, before, bad, "magic", err, sizeof err)
      == EARSHOT_ERR_FORMAT && strstr (err, "not an Earshot checkpoint"),
      "bad magic gave \"%s\"", err);
  unsigned char *longer = xcalloc (size + 3, 1);
  memcpy (longer, bytes, size);
  spit (bad, longer, size + 3);
  expect_refused (tv, victim, before, bad, "3 stray bytes", err, sizeof err);
  free (longer);
  snprintf (bad, sizeof bad, "%s/does-not-exist.ckpt", dir);
  CHECK (expect_refused (tv, victim, before, bad, "missing", err, sizeof err)
      == EARSHOT_ERR_IO, "a missing file gave \"%s\"", err);
  CHECK (expect_refused (tv, victim, before, dir, "directory", err,
          sizeof err) != EARSHOT_OK, "a directory was accepted");
  snprintf (bad, sizeof bad, "%s/bad.ckpt", dir);

  /* Another shape, other params. */
  earshot_net *wide = make_stack (EARSHOT_LAYER_RNN, TASK_IN, 4, 1, 2, 1);
  earshot_trainer *tw = make_trainer (wide, &p);
  float *wb = xcalloc (earshot_net_n_params (wide), sizeof *wb);
  memcpy (wb, earshot_net_params_const (wide),
      earshot_net_n_params (wide) * sizeof *wb);
  expect_refused (tw, wide, wb, good, "other shape", err, sizeof err);
  CHECK (strstr (err, "layer 0") != NULL, "other shape: \"%s\"", err);
  printf ("train: other shape: \"%s\"\n", err);
  earshot_net *gru = make_stack (EARSHOT_LAYER_GRU, TASK_IN, 3, 1, 2, 1);
  earshot_trainer *tg = make_trainer (gru, &p);
  float *gb = xcalloc (earshot_net_n_params (gru), sizeof *gb);
  memcpy (gb, earshot_net_params_const (gru),
      earshot_net_n_params (gru) * sizeof *gb);
  expect_refused (tg, gru, gb, good, "other cell", err, sizeof err);
  CHECK (strstr (err, "gru") != NULL && strstr (err, "rnn") != NULL,
      "other cell: \"%s\"", err);
  earshot_train_params q = p;
  q.learning_rate = 0.002f;
  earshot_trainer *tq = make_trainer (victim, &q);
  expect_refused (tq, victim, before, good, "other rate", err, sizeof err);
  CHECK (strstr (err, "learning_rate") != NULL, "other rate: \"%s\"", err);
  earshot_trainer_free (tq);
  q = p;
  q.seed = 5;
  tq = make_trainer (victim, &q);
  expect_refused (tq, victim, before, good, "other seed", err, sizeof err);
  CHECK (strstr (err, "seed") != NULL, "other seed: \"%s\"", err);
  earshot_trainer_free (tq);

  /* Saving where it cannot: a message, no temporary left behind. */
  snprintf (bad, sizeof bad, "%s/no-such-dir/x.ckpt", dir);
  CHECK (earshot_trainer_save_checkpoint (tr, bad, NULL, 0, err, sizeof err)
      == EARSHOT_ERR_IO && err[0] != '\0', "save into a missing directory");
  CHECK (earshot_trainer_save_checkpoint (tr, good, NULL, 3, err, sizeof err)
      == EARSHOT_ERR_INVALID, "extra NULL with a size");

  /* After all that, the good file still loads. */
  void *extra = NULL;
  size_t extra_size = 0;
  CHECK (earshot_trainer_load_checkpoint (tv, good, &extra, &extra_size, err,
          sizeof err) == EARSHOT_OK && extra_size == 5
      && memcmp (extra, "extra", 5) == 0, "good file: %s", err);
  CHECK (same_params (victim, net), "loaded parameters differ");
  free (extra);
  /* ...and saves back byte for byte: moments, counters, RNG, params. */
  snprintf (bad, sizeof bad, "%s/again.ckpt", dir);
  CHECK (earshot_trainer_save_checkpoint (tv, bad, "extra", 5, err,
          sizeof err) == EARSHOT_OK, "save again: %s", err);
  size_t size2 = 0;
  unsigned char *bytes2 = slurp (bad, &size2);
  CHECK (bytes2 != NULL && size2 == size && memcmp (bytes, bytes2, size) == 0,
      "load + save is not the identity");
  free (bytes2);
  unlink (bad);

  snprintf (bad, sizeof bad, "%s/bad.ckpt", dir);
  unlink (bad);
  unlink (good);
  free (gb);
  free (wb);
  free (mut);
  free (before);
  free (bytes);
  earshot_trainer_free (tg);
  earshot_trainer_free (tw);
  earshot_trainer_free (tv);
  earshot_trainer_free (tr);
  earshot_net_free (gru);
  earshot_net_free (wide);
  earshot_net_free (victim);
  earshot_net_free (net);
  dataset_free (&d);
}

/* ---- 5 and 6. Single steps against a hand computation ------------------ */

/* Stops an epoch after `limit` batches. */
typedef struct {
  int batches, limit;
} stopper;

static bool
stop_after (void *user, size_t done, size_t total)
{
  stopper *s = user;
  (void) done;
  (void) total;
  return ++s->batches < s->limit;
}

/* The gradient [n_params] of frames [from, from + len) of one sequence with
 * the net's parameters, from state (updated to the state after them). */
static void
chunk_grad (const earshot_net *net, const earshot_sequence *q, size_t from,
    size_t len, float *state, float *grad)
{
  earshot_net_workspace *ws = NULL;
  if (earshot_net_workspace_new (net, len, 1, &ws) != EARSHOT_OK) {
    fprintf (stderr, "test_train: workspace\n");
    exit (2);
  }
  size_t n_in = earshot_net_n_inputs (net);
  memset (grad, 0, earshot_net_n_params (net) * sizeof *grad);
  earshot_net_forward_seq (net, ws, q->features + from * n_in, len, 1, state,
      state, NULL, NULL);
  earshot_net_backward_seq (net, ws, q->targets + from, NULL, grad, NULL,
      NULL);
  earshot_net_workspace_free (ws);
}

static double
norm2 (const double *v, size_t n)
{
  double s = 0.0;
  for (size_t k = 0; k < n; k++)
    s += v[k] * v[k];
  return sqrt (s);
}

/* Hand computation of one optimiser step in double:
 *   SGD:  m = mu m + g s;  w -= lr (m + wd w)
 *   Adam: m = b1 m + (1-b1) g s;  v = b2 v + (1-b2) (g s)^2;
 *         w -= lr (m / (1-b1^t) / (sqrt(v / (1-b2^t)) + eps) + wd w) */
static void
hand_step (const earshot_train_params *p, int t, double lr, double s,
    const float *g, const float *w, double *m, double *v, double *out,
    size_t n)
{
  for (size_t k = 0; k < n; k++) {
    double gk = (double) g[k] * s;
    if (p->optimizer == EARSHOT_OPT_SGD) {
      m[k] = p->momentum * m[k] + gk;
      out[k] = w[k] - lr * (m[k] + p->weight_decay * (double) w[k]);
    } else {
      m[k] = p->beta1 * m[k] + (1.0 - p->beta1) * gk;
      v[k] = p->beta2 * v[k] + (1.0 - p->beta2) * gk * gk;
      double mh = m[k] / (1.0 - pow (p->beta1, t));
      double vh = v[k] / (1.0 - pow (p->beta2, t));
      out[k] = w[k] - lr * (mh / (sqrt (vh) + p->epsilon)
          + p->weight_decay * (double) w[k]);
    }
  }
}

static double
max_diff (const double *a, const float *b, size_t n)
{
  double m = 0.0;
  for (size_t k = 0; k < n; k++) {
    double d = fabs (a[k] - (double) b[k]);
    m = d > m ? d : m;
  }
  return m;
}

/* Trains a copy of init on one sequence with p, stopping after `batches`
 * batches; returns the copy. */
static earshot_net *
train_batches (const earshot_net *init, const earshot_train_params *p,
    const earshot_sequence *q, int batches)
{
  earshot_net *net = copy_net (init);
  earshot_trainer *tr = make_trainer (net, p);
  stopper s = { 0, batches };
  earshot_train_stats st;
  CHECK (earshot_trainer_epoch (tr, q, 1, &st, stop_after, &s) == EARSHOT_OK,
      "epoch");
  CHECK (earshot_trainer_steps (tr) == (uint64_t) batches
      && earshot_trainer_epochs (tr) == 0, "%llu steps, %u epochs after %d "
      "batches of a stopped epoch",
      (unsigned long long) earshot_trainer_steps (tr),
      earshot_trainer_epochs (tr), batches);
  earshot_trainer_free (tr);
  return net;
}

enum { HS_T = 8, HS_FRAMES = 20 };

/* Two steps of B = 1, T = 8 on a 20-frame sequence, warm-up over 2 steps,
 * weight decay, no clipping, against hand_step.  The trainer drew a start
 * offset o in [0, 8) that the test cannot see, so every o is computed and
 * exactly one must match. */
static void
test_hand_steps (void)
{
  earshot_net *init = make_stack (EARSHOT_LAYER_GRU, 3, 4, 1, 3, 61);
  size_t np = earshot_net_n_params (init), ss = earshot_net_state_size (init);
  uint64_t r = 62;
  float x[HS_FRAMES * 3];
  int32_t y[HS_FRAMES];
  for (size_t k = 0; k < HS_FRAMES * 3; k++)
    x[k] = frand (&r, 1.0f);
  for (size_t t = 0; t < HS_FRAMES; t++)
    y[t] = (int32_t) irand (&r, 4) - 1;
  earshot_sequence q = { x, y, HS_FRAMES };

  float *g = xcalloc (np, sizeof *g), *state = xcalloc (ss, sizeof *state);
  double *m = xcalloc (np, sizeof *m), *v = xcalloc (np, sizeof *v);
  double *w1 = xcalloc (np, sizeof *w1), *w2 = xcalloc (np, sizeof *w2);

  for (int opt = 0; opt < 2; opt++) {
    earshot_train_params p = earshot_train_default_params ();
    p.optimizer = opt ? EARSHOT_OPT_SGD : EARSHOT_OPT_ADAM;
    p.learning_rate = opt ? 0.1f : 0.01f;
    p.momentum = 0.9f;
    p.weight_decay = 0.01f;
    p.clip_norm = 0.0f;
    p.warmup_steps = 2;
    p.chunk_frames = HS_T;
    p.batch_size = 1;
    p.seed = 3;
    const char *name = opt ? "sgd" : "adam";
    earshot_net *one = train_batches (init, &p, &q, 1);
    earshot_net *two = train_batches (init, &p, &q, 2);
    const float *p0 = earshot_net_params_const (init);
    const float *p1 = earshot_net_params_const (one);
    const float *p2 = earshot_net_params_const (two);

    double best1 = HUGE_VAL, best2 = HUGE_VAL, second2 = HUGE_VAL;
    for (size_t o = 0; o < HS_T; o++) {
      /* step 1: frames [o, o + 8) from zero state, lr / 2 */
      memset (state, 0, ss * sizeof *state);
      memset (m, 0, np * sizeof *m);
      memset (v, 0, np * sizeof *v);
      chunk_grad (init, &q, o, HS_T, state, g);
      hand_step (&p, 1, p.learning_rate * 0.5, 1.0, g, p0, m, v, w1, np);
      double d1 = max_diff (w1, p1, np);
      /* step 2: the next frames with the trainer's p1, the state carried */
      earshot_net *at1 = copy_net (one);
      size_t len2 = HS_FRAMES - o - HS_T < HS_T ? HS_FRAMES - o - HS_T : HS_T;
      chunk_grad (at1, &q, o + HS_T, len2, state, g);
      hand_step (&p, 2, p.learning_rate, 1.0, g, p1, m, v, w2, np);
      double d2 = max_diff (w2, p2, np);
      earshot_net_free (at1);
      if (d2 < best2) {
        second2 = best2;
        best2 = d2;
        best1 = d1;
      } else if (d2 < second2) {
        second2 = d2;
      }
    }
    printf ("train: %s hand steps: max |diff| %.2g (step 1), %.2g (step 2); "
        "next-best offset %.2g\n", name, best1, best2, second2);
    CHECK (best1 <= 1e-6, "%s: step 1 differs from the hand computation by "
        "%g", name, best1);
    CHECK (best2 <= 1e-6, "%s: step 2 differs from the hand computation by "
        "%g", name, best2);
    CHECK (second2 > 1e-4, "%s: offsets indistinguishable (%g)", name,
        second2);
    earshot_net_free (one);
    earshot_net_free (two);
  }

  /* 5. Clipping: SGD without momentum, lr 1, clip 0.05: the first update is
   * -lr * clip * g / |g|, of norm exactly lr * clip. */
  earshot_train_params p = earshot_train_default_params ();
  p.optimizer = EARSHOT_OPT_SGD;
  p.learning_rate = 1.0f;
  p.momentum = 0.0f;
  p.clip_norm = 0.05f;
  p.chunk_frames = HS_T;
  p.batch_size = 1;
  p.seed = 4;
  earshot_net *one = train_batches (init, &p, &q, 1);
  const float *p0 = earshot_net_params_const (init);
  const float *p1 = earshot_net_params_const (one);
  double *delta = xcalloc (np, sizeof *delta);
  for (size_t k = 0; k < np; k++)
    delta[k] = (double) p1[k] - (double) p0[k];
  double dn = norm2 (delta, np);
  CHECK_NEAR (dn / (p.learning_rate * p.clip_norm), 1.0, 1e-5,
      "clipped update norm / (lr * clip)");
  double best = HUGE_VAL, gnorm = 0.0;
  for (size_t o = 0; o < HS_T; o++) {
    memset (state, 0, ss * sizeof *state);
    chunk_grad (init, &q, o, HS_T, state, g);
    double gn = 0.0;
    for (size_t k = 0; k < np; k++)
      gn += (double) g[k] * g[k];
    gn = sqrt (gn);
    memset (m, 0, np * sizeof *m);
    hand_step (&p, 1, p.learning_rate, p.clip_norm / gn, g, p0, m, v, w1, np);
    double d = max_diff (w1, p1, np);
    if (d < best) {
      best = d;
      gnorm = gn;
    }
  }
  printf ("train: clip: |g| %.4f clipped to %.2f: |delta| = %.9f, max |diff| "
      "from -lr clip g/|g| %.2g\n", gnorm, (double) p.clip_norm, dn, best);
  CHECK (gnorm > 10.0 * p.clip_norm, "gradient norm %g too small for the test",
      gnorm);
  CHECK (best <= 1e-7, "clipped update differs by %g", best);

  /* A clip above the norm changes nothing: bit-identical to no clip. */
  p.clip_norm = 1e6f;
  earshot_net *loose = train_batches (init, &p, &q, 1);
  p.clip_norm = 0.0f;
  earshot_net *none = train_batches (init, &p, &q, 1);
  CHECK (same_params (loose, none), "a clip above |g| changed the update");
  earshot_net_free (none);
  earshot_net_free (loose);
  earshot_net_free (one);

  free (delta);
  free (w2);
  free (w1);
  free (v);
  free (m);
  free (state);
  free (g);
  earshot_net_free (init);
}

/* ---- 7. Evaluation against stepping ------------------------------------ */

static void
test_evaluate (void)
{
  static const size_t lengths[] = { 1, 37, 256, 257, 700, 0, 5, 513, 64 };
  enum { N = sizeof lengths / sizeof lengths[0], IN = 3, C = 3 };
  dataset d;
  dataset_alloc (&d, N, lengths, IN);
  uint64_t r = 71;
  for (size_t s = 0; s < N; s++)
    for (size_t t = 0; t < lengths[s]; t++) {
      for (int k = 0; k < IN; k++)
        d.x[s][t * IN + (size_t) k] = frand (&r, 2.0f);
      d.y[s][t] = (int32_t) irand (&r, C + 1) - 1;
    }
  static const float weights[C] = { 0.5f, 1.0f, 3.0f };
  earshot_layer_spec deep[] = {
    { EARSHOT_LAYER_LSTM, IN, 5, EARSHOT_ACT_LINEAR },
    { EARSHOT_LAYER_DENSE, 5, 6, EARSHOT_ACT_RELU },
    { EARSHOT_LAYER_GRU, 6, 4, EARSHOT_ACT_LINEAR },
    { EARSHOT_LAYER_DENSE, 4, C, EARSHOT_ACT_SOFTMAX },
  };
  for (int i = 0; i < 4; i++) {
    earshot_net *net = NULL;
    if (i < 3) {
      static const earshot_layer_type cells[] = { EARSHOT_LAYER_GRU,
        EARSHOT_LAYER_LSTM, EARSHOT_LAYER_RNN };
      net = make_stack (cells[i], IN, 7, 2, C, 80 + (uint64_t) i);
    } else {
      earshot_net_new (deep, 4, &net, NULL, 0);
      earshot_net_init (net, 84);
    }
    /* Sharpen the output layer so that predictions vary. */
    size_t last = earshot_net_n_layers (net) - 1;
    float *w = earshot_net_params (net) + earshot_net_layer_offset (net, last);
    for (size_t k = 0; k < earshot_net_layer_n_params (net, last); k++)
      w[k] *= 4.0f;

    uint64_t ref[C * C], got[C * C];
    for (size_t k = 0; k < C * C; k++)
      got[k] = 1;     /* added to */
    double ref_loss;
    step_reference (net, &d, weights, ref, &ref_loss);
    earshot_train_stats st;
    CHECK (earshot_evaluate (net, d.seqs, N, weights, got, &st)
        == EARSHOT_OK, "net %d: evaluate", i);
    uint64_t frames = 0, correct = 0;
    int conf_equal = 1;
    double f1 = 0.0;
    int f1_n = 0;
    for (size_t a = 0; a < C; a++) {
      uint64_t row = 0, col = 0;
      for (size_t b = 0; b < C; b++) {
        conf_equal &= got[a * C + b] == ref[a * C + b] + 1;
        frames += ref[a * C + b];
        row += ref[a * C + b];
        col += ref[b * C + a];
      }
      correct += ref[a * C + a];
      if (row + col > 0) {
        f1 += 2.0 * (double) ref[a * C + a] / (double) (row + col);
        f1_n++;
      }
    }
    f1 /= f1_n;
    CHECK (conf_equal, "net %d: confusion matrix differs from stepping", i);
    CHECK (st.frames == frames && st.correct == correct, "net %d: %zu/%zu "
        "correct, stepping %llu/%llu", i, st.correct, st.frames,
        (unsigned long long) correct, (unsigned long long) frames);
    CHECK_NEAR (st.accuracy, (double) correct / (double) frames, 1e-15,
        "accuracy");
    CHECK_NEAR (st.macro_f1, f1, 1e-12, "macro-F1");
    CHECK_NEAR (st.loss, ref_loss, 1e-5 * ref_loss, "weighted loss");
    CHECK (st.steps == 0 && st.learning_rate == 0.0, "evaluate stats steps");
    if (i == 0)
      printf ("train: evaluate: %llu frames, %llu correct, loss %.6f (step "
          "%.6f), macro-F1 %.4f\n", (unsigned long long) frames,
          (unsigned long long) correct, st.loss, ref_loss, st.macro_f1);
    earshot_net_free (net);
  }

  /* More empty sequences in a row than there are lanes, then real ones. */
  {
    static const size_t gaps[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30, 0, 9 };
    enum { NG = sizeof gaps / sizeof gaps[0] };
    dataset e;
    dataset_alloc (&e, NG, gaps, IN);
    for (size_t s = 0; s < NG; s++)
      for (size_t t = 0; t < gaps[s]; t++) {
        for (int k = 0; k < IN; k++)
          e.x[s][t * IN + (size_t) k] = frand (&r, 2.0f);
        e.y[s][t] = (int32_t) irand (&r, C);
      }
    earshot_net *net = make_stack (EARSHOT_LAYER_LSTM, IN, 5, 1, C, 3);
    uint64_t ref[C * C], got[C * C] = { 0 };
    double ref_loss;
    step_reference (net, &e, NULL, ref, &ref_loss);
    earshot_train_stats st;
    CHECK (earshot_evaluate (net, e.seqs, NG, NULL, got, &st) == EARSHOT_OK
        && st.frames == 39 && memcmp (got, ref, sizeof ref) == 0,
        "empty sequences first: %zu frames scored of 39", st.frames);
    earshot_net_free (net);
    dataset_free (&e);
  }

  /* Nothing to evaluate; a bad target; a bad weight. */
  earshot_net *net = make_stack (EARSHOT_LAYER_GRU, IN, 4, 1, C, 1);
  earshot_train_stats st;
  CHECK (earshot_evaluate (net, NULL, 0, NULL, NULL, &st) == EARSHOT_OK
      && st.frames == 0 && st.accuracy == 0.0, "no sequences");
  d.y[1][3] = C;
  CHECK (earshot_evaluate (net, d.seqs, N, NULL, NULL, &st)
      == EARSHOT_ERR_INVALID, "target out of range accepted");
  d.y[1][3] = 0;
  float bad_w[C] = { 1.0f, -1.0f, 1.0f };
  CHECK (earshot_evaluate (net, d.seqs, N, bad_w, NULL, &st)
      == EARSHOT_ERR_INVALID, "negative class weight accepted");
  earshot_net_free (net);
  dataset_free (&d);
}

/* ---- Schedule and progress --------------------------------------------- */

typedef struct {
  size_t calls, last_done, total;
  bool monotonic;
} progress_log;

static bool
log_progress (void *user, size_t done, size_t total)
{
  progress_log *l = user;
  l->monotonic &= done > l->last_done && (l->calls == 0 || total == l->total);
  l->calls++;
  l->last_done = done;
  l->total = total;
  return true;
}

static void
test_schedule_and_progress (void)
{
  dataset d;
  make_task (&d, 7, 50, 91);
  size_t target_frames = 0;
  for (size_t s = 0; s < d.n; s++)
    for (size_t t = 0; t < 50; t++)
      target_frames += d.y[s][t] >= 0;
  earshot_net *net = make_stack (EARSHOT_LAYER_GRU, TASK_IN, 4, 1,
      TASK_CLASSES, 3);
  earshot_train_params p = earshot_train_default_params ();
  p.learning_rate = 0.1f;
  p.chunk_frames = 10;
  p.batch_size = 3;
  p.warmup_steps = 1000;
  earshot_trainer *tr = make_trainer (net, &p);
  earshot_train_stats st;
  progress_log log = { 0, 0, 0, true };
  earshot_trainer_epoch (tr, d.seqs, d.n, &st, log_progress, &log);
  CHECK (log.monotonic && log.last_done == log.total, "progress: %zu calls, "
      "done %zu of %zu", log.calls, log.last_done, log.total);
  CHECK (log.total <= 350 && log.total >= 350 - 7 * 9, "epoch total %zu",
      log.total);
  CHECK (st.steps == earshot_trainer_steps (tr) && st.steps > 0
      && log.calls == st.steps, "%llu steps, %zu batches",
      (unsigned long long) st.steps, log.calls);
  /* The last step of epoch 1 was number steps - 1 of the warm-up. */
  CHECK_NEAR (st.learning_rate, 0.1f * (double) st.steps / 1000.0, 1e-12,
      "warm-up rate");
  earshot_trainer_free (tr);

  /* Decay: the rate of epoch e is lr * 0.5^e. */
  p.warmup_steps = 0;
  p.lr_decay = 0.5f;
  tr = make_trainer (net, &p);
  for (int e = 0; e < 3; e++) {
    earshot_trainer_epoch (tr, d.seqs, d.n, &st, NULL, NULL);
    CHECK_NEAR (st.learning_rate, 0.1f * pow (0.5, e), 1e-12, "decayed rate");
  }
  CHECK (earshot_trainer_epochs (tr) == 3, "%u epochs",
      earshot_trainer_epochs (tr));
  earshot_trainer_free (tr);

  /* T = 1: no start offset, so every target frame is scored once. */
  p.chunk_frames = 1;
  p.lr_decay = 1.0f;
  tr = make_trainer (net, &p);
  earshot_trainer_epoch (tr, d.seqs, d.n, &st, NULL, NULL);
  CHECK (st.frames == target_frames, "T = 1: %zu frames scored, %zu have "
      "targets", st.frames, target_frames);
  CHECK (st.loss > 0.0 && st.macro_f1 > 0.0 && st.accuracy > 0.0,
      "T = 1: statistics");
  earshot_trainer_free (tr);
  earshot_net_free (net);
  dataset_free (&d);
}

/* ---- 8. Validation ----------------------------------------------------- */

static void
test_validation (void)
{
  earshot_net *net = make_stack (EARSHOT_LAYER_GRU, TASK_IN, 4, 1,
      TASK_CLASSES, 3);
  static const float neg_w[] = { 1.0f, -1.0f, 1.0f };
  static const float nan_w[] = { 1.0f, 1.0f, NAN };
  static const float zero_w[] = { 0.0f, 0.0f, 0.0f };
  earshot_train_params base = earshot_train_default_params ();
  CHECK (base.optimizer == EARSHOT_OPT_ADAM && base.learning_rate == 1e-3f
      && base.momentum == 0.9f && base.beta1 == 0.9f && base.beta2 == 0.999f
      && base.epsilon == 1e-8f && base.weight_decay == 0.0f
      && base.clip_norm == 5.0f && base.lr_decay == 1.0f
      && base.chunk_frames == 100 && base.batch_size == 32
      && base.dropout == 0.0f && base.class_weights == NULL,
      "default params");
  for (int i = 0; i < 20; i++) {
    earshot_train_params p = base;
    const char *field = NULL;
    switch (i) {
      case 0: p.optimizer = (earshot_optimizer) 7; field = "optimizer"; break;
      case 1: p.learning_rate = 0.0f; field = "learning_rate"; break;
      case 2: p.learning_rate = NAN; field = "learning_rate"; break;
      case 3: p.momentum = 1.0f; field = "momentum"; break;
      case 4: p.beta1 = -0.1f; field = "beta1"; break;
      case 5: p.beta2 = 1.0f; field = "beta2"; break;
      case 6: p.epsilon = 0.0f; field = "epsilon"; break;
      case 7: p.weight_decay = -1.0f; field = "weight_decay"; break;
      case 8: p.clip_norm = -1.0f; field = "clip_norm"; break;
      case 9: p.clip_norm = INFINITY; field = "clip_norm"; break;
      case 10: p.lr_decay = 0.0f; field = "lr_decay"; break;
      case 11: p.chunk_frames = 0; field = "chunk_frames"; break;
      case 12: p.chunk_frames = 100001; field = "chunk_frames"; break;
      case 13: p.batch_size = 0; field = "batch_size"; break;
      case 14: p.batch_size = 4097; field = "batch_size"; break;
      case 15: p.dropout = 1.0f; field = "dropout"; break;
      case 16: p.dropout = -0.5f; field = "dropout"; break;
      case 17: p.class_weights = neg_w; field = "class_weights[1]"; break;
      case 18: p.class_weights = nan_w; field = "class_weights[2]"; break;
      case 19: p.class_weights = zero_w; field = "class_weights"; break;
    }
    earshot_trainer *tr = (earshot_trainer *) &p;
    char err[256] = "";
    earshot_status st = earshot_trainer_new (net, &p, &tr, err, sizeof err);
    CHECK (st == EARSHOT_ERR_INVALID && tr == NULL, "%s: accepted", field);
    CHECK (strstr (err, field) != NULL, "%s: message \"%s\"", field, err);
    if (i == 17)
      printf ("train: validation: \"%s\"\n", err);
  }
  earshot_trainer_free (NULL);

  /* Limits themselves are fine; weights are copied. */
  earshot_train_params p = base;
  float w[TASK_CLASSES] = { 1.0f, 1.0f, 1.0f };
  p.chunk_frames = 1;
  p.batch_size = 4096;
  p.class_weights = w;
  earshot_trainer *tr = NULL;
  CHECK (earshot_trainer_new (net, &p, &tr, NULL, 0) == EARSHOT_OK,
      "chunk 1, batch 4096");
  w[0] = -5.0f;     /* the trainer has its own copy */
  earshot_trainer_free (tr);

  /* Bad sequences: refused before anything changes. */
  p = base;
  p.chunk_frames = 5;
  p.batch_size = 2;
  tr = make_trainer (net, &p);
  dataset d;
  make_task (&d, 2, 10, 5);
  float *before = xcalloc (earshot_net_n_params (net), sizeof *before);
  memcpy (before, earshot_net_params_const (net),
      earshot_net_n_params (net) * sizeof *before);
  earshot_train_stats st;
  CHECK (earshot_trainer_epoch (tr, d.seqs, 0, &st, NULL, NULL)
      == EARSHOT_ERR_INVALID, "no sequences accepted");
  CHECK (earshot_trainer_epoch (tr, NULL, 2, &st, NULL, NULL)
      == EARSHOT_ERR_INVALID, "NULL sequences accepted");
  d.seqs[1].n_frames = 0;
  CHECK (earshot_trainer_epoch (tr, d.seqs, 2, &st, NULL, NULL)
      == EARSHOT_ERR_INVALID, "empty sequence accepted");
  d.seqs[1].n_frames = 10;
  d.y[1][4] = TASK_CLASSES;
  CHECK (earshot_trainer_epoch (tr, d.seqs, 2, &st, NULL, NULL)
      == EARSHOT_ERR_INVALID, "target out of range accepted");
  d.y[1][4] = 0;
  d.x[0][7] = NAN;
  CHECK (earshot_trainer_epoch (tr, d.seqs, 2, &st, NULL, NULL)
      == EARSHOT_ERR_INVALID, "NaN feature accepted");
  d.x[0][7] = 0.0f;
  CHECK (memcmp (before, earshot_net_params_const (net),
          earshot_net_n_params (net) * sizeof *before) == 0
      && earshot_trainer_epochs (tr) == 0 && earshot_trainer_steps (tr) == 0,
      "a refused epoch changed the trainer");
  CHECK (earshot_trainer_epoch (tr, d.seqs, 2, &st, NULL, NULL) == EARSHOT_OK
      && earshot_trainer_epochs (tr) == 1, "the repaired data trains");

  /* A net that overflows: the non-finite gradient is refused, the
   * parameters stay as they were. */
  float *pw = earshot_net_params (net);
  size_t last = earshot_net_n_layers (net) - 1;
  for (size_t k = 0; k < earshot_net_layer_n_params (net, last); k++)
    pw[earshot_net_layer_offset (net, last) + k] = (k % 2 ? -3e38f : 3e38f);
  memcpy (before, pw, earshot_net_n_params (net) * sizeof *before);
  uint64_t steps = earshot_trainer_steps (tr);
  CHECK (earshot_trainer_epoch (tr, d.seqs, 2, &st, NULL, NULL)
      == EARSHOT_ERR_INVALID, "a non-finite gradient was applied");
  CHECK (memcmp (before, pw, earshot_net_n_params (net) * sizeof *before) == 0
      && earshot_trainer_steps (tr) == steps
      && earshot_trainer_epochs (tr) == 1, "a diverged step changed the "
      "trainer");
  free (before);
  dataset_free (&d);
  earshot_trainer_free (tr);
  earshot_net_free (net);
}

int
main (void)
{
  double t0 = now ();
  char dir[] = "/tmp/test_train.XXXXXX";
  if (mkdtemp (dir) == NULL) {
    perror ("mkdtemp");
    return 2;
  }
  test_learning ();
  test_determinism ();
  test_resume (dir);
  test_checkpoint_robustness (dir);
  test_hand_steps ();
  test_evaluate ();
  test_schedule_and_progress ();
  test_validation ();
  rmdir (dir);
  printf ("train: all tests in %.2f s\n", now () - t0);
  return check_finish ("train");
}
