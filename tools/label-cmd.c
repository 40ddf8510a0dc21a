/* label-cmd.c — `earshot label`: audio files labelled by the element.
 *
 * Each file runs through the element in a real pipeline (element.c); the
 * frames and segments it posts are written in one of five formats, and
 * optionally drawn (label-plot.c).  Nothing here classifies anything.
 */
#include "earshot-tool.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef enum {
  FMT_AUDACITY,
  FMT_TSV,
  FMT_FRAMES,
  FMT_JSON,
  FMT_VTT,
} out_format;

static const struct {
  const char *name, *ext;
} formats[] = {
  [FMT_AUDACITY] = { "audacity", ".txt" },
  [FMT_TSV] = { "tsv", ".tsv" },
  [FMT_FRAMES] = { "frames", ".frames.tsv" },
  [FMT_JSON] = { "json", ".json" },
  [FMT_VTT] = { "vtt", ".vtt" },
};

static const char *const label_description[] = {
"FORMATS (--format)\n"
"  audacity  the segments as an Audacity label track, one per line:\n"
"            start<TAB>end<TAB>label, in seconds (Audacity: File > Import >\n"
"            Labels; `earshot train` and `earshot eval` read it back)\n"
"  tsv       DCASE-style events: the header filename<TAB>onset<TAB>offset\n"
"            <TAB>event_label, then one segment per row; filename is the\n"
"            FILE as given\n"
"  frames    one row per frame (one hop of the model): the header\n"
"            start<TAB>end<TAB>label<TAB>confidence<TAB>CLASS...\n"
"            then each frame's start and end (seconds), most probable class,\n"
"            its probability, and the probability of every class, in the\n"
"            model's class order (the network's raw posteriors, unsmoothed)\n"
"  json      one document: {\"model\", \"labels\", \"frame_seconds\",\n"
"            \"files\": [{\"file\", \"duration\", \"n_frames\", \"segments\":\n"
"            [{\"start\", \"end\", \"label\", \"confidence\"}], and with\n"
"            --json-frames \"frames\": [{\"start\", \"end\", \"label\",\n"
"            \"confidence\", \"probabilities\"}]}]}\n"
"  vtt       WebVTT subtitles, one cue per segment (HH:MM:SS.mmm), which\n"
"            video players show over the video\n"
"\n",
"SEGMENTS\n"
"  Segments are the element's `earshot-segment` messages: the posteriors\n"
"  averaged over --smoothing frames; a frame counts for its most probable\n"
"  class when that reaches --threshold; a class's segment starts once the\n"
"  class has lasted --min-segment and ends once it has been absent for\n"
"  --min-gap.  Segments of different classes may overlap by up to\n"
"  --min-gap.  Every class gets segments, the background class (silence)\n"
"  too; --only keeps the ones named.  With --smoothing 1 --threshold 0\n"
"  --min-segment 0 --min-gap 0 the segments are exactly the runs of the\n"
"  per-frame classes.  Times are stream times: seconds from the start of\n"
"  the file.\n"
"\n",
"SEVERAL FILES\n"
"  Without -o everything goes to standard output: audacity and frames write\n"
"  a line \"# FILE\" before each file's block; tsv writes one table and json\n"
"  one document for all files; vtt takes one file at a time.  With -o, OUT\n"
"  is a folder (created if missing) receiving one file per FILE, named\n"
"  after it: NAME.txt (audacity), NAME.tsv, NAME.frames.tsv, NAME.json or\n"
"  NAME.vtt.  With a single FILE, OUT is the output file itself unless it\n"
"  is an existing folder.  --plot is handled the same way (NAME.svg).\n"
"  The first file that cannot be read stops the command (status 1).\n"
"\n",
"MODEL\n"
"  --model takes a .earshot file or the name of an installed model, found\n"
"  as the element finds it: NAME.earshot in the folders of\n"
"  $EARSHOT_MODEL_PATH, then in those of $EARSHOT_MODEL_SYSTEM_PATH if set,\n"
"  else in " EARSHOT_MODELS_DIR "\n"
"  and " EARSHOT_SOURCE_MODELS_DIR ".\n"
"  Default: the element's default model, vad.\n"
"\n"
"  Files are decoded and labelled by a GStreamer pipeline\n"
"      uridecodebin ! audioconvert ! earshot ! fakesink\n"
"  so the results are the element's own.  A progress bar is drawn on\n"
"  stderr for long files when it is a terminal.\n"
"\n",
"EXAMPLES\n"
"  earshot label talk.ogg\n"
"  earshot label -m sms -f vtt -o talk.vtt talk.ogg\n"
"  earshot label -m doorbell.earshot -f tsv --only bell rec/*.wav > bells.tsv\n"
"  earshot label -f frames --plot talk.svg talk.ogg > talk.frames.tsv\n",
  NULL
};

