/* info-cmd.c — `earshot info MODEL`: everything inside a model file. */
#include "earshot-tool.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *
layer_type_name (earshot_layer_type t)
{
  switch (t) {
    case EARSHOT_LAYER_DENSE: return "dense";
    case EARSHOT_LAYER_RNN: return "rnn";
    case EARSHOT_LAYER_GRU: return "gru";
    case EARSHOT_LAYER_LSTM: return "lstm";
  }
  return "unknown";
}

static const char *
activation_name (earshot_activation a)
{
  switch (a) {
    case EARSHOT_ACT_LINEAR: return "linear";
    case EARSHOT_ACT_TANH: return "tanh";
    case EARSHOT_ACT_RELU: return "relu";
    case EARSHOT_ACT_SOFTMAX: return "softmax";
  }
  return "unknown";
}

static const char *
window_name (earshot_window w)
{
  switch (w) {
    case EARSHOT_WINDOW_HANN: return "hann";
    case EARSHOT_WINDOW_HAMMING: return "hamming";
    case EARSHOT_WINDOW_RECT: return "rectangular";
  }
  return "unknown";
}

/* The parameter tensors of a layer, as laid out in earshot_net.h. */
typedef struct {
  const char *name;
  uint32_t rows, cols;          /* cols 0: a vector */
} tensor;

static int
layer_tensors (const earshot_layer_spec *l, tensor t[4])
{
  uint32_t h = l->n_out, i = l->n_in;
  switch (l->type) {
    case EARSHOT_LAYER_DENSE:
      t[0] = (tensor) { "W", h, i };
      t[1] = (tensor) { "b", h, 0 };
      return 2;
    case EARSHOT_LAYER_RNN:
      t[0] = (tensor) { "W", h, i };
      t[1] = (tensor) { "U", h, h };
      t[2] = (tensor) { "b", h, 0 };
      return 3;
    case EARSHOT_LAYER_GRU:
      t[0] = (tensor) { "W", 3 * h, i };
      t[1] = (tensor) { "U", 3 * h, h };
      t[2] = (tensor) { "bW", 3 * h, 0 };
      t[3] = (tensor) { "bU", 3 * h, 0 };
      return 4;
    case EARSHOT_LAYER_LSTM:
      t[0] = (tensor) { "W", 4 * h, i };
      t[1] = (tensor) { "U", 4 * h, h };
      t[2] = (tensor) { "b", 4 * h, 0 };
      return 3;
  }
  return 0;
}

/* ---- JSON ------------------------------------------------------------- */

static void
json_floats (GString *s, const float *v, size_t n)
{
  g_string_append_c (s, '[');
  for (size_t i = 0; i < n; i++) {
    if (i)
      g_string_append (s, ", ");
    es_json_number (s, v[i]);
  }
  g_string_append_c (s, ']');
}

static char *
info_json (const char *path, const earshot_model *m, guint64 file_size)
{
  const earshot_features_config *c = earshot_model_features_config (m);
  const earshot_net *net = earshot_model_net (m);
  GString *s = g_string_new ("{\n  \"file\": ");

  es_json_string (s, path);
  g_string_append_printf (s, ",\n  \"size\": %" G_GUINT64_FORMAT
      ",\n  \"format_version\": %u,\n  \"lookahead\": %u,\n"
      "  \"front_end\": {\n"
      "    \"sample_rate\": %u,\n    \"win_length\": %u,\n"
      "    \"hop_length\": %u,\n    \"n_fft\": %u,\n    \"n_mels\": %u,\n"
      "    \"fmin\": ", file_size, earshot_model_format_version (m),
      earshot_model_lookahead (m),
      c->sample_rate, c->win_length, c->hop_length, c->n_fft, c->n_mels);
  es_json_number (s, c->fmin);
  g_string_append (s, ",\n    \"fmax\": ");
  es_json_number (s, c->fmax);
  g_string_append_printf (s, ",\n    \"window\": \"%s\",\n"
      "    \"mel_scale\": \"%s\",\n    \"log_floor\": ",
      window_name (c->window), c->mel_scale == EARSHOT_MEL_HTK ? "htk"
      : "slaney");
  es_json_number (s, c->log_floor);
  g_string_append (s, "\n  },\n  \"normalisation\": {\n    \"mean\": ");
  json_floats (s, earshot_model_norm_mean (m), c->n_mels);
  g_string_append (s, ",\n    \"std\": ");
  json_floats (s, earshot_model_norm_std (m), c->n_mels);
  g_string_append (s, "\n  },\n  \"labels\": [");
  for (size_t i = 0; i < earshot_model_n_labels (m); i++) {
    if (i)
      g_string_append (s, ", ");
    es_json_string (s, earshot_model_label (m, i));
  }
  g_string_append (s, "],\n  \"layers\": [");
  for (size_t i = 0; i < earshot_net_n_layers (net); i++) {
    const earshot_layer_spec *l = earshot_net_layer (net, i);
    tensor t[4];
    int nt = layer_tensors (l, t);
    g_string_append_printf (s, "%s\n    {\"type\": \"%s\", \"inputs\": %u, "
        "\"units\": %u, \"activation\": ", i ? "," : "",
        layer_type_name (l->type), l->n_in, l->n_out);
    if (l->type == EARSHOT_LAYER_DENSE)
      g_string_append_printf (s, "\"%s\"", activation_name (l->activation));
    else
      g_string_append (s, "null");
    g_string_append_printf (s, ", \"params\": %zu, \"shapes\": {",
        earshot_net_layer_n_params (net, i));
    for (int k = 0; k < nt; k++) {
      if (t[k].cols)
        g_string_append_printf (s, "%s\"%s\": [%u, %u]", k ? ", " : "",
            t[k].name, t[k].rows, t[k].cols);
      else
        g_string_append_printf (s, "%s\"%s\": [%u]", k ? ", " : "",
            t[k].name, t[k].rows);
    }
    g_string_append (s, "}}");
  }
  g_string_append_printf (s, "\n  ],\n  \"total_params\": %zu,\n"
      "  \"state_size\": %zu,\n  \"metadata\": {",
      earshot_net_n_params (net), earshot_net_state_size (net));
  for (size_t i = 0; i < earshot_model_n_meta (m); i++) {
    g_string_append (s, i ? ",\n    " : "\n    ");
    es_json_string (s, earshot_model_meta_key (m, i));
    g_string_append (s, ": ");
    es_json_string (s, earshot_model_meta_value (m, i));
  }
  g_string_append (s, earshot_model_n_meta (m) ? "\n  }\n}\n" : "}\n}\n");
  return g_string_free (s, FALSE);
}

