/* frame-accuracy — frame accuracy of a model on a labelled manifest, measured
 * through the GStreamer element (or, with --core, through libearshot's
 * stream API), for the CLI tests.
 *
 *   frame-accuracy [--core] MODEL MANIFEST MIN_ACCURACY
 *
 * Element path: filesrc ! decodebin ! audioconvert ! earshot model=MODEL
 * message-interval=0 ! fakesink, reading the per-frame `earshot` bus
 * messages (they include the zero-padded frames flushed at EOS, which carry
 * no meta).  Frame t is the message whose timestamp is t * hop / rate.  The
 * reference is the manifest's labels turned into targets with the model's
 * labels and its recorded background class.  A frame the element did not
 * report counts as wrong.  Exits 0 when the accuracy over all files is at
 * least MIN_ACCURACY (a fraction), 1 otherwise, 2 on errors.
 */
#include "earshot_labels.h"
#include "element-run.h"
#include "earshot_stream.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int
fail (const char *what, const char *msg)
{
  fprintf (stderr, "frame-accuracy: %s: %s\n", what, msg);
  return 2;
}

typedef struct {
  const earshot_features_config *c;
  GArray *classes;              /* int32_t per frame, -1 where none */
} Collect;

/* Frame t is the message whose timestamp is t * hop / rate. */
static void
collect_class (const GstStructure *s, gpointer data)
{
  Collect *k = data;
  guint64 ts;
  gint cls;
  if (!gst_structure_get_uint64 (s, "timestamp", &ts)
      || !gst_structure_get_int (s, "class", &cls))
    return;
  double f = (double) ts * k->c->sample_rate / (1e9 * k->c->hop_length);
  size_t t = (size_t) llround (f);
  if (t >= k->classes->len) {
    size_t old = k->classes->len;
    g_array_set_size (k->classes, t + 1);
    for (size_t j = old; j < t; j++)
      g_array_index (k->classes, int32_t, j) = -1;
  }
  g_array_index (k->classes, int32_t, t) = cls;
}

/* The bus messages' frame classes for `file` in pred[] (-1 where none),
 * through the element. */
static gboolean
run_element (const char *file, const char *model, const earshot_model *m,
    int32_t **pred, size_t *n_pred, gint64 *duration_ns)
{
  Collect k = { earshot_model_features_config (m),
    g_array_new (FALSE, TRUE, sizeof (int32_t)) };
  GError *e = NULL;
  gboolean ok = element_run (file, model, collect_class, &k, duration_ns,
      &e);
  if (!ok)
    fprintf (stderr, "frame-accuracy: %s: %s\n", file,
        e != NULL ? e->message : "the pipeline stopped");
  g_clear_error (&e);
  *n_pred = k.classes->len;
  *pred = (int32_t *) g_array_free (k.classes, FALSE);
  return ok && *duration_ns > 0;
}

/* The same through the core: decode to mono F32 at the model's rate, then
 * earshot_stream over the whole signal. */
static gboolean
run_core (const char *file, const earshot_model *m, int32_t **pred,
    size_t *n_pred, gint64 *duration_ns)
{
  const earshot_features_config *c = earshot_model_features_config (m);
  char *desc = g_strdup_printf ("filesrc name=src ! decodebin ! audioconvert "
      "! audioresample ! audio/x-raw,format=F32LE,channels=1,rate=%u ! "
      "appsink name=sink sync=false", c->sample_rate);
  GError *e = NULL;
  GstElement *pipe = gst_parse_launch (desc, &e);
  g_free (desc);
  if (pipe == NULL) {
    fprintf (stderr, "frame-accuracy: %s\n", e->message);
    g_error_free (e);
    return FALSE;
  }
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  g_object_set (src, "location", file, NULL);
  gst_object_unref (src);
  GArray *x = g_array_new (FALSE, FALSE, sizeof (float));
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  GstSample *sample;
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstMapInfo map;
    GstBuffer *b = gst_sample_get_buffer (sample);
    if (gst_buffer_map (b, &map, GST_MAP_READ)) {
      g_array_append_vals (x, map.data, map.size / sizeof (float));
      gst_buffer_unmap (b, &map);
    }
    gst_sample_unref (sample);
  }
  gst_object_unref (sink);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
  if (x->len == 0) {
    g_array_free (x, TRUE);
    fprintf (stderr, "frame-accuracy: %s: no audio\n", file);
    return FALSE;
  }

  earshot_stream *s;
  if (earshot_stream_new (m, &s) != EARSHOT_OK) {
    g_array_free (x, TRUE);
    return FALSE;
  }
  size_t nc = earshot_stream_n_classes (s);
  size_t cap = earshot_stream_frames_for (s, x->len) + 4;
  float *probs = g_new (float, (cap + 4) * nc);
  size_t n = earshot_stream_process (s, (const float *) x->data, x->len,
      probs, NULL, cap);
  n += earshot_stream_flush (s, probs + n * nc, NULL, cap + 4 - n);
  earshot_stream_free (s);
  *pred = g_new (int32_t, MAX (n, 1));
  for (size_t t = 0; t < n; t++) {
    size_t best = 0;
    for (size_t k = 1; k < nc; k++)
      if (probs[t * nc + k] > probs[t * nc + best])
        best = k;
    (*pred)[t] = (int32_t) best;
  }
  *n_pred = n;
  *duration_ns = (gint64) ((double) x->len * 1e9 / c->sample_rate);
  g_free (probs);
  g_array_free (x, TRUE);
  return TRUE;
}

