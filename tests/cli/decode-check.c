/* decode-check — `earshot train` decodes audio (tools/decode.c) to the very
 * samples the element classifies, whatever the file's rate and channels.
 *
 *   decode-check MODEL FILE...
 *
 * For each FILE: the posteriors of the core (earshot_stream) on
 * es_decode_file's samples at the model's rate, against those of the
 * element in filesrc ! decodebin ! audioconvert ! earshot ! fakesink (its
 * per-frame bus messages, message-interval=0).  Exits 0 when every file
 * has as many frames both ways and no posterior differs by more than 1e-6
 * (the two run the same arithmetic: the difference is 0 on x86-64), 1 when
 * one does, 2 on errors.
 */
#include "../../tools/earshot-tool.h"
#include "element-run.h"
#include "earshot_stream.h"

#include <gst/gst.h>
#include <math.h>
#include <stdio.h>

static int
fail (const char *what, const char *msg)
{
  fprintf (stderr, "decode-check: %s: %s\n", what, msg);
  return 2;
}

typedef struct {
  GArray *probs;
  guint n_classes;
} Collect;

static void
collect_probs (const GstStructure *s, gpointer data)
{
  Collect *c = data;
  const GValue *p = gst_structure_get_value (s, "probabilities");
  if (p != NULL && gst_value_array_get_size (p) == c->n_classes)
    for (guint k = 0; k < c->n_classes; k++) {
      float v = (float) g_value_get_double (gst_value_array_get_value (p, k));
      g_array_append_val (c->probs, v);
    }
}

/* The element's posteriors for `file`, frame after frame, into probs. */
static gboolean
run_element (const char *file, const char *model, GArray *probs,
    guint n_classes)
{
  Collect c = { probs, n_classes };
  GError *e = NULL;
  if (!element_run (file, model, collect_probs, &c, NULL, &e)) {
    fail (file, e != NULL ? e->message : "the pipeline stopped");
    g_clear_error (&e);
    return FALSE;
  }
  return TRUE;
}

/* The core's posteriors on es_decode_file's samples, into probs. */
static gboolean
run_core (const char *file, const earshot_model *m, GArray *probs,
    guint n_classes)
{
  const earshot_features_config *c = earshot_model_features_config (m);
  float *x;
  gsize n;
  GError *e = NULL;
  earshot_stream *st;

  if (!es_decode_file (file, c->sample_rate, &x, &n, &e)) {
    fail (file, e->message);
    g_error_free (e);
    return FALSE;
  }
  if (earshot_stream_new (m, &st) != EARSHOT_OK) {
    fail (file, "cannot make a stream");
    g_free (x);
    return FALSE;
  }
  gsize frames = earshot_stream_frames_for (st, n);
  guint start = probs->len;
  g_array_set_size (probs, start + (guint) (frames * n_classes));
  gsize got = earshot_stream_process (st, x, n,
      &g_array_index (probs, float, start), NULL, frames);
  gsize rest = earshot_stream_frames_pending (st);
  g_array_set_size (probs, start + (guint) ((got + rest) * n_classes));
  got += earshot_stream_flush (st, &g_array_index (probs, float,
          start + got * n_classes), NULL, rest);
  g_array_set_size (probs, start + (guint) (got * n_classes));
  earshot_stream_free (st);
  g_free (x);
  return TRUE;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc < 3)
    return fail ("usage", "decode-check MODEL FILE...");

  earshot_model *m;
  char err[512];
  if (earshot_model_load (argv[1], &m, err, sizeof err) != EARSHOT_OK)
    return fail (argv[1], err);
  guint nk = (guint) earshot_model_n_labels (m);
  int status = 0;

  for (int i = 2; i < argc && status != 2; i++) {
    GArray *pe = g_array_new (FALSE, FALSE, sizeof (float));
    GArray *pc = g_array_new (FALSE, FALSE, sizeof (float));
    if (!run_element (argv[i], argv[1], pe, nk)
        || !run_core (argv[i], m, pc, nk)) {
      status = 2;
    } else if (pe->len != pc->len) {
      fprintf (stderr, "decode-check: %s: %u frames through the element, "
          "%u through es_decode_file\n", argv[i], pe->len / nk, pc->len / nk);
      status = 1;
    } else {
      double worst = 0;
      for (guint j = 0; j < pe->len; j++)
        worst = fmax (worst, fabs ((double) g_array_index (pe, float, j)
                - g_array_index (pc, float, j)));
      printf ("%s: %u frames, largest difference %.3g\n", argv[i],
          pe->len / nk, worst);
      if (!(worst <= 1e-6))
        status = 1;
    }
    g_array_free (pe, TRUE);
    g_array_free (pc, TRUE);
  }
  earshot_model_free (m);
  return status;
}
