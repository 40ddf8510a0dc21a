/* test_stream.c — a stream's output is a pure function of its samples:
 * chunking does not matter, state is carried, reset means fresh, streams
 * over one model do not interfere, and the stream equals the front end plus
 * the net stepped by hand. */
#include "earshot_stream.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define N_SAMPLES 48013         /* 3 s and a bit: a partial last hop */

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint32_t
rnd (void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t) (rng >> 32);
}

static earshot_model *
make_model (void)
{
  earshot_features_config cfg = earshot_features_default_config ();
  const char *labels[] = { "speech", "nonspeech" };
  float mean[40], std[40];
  earshot_layer_spec layers[] = {
    { EARSHOT_LAYER_LSTM, 40, 12, 0 },
    { EARSHOT_LAYER_GRU, 12, 10, 0 },
    { EARSHOT_LAYER_DENSE, 10, 2, EARSHOT_ACT_SOFTMAX },
  };
  earshot_net *net;
  earshot_model *m;
  char err[256];

  for (int i = 0; i < 40; i++) {
    mean[i] = -8.0f + 0.1f * (float) i;
    std[i] = 3.0f - 0.02f * (float) i;
  }
  if (earshot_net_new (layers, 3, &net, err, sizeof err) != EARSHOT_OK
      || (earshot_net_init (net, 7), 0)
      || earshot_model_new (&cfg, mean, std, labels, 2, net, &m, err,
          sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "%s\n", err);
    exit (1);
  }
  return m;
}

static void
make_signal (float *x, size_t n)
{
  /* Silence, a tone, noise, a chirp: something for every layer to do. */
  for (size_t i = 0; i < n; i++) {
    double t = (double) i / 16000.0;
    float v = 0.0f;
    if (t > 0.5 && t < 1.2)
      v = 0.5f * (float) sin (2 * M_PI * 440.0 * t);
    else if (t >= 1.2 && t < 2.0)
      v = 0.2f * ((float) rnd () / 4294967296.0f - 0.5f);
    else if (t >= 2.0)
      v = 0.3f * (float) sin (2 * M_PI * (200.0 + 1500.0 * (t - 2.0)) * t);
    x[i] = v;
  }
}

typedef struct {
  float *probs;
  float *feats;
  size_t n;
} result;

/* Runs the signal through `s` in chunks from `next_chunk` (0: all at once),
 * giving each call exactly the frames it needs, then flushes. */
static result
run_chunked (earshot_stream *s, const float *x, size_t n, size_t chunk)
{
  size_t c = earshot_stream_n_classes (s);
  size_t cap = n / 160 + 2;
  result r = { calloc (cap * c, sizeof (float)),
    calloc (cap * 40, sizeof (float)), 0 };
  size_t pos = 0;

  while (pos < n) {
    size_t len = chunk == 0 ? n - pos
        : chunk == (size_t) -1 ? 1 + rnd () % 3000 : chunk;
    if (len > n - pos)
      len = n - pos;
    size_t want = earshot_stream_frames_for (s, len);
    size_t got = earshot_stream_process (s, x + pos, len,
        r.probs + r.n * c, r.feats + r.n * 40, cap - r.n);
    CHECK (got == want, "frames_for predicted %zu, got %zu", want, got);
    CHECK (earshot_stream_samples_consumed (s) == len, "consumed %zu of %zu",
        earshot_stream_samples_consumed (s), len);
    r.n += got;
    pos += len;
  }
  size_t pending = earshot_stream_frames_pending (s);
  size_t got = earshot_stream_flush (s, r.probs + r.n * c, r.feats + r.n * 40,
      cap - r.n);
  CHECK (got == pending, "flush gave %zu frames, pending said %zu", got,
      pending);
  r.n += got;
  return r;
}

static void
result_free (result *r)
{
  free (r->probs);
  free (r->feats);
}

static bool
same (const result *a, const result *b)
{
  return a->n == b->n
      && memcmp (a->probs, b->probs, a->n * 2 * sizeof (float)) == 0
      && memcmp (a->feats, b->feats, a->n * 40 * sizeof (float)) == 0;
}

/* A model with lookahead d: frame t's posteriors are the net's output at
 * step t + d, the steps past the audio fed with the front end's silence
 * frame; features come out with their own frame.  Checked bit for bit
 * against the front end and net stepped by hand, for any chunking, a frame
 * limit, and audio shorter than the lookahead. */