typedef struct {
  char *model, *format, *output, *plot, *only;
  gboolean json_frames, quiet, help;
  es_element_options el;
} label_opts;

typedef struct {
  label_opts o;
  out_format fmt;
  es_label_opts lo;
  earshot_model *model;
  char *model_path;
  const char **labels;          /* [n_classes] the model's */
  guint n_classes;
  guint8 *keep;                 /* [n_classes] --only */
  int decimals;                 /* of frame times */
  char **files;                 /* the FILE arguments (not owned) */
  int n_files;
  gboolean out_dir, plot_dir;   /* -o / --plot name folders */
  GString *doc;                 /* stdout json/tsv being assembled */
} label_run;

static gboolean
parse_options (label_run *r, int *argc, char ***argv, GError **error)
{
  label_opts *o = &r->o;
  es_element_options_init (&o->el);
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &o->model,
      "a .earshot file or the name of an installed model (default vad)",
      "MODEL" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &o->format,
      "audacity, tsv, frames, json or vtt (default audacity; see FORMATS)",
      "FORMAT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o->output,
      "write to OUT instead of standard output (a folder for several "
      "files; see SEVERAL FILES)", "OUT" },
    { "plot", 0, 0, G_OPTION_ARG_FILENAME, &o->plot,
      "also draw each file: waveform, segments and class probabilities, "
      "as SVG", "PLOT.svg" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &o->only,
      "write only the segments of these classes", "A,B" },
    { "json-frames", 0, 0, G_OPTION_ARG_NONE, &o->json_frames,
      "--format json: add every frame with its probabilities", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet,
      "no progress bar", NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &o->help, "show this help", NULL },
    G_OPTION_ENTRY_NULL
  };
  const es_option_group groups[] = {
    { "main", "Options:", entries },
    { "element", "Segment options (the element's properties):",
      o->el.entries },
  };
  GOptionContext *ctx = es_option_context_new ("FILE…", "Labels audio "
      "files with a model, through the GStreamer element `earshot`:\nthe "
      "segments it finds (or every frame's class probabilities) as an "
      "Audacity\nlabel track, a DCASE-style TSV, a frame table, JSON or "
      "WebVTT subtitles.", label_description, groups, G_N_ELEMENTS (groups));

  return es_option_parse (ctx, &o->help, argc, argv, error);
}

static gboolean
check_options (label_run *r, int argc, char **argv, GError **error)
{
  label_opts *o = &r->o;

  r->files = argv + 1;
  r->n_files = argc - 1;
  if (r->n_files < 1)
    return es_fail_usage (error, "give at least one audio FILE");
  const char *f = o->format ? o->format : "audacity";
  gsize i;
  for (i = 0; i < G_N_ELEMENTS (formats); i++)
    if (strcmp (f, formats[i].name) == 0)
      break;
  if (i == G_N_ELEMENTS (formats))
    return es_fail_usage (error, "--format must be audacity, tsv, frames, json "
        "or vtt, not '%s'", f);
  r->fmt = (out_format) i;
  if (o->json_frames && r->fmt != FMT_JSON)
    return es_fail_usage (error, "--json-frames goes with --format json");
  if (r->fmt == FMT_VTT && r->n_files > 1 && o->output == NULL)
    return es_fail_usage (error, "--format vtt writes one file per FILE: give "
        "-o FOLDER for several files");
  if (!es_element_options_parse (&o->el, &r->lo.settings, error))
    return FALSE;

  r->out_dir = o->output != NULL && (r->n_files > 1
      || g_file_test (o->output, G_FILE_TEST_IS_DIR));
  r->plot_dir = o->plot != NULL && (r->n_files > 1
      || g_file_test (o->plot, G_FILE_TEST_IS_DIR));
  return TRUE;
}