/* ---- text ------------------------------------------------------------- */

static void
min_max (const float *v, size_t n, double *lo, double *hi, double *avg)
{
  double s = 0;
  *lo = INFINITY;
  *hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    *lo = MIN (*lo, v[i]);
    *hi = MAX (*hi, v[i]);
    s += v[i];
  }
  *avg = n ? s / (double) n : 0;
}

static char *
info_text (const char *path, const earshot_model *m, guint64 file_size,
    gboolean all_bands)
{
  const earshot_features_config *c = earshot_model_features_config (m);
  const earshot_net *net = earshot_model_net (m);
  const double ms = 1000.0 / c->sample_rate;
  const guint la = earshot_model_lookahead (m);
  const guint latency = c->win_length - c->hop_length + la * c->hop_length;
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "%s\n"
      "  file size        %" G_GUINT64_FORMAT " bytes\n"
      "  format version   %u\n", path, file_size,
      earshot_model_format_version (m));
  g_string_append_printf (s, "front end\n"
      "  sample rate      %u Hz\n"
      "  window           %u samples (%.1f ms), %s\n"
      "  hop              %u samples (%.1f ms), %.1f frames/s\n"
      "  FFT size         %u\n"
      "  mel bands        %u, %s scale, %g-%g Hz\n"
      "  log floor        %g\n"
      "  lookahead        %u frames (%.1f ms)\n"
      "  latency          %u samples (%.1f ms)\n",
      c->sample_rate, c->win_length, c->win_length * ms,
      window_name (c->window), c->hop_length, c->hop_length * ms,
      (double) c->sample_rate / c->hop_length, c->n_fft, c->n_mels,
      c->mel_scale == EARSHOT_MEL_HTK ? "HTK" : "Slaney", (double) c->fmin,
      (double) c->fmax, (double) c->log_floor, la, la * c->hop_length * ms,
      latency, latency * ms);

  const float *mean = earshot_model_norm_mean (m);
  const float *sd = earshot_model_norm_std (m);
  double lo, hi, avg, slo, shi, savg;
  min_max (mean, c->n_mels, &lo, &hi, &avg);
  min_max (sd, c->n_mels, &slo, &shi, &savg);
  g_string_append_printf (s, "normalisation (per band, (x - mean) / std)\n"
      "  mean             %.3f to %.3f (average %.3f)\n"
      "  std              %.3f to %.3f (average %.3f)\n", lo, hi, avg, slo,
      shi, savg);
  if (all_bands) {
    g_string_append (s, "  band   centre Hz       mean        std\n");
    for (uint32_t b = 0; b < c->n_mels; b++)
      g_string_append_printf (s, "  %4u  %10.1f  %9.4f  %9.4f\n", b,
          earshot_features_band_center (c, b), mean[b], sd[b]);
  }

  g_string_append_printf (s, "labels (%zu, in priority order)\n",
      earshot_model_n_labels (m));
  for (size_t i = 0; i < earshot_model_n_labels (m); i++)
    g_string_append_printf (s, "  %-4zu %s\n", i, earshot_model_label (m, i));

  g_string_append (s, "network\n"
      "  layer  type   inputs  units  activation  parameters  shapes\n");
  for (size_t i = 0; i < earshot_net_n_layers (net); i++) {
    const earshot_layer_spec *l = earshot_net_layer (net, i);
    tensor t[4];
    int nt = layer_tensors (l, t);
    g_string_append_printf (s, "  %-5zu  %-5s  %6u  %5u  %-10s  %10zu  ", i,
        layer_type_name (l->type), l->n_in, l->n_out,
        l->type == EARSHOT_LAYER_DENSE ? activation_name (l->activation) :
        "-", earshot_net_layer_n_params (net, i));
    for (int k = 0; k < nt; k++) {
      if (t[k].cols)
        g_string_append_printf (s, "%s%s[%ux%u]", k ? " " : "", t[k].name,
            t[k].rows, t[k].cols);
      else
        g_string_append_printf (s, "%s%s[%u]", k ? " " : "", t[k].name,
            t[k].rows);
    }
    g_string_append_c (s, '\n');
  }
  size_t np = earshot_net_n_params (net);
  g_string_append_printf (s, "  total parameters %zu (%.1f KiB as float32)\n"
      "  state per stream %zu floats\n", np, np * 4.0 / 1024,
      earshot_net_state_size (net));

  size_t nm = earshot_model_n_meta (m);
  if (nm > 0) {
    int w = 0;
    for (size_t i = 0; i < nm; i++)
      w = MAX (w, (int) strlen (earshot_model_meta_key (m, i)));
    g_string_append (s, "metadata\n");
    for (size_t i = 0; i < nm; i++) {
      /* Multi-line values are indented under their key. */
      char **lines = g_strsplit (earshot_model_meta_value (m, i), "\n", -1);
      g_string_append_printf (s, "  %-*s  %s\n", w,
          earshot_model_meta_key (m, i), lines[0] ? lines[0] : "");
      for (int k = 1; lines[0] && lines[k]; k++)
        g_string_append_printf (s, "  %-*s  %s\n", w, "", lines[k]);
      g_strfreev (lines);
    }
  }
  return g_string_free (s, FALSE);
}