static void
check_lookahead (const float *x, size_t n, uint32_t d)
{
  earshot_model *m = make_model ();
  CHECK (earshot_model_set_lookahead (m, d) == EARSHOT_OK, "set %u", d);
  const earshot_features_config *cfg = earshot_model_features_config (m);
  const earshot_net *net = earshot_model_net (m);
  size_t total = (n + 159) / 160;

  /* The reference: every step's input and output. */
  earshot_features *fe;
  earshot_features_new (cfg, earshot_model_norm_mean (m),
      earshot_model_norm_std (m), &fe, NULL, 0);
  float *in = calloc ((total + d) * 40, sizeof (float));
  float *out = calloc ((total + d) * 2, sizeof (float));
  float *state = calloc (earshot_net_state_size (net), sizeof (float));
  float *scratch = calloc (earshot_net_scratch_size (net), sizeof (float));
  size_t steps = 0, pos = 0;
  for (;;) {
    while (steps < total && earshot_features_pull (fe, in + 40 * steps))
      steps++;
    if (pos == n)
      break;
    pos += earshot_features_push (fe, x + pos, n - pos);
    if (pos == n)
      earshot_features_flush (fe);
  }
  CHECK (steps == total, "reference: %zu frames of %zu", steps, total);
  for (; steps < total + d; steps++)
    earshot_features_silence (fe, in + 40 * steps);
  for (size_t t = 0; t < total + d; t++)
    earshot_net_step (net, in + 40 * t, state, scratch, out + 2 * t);

  earshot_stream *s;
  CHECK (earshot_stream_new (m, &s) == EARSHOT_OK, "new");
  const size_t chunks[] = { 0, 1, 160, 1000, (size_t) -1 };
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    result r = run_chunked (s, x, n, chunks[i]);
    CHECK (r.n == total
        && memcmp (r.probs, out + 2 * d, total * 2 * sizeof (float)) == 0
        && memcmp (r.feats, in, total * 40 * sizeof (float)) == 0,
        "lookahead %u, chunk %zd: %zu frames (%zu expected) or values "
        "differ from the net stepped by hand", d, (ssize_t) chunks[i], r.n,
        total);
    result_free (&r);
  }

  /* Three frames at most per call: nothing lost, nothing reordered. */
  float *p = calloc ((total + 2) * 2, sizeof (float));
  size_t got = 0;
  pos = 0;
  while (pos < n) {
    size_t k = earshot_stream_process (s, x + pos, n - pos, p + 2 * got,
        NULL, 3);
    CHECK (k <= 3, "limit exceeded");
    got += k;
    pos += earshot_stream_samples_consumed (s);
  }
  got += earshot_stream_process (s, NULL, 0, p + 2 * got, NULL,
      total + 2 - got);
  while (earshot_stream_frames_pending (s) > 0)
    got += earshot_stream_flush (s, p + 2 * got, NULL, 3);
  CHECK (got == total && memcmp (p, out + 2 * d, total * 2 * sizeof (float))
      == 0, "lookahead %u, frame-limited: %zu frames, or values differ", d,
      got);
  CHECK (earshot_stream_frame_index (s) == 0, "flush resets");

  free (p);
  earshot_stream_free (s);
  free (in);
  free (out);
  free (state);
  free (scratch);
  earshot_features_free (fe);
  earshot_model_free (m);
}

