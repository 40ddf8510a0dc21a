/* eval-cmd.c — `earshot eval`: a model's frame and segment metrics on a
 * labelled manifest, measured through the element.
 *
 *   1. model, background class, --map and --positive decided and checked
 *   2. manifest and label files parsed (dataset.c, as `earshot train`); every
 *      reference label must be a class of the model or mapped to one
 *   3. per file: the element labels it (element.c); its frames are placed
 *      on the model's frame grid by their times; the reference targets are
 *      built by es_item_targets, the function `earshot train` uses, with
 *      the model's classes in the model's order as the priority
 *   4. confusion matrix, segment activity and scores accumulated
 *   5. report (lib/earshot_metrics.h computes every figure)
 *
 * --map renames reference labels before the targets are built: the classes
 * passed to es_item_targets are every model class, each followed by the
 * names mapped to it, so overlapping labels resolve exactly as if the label
 * files had used the mapped names.
 */
#include "earshot-tool.h"
#include "earshot_metrics.h"

#include <gst/gst.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const eval_description[] = {
"REFERENCE\n"
"  MANIFEST is a manifest as for `earshot train` (audio_path<TAB>label_path\n"
"  lines, or a DCASE-style TSV), and the reference class of every frame is\n"
"  built exactly as training builds its targets: the label at the centre\n"
"  of the frame's hop, the model's class order deciding overlaps, and time\n"
"  no label covers taking the background class: --background, or the one\n"
"  the model was trained with, or \"silence\" if the model has that class;\n"
"  with --no-background (or a model trained with it) unlabelled frames are\n"
"  not counted.  Every reference label must be a class of the model, or be\n"
"  mapped to one: --map music=nonspeech,noise=nonspeech evaluates a\n"
"  speech/nonspeech model on a corpus labelled speech/music/noise.\n"
"\n",
"METRICS\n"
"  Frame metrics compare the element's per-frame class (the most probable\n"
"  one, unsmoothed) with the reference: frame accuracy; per class\n"
"  precision TP/(TP+FP), recall TP/(TP+FN) and F1 2TP/(2TP+FP+FN);\n"
"  macro-F1, the mean F1 of the classes present in the reference or the\n"
"  prediction; the confusion matrix (rows: reference, columns: prediction).\n"
"\n"
"  Segment-based metrics, in the sense of sed_eval (DCASE), compare the\n"
"  element's segments (smoothed; see --threshold, --smoothing, --min-segment\n"
"  and --min-gap) with the reference's runs of classes, per segment of\n"
"  --segment-length seconds (default 1): a class is active in a segment\n"
"  when one of its events overlaps it.  Over all segments and classes,\n"
"  F1 = 2TP/(2TP+FP+FN); error rate ER = (S+D+I)/N, where per segment\n"
"  S = min(FN,FP) substitutions, D = max(0,FN-FP) deletions, I =\n"
"  max(0,FP-FN) insertions, and N counts the reference's active classes.\n"
"  The background class is not an event and is left out.\n"
"\n"
"  ROC-AUC: of the --positive class's frame probability against the\n"
"  reference (that class or not); for a two-class model with a background\n"
"  class, the other class is the positive one by default.\n"
"\n"
"  Files run through uridecodebin ! audioconvert ! earshot ! fakesink, so\n"
"  the figures are those of the element as applications use it.\n"
"\n",
"EXAMPLES\n"
"  earshot eval -m seg.earshot -d heldout.tsv\n"
"  earshot eval -m vad -d test.tsv --map music=nonspeech,noise=nonspeech\n"
"  earshot eval -m vad -d test.tsv --json > scores.json\n",
  NULL
};

typedef struct {
  char *model, *data, *map, *positive, *background;
  gboolean no_background, json, quiet, help;
  double segment_length;
  es_element_options el;
} eval_opts;

typedef struct {
  char *file;
  guint64 frames, correct, missing;
} file_row;