/* ---- writers ---------------------------------------------------------- */

/* ns as seconds with `decimals` (3, 6 or 9) digits, in integers: exact. */
static void
append_seconds (GString *s, guint64 ns, int decimals)
{
  guint64 unit = 1, scale = 1;
  for (int i = 0; i < 9 - decimals; i++)
    unit *= 10;
  for (int i = 0; i < decimals; i++)
    scale *= 10;
  guint64 q = (ns + unit / 2) / unit;
  g_string_append_printf (s, "%" G_GUINT64_FORMAT ".%0*" G_GUINT64_FORMAT,
      q / scale, decimals, q % scale);
}

static void
write_frames (const label_run *r, GString *s, const es_labelling *l)
{
  g_string_append (s, "start\tend\tlabel\tconfidence");
  for (guint k = 0; k < r->n_classes; k++)
    g_string_append_printf (s, "\t%s", r->labels[k]);
  g_string_append_c (s, '\n');
  for (gsize t = 0; t < l->n_frames; t++) {
    append_seconds (s, l->start_ns[t], r->decimals);
    g_string_append_c (s, '\t');
    append_seconds (s, l->start_ns[t] + l->duration_ns[t], r->decimals);
    g_string_append_printf (s, "\t%s\t%.6f", r->labels[l->classes[t]],
        l->confidences[t]);
    for (guint k = 0; k < r->n_classes; k++)
      g_string_append_printf (s, "\t%.6f", l->probs[t * r->n_classes + k]);
    g_string_append_c (s, '\n');
  }
}

static gboolean
keep_segment (const label_run *r, const es_segment *g)
{
  return r->keep == NULL || r->keep[g->cls];
}

static void
write_audacity (const label_run *r, GString *s, const es_labelling *l)
{
  for (gsize i = 0; i < l->n_segments; i++) {
    const es_segment *g = &l->segments[i];
    if (keep_segment (r, g))
      g_string_append_printf (s, "%.6f\t%.6f\t%s\n", g->start, g->end,
          r->labels[g->cls]);
  }
}

static void
write_tsv_rows (const label_run *r, GString *s, const char *file,
    const es_labelling *l)
{
  for (gsize i = 0; i < l->n_segments; i++) {
    const es_segment *g = &l->segments[i];
    if (keep_segment (r, g))
      g_string_append_printf (s, "%s\t%.6f\t%.6f\t%s\n", file, g->start,
          g->end, r->labels[g->cls]);
  }
}

static const char tsv_header[] = "filename\tonset\toffset\tevent_label\n";

static void
append_vtt_time (GString *s, double seconds)
{
  gint64 ms = llround (seconds * 1000);
  if (ms < 0)
    ms = 0;
  g_string_append_printf (s, "%02" G_GINT64_FORMAT ":%02d:%02d.%03d",
      ms / 3600000, (int) (ms / 60000 % 60), (int) (ms / 1000 % 60),
      (int) (ms % 1000));
}

