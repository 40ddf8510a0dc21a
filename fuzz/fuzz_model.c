/* fuzz_model.c — libFuzzer target for the .earshot model loader.
 *
 * Every input is loaded twice: as it is (which mostly exercises the header
 * walk and the checksum), and with its CRC-32 trailer recomputed so that
 * mutations reach the section parsers behind the checksum.  A model the
 * loader accepts must then keep the loader's promises:
 *
 *   - every accessor answers within the sizes the model reports;
 *   - save(load(x)) loads again, to the same model, and saving that gives
 *     the same bytes (the format has one canonical form per model);
 *   - a stream over it can be made and run (small models only), giving
 *     n_labels posteriors per frame.
 *
 * A broken promise aborts, so libFuzzer records the input.  Build and run:
 * fuzz/build.sh, fuzz/run.sh.
 */
#include "earshot_model.h"
#include "earshot_private.h"
#include "earshot_stream.h"
#include "fuzz.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Streams are only run over models this small, so one input stays fast. */
#define STREAM_MAX_FFT 8192u
#define STREAM_MAX_PARAMS 200000u
#define STREAM_MAX_MELS 128u

static void
check_accessors (const earshot_model *m)
{
  const earshot_features_config *cfg = earshot_model_features_config (m);
  const earshot_net *net = earshot_model_net (m);
  size_t n_labels = earshot_model_n_labels (m);

  FUZZ_CHECK (cfg != NULL && net != NULL);
  FUZZ_CHECK (earshot_features_config_check (cfg, NULL, 0) == EARSHOT_OK);
  FUZZ_CHECK (n_labels >= 2 && n_labels <= EARSHOT_MODEL_MAX_LABELS);
  FUZZ_CHECK (earshot_net_n_inputs (net) == cfg->n_mels);
  FUZZ_CHECK (earshot_net_n_outputs (net) == n_labels);
  FUZZ_CHECK (earshot_model_format_version (m) >= 1
      && earshot_model_format_version (m) <= EARSHOT_MODEL_FORMAT_VERSION);

  const float *mean = earshot_model_norm_mean (m);
  const float *std = earshot_model_norm_std (m);
  for (uint32_t i = 0; i < cfg->n_mels; i++)
    FUZZ_CHECK (mean[i] == mean[i] && std[i] > 0.0f);

  for (size_t i = 0; i < n_labels; i++) {
    const char *l = earshot_model_label (m, i);
    size_t len = strlen (l);
    FUZZ_CHECK (len >= 1 && len <= EARSHOT_MODEL_MAX_LABEL_LEN);
    FUZZ_CHECK (earshot_model_find_label (m, l) == (int) i);
  }
  FUZZ_CHECK (earshot_model_label (m, n_labels) == NULL);

  for (size_t i = 0; i < earshot_model_n_meta (m); i++) {
    const char *k = earshot_model_meta_key (m, i);
    const char *v = earshot_model_meta_value (m, i);
    FUZZ_CHECK (k != NULL && v != NULL);
    FUZZ_CHECK (earshot_model_get_meta (m, k) == v);
    FUZZ_CHECK (strlen (v) <= EARSHOT_MODEL_MAX_META_LEN);
  }

  size_t total = 0;
  for (size_t i = 0; i < earshot_net_n_layers (net); i++) {
    FUZZ_CHECK (earshot_net_layer_offset (net, i) == total);
    total += earshot_net_layer_n_params (net, i);
  }
  FUZZ_CHECK (total == earshot_net_n_params (net));
}

/* The same model, field by field (weights bit for bit). */
static void
check_same (const earshot_model *a, const earshot_model *b)
{
  const earshot_features_config *ca = earshot_model_features_config (a);
  const earshot_features_config *cb = earshot_model_features_config (b);
  FUZZ_CHECK (memcmp (ca, cb, sizeof *ca) == 0);
  FUZZ_CHECK (memcmp (earshot_model_norm_mean (a), earshot_model_norm_mean (b),
          ca->n_mels * sizeof (float)) == 0);
  FUZZ_CHECK (memcmp (earshot_model_norm_std (a), earshot_model_norm_std (b),
          ca->n_mels * sizeof (float)) == 0);
  FUZZ_CHECK (earshot_model_n_labels (a) == earshot_model_n_labels (b));
  for (size_t i = 0; i < earshot_model_n_labels (a); i++)
    FUZZ_CHECK (strcmp (earshot_model_label (a, i),
            earshot_model_label (b, i)) == 0);
  FUZZ_CHECK (earshot_model_n_meta (a) == earshot_model_n_meta (b));
  for (size_t i = 0; i < earshot_model_n_meta (a); i++) {
    FUZZ_CHECK (strcmp (earshot_model_meta_key (a, i),
            earshot_model_meta_key (b, i)) == 0);
    FUZZ_CHECK (strcmp (earshot_model_meta_value (a, i),
            earshot_model_meta_value (b, i)) == 0);
  }
  const earshot_net *na = earshot_model_net (a), *nb = earshot_model_net (b);
  FUZZ_CHECK (earshot_net_n_layers (na) == earshot_net_n_layers (nb));
  for (size_t i = 0; i < earshot_net_n_layers (na); i++)
    FUZZ_CHECK (memcmp (earshot_net_layer (na, i), earshot_net_layer (nb, i),
            sizeof (earshot_layer_spec)) == 0);
  FUZZ_CHECK (earshot_net_n_params (na) == earshot_net_n_params (nb));
  FUZZ_CHECK (memcmp (earshot_net_params_const (na),
          earshot_net_params_const (nb),
          earshot_net_n_params (na) * sizeof (float)) == 0);
}