typedef struct {
  eval_opts o;
  es_element_settings settings;
  earshot_model *model;
  char *model_path;
  guint n_classes;
  const char **labels;          /* [n_classes] */
  guint rate, hop;
  double frame_s;
  int32_t background;           /* model class, or -1 */
  int positive;                 /* model class, or -1: no ROC-AUC */
  guint8 *seg_use;              /* [n_classes] classes in segment metrics */
  GPtrArray *map_from, *map_to; /* --map pairs, in the order given */
  char **names;                 /* reference names for the targets */
  int32_t *name_class;          /* [n_names] their model class */
  gsize n_names;
  es_dataset *ds;

  uint64_t *confusion;          /* [n_classes x n_classes] */
  earshot_segment_counts seg;
  GArray *scores;               /* double: positive's probability */
  GArray *is_positive;          /* guint8 */
  GArray *rows;                 /* file_row */
  double seconds;               /* audio evaluated */
} eval_run;

static gboolean
parse_options (eval_run *r, int *argc, char ***argv, GError **error)
{
  eval_opts *o = &r->o;
  o->segment_length = 1.0;
  es_element_options_init (&o->el);
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &o->model,
      "a .earshot file or the name of an installed model (default vad)",
      "MODEL" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &o->data,
      "the labelled files, as for earshot train (required)", "MANIFEST" },
    { "map", 0, 0, G_OPTION_ARG_STRING, &o->map,
      "rename reference labels to model classes", "LABEL=CLASS,…" },
    { "background", 0, 0, G_OPTION_ARG_STRING, &o->background,
      "class of unlabelled time (default: the model's, from training)",
      "CLASS" },
    { "no-background", 0, 0, G_OPTION_ARG_NONE, &o->no_background,
      "do not count unlabelled frames", NULL },
    { "segment-length", 0, 0, G_OPTION_ARG_DOUBLE, &o->segment_length,
      "segment length of the segment-based metrics, seconds (default 1)",
      "S" },
    { "positive", 0, 0, G_OPTION_ARG_STRING, &o->positive,
      "class whose probability the ROC-AUC ranks (default: the "
      "non-background class of a two-class model)", "CLASS" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json,
      "print every figure as JSON", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet,
      "no progress bar", NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &o->help, "show this help", NULL },
    G_OPTION_ENTRY_NULL
  };
  const es_option_group groups[] = {
    { "main", "Options:", entries },
    { "element", "Segment options (the element's properties; they shape "
      "the segments, not the frames):", o->el.entries },
  };
  GOptionContext *ctx = es_option_context_new ("--data MANIFEST",
      "Measures how well a model labels the files of a labelled manifest, "
      "through\nthe GStreamer element `earshot`: frame accuracy, per-class "
      "precision, recall\nand F1, macro-F1, the confusion matrix, "
      "segment-based F1 and error rate,\nand ROC-AUC.", eval_description,
      groups, G_N_ELEMENTS (groups));

  return es_option_parse (ctx, &o->help, argc, argv, error);
}

static gboolean
check_options (eval_run *r, int argc, GError **error)
{
  eval_opts *o = &r->o;
  if (argc > 1)
    return es_fail_usage (error, "unexpected argument; the manifest goes "
        "after --data");
  if (o->data == NULL)
    return es_fail_usage (error, "--data MANIFEST is required");
  if (!(o->segment_length > 0 && o->segment_length <= 3600))
    return es_fail_usage (error, "--segment-length must be above 0 and at "
        "most 3600 seconds");
  if (o->no_background && o->background)
    return es_fail_usage (error, "give --background or --no-background, not "
        "both");
  return es_element_options_parse (&o->el, &r->settings, error);
}

/* ---- classes ---------------------------------------------------------- */

static char *
class_list (const eval_run *r)
{
  GString *s = g_string_new (NULL);
  for (guint k = 0; k < r->n_classes; k++)
    g_string_append_printf (s, "%s%s", k ? ", " : "", r->labels[k]);
  return g_string_free (s, FALSE);
}