static void
write_vtt (const label_run *r, GString *s, const es_labelling *l)
{
  g_string_append (s, "WEBVTT\n");
  for (gsize i = 0; i < l->n_segments; i++) {
    const es_segment *g = &l->segments[i];
    if (!keep_segment (r, g))
      continue;
    g_string_append_c (s, '\n');
    append_vtt_time (s, g->start);
    g_string_append (s, " --> ");
    append_vtt_time (s, g->end);
    g_string_append_c (s, '\n');
    /* cue text: only &, < and > are special */
    for (const char *p = r->labels[g->cls]; *p; p++) {
      if (*p == '&')
        g_string_append (s, "&amp;");
      else if (*p == '<')
        g_string_append (s, "&lt;");
      else if (*p == '>')
        g_string_append (s, "&gt;");
      else
        g_string_append_c (s, *p);
    }
    g_string_append_c (s, '\n');
  }
}

static void
json_head (const label_run *r, GString *s)
{
  const earshot_features_config *c = earshot_model_features_config
      (r->model);
  g_string_append (s, "{\n  \"model\": ");
  es_json_string (s, r->model_path);
  g_string_append (s, ",\n  \"labels\": [");
  for (guint k = 0; k < r->n_classes; k++) {
    if (k)
      g_string_append (s, ", ");
    es_json_string (s, r->labels[k]);
  }
  g_string_append (s, "],\n  \"frame_seconds\": ");
  es_json_number (s, (double) c->hop_length / c->sample_rate);
  g_string_append (s, ",\n  \"files\": [");
}

static void
json_file (const label_run *r, GString *s, const char *file,
    const es_labelling *l, gboolean first)
{
  g_string_append (s, first ? "\n    {\"file\": " : ",\n    {\"file\": ");
  es_json_string (s, file);
  g_string_append (s, ", \"duration\": ");
  es_json_number (s, l->duration);
  g_string_append_printf (s, ", \"n_frames\": %zu,\n     \"segments\": [",
      l->n_frames);
  gboolean any = FALSE;
  for (gsize i = 0; i < l->n_segments; i++) {
    const es_segment *g = &l->segments[i];
    if (!keep_segment (r, g))
      continue;
    g_string_append (s, any ? ",\n       {\"start\": "
        : "\n       {\"start\": ");
    any = TRUE;
    es_json_number (s, g->start);
    g_string_append (s, ", \"end\": ");
    es_json_number (s, g->end);
    g_string_append (s, ", \"label\": ");
    es_json_string (s, r->labels[g->cls]);
    g_string_append (s, ", \"confidence\": ");
    es_json_number (s, g->confidence);
    g_string_append_c (s, '}');
  }
  g_string_append (s, any ? "\n     ]" : "]");
  if (r->o.json_frames) {
    g_string_append (s, ",\n     \"frames\": [");
    for (gsize t = 0; t < l->n_frames; t++) {
      g_string_append (s, t ? ",\n       {\"start\": "
          : "\n       {\"start\": ");
      es_json_number (s, (double) l->start_ns[t] / GST_SECOND);
      g_string_append (s, ", \"end\": ");
      es_json_number (s, (double) (l->start_ns[t] + l->duration_ns[t])
          / GST_SECOND);
      g_string_append (s, ", \"label\": ");
      es_json_string (s, r->labels[l->classes[t]]);
      g_string_append (s, ", \"confidence\": ");
      es_json_number (s, l->confidences[t]);
      g_string_append (s, ", \"probabilities\": [");
      for (guint k = 0; k < r->n_classes; k++) {
        if (k)
          g_string_append (s, ", ");
        es_json_number (s, l->probs[t * r->n_classes + k]);
      }
      g_string_append (s, "]}");
    }
    g_string_append (s, l->n_frames ? "\n     ]" : "]");
  }
  g_string_append_c (s, '}');
}

static const char json_tail[] = "\n  ]\n}\n";

/* One file's complete document in the chosen format. */
static void
write_document (const label_run *r, GString *s, const char *file,
    const es_labelling *l)
{
  switch (r->fmt) {
    case FMT_AUDACITY:
      write_audacity (r, s, l);
      break;
    case FMT_TSV:
      g_string_append (s, tsv_header);
      write_tsv_rows (r, s, file, l);
      break;
    case FMT_FRAMES:
      write_frames (r, s, l);
      break;
    case FMT_JSON:
      json_head (r, s);
      json_file (r, s, file, l, TRUE);
      g_string_append (s, json_tail);
      break;
    case FMT_VTT:
      write_vtt (r, s, l);
      break;
  }
}