int
main (int argc, char **argv)
{
  gboolean core = FALSE;
  char err[512];

  gst_init (&argc, &argv);
  if (argc > 1 && strcmp (argv[1], "--core") == 0) {
    core = TRUE;
    argv++;
    argc--;
  }
  if (argc != 4) {
    fprintf (stderr, "usage: frame-accuracy [--core] MODEL MANIFEST "
        "MIN_ACCURACY\n");
    return 2;
  }
  const char *model_path = argv[1], *manifest_path = argv[2];
  double min_acc = g_ascii_strtod (argv[3], NULL);

  earshot_model *m;
  if (earshot_model_load (model_path, &m, err, sizeof err) != EARSHOT_OK)
    return fail (model_path, err);
  if (!core) {
    GstElementFactory *f = gst_element_factory_find ("earshot");
    if (f == NULL)
      return fail ("earshot", "the element is not available (is "
          "GST_PLUGIN_PATH_1_0 set to the build's plugin folder?)");
    gst_object_unref (f);
  }
  const earshot_features_config *c = earshot_model_features_config (m);
  size_t n_labels = earshot_model_n_labels (m);
  const char **labels = g_new (const char *, n_labels);
  for (size_t i = 0; i < n_labels; i++)
    labels[i] = earshot_model_label (m, i);
  const char *bg = earshot_model_get_meta (m, "train.background");
  int32_t background = bg ? earshot_model_find_label (m, bg) : -1;

  char *text;
  gsize len;
  if (!g_file_get_contents (manifest_path, &text, &len, NULL))
    return fail (manifest_path, "cannot read");
  char *base = g_path_get_dirname (manifest_path);
  earshot_manifest *man;
  if (earshot_manifest_parse (text, len, base, &man, err, sizeof err)
      != EARSHOT_OK)
    return fail (manifest_path, err);
  g_free (text);
  g_free (base);

  guint64 total = 0, correct = 0;
  int status = 0;
  for (size_t i = 0; i < earshot_manifest_count (man); i++) {
    const earshot_manifest_entry *en = earshot_manifest_get (man, i);
    earshot_label_list *l;
    if (!g_file_get_contents (en->labels, &text, &len, NULL))
      return fail (en->labels, "cannot read");
    if (earshot_labels_parse (text, len, EARSHOT_LABELS_AUTO, &l, NULL, err,
            sizeof err) != EARSHOT_OK)
      return fail (en->labels, err);
    g_free (text);

    int32_t *pred;
    size_t n_pred;
    gint64 dur;
    gboolean ok = core ? run_core (en->audio, m, &pred, &n_pred, &dur)
        : run_element (en->audio, model_path, m, &pred, &n_pred, &dur);
    if (!ok) {
      status = 2;
      earshot_label_list_free (l);
      break;
    }
    size_t n_samples = (size_t) llround ((double) dur * c->sample_rate / 1e9);
    size_t n_frames = (n_samples + c->hop_length - 1) / c->hop_length;
    int32_t *ref = g_new (int32_t, MAX (n_frames, 1));
    if (earshot_labels_to_targets (l, NULL, labels, n_labels, background,
            c->sample_rate, c->hop_length, n_frames, (double) dur / 1e9, ref,
            err, sizeof err) != EARSHOT_OK)
      return fail (en->labels, err);
    guint64 ok_frames = 0, counted = 0;
    for (size_t t = 0; t < n_frames; t++) {
      if (ref[t] < 0)
        continue;
      counted++;
      ok_frames += t < n_pred && pred[t] == ref[t];
    }
    printf ("%s: %.2f%% of %" G_GUINT64_FORMAT " frames (%zu reported)\n",
        en->audio, 100.0 * (double) ok_frames / (double) MAX (counted, 1),
        counted, n_pred);
    total += counted;
    correct += ok_frames;
    g_free (ref);
    g_free (pred);
    earshot_label_list_free (l);
  }
  double acc = total ? (double) correct / (double) total : 0;
  if (status == 0) {
    printf ("frame accuracy %.2f%% over %" G_GUINT64_FORMAT " frames, "
        "through %s (minimum %.2f%%)\n", 100 * acc, total,
        core ? "libearshot's stream API" : "the earshot element", 100 * min_acc);
    status = acc >= min_acc ? 0 : 1;
  }
  g_free (labels);
  earshot_manifest_free (man);
  earshot_model_free (m);
  gst_deinit ();
  return status;
}