static int
find_class (const eval_run *r, const char *name)
{
  return earshot_model_find_label (r->model, name);
}

static gboolean
not_a_class (const eval_run *r, const char *what, const char *name,
    GError **error)
{
  char *all = class_list (r);
  es_fail_usage (error, "%s: '%s' is not a class of %s (%s)", what, name,
      r->model_path, all);
  g_free (all);
  return FALSE;
}

static gboolean
setup_model (eval_run *r, GError **error)
{
  const eval_opts *o = &r->o;
  GError *e = NULL;
  r->model = es_model_open (o->model ? o->model : "vad", &r->model_path, &e);
  if (r->model == NULL) {
    if (o->model == NULL)
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
  r->rate = c->sample_rate;
  r->hop = c->hop_length;
  r->frame_s = (double) r->hop / r->rate;

  /* background: as asked, else as trained, else "silence" if present */
  const char *meta = earshot_model_get_meta (r->model, "train.background");
  r->background = -1;
  if (o->background) {
    if ((r->background = find_class (r, o->background)) < 0)
      return not_a_class (r, "--background", o->background, error);
  } else if (!o->no_background) {
    r->background = find_class (r, meta ? meta : "silence");
  }

  if (o->positive) {
    if ((r->positive = find_class (r, o->positive)) < 0)
      return not_a_class (r, "--positive", o->positive, error);
  } else if (r->n_classes == 2 && r->background >= 0) {
    r->positive = 1 - r->background;
  } else {
    r->positive = r->n_classes == 2 ? find_class (r, "speech") : -1;
  }

  r->seg_use = g_new (guint8, r->n_classes);
  for (guint k = 0; k < r->n_classes; k++)
    r->seg_use[k] = (int32_t) k != r->background;

  r->map_from = g_ptr_array_new_with_free_func (g_free);
  r->map_to = g_ptr_array_new ();
  if (o->map) {
    char **pairs = g_strsplit (o->map, ",", -1);
    gboolean ok = TRUE;
    for (char **p = pairs; ok && *p; p++) {
      char *eq = strchr (*p, '=');
      if (eq == NULL) {
        ok = es_fail_usage (error, "--map: '%s' is not LABEL=CLASS", *p);
        break;
      }
      *eq = '\0';
      char *from = g_strstrip (*p), *to = g_strstrip (eq + 1);
      int k = find_class (r, to);
      if (*from == '\0')
        ok = es_fail_usage (error, "--map: an empty label name");
      else if (k < 0)
        ok = not_a_class (r, "--map", to, error);
      for (guint i = 0; ok && i < r->map_from->len; i++)
        if (strcmp (r->map_from->pdata[i], from) == 0)
          ok = es_fail_usage (error, "--map: '%s' is mapped twice", from);
      if (ok && strcmp (from, to) != 0) {
        g_ptr_array_add (r->map_from, g_strdup (from));
        g_ptr_array_add (r->map_to, GINT_TO_POINTER (k));
      }
    }
    g_strfreev (pairs);
    if (!ok)
      return FALSE;
  }

  /* The target names: each model class (unless mapped away) followed by
   * the labels mapped to it. */
  GPtrArray *names = g_ptr_array_new ();
  GArray *cls = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (guint k = 0; k < r->n_classes; k++) {
    gboolean away = FALSE;
    for (guint i = 0; i < r->map_from->len; i++)
      away |= strcmp (r->map_from->pdata[i], r->labels[k]) == 0;
    int32_t kk = (int32_t) k;
    if (!away) {
      g_ptr_array_add (names, g_strdup (r->labels[k]));
      g_array_append_val (cls, kk);
    }
    for (guint i = 0; i < r->map_from->len; i++)
      if (GPOINTER_TO_INT (r->map_to->pdata[i]) == (int) k) {
        g_ptr_array_add (names, g_strdup (r->map_from->pdata[i]));
        g_array_append_val (cls, kk);
      }
  }
  r->n_names = names->len;
  g_ptr_array_add (names, NULL);
  r->names = (char **) g_ptr_array_free (names, FALSE);
  r->name_class = (int32_t *) g_array_free (cls, FALSE);
  return TRUE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Every reference label that applies is a target name. */
static gboolean
check_labels (eval_run *r, GError **error)
{
  GHashTable *found = g_hash_table_new (g_str_hash, g_str_equal);
  es_dataset_collect_labels (r->ds, found);
  GPtrArray *unknown = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, found);
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    gboolean known = FALSE;
    for (gsize i = 0; i < r->n_names && !known; i++)
      known = strcmp (r->names[i], key) == 0;
    if (!known)
      g_ptr_array_add (unknown, key);
  }
  g_hash_table_unref (found);
  gboolean ok = unknown->len == 0;
  if (!ok) {
    g_ptr_array_sort (unknown, compare_names);
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < unknown->len; i++)
      g_string_append_printf (s, "%s%s", i ? ", " : "",
          (const char *) unknown->pdata[i]);
    char *all = class_list (r);
    g_set_error (error, ES_ERROR, ES_ERROR_DATA, "%s: reference label%s %s "
        "%s not a class of %s (%s): map %s with --map %s=CLASS", r->o.data,
        unknown->len > 1 ? "s" : "", s->str, unknown->len > 1 ? "are" : "is",
        r->model_path, all, unknown->len > 1 ? "them" : "it",
        (const char *) unknown->pdata[0]);
    g_free (all);
    g_string_free (s, TRUE);
  }
  g_ptr_array_free (unknown, TRUE);
  return ok;
}

