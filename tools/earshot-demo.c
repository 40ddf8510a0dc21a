/* earshot-demo — what the core does, on a generated signal, with no files.
 *
 * Until shipped models exist this is the project's demonstration: it makes
 * 3 s of audio (silence, a 440 Hz tone, silence, a 2 kHz tone, white noise),
 * prints the log-mel front end's view of it every 100 ms (the loudest band
 * and its centre frequency), then saves, reloads and runs an untrained
 * network over it to show the model file and streaming path end to end.
 */
#include "earshot_stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RATE 16000
#define SECONDS 3

static const char *
what_at (double t)
{
  return t < 0.5 ? "silence" : t < 1.2 ? "440 Hz tone" : t < 1.5 ? "silence"
      : t < 2.2 ? "2 kHz tone" : "white noise";
}

int
main (int argc, char **argv)
{
  const char *path = argc > 1 ? argv[1] : "earshot-demo.earshot";
  size_t n = RATE * SECONDS;
  float *x = malloc (n * sizeof (float));
  uint32_t seed = 1;
  char err[256];

  if (x == NULL)
    return 1;
  for (size_t i = 0; i < n; i++) {
    double t = (double) i / RATE;
    seed = seed * 1664525u + 1013904223u;
    const char *w = what_at (t);
    x[i] = strcmp (w, "440 Hz tone") == 0 ? 0.5f * (float) sin (2 * M_PI * 440 * t)
        : strcmp (w, "2 kHz tone") == 0 ? 0.5f * (float) sin (2 * M_PI * 2000 * t)
        : strcmp (w, "white noise") == 0 ? 0.3f * ((float) seed / 4294967296.0f - 0.5f)
        : 0.0f;
  }

  /* An untrained 2-layer GRU over the default front end. */
  earshot_features_config cfg = earshot_features_default_config ();
  const char *labels[] = { "speech", "nonspeech" };
  earshot_net *net;
  earshot_model *model, *loaded;
  if (earshot_net_new_stack (EARSHOT_LAYER_GRU, cfg.n_mels, 32, 2, 2, &net,
          err, sizeof err) != EARSHOT_OK
      || (earshot_net_init (net, 1), 0)
      || earshot_model_new (&cfg, NULL, NULL, labels, 2, net, &model, err,
          sizeof err) != EARSHOT_OK
      || earshot_model_save (model, path, err, sizeof err) != EARSHOT_OK
      || earshot_model_load (path, &loaded, err, sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "earshot-demo: %s\n", err);
    return 1;
  }
  earshot_model_free (model);
  unlink (path);

  earshot_stream *s;
  if (earshot_stream_new (loaded, &s) != EARSHOT_OK)
    return 1;
  size_t cap = earshot_stream_frames_for (s, n) + 2;
  float *probs = malloc (cap * 2 * sizeof (float));
  float *feats = malloc (cap * cfg.n_mels * sizeof (float));
  size_t frames = earshot_stream_process (s, x, n, probs, feats, cap);
  frames += earshot_stream_flush (s, probs + 2 * frames,
      feats + (size_t) cfg.n_mels * frames, cap - frames);

  printf ("earshot %s: %zu samples at %u Hz -> %zu frames of %u log-mel "
      "bands (window %u, hop %u)\n", earshot_version (), n, cfg.sample_rate,
      frames, cfg.n_mels, cfg.win_length, cfg.hop_length);
  printf ("%6s  %-12s %-22s %9s  %s\n", "time", "signal", "loudest mel band",
      "log-mel", "untrained net P(speech)");
  for (size_t t = 5; t < frames; t += 10) {
    const float *f = feats + t * cfg.n_mels;
    uint32_t best = 0;
    for (uint32_t m = 1; m < cfg.n_mels; m++)
      if (f[m] > f[best])
        best = m;
    double secs = (t + 0.5) * cfg.hop_length / (double) RATE;
    char band[32];
    snprintf (band, sizeof band, "%2u (%.0f Hz)", best,
        earshot_features_band_center (&cfg, best));
    printf ("%5.2fs  %-12s %-22s %9.2f  %.3f\n", secs, what_at (secs),
        f[best] <= logf (cfg.log_floor) + 1e-3f ? "- (floor)" : band,
        f[best], probs[2 * t]);
  }
  printf ("model file: %zu parameters, saved and reloaded from %s; "
      "per-stream memory %zu bytes\n",
      earshot_net_n_params (earshot_model_net (loaded)), path,
      earshot_stream_memory_size (s));
  earshot_stream_free (s);
  earshot_model_free (loaded);
  free (probs);
  free (feats);
  free (x);
  return 0;
}