/* ---- files ------------------------------------------------------------ */

/* FILE's name without folder and extension. */
static char *
file_stem (const char *file)
{
  char *base = g_path_get_basename (file);
  char *dot = strrchr (base, '.');
  if (dot != NULL && dot != base)
    *dot = '\0';
  return base;
}

/* Where the output (or picture) of file i goes, or NULL for stdout. */
static char *
dest_path (const label_run *r, const char *opt, gboolean dir, int i,
    const char *ext)
{
  if (opt == NULL)
    return NULL;
  if (!dir)
    return g_strdup (opt);
  char *stem = file_stem (r->files[i]);
  char *name = g_strconcat (stem, ext, NULL);
  char *p = g_build_filename (opt, name, NULL);
  g_free (name);
  g_free (stem);
  return p;
}

/* Before any work: output folders exist, and no two files would write the
 * same output. */
static gboolean
prepare_outputs (const label_run *r, GError **error)
{
  const char *dirs[2] = { r->out_dir ? r->o.output : NULL,
    r->plot_dir ? r->o.plot : NULL };
  for (int d = 0; d < 2; d++) {
    if (dirs[d] == NULL)
      continue;
    if (g_mkdir_with_parents (dirs[d], 0755) != 0) {
      int e = errno;
      g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot create the folder "
          "%s: %s", dirs[d], g_strerror (e));
      return FALSE;
    }
  }
  if (r->n_files > 1 && (r->out_dir || r->plot_dir)) {
    GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal,
        g_free, NULL);
    for (int i = 0; i < r->n_files; i++) {
      char *stem = file_stem (r->files[i]);
      const char *other = g_hash_table_lookup (seen, stem);
      if (other != NULL) {
        g_set_error (error, ES_ERROR, ES_ERROR_USAGE, "%s and %s would "
            "write the same output file (%s…): label them separately",
            other, r->files[i], stem);
        g_free (stem);
        g_hash_table_unref (seen);
        return FALSE;
      }
      g_hash_table_insert (seen, stem, r->files[i]);
    }
    g_hash_table_unref (seen);
  }
  return TRUE;
}