/* ---- one file --------------------------------------------------------- */

static gboolean
eval_item (eval_run *r, es_item *it, const es_label_opts *lo, GError **error)
{
  es_labelling *l;
  if (!es_label_file (it->audio, lo, &l, error))
    return FALSE;

  /* The element's frames on the model's frame grid, by their times. */
  guint nk = r->n_classes;
  gsize n = 0;
  gsize *idx = g_new (gsize, l->n_frames);
  for (gsize t = 0; t < l->n_frames; t++) {
    idx[t] = (gsize) gst_util_uint64_scale_round (l->start_ns[t], r->rate,
        (guint64) r->hop * GST_SECOND);
    n = MAX (n, idx[t] + 1);
  }
  int32_t *pred = g_new (int32_t, n);
  double *score = g_new0 (double, n);
  for (gsize t = 0; t < n; t++)
    pred[t] = -1;
  for (gsize t = 0; t < l->n_frames; t++) {
    pred[idx[t]] = l->classes[t];
    if (r->positive >= 0)
      score[idx[t]] = l->probs[t * nk + (gsize) r->positive];
  }
  g_free (idx);

  /* The reference: train's targets over the target names, then the names'
   * classes; unlabelled frames (-1) become the background. */
  it->n_frames = n;
  it->n_samples = (gsize) llround (l->duration * r->rate);
  gboolean ok = es_item_targets (r->ds, it, (const char *const *) r->names,
      r->n_names, -1, r->rate, r->hop, error);
  if (ok) {
    int32_t *ref = it->targets;
    file_row row = { .file = it->audio };
    for (gsize t = 0; t < n; t++) {
      ref[t] = ref[t] < 0 ? r->background : r->name_class[ref[t]];
      if (ref[t] < 0)
        continue;
      if (pred[t] < 0) {
        row.missing++;
        continue;
      }
      row.frames++;
      row.correct += ref[t] == pred[t];
      if (r->positive >= 0) {
        guint8 p = ref[t] == r->positive;
        g_array_append_val (r->scores, score[t]);
        g_array_append_val (r->is_positive, p);
      }
    }
    if (row.missing > 0)
      es_print_warning ("%s: the element reported no class for %"
          G_GUINT64_FORMAT " of its frames; they are not counted",
          it->audio, row.missing);
    g_array_append_val (r->rows, row);
    earshot_confusion_add (r->confusion, nk, ref, pred, n);

    /* segments: the reference's runs against the element's segments */
    gsize ns = earshot_segment_count ((double) n * r->frame_s,
        r->o.segment_length);
    earshot_event *ref_ev = g_new (earshot_event, MAX (n, 1));
    gsize n_ref = earshot_frames_to_events (ref, n, r->frame_s, ref_ev);
    earshot_event *est_ev = g_new (earshot_event, MAX (l->n_segments, 1));
    for (gsize i = 0; i < l->n_segments; i++)
      est_ev[i] = (earshot_event) { l->segments[i].start,
        l->segments[i].end, l->segments[i].cls };
    guint8 *ra = g_new (guint8, MAX (ns * nk, 1));
    guint8 *ea = g_new (guint8, MAX (ns * nk, 1));
    earshot_segment_activity (ref_ev, n_ref, nk, r->o.segment_length, ns,
        ra);
    earshot_segment_activity (est_ev, l->n_segments, nk,
        r->o.segment_length, ns, ea);
    earshot_segment_counts_add (&r->seg, ra, ea, ns, nk, r->seg_use);
    g_free (ra);
    g_free (ea);
    g_free (ref_ev);
    g_free (est_ev);
    r->seconds += l->duration;
  }
  g_clear_pointer (&it->targets, g_free);
  g_free (pred);
  g_free (score);
  es_labelling_free (l);
  return ok;
}

