/* models.c — small test models built in code. */
#include "models.h"

#include <math.h>
#include <stdio.h>

static int
finish (earshot_model *m, const char *path)
{
  char err[256] = "";
  earshot_status st = earshot_model_save (m, path, err, sizeof err);

  earshot_model_free (m);
  if (st != EARSHOT_OK) {
    fprintf (stderr, "saving %s: %s\n", path, err);
    return -1;
  }
  return 0;
}

int
test_model_write_rnn (const char *path, uint64_t seed)
{
  return test_model_write_rnn_lookahead (path, seed, 0);
}

int
test_model_write_rnn_lookahead (const char *path, uint64_t seed,
    uint32_t lookahead)
{
  static const char *const labels[] = { "silence", "speech", "music" };
  earshot_features_config cfg = earshot_features_default_config ();
  earshot_net *net = NULL;
  earshot_model *m = NULL;
  char err[256] = "";

  if (earshot_net_new_stack (EARSHOT_LAYER_GRU, cfg.n_mels, 8, 1, 3, &net,
          err, sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "net: %s\n", err);
    return -1;
  }
  earshot_net_init (net, seed);
  if (earshot_model_new (&cfg, NULL, NULL, labels, 3, net, &m, err,
          sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "model: %s\n", err);
    earshot_net_free (net);
    return -1;
  }
  if (earshot_model_set_lookahead (m, lookahead) != EARSHOT_OK) {
    fprintf (stderr, "lookahead %u refused\n", lookahead);
    earshot_model_free (m);
    return -1;
  }
  return finish (m, path);
}

int
test_model_write_high (const char *path)
{
  static const char *const labels[] = { "quiet", "hiss" };
  earshot_features_config cfg = earshot_features_default_config ();
  earshot_net *net = NULL;
  earshot_model *m = NULL;
  char err[256] = "";

  cfg.fmin = 5000.0f;
  cfg.n_mels = 8;
  if (earshot_net_new_stack (EARSHOT_LAYER_GRU, cfg.n_mels, 4, 1, 2, &net,
          err, sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "net: %s\n", err);
    return -1;
  }
  earshot_net_init (net, 5);
  if (earshot_model_new (&cfg, NULL, NULL, labels, 2, net, &m, err,
          sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "model: %s\n", err);
    earshot_net_free (net);
    return -1;
  }
  return finish (m, path);
}

int
test_model_write_tone (const char *path)
{
  static const char *const labels[] = { "silence", "tone" };
  earshot_features_config cfg = earshot_features_default_config ();
  earshot_layer_spec dense = { EARSHOT_LAYER_DENSE, 0, 2, EARSHOT_ACT_SOFTMAX };
  earshot_net *net = NULL;
  earshot_model *m = NULL;
  char err[256] = "";
  uint32_t band = 0;
  double best = 1e30;
  float *w;

  cfg.win_length = 160;
  cfg.hop_length = 160;
  cfg.n_fft = 256;
  cfg.n_mels = 16;
  cfg.fmin = 0.0f;
  cfg.fmax = 4000.0f;
  cfg.window = EARSHOT_WINDOW_RECT;
  for (uint32_t b = 0; b < cfg.n_mels; b++) {
    double d = fabs (earshot_features_band_center (&cfg, b) - TEST_TONE_HZ);
    if (d < best) {
      best = d;
      band = b;
    }
  }

  dense.n_in = cfg.n_mels;
  if (earshot_net_new (&dense, 1, &net, err, sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "net: %s\n", err);
    return -1;
  }
  /* W [2 x n_mels], b [2]: logit(tone) - logit(silence) = x[band] + 5, so
   * "tone" wins once the band's log-mel power exceeds e^-5 (silence sits at
   * log(1e-10) = -23, a full-frame tone near +2). */
  w = earshot_net_params (net);
  w[1 * cfg.n_mels + band] = 1.0f;
  w[2 * cfg.n_mels + 1] = 5.0f;
  if (earshot_model_new (&cfg, NULL, NULL, labels, 2, net, &m, err,
          sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "model: %s\n", err);
    earshot_net_free (net);
    return -1;
  }
  return finish (m, path);
}