static gboolean
write_stdout (GString *s, GError **error)
{
  if (fwrite (s->str, 1, s->len, stdout) != s->len || fflush (stdout) != 0) {
    int e = errno;
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot write the output: %s",
        g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

static gboolean
output_file (label_run *r, int i, const es_labelling *l, GError **error)
{
  const char *file = r->files[i];
  GString *s = g_string_new (NULL);
  gboolean ok = TRUE;
  char *dest = dest_path (r, r->o.output, r->out_dir, i,
      formats[r->fmt].ext);

  if (dest != NULL) {
    write_document (r, s, file, l);
    ok = es_write_file_atomic (dest, s->str, s->len, error);
  } else if (r->fmt == FMT_TSV) {
    if (i == 0)
      g_string_append (s, tsv_header);
    write_tsv_rows (r, s, file, l);
    ok = write_stdout (s, error);
  } else if (r->fmt == FMT_JSON) {
    /* one document for all files: written at the end */
    if (i == 0)
      json_head (r, r->doc);
    json_file (r, r->doc, file, l, i == 0);
  } else {
    if (r->n_files > 1)
      g_string_append_printf (s, "# %s\n", file);
    write_document (r, s, file, l);
    ok = write_stdout (s, error);
  }
  g_free (dest);
  g_string_free (s, TRUE);

  char *plot = dest_path (r, r->o.plot, r->plot_dir, i, ".svg");
  if (ok && plot != NULL) {
    char *base = g_path_get_basename (file);
    char *mbase = g_path_get_basename (r->model_path);
    char *title = g_strdup_printf ("%s — %s", base, mbase);
    ok = es_plot_labelling_svg (plot, l, r->labels, title, error);
    g_free (title);
    g_free (mbase);
    g_free (base);
  }
  g_free (plot);
  return ok;
}

/* ---- the run ---------------------------------------------------------- */

static gboolean
setup_model (label_run *r, GError **error)
{
  const char *name = r->o.model ? r->o.model : "vad";
  GError *e = NULL;
  r->model = es_model_open (name, &r->model_path, &e);
  if (r->model == NULL) {
    if (r->o.model == NULL)
      g_propagate_prefixed_error (error, e, "no --model given, and the "
          "default model is missing: ");
    else
      g_propagate_error (error, e);
    return FALSE;
  }
  r->n_classes = (guint) earshot_model_n_labels (r->model);
  r->labels = g_new (const char *, r->n_classes);
  for (guint k = 0; k < r->n_classes; k++)
    r->labels[k] = earshot_model_label (r->model, k);

  const earshot_features_config *c = earshot_model_features_config
      (r->model);
  /* as many decimals as make every frame time exact, at most 9 (ns) */
  r->decimals = ((guint64) c->hop_length * 1000) % c->sample_rate == 0 ? 3
      : ((guint64) c->hop_length * 1000000) % c->sample_rate == 0 ? 6 : 9;

  if (r->o.only) {
    r->keep = g_new0 (guint8, r->n_classes);
    char **parts = g_strsplit (r->o.only, ",", -1);
    gboolean ok = TRUE;
    for (char **p = parts; ok && *p; p++) {
      int k = earshot_model_find_label (r->model, g_strstrip (*p));
      if (k < 0) {
        GString *names = g_string_new (NULL);
        for (guint j = 0; j < r->n_classes; j++)
          g_string_append_printf (names, "%s%s", j ? ", " : "",
              r->labels[j]);
        ok = es_fail_usage (error, "--only: '%s' is not a class of %s (%s)",
            *p, r->model_path, names->str);
        g_string_free (names, TRUE);
      } else {
        r->keep[k] = 1;
      }
    }
    g_strfreev (parts);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

static int
label_main (label_run *r, int argc, char **argv, GError **error)
{
  if (!parse_options (r, &argc, &argv, error))
    return ES_EXIT_USAGE;
  if (r->o.help)
    return ES_EXIT_OK;
  if (!check_options (r, argc, argv, error))
    return ES_EXIT_USAGE;
  if (!gst_init_check (NULL, NULL, error) || !es_element_available (error)
      || !setup_model (r, error) || !prepare_outputs (r, error))
    return ES_EXIT_FAILURE;

  r->lo.model = r->model_path;
  r->lo.progress = !r->o.quiet;
  r->lo.envelope = r->o.plot != NULL;
  r->doc = g_string_new (NULL);
  for (int i = 0; i < r->n_files; i++) {
    es_labelling *l;
    if (!es_label_file (r->files[i], &r->lo, &l, error))
      return ES_EXIT_FAILURE;
    gboolean ok = output_file (r, i, l, error);
    es_labelling_free (l);
    if (!ok)
      return ES_EXIT_FAILURE;
  }
  if (r->doc->len > 0) {
    g_string_append (r->doc, json_tail);
    if (!write_stdout (r->doc, error))
      return ES_EXIT_FAILURE;
  }
  return ES_EXIT_OK;
}

int
es_cmd_label (int argc, char **argv)
{
  label_run r = { 0 };
  GError *error = NULL;
  int status = label_main (&r, argc, argv, &error);

  status = es_command_status ("label", status, error);
  g_free (r.o.model);
  g_free (r.o.format);
  g_free (r.o.output);
  g_free (r.o.plot);
  g_free (r.o.only);
  es_element_options_clear (&r.o.el);
  g_free (r.labels);
  g_free (r.keep);
  g_free (r.model_path);
  earshot_model_free (r.model);
  if (r.doc)
    g_string_free (r.doc, TRUE);
  if (gst_is_initialized ())
    gst_deinit ();
  return status;
}