int
main (void)
{
  earshot_model *m = make_model ();
  float *x = malloc (N_SAMPLES * sizeof (float));
  earshot_stream *s, *s2;

  make_signal (x, N_SAMPLES);
  check_lookahead (x, N_SAMPLES, 1);
  check_lookahead (x, N_SAMPLES, 20);
  check_lookahead (x, 1000, 20);        /* 7 frames: all come from flush */
  check_lookahead (x, 1, 3);
  CHECK (earshot_stream_new (m, &s) == EARSHOT_OK, "new");
  CHECK (earshot_stream_new (m, &s2) == EARSHOT_OK, "new 2");

  result ref = run_chunked (s, x, N_SAMPLES, 0);
  CHECK (ref.n == (N_SAMPLES + 159) / 160, "%zu frames, expected %d", ref.n,
      (N_SAMPLES + 159) / 160);
  CHECK (earshot_stream_frame_index (s) == 0, "flush resets the stream");

  /* Chunk sizes, bit-identical (the stream was reset by the flush). */
  const size_t chunks[] = { 1, 7, 160, 4096, (size_t) -1, (size_t) -1 };
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    result r = run_chunked (s, x, N_SAMPLES, chunks[i]);
    CHECK (same (&ref, &r), "chunk %zd: not bit-identical to one call",
        (ssize_t) chunks[i]);
    result_free (&r);
  }

  /* The stream equals the front end plus the net, stepped by hand. */
  {
    const earshot_features_config *cfg = earshot_model_features_config (m);
    const earshot_net *net = earshot_model_net (m);
    earshot_features *fe;
    earshot_features_new (cfg, earshot_model_norm_mean (m),
        earshot_model_norm_std (m), &fe, NULL, 0);
    float *state = calloc (earshot_net_state_size (net), sizeof (float));
    float *scratch = calloc (earshot_net_scratch_size (net), sizeof (float));
    float frame[40], probs[2];
    size_t t = 0, pos = 0;
    bool equal = true;
    for (;;) {
      while (earshot_features_pull (fe, frame)) {
        earshot_net_step (net, frame, state, scratch, probs);
        equal = equal && t < ref.n
            && memcmp (probs, ref.probs + 2 * t, sizeof probs) == 0
            && memcmp (frame, ref.feats + 40 * t, sizeof frame) == 0;
        t++;
      }
      if (pos == N_SAMPLES)
        break;
      pos += earshot_features_push (fe, x + pos, N_SAMPLES - pos);
      if (pos == N_SAMPLES)
        earshot_features_flush (fe);
    }
    CHECK (equal && t == ref.n, "stream differs from features + net_step "
        "(%zu frames)", t);
    free (state);
    free (scratch);
    earshot_features_free (fe);
  }

  /* State is carried: the posteriors of the second half depend on the first
   * (a fresh stream on the second half alone gives different numbers). */
  {
    size_t half = 160 * 150;
    result tail = run_chunked (s, x + half, N_SAMPLES - half, 0);
    CHECK (tail.n == ref.n - 150, "tail frames");
    CHECK (memcmp (tail.probs, ref.probs + 150 * 2, 2 * sizeof (float)) != 0,
        "state does not seem to be carried");
    result_free (&tail);
  }

  /* A frame limit stops early without losing anything. */
  {
    size_t cap = ref.n + 2;
    float *p = calloc (cap * 2, sizeof (float));
    size_t n = 0, pos = 0;
    while (pos < N_SAMPLES) {
      size_t got = earshot_stream_process (s, x + pos, N_SAMPLES - pos,
          p + 2 * n, NULL, 3);
      CHECK (got <= 3, "limit exceeded");
      n += got;
      pos += earshot_stream_samples_consumed (s);
    }
    /* A complete frame may wait inside for room. */
    n += earshot_stream_process (s, NULL, 0, p + 2 * n, NULL, cap - n);
    n += earshot_stream_flush (s, p + 2 * n, NULL, cap - n);
    CHECK (n == ref.n && memcmp (p, ref.probs, n * 2 * sizeof (float)) == 0,
        "frame-limited processing differs (%zu frames)", n);
    free (p);
  }

  /* Reset mid-stream equals a fresh stream; interleaved streams over one
   * model do not interfere. */
  {
    size_t cap = ref.n + 2;
    float *a = calloc (cap * 2, sizeof (float));
    float *b = calloc (cap * 2, sizeof (float));
    earshot_stream_process (s, x, 5000, a, NULL, cap);
    earshot_stream_reset (s);
    size_t na = 0, nb = 0;
    for (size_t pos = 0; pos < N_SAMPLES; pos += 1000) {
      size_t len = pos + 1000 > N_SAMPLES ? N_SAMPLES - pos : 1000;
      na += earshot_stream_process (s, x + pos, len, a + 2 * na, NULL,
          cap - na);
      nb += earshot_stream_process (s2, x + pos, len, b + 2 * nb, NULL,
          cap - nb);
    }
    na += earshot_stream_flush (s, a + 2 * na, NULL, cap - na);
    nb += earshot_stream_flush (s2, b + 2 * nb, NULL, cap - nb);
    CHECK (na == ref.n && nb == ref.n
        && memcmp (a, ref.probs, na * 2 * sizeof (float)) == 0
        && memcmp (b, ref.probs, nb * 2 * sizeof (float)) == 0,
        "reset or interleaving changed the output");
    free (a);
    free (b);
  }

  /* Posteriors are probabilities. */
  double worst = 0;
  for (size_t t = 0; t < ref.n; t++) {
    double sum = ref.probs[2 * t] + ref.probs[2 * t + 1];
    if (fabs (sum - 1.0) > worst)
      worst = fabs (sum - 1.0);
  }
  CHECK_NEAR (worst, 0.0, 1e-5, "posteriors sum to 1");

  /* Hostile samples: NaN, Inf and absurd values for 0.2 s in the middle of
   * the signal.  Every posterior stays finite, and one second after the
   * burst the output is within 1e-3 of the clean signal's (the recurrent
   * state forgets). */
  {
    float *y = malloc (N_SAMPLES * sizeof (float));
    memcpy (y, x, N_SAMPLES * sizeof (float));
    for (size_t i = 16000; i < 19200; i++)
      y[i] = (i % 3 == 0) ? NAN : (i % 3 == 1) ? INFINITY : -1e30f;
    result bad = run_chunked (s, y, N_SAMPLES, 4096);
    bool finite = bad.n == ref.n;
    for (size_t t = 0; finite && t < bad.n * 2; t++)
      finite = isfinite (bad.probs[t]);
    CHECK (finite, "non-finite posterior after hostile samples");
    double drift = 0;
    for (size_t t = 220; t < bad.n; t++)       /* 1 s after the burst */
      for (int c = 0; c < 2; c++) {
        double d = fabs (bad.probs[2 * t + c] - ref.probs[2 * t + c]);
        drift = d > drift ? d : drift;
      }
    printf ("hostile burst: max posterior difference 1 s later %.3g\n",
        drift);
    CHECK (drift < 1e-3, "state did not recover: %g", drift);
    result_free (&bad);
    free (y);
  }

  size_t bytes = earshot_stream_memory_size (s);
  printf ("per-stream memory: %zu bytes\n", bytes);
  CHECK (bytes > 0 && bytes < 64 * 1024, "per-stream memory %zu", bytes);

  result_free (&ref);
  earshot_stream_free (s);
  earshot_stream_free (s2);
  earshot_stream_free (NULL);
  earshot_model_free (m);
  free (x);
  return check_finish ("stream");
}