/* ---- report ----------------------------------------------------------- */

/* A figure, or "-" when it is undefined. */
static char *
fig (double v, int decimals)
{
  return isfinite (v) ? g_strdup_printf ("%.*f", decimals, v)
      : g_strdup ("-");
}

static void
report_text (const eval_run *r, const earshot_frame_metrics *fm,
    const earshot_class_metrics *cm, const earshot_segment_metrics *sm,
    double auc)
{
  guint nk = r->n_classes;
  int w = 9;
  for (guint k = 0; k < nk; k++)
    w = MAX (w, (int) strlen (r->labels[k]));
  char *all = class_list (r);
  printf ("model           %s (classes %s; background %s)\n", r->model_path,
      all, r->background >= 0 ? r->labels[r->background] : "none");
  g_free (all);
  printf ("data            %s: %zu files, %.1f s, %" G_GUINT64_FORMAT
      " frames with a reference\n", r->o.data, r->ds->n_items, r->seconds,
      fm->frames);
  if (r->map_from->len > 0) {
    printf ("mapped          ");
    for (guint i = 0; i < r->map_from->len; i++)
      printf ("%s%s -> %s", i ? ", " : "",
          (const char *) r->map_from->pdata[i],
          r->labels[GPOINTER_TO_INT (r->map_to->pdata[i])]);
    printf ("\n");
  }

  char *a = fig (100 * fm->accuracy, 2), *m = fig (fm->macro_f1, 4);
  printf ("\nframe accuracy  %s%%  (%" G_GUINT64_FORMAT " of %"
      G_GUINT64_FORMAT " frames)\nmacro-F1        %s\n\n", a, fm->correct,
      fm->frames, m);
  g_free (a);
  g_free (m);

  printf ("%-*s  %10s  %10s  %9s  %7s  %7s\n", w, "class", "reference",
      "predicted", "precision", "recall", "F1");
  for (guint k = 0; k < nk; k++) {
    char *p = fig (cm[k].precision, 4), *rc = fig (cm[k].recall, 4),
        *f = fig (cm[k].f1, 4);
    printf ("%-*s  %10" G_GUINT64_FORMAT "  %10" G_GUINT64_FORMAT
        "  %9s  %7s  %7s\n", w, r->labels[k], cm[k].support, cm[k].predicted,
        p, rc, f);
    g_free (p);
    g_free (rc);
    g_free (f);
  }

  printf ("\nconfusion (rows: reference, columns: prediction)\n%-*s", w, "");
  int cw = 10;
  for (guint k = 0; k < nk; k++)
    cw = MAX (cw, (int) strlen (r->labels[k]));
  for (guint k = 0; k < nk; k++)
    printf ("  %*s", cw, r->labels[k]);
  printf ("\n");
  for (guint i = 0; i < nk; i++) {
    printf ("%-*s", w, r->labels[i]);
    for (guint k = 0; k < nk; k++)
      printf ("  %*" G_GUINT64_FORMAT, cw, r->confusion[i * nk + k]);
    printf ("\n");
  }

  GString *used = g_string_new (NULL);
  for (guint k = 0; k < nk; k++)
    if (r->seg_use[k])
      g_string_append_printf (used, "%s%s", used->len ? ", " : "",
          r->labels[k]);
  char *f = fig (sm->f1, 4), *p = fig (sm->precision, 4),
      *rc = fig (sm->recall, 4), *er = fig (sm->error_rate, 4),
      *sr = fig (sm->substitution_rate, 4), *dr = fig (sm->deletion_rate, 4),
      *ir = fig (sm->insertion_rate, 4);
  printf ("\nsegment-based (%g s segments; classes %s)\n"
      "  F1          %s  (precision %s, recall %s)\n"
      "  error rate  %s  (substitutions %s, deletions %s, insertions %s)\n"
      "  counts      %" G_GUINT64_FORMAT " segments, %" G_GUINT64_FORMAT
      " active in the reference; TP %" G_GUINT64_FORMAT ", FP %"
      G_GUINT64_FORMAT ", FN %" G_GUINT64_FORMAT "\n", r->o.segment_length,
      used->str, f, p, rc, er, sr, dr, ir, r->seg.n_segments, r->seg.n_ref,
      r->seg.tp, r->seg.fp, r->seg.fn);
  g_free (f);
  g_free (p);
  g_free (rc);
  g_free (er);
  g_free (sr);
  g_free (dr);
  g_free (ir);
  g_string_free (used, TRUE);

  if (r->positive >= 0) {
    char *s = fig (auc, 4);
    printf ("\nROC-AUC of %s   %s%s\n", r->labels[r->positive], s,
        isfinite (auc) ? "" : "  (the reference needs frames of both "
        "kinds)");
    g_free (s);
  }
}

