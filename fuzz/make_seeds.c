/* make_seeds.c — writes small valid model files as fuzzing seeds.
 *
 *   make_seeds OUTDIR
 *
 * One model per recurrent cell (RNN, GRU, LSTM), a dense-only one, a
 * two-layer stack, and variants that exercise the other front-end choices
 * (HTK scale, Hamming and rectangular windows, normalisation) and the
 * metadata section, plus one file with an unknown optional section.  Tiny on purpose (a few mel bands, a few units): the
 * fuzzer mutates bytes, and every byte of weights is a byte it need not
 * spend time on.  Weights come from earshot_net_init with a fixed seed, so
 * the files are the same on every run.
 */
#include "earshot_model.h"
#include "earshot_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name;
  int cell;                 /* 0: dense only, else an earshot_layer_type */
  uint32_t n_mels, hidden, n_layers, n_classes;
  earshot_window window;
  earshot_mel_scale scale;
  int normalise;
  int meta;
} seed;

static const seed seeds[] = {
  { "rnn", EARSHOT_LAYER_RNN, 4, 3, 1, 2, EARSHOT_WINDOW_HANN,
    EARSHOT_MEL_SLANEY, 0, 0 },
  { "gru", EARSHOT_LAYER_GRU, 4, 3, 1, 2, EARSHOT_WINDOW_HANN,
    EARSHOT_MEL_SLANEY, 1, 0 },
  { "lstm", EARSHOT_LAYER_LSTM, 4, 3, 1, 3, EARSHOT_WINDOW_HAMMING,
    EARSHOT_MEL_HTK, 1, 1 },
  { "dense", 0, 3, 0, 0, 2, EARSHOT_WINDOW_RECT, EARSHOT_MEL_SLANEY, 0, 1 },
  { "gru2", EARSHOT_LAYER_GRU, 2, 2, 2, 2, EARSHOT_WINDOW_HANN,
    EARSHOT_MEL_HTK, 0, 0 },
  { "lstm2-meta", EARSHOT_LAYER_LSTM, 2, 2, 2, 4, EARSHOT_WINDOW_RECT,
    EARSHOT_MEL_SLANEY, 1, 1 },
};

static const char *const label_names[] = { "background", "speech", "music",
  "dog bark" };

/* Writes the model with an extra section "xtra" (optional: lower case,
 * which a reader skips) before the checksum. */
static earshot_status
save_with_optional_section (const earshot_model *m, const char *path)
{
  static const unsigned char extra[] = { 'x', 't', 'r', 'a', 0, 0, 0, 0,
    5, 0, 0, 0, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o' };
  void *data;
  size_t size;
  earshot_status st = earshot_model_save_memory (m, &data, &size);
  if (st != EARSHOT_OK)
    return st;
  unsigned char *b = malloc (size + sizeof extra);
  if (b == NULL) {
    free (data);
    return EARSHOT_ERR_NOMEM;
  }
  size_t body = size - 4;
  memcpy (b, data, body);
  memcpy (b + body, extra, sizeof extra);
  body += sizeof extra;
  b[12]++;                          /* one more section (count < 255) */
  uint32_t crc = earshot_crc32 (0, b, body);
  for (int i = 0; i < 4; i++)
    b[body + i] = (unsigned char) (crc >> (8 * i));
  FILE *fp = fopen (path, "wb");
  st = fp != NULL && fwrite (b, 1, body + 4, fp) == body + 4
      ? EARSHOT_OK : EARSHOT_ERR_IO;
  if (fp != NULL && fclose (fp) != 0)
    st = EARSHOT_ERR_IO;
  free (b);
  free (data);
  return st;
}

static int
make (const seed *s, const char *dir)
{
  char err[256];
  earshot_net *net = NULL;
  earshot_model *m = NULL;
  earshot_status st;

  if (s->cell == 0) {
    earshot_layer_spec spec = { EARSHOT_LAYER_DENSE, s->n_mels, s->n_classes,
      EARSHOT_ACT_SOFTMAX };
    st = earshot_net_new (&spec, 1, &net, err, sizeof err);
  } else {
    st = earshot_net_new_stack ((earshot_layer_type) s->cell, s->n_mels,
        s->hidden, s->n_layers, s->n_classes, &net, err, sizeof err);
  }
  if (st != EARSHOT_OK) {
    fprintf (stderr, "make_seeds: %s: %s\n", s->name, err);
    return 1;
  }
  earshot_net_init (net, 42);

  earshot_features_config cfg = earshot_features_default_config ();
  cfg.sample_rate = 8000;
  cfg.win_length = 64;
  cfg.hop_length = 32;
  cfg.n_fft = 64;
  cfg.n_mels = s->n_mels;
  cfg.fmax = 4000.0f;
  cfg.window = s->window;
  cfg.mel_scale = s->scale;

  float mean[8], std[8];
  for (uint32_t i = 0; i < s->n_mels; i++) {
    mean[i] = -5.0f + (float) i;
    std[i] = 1.5f + 0.25f * (float) i;
  }
  st = earshot_model_new (&cfg, s->normalise ? mean : NULL,
      s->normalise ? std : NULL, label_names, s->n_classes, net, &m, err,
      sizeof err);
  if (st != EARSHOT_OK) {
    earshot_net_free (net);
    fprintf (stderr, "make_seeds: %s: %s\n", s->name, err);
    return 1;
  }
  if (s->meta && (earshot_model_set_meta (m, "epochs", "3") != EARSHOT_OK
          || earshot_model_set_meta (m, "data", "seed corpus") != EARSHOT_OK)) {
    earshot_model_free (m);
    fprintf (stderr, "make_seeds: %s: cannot set metadata\n", s->name);
    return 1;
  }

  char path[4096];
  snprintf (path, sizeof path, "%s/%s.earshot", dir, s->name);
  st = earshot_model_save (m, path, err, sizeof err);
  if (st != EARSHOT_OK) {
    earshot_model_free (m);
    fprintf (stderr, "make_seeds: %s\n", err);
    return 1;
  }
  if (s == &seeds[0]) {
    snprintf (path, sizeof path, "%s/%s-optional.earshot", dir, s->name);
    st = save_with_optional_section (m, path);
    if (st != EARSHOT_OK)
      fprintf (stderr, "make_seeds: cannot write %s: %s\n", path,
          earshot_status_str (st));
    /* a version-2 file: the same model with a lookahead */
    snprintf (path, sizeof path, "%s/%s-lookahead.earshot", dir, s->name);
    if (st == EARSHOT_OK)
      st = earshot_model_set_lookahead (m, 3);
    if (st == EARSHOT_OK)
      st = earshot_model_save (m, path, err, sizeof err);
    if (st != EARSHOT_OK)
      fprintf (stderr, "make_seeds: cannot write %s\n", path);
  }
  earshot_model_free (m);
  return st != EARSHOT_OK;
}

int
main (int argc, char **argv)
{
  int failed = 0;

  if (argc != 2) {
    fprintf (stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
    failed |= make (&seeds[i], argv[1]);
  return failed;
}