static void
check_round_trip (const earshot_model *m)
{
  void *bytes = NULL, *again = NULL;
  size_t size = 0, size_again = 0;
  earshot_model *m2 = NULL;
  char err[256];

  FUZZ_CHECK (earshot_model_save_memory (m, &bytes, &size) == EARSHOT_OK);
  earshot_status st = earshot_model_load_memory (bytes, size, &m2, err,
      sizeof err);
  if (st != EARSHOT_OK)
    fprintf (stderr, "reloading a saved model failed: %s\n", err);
  FUZZ_CHECK (st == EARSHOT_OK && m2 != NULL);
  check_same (m, m2);
  FUZZ_CHECK (earshot_model_save_memory (m2, &again, &size_again)
      == EARSHOT_OK);
  FUZZ_CHECK (size_again == size && memcmp (bytes, again, size) == 0);
  free (again);
  free (bytes);
  earshot_model_free (m2);
}

/* Runs a short deterministic signal through a stream over the model. */
static void
check_stream (const earshot_model *m)
{
  const earshot_features_config *cfg = earshot_model_features_config (m);
  const earshot_net *net = earshot_model_net (m);
  if (cfg->n_fft > STREAM_MAX_FFT || cfg->n_mels > STREAM_MAX_MELS
      || earshot_net_n_params (net) > STREAM_MAX_PARAMS)
    return;

  earshot_stream *s = NULL;
  earshot_status st = earshot_stream_new (m, &s);
  FUZZ_CHECK ((st == EARSHOT_OK) == (s != NULL));
  if (st != EARSHOT_OK) {
    /* The loader checked the configuration, so only memory may fail. */
    FUZZ_CHECK (st == EARSHOT_ERR_NOMEM);
    return;
  }

  size_t n = (size_t) cfg->win_length + 2u * cfg->hop_length + 7u;
  size_t n_classes = earshot_stream_n_classes (s);
  float *x = malloc (n * sizeof *x);
  size_t cap = earshot_stream_frames_for (s, n);
  float *probs = malloc ((cap + 4) * n_classes * sizeof *probs);
  float *feats = malloc ((cap + 4) * cfg->n_mels * sizeof *feats);
  FUZZ_CHECK (x != NULL && probs != NULL && feats != NULL);
  uint32_t rng = 12345u;
  for (size_t i = 0; i < n; i++) {
    rng = rng * 1664525u + 1013904223u;
    x[i] = (float) rng / 2147483648.0f - 1.0f;
  }

  size_t got = earshot_stream_process (s, x, n, probs, feats, cap);
  FUZZ_CHECK (got == cap && earshot_stream_samples_consumed (s) == n);
  /* Posteriors are a distribution.  NaN is allowed: the loader accepts any
   * finite weight, and huge ones overflow the logits. */
  for (size_t t = 0; t < got; t++) {
    const float *p = probs + t * n_classes;
    double sum = 0.0;
    bool finite = true;
    for (size_t k = 0; k < n_classes; k++) {
      FUZZ_CHECK (!(p[k] < 0.0f) && !(p[k] > 1.0f));
      finite = finite && isfinite (p[k]);
      sum += p[k];
    }
    if (finite)
      FUZZ_CHECK (fabs (sum - 1.0) < 1e-3);
  }

  /* A short hop makes many pending frames; drain at most a few of them. */
  size_t pending = earshot_stream_frames_pending (s);
  size_t want = pending < 4 ? pending : 4;
  size_t flushed = earshot_stream_flush (s, probs, feats, want);
  FUZZ_CHECK (flushed == want);
  if (want == pending)
    FUZZ_CHECK (earshot_stream_frame_index (s) == 0);   /* flush resets */
  else
    earshot_stream_reset (s);
  FUZZ_CHECK (earshot_stream_frame_index (s) == 0
      && earshot_stream_frames_pending (s) == 0);

  free (feats);
  free (probs);
  free (x);
  earshot_stream_free (s);
}

static void
load_and_check (const uint8_t *data, size_t size)
{
  earshot_model *m = (earshot_model *) &sentinel;
  char err[256];

  err[0] = '\0';
  earshot_status st = earshot_model_load_memory (data, size, &m, err,
      sizeof err);
  FUZZ_CHECK ((st == EARSHOT_OK) == (m != NULL));
  /* Every refusal names its reason. */
  FUZZ_CHECK (st == EARSHOT_OK || (err[0] != '\0'
          && memchr (err, '\0', sizeof err) != NULL));
  if (m == NULL)
    return;
  check_accessors (m);
  check_round_trip (m);
  check_stream (m);
  earshot_model_free (m);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  load_and_check (data, size);

  /* Again with a correct checksum, so the structural parser is reached. */
  if (size >= 4) {
    uint8_t *copy = malloc (size);
    if (copy == NULL)
      return 0;
    memcpy (copy, data, size);
    uint32_t crc = earshot_crc32 (0, copy, size - 4);
    copy[size - 4] = (uint8_t) crc;
    copy[size - 3] = (uint8_t) (crc >> 8);
    copy[size - 2] = (uint8_t) (crc >> 16);
    copy[size - 1] = (uint8_t) (crc >> 24);
    if (memcmp (copy, data, size) != 0)
      load_and_check (copy, size);
    free (copy);
  }
  return 0;
}