static void
json_counts (GString *s, const char *key, guint64 v)
{
  g_string_append_printf (s, ", \"%s\": %" G_GUINT64_FORMAT, key, v);
}

static void
json_field (GString *s, const char *key, double v)
{
  g_string_append_printf (s, ", \"%s\": ", key);
  es_json_number (s, v);
}

static void
report_json (const eval_run *r, const earshot_frame_metrics *fm,
    const earshot_class_metrics *cm, const earshot_segment_metrics *sm,
    double auc)
{
  guint nk = r->n_classes;
  GString *s = g_string_new ("{\n  \"model\": ");
  es_json_string (s, r->model_path);
  g_string_append (s, ",\n  \"data\": ");
  es_json_string (s, r->o.data);
  g_string_append (s, ",\n  \"labels\": [");
  for (guint k = 0; k < nk; k++) {
    if (k)
      g_string_append (s, ", ");
    es_json_string (s, r->labels[k]);
  }
  g_string_append (s, "],\n  \"background\": ");
  if (r->background >= 0)
    es_json_string (s, r->labels[r->background]);
  else
    g_string_append (s, "null");
  g_string_append (s, ",\n  \"map\": {");
  for (guint i = 0; i < r->map_from->len; i++) {
    g_string_append (s, i ? ", " : "");
    es_json_string (s, r->map_from->pdata[i]);
    g_string_append (s, ": ");
    es_json_string (s, r->labels[GPOINTER_TO_INT (r->map_to->pdata[i])]);
  }
  g_string_append_printf (s, "},\n  \"files\": %zu,\n  \"seconds\": ",
      r->ds->n_items);
  es_json_number (s, r->seconds);
  g_string_append_printf (s, ",\n  \"frames\": %" G_GUINT64_FORMAT
      ",\n  \"correct\": %" G_GUINT64_FORMAT ",\n  \"accuracy\": ",
      fm->frames, fm->correct);
  es_json_number (s, fm->accuracy);
  g_string_append (s, ",\n  \"macro_f1\": ");
  es_json_number (s, fm->macro_f1);
  g_string_append (s, ",\n  \"classes\": [");
  for (guint k = 0; k < nk; k++) {
    g_string_append (s, k ? ",\n    {\"label\": " : "\n    {\"label\": ");
    es_json_string (s, r->labels[k]);
    json_counts (s, "support", cm[k].support);
    json_counts (s, "predicted", cm[k].predicted);
    json_counts (s, "tp", cm[k].tp);
    json_field (s, "precision", cm[k].precision);
    json_field (s, "recall", cm[k].recall);
    json_field (s, "f1", cm[k].f1);
    g_string_append_c (s, '}');
  }
  g_string_append (s, "\n  ],\n  \"confusion\": [");
  for (guint i = 0; i < nk; i++) {
    g_string_append (s, i ? ",\n    [" : "\n    [");
    for (guint k = 0; k < nk; k++)
      g_string_append_printf (s, "%s%" G_GUINT64_FORMAT, k ? ", " : "",
          r->confusion[i * nk + k]);
    g_string_append_c (s, ']');
  }
  g_string_append (s, "\n  ],\n  \"segment\": {\"length\": ");
  es_json_number (s, r->o.segment_length);
  g_string_append (s, ", \"classes\": [");
  gboolean first = TRUE;
  for (guint k = 0; k < nk; k++)
    if (r->seg_use[k]) {
      g_string_append (s, first ? "" : ", ");
      es_json_string (s, r->labels[k]);
      first = FALSE;
    }
  g_string_append (s, "]");
  json_counts (s, "segments", r->seg.n_segments);
  json_counts (s, "reference_active", r->seg.n_ref);
  json_counts (s, "tp", r->seg.tp);
  json_counts (s, "fp", r->seg.fp);
  json_counts (s, "fn", r->seg.fn);
  json_counts (s, "substitutions", r->seg.substitutions);
  json_counts (s, "deletions", r->seg.deletions);
  json_counts (s, "insertions", r->seg.insertions);
  g_string_append (s, ",\n    ");
  g_string_append (s, "\"precision\": ");
  es_json_number (s, sm->precision);
  json_field (s, "recall", sm->recall);
  json_field (s, "f1", sm->f1);
  json_field (s, "error_rate", sm->error_rate);
  json_field (s, "substitution_rate", sm->substitution_rate);
  json_field (s, "deletion_rate", sm->deletion_rate);
  json_field (s, "insertion_rate", sm->insertion_rate);
  g_string_append (s, "},\n  \"roc_auc\": ");
  if (r->positive >= 0) {
    g_string_append (s, "{\"class\": ");
    es_json_string (s, r->labels[r->positive]);
    json_field (s, "auc", auc);
    g_string_append_c (s, '}');
  } else {
    g_string_append (s, "null");
  }
  g_string_append (s, ",\n  \"per_file\": [");
  for (guint i = 0; i < r->rows->len; i++) {
    const file_row *row = &g_array_index (r->rows, file_row, i);
    g_string_append (s, i ? ",\n    {\"file\": " : "\n    {\"file\": ");
    es_json_string (s, row->file);
    json_counts (s, "frames", row->frames);
    json_counts (s, "correct", row->correct);
    json_counts (s, "missing", row->missing);
    json_field (s, "accuracy", row->frames ? (double) row->correct
        / (double) row->frames : NAN);
    g_string_append_c (s, '}');
  }
  g_string_append (s, r->rows->len ? "\n  ]\n}\n" : "]\n}\n");
  fputs (s->str, stdout);
  g_string_free (s, TRUE);
}