/* A name like "vad" rather than a file: no folder, no .earshot suffix, and
 * no such file here. */
static gboolean
is_model_name (const char *arg)
{
  return strchr (arg, '/') == NULL && !g_str_has_suffix (arg, ".earshot")
      && !g_file_test (arg, G_FILE_TEST_EXISTS);
}

int
es_cmd_info (int argc, char **argv)
{
  gboolean json = FALSE, bands = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "print JSON (every value, including the per-band normalisation)",
      NULL },
    { "bands", 0, 0, G_OPTION_ARG_NONE, &bands,
      "list every mel band's centre frequency and normalisation", NULL },
    G_OPTION_ENTRY_NULL
  };
  GOptionContext *ctx = g_option_context_new ("MODEL");
  g_option_context_set_summary (ctx,
      "Prints everything inside an .earshot model file: format version,\n"
      "front end (rate, window, hop, FFT, mel bands), normalisation, labels\n"
      "in priority order, layers with their weight shapes and parameter\n"
      "counts, and the metadata `earshot train` records (command line,\n"
      "data, epochs, validation scores, date).\n"
      "\n"
      "MODEL is a model file, or the name of an installed model (vad, sms,\n"
      "vad-lookahead, sms-lookahead, or NAME for any NAME.earshot), found\n"
      "as the element's model property finds it: in the folders of\n"
      "$EARSHOT_MODEL_PATH, then the system's models folder (see\n"
      "'gst-inspect-1.0 earshot').  A name needs the earshot element.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  GError *e = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &e)) {
    es_print_error ("%s (see '%s --help')", e->message, g_get_prgname ());
    g_error_free (e);
    g_option_context_free (ctx);
    return ES_EXIT_USAGE;
  }
  g_option_context_free (ctx);
  if (argc != 2) {
    es_print_error ("give one model, a file or a name (see '%s --help')",
        g_get_prgname ());
    return ES_EXIT_USAGE;
  }

  const char *arg = argv[1];
  char *path = NULL;
  earshot_model *m = NULL;
  if (is_model_name (arg)) {
    /* found as the element finds it (label and eval do the same) */
    GError *err = NULL;
    if (!gst_init_check (NULL, NULL, &err)
        || (m = es_model_open (arg, &path, &err)) == NULL) {
      es_print_error ("%s", err->message);
      g_error_free (err);
      return ES_EXIT_FAILURE;
    }
  } else {
    char msg[512];
    if (earshot_model_load (arg, &m, msg, sizeof msg) != EARSHOT_OK) {
      es_print_error ("%s", msg);         /* it names the file */
      return ES_EXIT_FAILURE;
    }
    path = g_strdup (arg);
  }
  struct stat st;
  guint64 size = stat (path, &st) == 0 ? (guint64) st.st_size : 0;
  char *out = json ? info_json (path, m, size)
      : info_text (path, m, size, bands);
  fputs (out, stdout);
  g_free (out);
  g_free (path);
  earshot_model_free (m);
  return fflush (stdout) == 0 ? ES_EXIT_OK : ES_EXIT_FAILURE;
}