/* ---- entry point ------------------------------------------------------ */

static int
eval_main (eval_run *r, int argc, char **argv, GError **error)
{
  if (!parse_options (r, &argc, &argv, error))
    return ES_EXIT_USAGE;
  if (r->o.help)
    return ES_EXIT_OK;
  if (!check_options (r, argc, error))
    return ES_EXIT_USAGE;
  if (!gst_init_check (NULL, NULL, error) || !es_element_available (error)
      || !setup_model (r, error)
      || !es_dataset_open (r->o.data, &r->ds, error)
      || !check_labels (r, error))
    return ES_EXIT_FAILURE;

  guint nk = r->n_classes;
  r->confusion = g_new0 (uint64_t, (gsize) nk * nk);
  r->scores = g_array_new (FALSE, FALSE, sizeof (double));
  r->is_positive = g_array_new (FALSE, FALSE, sizeof (guint8));
  r->rows = g_array_new (FALSE, FALSE, sizeof (file_row));
  es_label_opts lo = {
    .model = r->model_path, .settings = r->settings,
    .progress = !r->o.quiet,
  };
  for (gsize i = 0; i < r->ds->n_items; i++)
    if (!eval_item (r, &r->ds->items[i], &lo, error)) {
      g_prefix_error (error, "%s line %u: ", r->ds->path,
          r->ds->items[i].line);
      return ES_EXIT_FAILURE;
    }

  earshot_class_metrics *cm = g_new (earshot_class_metrics, nk);
  earshot_frame_metrics fm;
  earshot_segment_metrics sm;
  earshot_frame_metrics_compute (r->confusion, nk, cm, &fm);
  earshot_segment_metrics_compute (&r->seg, &sm);
  double auc = NAN;
  if (r->positive >= 0 && r->scores->len > 0
      && earshot_roc_auc ((const double *) r->scores->data,
          (const uint8_t *) r->is_positive->data, r->scores->len, &auc)
      == EARSHOT_ERR_NOMEM) {
    g_free (cm);
    g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "out of memory");
    return ES_EXIT_FAILURE;
  }
  if (r->o.json)
    report_json (r, &fm, cm, &sm, auc);
  else
    report_text (r, &fm, cm, &sm, auc);
  g_free (cm);
  return fflush (stdout) == 0 ? ES_EXIT_OK : ES_EXIT_FAILURE;
}

int
es_cmd_eval (int argc, char **argv)
{
  eval_run r = { 0 };
  GError *error = NULL;
  int status = eval_main (&r, argc, argv, &error);

  status = es_command_status ("eval", status, error);
  eval_opts *o = &r.o;
  g_free (o->model);
  g_free (o->data);
  g_free (o->map);
  g_free (o->positive);
  g_free (o->background);
  es_element_options_clear (&o->el);
  g_free (r.model_path);
  g_free (r.labels);
  g_free (r.seg_use);
  if (r.map_from)
    g_ptr_array_unref (r.map_from);
  if (r.map_to)
    g_ptr_array_unref (r.map_to);
  g_strfreev (r.names);
  g_free (r.name_class);
  es_dataset_free (r.ds);
  earshot_model_free (r.model);
  g_free (r.confusion);
  if (r.scores)
    g_array_free (r.scores, TRUE);
  if (r.is_positive)
    g_array_free (r.is_positive, TRUE);
  if (r.rows)
    g_array_free (r.rows, TRUE);
  if (gst_is_initialized ())
    gst_deinit ();
  return status;
}
