/* train-cmd.c — `earshot train`: a model from a manifest of labelled audio.
 *
 * The steps, each of which can fail with one message before anything is
 * written (so a bad input never leaves a model file behind):
 *
 *   1. parse the manifest(s) and every label file (known format?)
 *   2. decide the classes (priority order) and the background class
 *   3. decode + front end for every file, in parallel, through the cache
 *   4. per-frame targets (labels inside each file's duration?)
 *   5. split training / validation by file, deterministically from --seed
 *   6. every class has training frames?
 *   7. per-band mean/std over the training frames; normalise everything
 *
 * then the epochs: optional augmentation (the front end again on altered
 * audio), earshot_trainer_epoch, earshot_evaluate on validation, a table row,
 * the CSV log and SVG curves rewritten, and a checkpoint whose extra blob
 * holds this file's own state (tool_state below).  The model saved at the
 * end carries the parameters of the epoch with the lowest validation loss.
 */
#include "earshot-tool.h"
#include "earshot_train.h"

#include <errno.h>
#include <gst/gst.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
/* OpenBLAS's own extension (cblas.h of OpenBLAS); declared here so the tool
 * does not depend on which cblas.h the build finds. */
extern void openblas_set_num_threads (int num_threads);
#endif

/* Purposes of the derived random streams (es_rng_derive). */
enum { RNG_SPLIT = 1, RNG_AUGMENT = 2 };

#define TOOL_STATE_VERSION 1u

/* ---- options ---------------------------------------------------------- */

typedef struct {
  char *data, *valid, *output, *checkpoint, *cache_dir;
  gboolean no_cache;
  double valid_fraction;
  char *classes, *background;
  gboolean no_background;
  char *cell;
  int hidden, layers;
  int epochs, batch, chunk, warmup, patience, stop_after, threads;
  double lr, momentum, weight_decay, clip, dropout, lr_decay;
  char *optimizer;
  gboolean balance, resume, quiet, help;
  gint64 seed;
  int sample_rate, n_fft, mels;
  char *win, *hop, *window, *mel_scale, *lookahead;
  double fmin, fmax;
  double aug_gain, aug_speed, aug_prob;
  char *aug_noise, *aug_snr;
} train_opts;

static void
train_opts_clear (train_opts *o)
{
  char **strs[] = { &o->data, &o->valid, &o->output, &o->checkpoint,
    &o->cache_dir, &o->classes, &o->background, &o->cell, &o->optimizer,
    &o->win, &o->hop, &o->window, &o->mel_scale, &o->aug_noise, &o->aug_snr,
    &o->lookahead };
  for (gsize i = 0; i < G_N_ELEMENTS (strs); i++)
    g_clear_pointer (strs[i], g_free);
}

/* The sections of `earshot train --help` after the options (one string
 * each: C99 only promises 4095-byte literals). */
static const char *const train_description[] = {
"DATA\n"
"  MANIFEST lists the training files, one per line:\n"
"      audio_path<TAB>label_path\n"
"  Paths are relative to the manifest's folder; lines starting with '#' are\n"
"  comments.  Audio may be in any format GStreamer decodes; it is mixed down\n"
"  to mono and resampled to --sample-rate.  A manifest may instead be a\n"
"  DCASE-style TSV (header filename<TAB>onset<TAB>offset<TAB>event_label)\n"
"  whose filename column names the audio files and which holds the labels.\n"
"\n"
"  Label files, in any of these formats (detected from the first line):\n"
"      Audacity label track  start<TAB>end<TAB>label     times in seconds\n"
"      DCASE TSV             filename<TAB>onset<TAB>offset<TAB>event_label\n"
"      CSV                   start,end,label  or  filename,start,end,label\n"
"  A label file with a filename column may cover many audio files; the rows\n"
"  whose filename is the audio path, or a tail of it after a '/', apply.\n"
"\n",
"CLASSES\n"
"  The model labels every hop (10 ms by default).  A frame's target is the\n"
"  label at the centre of its hop interval.  Time that no label covers gets\n"
"  the background class (--background, default \"silence\"); with\n"
"  --no-background it has no target and does not count in the loss.\n"
"  The classes are the model's outputs in the order of --classes, and that\n"
"  order is also the priority where labels overlap: the class listed first\n"
"  wins.  The background class is appended when --classes does not list it.\n"
"  By default the classes are every label found in the label files, sorted\n"
"  by name, then the background class last (so any real label beats it).\n"
"  A class without a single training frame is an error.\n"
"\n",
"TRAINING\n"
"  Mini-batches of --batch lanes, each walking one file in chunks of\n"
"  --chunk frames with the recurrent state carried between chunks\n"
"  (truncated BPTT) and a random start offset each epoch.  Loss: frame\n"
"  cross-entropy, with --balance weighted by inverse class frequency.\n"
"  Validation: --valid MANIFEST, or --valid-fraction of the files (whole\n"
"  files, chosen from --seed).  The saved model has the parameters of the\n"
"  epoch with the lowest validation loss (without validation: the last\n"
"  epoch); training stops early after --patience epochs without a new best.\n"
"  The same --seed, data, options and --threads give a bit-identical model\n"
"  file (set SOURCE_DATE_EPOCH to fix the date it records); OpenBLAS rounds\n"
"  differently with another thread count.\n"
"\n",
"LOOKAHEAD\n"
"  A causal model (the default) labels a frame from the audio up to it.\n"
"  With --lookahead L the model labels each frame only after hearing L more\n"
"  audio: it is trained to output frame t's class at frame t + L/hop.  That\n"
"  decides boundaries far better (whether a pause ends within 200 ms is\n"
"  only known 200 ms later) at the price of L more latency: the element and\n"
"  'earshot label' still stamp every frame with its own time, and the\n"
"  element's reported latency grows by L.  The model file records L\n"
"  (format version 2).\n"
"\n",
"AUGMENTATION (off by default)\n"
"  In each epoch a training file is augmented with probability --aug-prob:\n"
"  speed change (resampling: tempo and pitch together), gain, noise from\n"
"  --aug-noise mixed at an SNR from --aug-snr.  The altered audio goes\n"
"  through the front end again; validation data is never augmented.\n"
"  --aug-noise names a list file: one audio path per line, relative to the\n"
"  list's folder, '#' comments.\n"
"\n",
"CACHE\n"
"  Log-mel features (and, with augmentation, decoded audio) are cached in\n"
"  --cache-dir, keyed by the SHA-256 of each file's content and the front-end\n"
"  settings, so later runs skip decoding.  Deleting the folder is safe.\n"
"\n",
"OUTPUT (OUT without its .earshot ending is called STEM)\n"
"  OUT         the model, written atomically once training is done: front\n"
"              end, normalisation from the training set, labels, weights,\n"
"              and a training summary (see 'earshot info OUT')\n"
"  STEM.csv    one row per epoch: losses, accuracies, macro-F1, rate, time\n"
"  STEM.svg    learning curves (loss; accuracy and F1) for any browser\n"
"  STEM.ckpt   checkpoint after every epoch (--checkpoint); --resume goes on\n"
"              from it and ends with the same model as an uninterrupted\n"
"              run.  On Ctrl-C the last checkpoint stays, no model is written.\n"
"  Per-epoch table on stdout; a progress bar on stderr when it is a terminal.\n"
"  Nothing is written when the data has a problem: a missing or undecodable\n"
"  audio file, a label file in no known format, a label outside its file's\n"
"  duration, an empty manifest, a class with no frames.\n"
"\n",
"EXAMPLES\n"
"  earshot train --data train.tsv -o vad.earshot\n"
"  earshot train -d train.tsv -o seg.earshot --cell lstm --hidden 128 \\\n"
"      --classes speech,music,noise --balance --aug-gain 6 --aug-noise noise.txt\n",
  NULL
};

/* Parses "25ms", "0.025s" or "400" (samples) at `rate`. */
static gboolean
parse_samples (const char *s, guint rate, guint32 *out)
{
  char *end;
  double v = g_ascii_strtod (s, &end);
  if (end == s || !(v > 0))
    return FALSE;
  if (strcmp (end, "ms") == 0)
    v = v * rate / 1000.0;
  else if (strcmp (end, "s") == 0)
    v = v * rate;
  else if (*end != '\0' || v != floor (v))
    return FALSE;
  if (v < 1 || v > 1e7)
    return FALSE;
  *out = (guint32) lround (v);
  return TRUE;
}

/* ---- the run ---------------------------------------------------------- */

typedef struct {
  train_opts o;
  earshot_features_config cfg;
  guint32 lookahead;            /* frames the targets are delayed by */
  GPtrArray *delayed;           /* delayed target arrays we own */
  earshot_layer_type cell;
  char **classes;               /* NULL-terminated, priority order */
  gsize n_classes;
  int32_t background;           /* index or -1 */
  double snr_min, snr_max;

  es_dataset *train_ds, *valid_ds;  /* valid_ds NULL: split from train_ds */
  GArray *train_idx, *valid_idx;    /* gsize indices into their data sets */
  es_item **train_items, **valid_items;
  earshot_sequence *train_seqs, *valid_seqs;
  gsize n_train, n_valid;
  guint64 *class_frames;        /* [n_classes] training frames per class */
  guint64 train_frames, valid_frames;
  float *mean, *std;            /* [n_mels] */
  float *class_weights;         /* [n_classes] or NULL */
  char data_sha[65];            /* of what training sees (see data_hash) */
  char *options_text;           /* canonical options, for metadata */
  char *fingerprint;            /* options + data, for --resume */
  char *command;                /* the command line to record */

  /* augmentation */
  es_augment_opts aug;
  GPtrArray *noise;             /* float * decoded noise signals */
  char *noise_sha;              /* SHA-256 over their content hashes */
  GArray *noise_len;            /* gsize */
  es_fe_pool *pool;

  guint threads;                /* OpenBLAS and worker threads */
  char *csv_path, *svg_path, *ckpt_path;
} train_run;

/* Canonical text of everything that shapes the training trajectory. */
static char *
trajectory_text (const train_run *r)
{
  const train_opts *o = &r->o;
  char *classes = g_strjoinv (",", r->classes);
  char *s = g_strdup_printf ("cell=%s hidden=%d layers=%d classes=%s "
      "background=%s batch=%d chunk=%d lr=%g optimizer=%s momentum=%g "
      "weight-decay=%g clip=%g dropout=%g warmup=%d lr-decay=%g balance=%s "
      "valid=%s seed=%" G_GINT64_FORMAT " sample-rate=%u win=%u hop=%u "
      "n-fft=%u mels=%u fmin=%g fmax=%g window=%s mel-scale=%s "
      "aug-gain=%g aug-speed=%g aug-prob=%g aug-noise=%.16s aug-snr=%g:%g "
      "lookahead=%u",
      o->cell, o->hidden, o->layers, classes,
      r->background >= 0 ? r->classes[r->background] : "(none)", o->batch,
      o->chunk, o->lr, o->optimizer, o->momentum, o->weight_decay, o->clip,
      o->dropout, o->warmup, o->lr_decay, o->balance ? "yes" : "no",
      o->valid ? "manifest" : "split", o->seed, r->cfg.sample_rate,
      r->cfg.win_length, r->cfg.hop_length, r->cfg.n_fft, r->cfg.n_mels,
      (double) r->cfg.fmin, (double) r->cfg.fmax,
      r->cfg.window == EARSHOT_WINDOW_HANN ? "hann"
      : r->cfg.window == EARSHOT_WINDOW_HAMMING ? "hamming" : "rect",
      r->cfg.mel_scale == EARSHOT_MEL_HTK ? "htk" : "slaney", o->aug_gain,
      o->aug_speed, o->aug_prob, r->noise_sha ? r->noise_sha : "-",
      r->snr_min, r->snr_max, r->lookahead);
  g_free (classes);
  return s;
}

/* Whether a command-line argument is a session option: one that does not
 * change the model (where files go, how fast, resuming).  Those are left out
 * of the recorded command, so a resumed run records the same command as an
 * uninterrupted one.  *takes_value: its value is the next argument. */
static gboolean
is_session_option (const char *a, gboolean *takes_value)
{
  static const char *with_value[] = { "--stop-after", "--threads", "-j",
    "--cache-dir", "--checkpoint" };
  static const char *flags[] = { "--resume", "--no-cache", "--quiet", "-q" };
  *takes_value = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (flags); i++)
    if (strcmp (a, flags[i]) == 0)
      return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (with_value); i++) {
    size_t n = strlen (with_value[i]);
    if (strncmp (a, with_value[i], n) == 0) {
      if (a[n] == '\0') {
        *takes_value = TRUE;
        return TRUE;
      }
      if (a[n] == '=')          /* --opt=VALUE */
        return TRUE;
    }
  }
  return FALSE;
}

static char *
quote_arg (const char *a)
{
  gboolean plain = *a != '\0';
  for (const char *p = a; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("-_./:=,+@%", *p) == NULL)
      plain = FALSE;
  return plain ? g_strdup (a) : g_shell_quote (a);
}

static char *
record_command (int argc, char **argv)
{
  GString *s = g_string_new ("earshot train");
  for (int i = 1; i < argc; i++) {
    gboolean takes_value;
    if (is_session_option (argv[i], &takes_value)) {
      i += takes_value;
      continue;
    }
    char *q = quote_arg (argv[i]);
    g_string_append_printf (s, " %s", q);
    g_free (q);
  }
  return g_string_free (s, FALSE);
}

static gboolean
parse_options (train_run *r, int *argc, char ***argv, GError **error)
{
  train_opts *o = &r->o;
  *o = (train_opts) {
    .valid_fraction = -1, .hidden = 64, .layers = 2, .epochs = 30,
    .batch = 32, .chunk = 100, .patience = 8, .lr = 1e-3, .momentum = 0.9,
    .clip = 5.0, .lr_decay = 1.0, .seed = 1, .sample_rate = 16000,
    .mels = 40, .aug_prob = 0.5,
  };
  GOptionEntry main_entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &o->data,
      "the training manifest (required; see DATA)", "MANIFEST" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o->output,
      "the model file to write (required; see OUTPUT)", "OUT" },
    { "valid", 0, 0, G_OPTION_ARG_FILENAME, &o->valid,
      "a validation manifest (instead of --valid-fraction)", "MANIFEST" },
    { "valid-fraction", 0, 0, G_OPTION_ARG_DOUBLE, &o->valid_fraction,
      "fraction of the training files held out for validation, split by "
      "file from --seed; 0 for none (default 0.2)", "F" },
    { "classes", 0, 0, G_OPTION_ARG_STRING, &o->classes,
      "the classes in priority order (default: every label found, sorted, "
      "then the background class)", "A,B,C" },
    { "background", 0, 0, G_OPTION_ARG_STRING, &o->background,
      "class of time no label covers (default silence)", "NAME" },
    { "no-background", 0, 0, G_OPTION_ARG_NONE, &o->no_background,
      "leave unlabelled time without a target (every moment is labelled, "
      "or unlabelled time is unknown)", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &o->seed,
      "seed of initialisation, shuffling, split, dropout and augmentation "
      "(default 1)", "N" },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &o->threads,
      "OpenBLAS and data-preparation threads (default: all cores)", "N" },
    { "checkpoint", 0, 0, G_OPTION_ARG_FILENAME, &o->checkpoint,
      "checkpoint file (default STEM.ckpt)", "PATH" },
    { "resume", 0, 0, G_OPTION_ARG_NONE, &o->resume,
      "continue from the checkpoint (same data and options; --epochs may "
      "grow)", NULL },
    { "stop-after", 0, 0, G_OPTION_ARG_INT, &o->stop_after,
      "stop this session after epoch N, keeping the checkpoint and writing "
      "no model (continue with --resume)", "N" },
    { "cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->cache_dir,
      "feature cache (default $XDG_CACHE_HOME/earshot)", "DIR" },
    { "no-cache", 0, 0, G_OPTION_ARG_NONE, &o->no_cache,
      "neither read nor write the cache", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet,
      "no progress bar, summary or table; errors only", NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &o->help, "show this help", NULL },
    G_OPTION_ENTRY_NULL
  };
  GOptionEntry model_entries[] = {
    { "cell", 0, 0, G_OPTION_ARG_STRING, &o->cell,
      "recurrent cell: rnn, lstm or gru (default gru)", "CELL" },
    { "hidden", 0, 0, G_OPTION_ARG_INT, &o->hidden,
      "units per recurrent layer (default 64)", "N" },
    { "layers", 0, 0, G_OPTION_ARG_INT, &o->layers,
      "recurrent layers (default 2); a dense softmax layer follows", "N" },
    G_OPTION_ENTRY_NULL
  };
  GOptionEntry training_entries[] = {
    { "epochs", 0, 0, G_OPTION_ARG_INT, &o->epochs,
      "maximum number of epochs (default 30)", "N" },
    { "patience", 0, 0, G_OPTION_ARG_INT, &o->patience,
      "stop after N epochs without a lower validation loss; 0 never "
      "(default 8)", "N" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &o->batch,
      "sequences per mini-batch (default 32)", "N" },
    { "chunk", 0, 0, G_OPTION_ARG_INT, &o->chunk,
      "frames per truncated-BPTT chunk (default 100)", "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &o->lr,
      "peak learning rate (default 0.001)", "RATE" },
    { "optimizer", 0, 0, G_OPTION_ARG_STRING, &o->optimizer,
      "adam or sgd (default adam)", "NAME" },
    { "momentum", 0, 0, G_OPTION_ARG_DOUBLE, &o->momentum,
      "SGD momentum (default 0.9)", "M" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &o->weight_decay,
      "decoupled weight decay per step (default 0)", "W" },
    { "clip", 0, 0, G_OPTION_ARG_DOUBLE, &o->clip,
      "clip the gradient's global norm; 0 no clipping (default 5)", "NORM" },
    { "dropout", 0, 0, G_OPTION_ARG_DOUBLE, &o->dropout,
      "dropout between layers (default 0)", "P" },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &o->warmup,
      "linear learning-rate warm-up over N optimiser steps (default 0)",
      "N" },
    { "lr-decay", 0, 0, G_OPTION_ARG_DOUBLE, &o->lr_decay,
      "multiply the learning rate by F after each epoch (default 1)", "F" },
    { "balance", 0, 0, G_OPTION_ARG_NONE, &o->balance,
      "weight the loss by inverse class frequency", NULL },
    G_OPTION_ENTRY_NULL
  };
  GOptionEntry fe_entries[] = {
    { "sample-rate", 0, 0, G_OPTION_ARG_INT, &o->sample_rate,
      "rate the audio is resampled to, Hz (default 16000)", "HZ" },
    { "win", 0, 0, G_OPTION_ARG_STRING, &o->win,
      "analysis window: 25ms, 0.025s or 400 samples (default 25ms)", "LEN" },
    { "hop", 0, 0, G_OPTION_ARG_STRING, &o->hop,
      "hop between frames, same units (default 10ms)", "LEN" },
    { "n-fft", 0, 0, G_OPTION_ARG_INT, &o->n_fft,
      "FFT size (default: the window rounded up to a power of two)", "N" },
    { "mels", 0, 0, G_OPTION_ARG_INT, &o->mels,
      "mel bands (default 40)", "N" },
    { "fmin", 0, 0, G_OPTION_ARG_DOUBLE, &o->fmin,
      "lowest mel frequency, Hz (default 0)", "HZ" },
    { "fmax", 0, 0, G_OPTION_ARG_DOUBLE, &o->fmax,
      "highest mel frequency, Hz (default: half the sample rate)", "HZ" },
    { "mel-scale", 0, 0, G_OPTION_ARG_STRING, &o->mel_scale,
      "slaney or htk (default slaney)", "SCALE" },
    { "window", 0, 0, G_OPTION_ARG_STRING, &o->window,
      "hann, hamming or rect (default hann)", "NAME" },
    { "lookahead", 0, 0, G_OPTION_ARG_STRING, &o->lookahead,
      "let the model see this much audio past the frame it labels, a "
      "multiple of the hop: 200ms, 0.2s or 3200 samples (default 0: causal; "
      "see LOOKAHEAD)", "LEN" },
    G_OPTION_ENTRY_NULL
  };
  GOptionEntry aug_entries[] = {
    { "aug-gain", 0, 0, G_OPTION_ARG_DOUBLE, &o->aug_gain,
      "random gain within +-DB decibels", "DB" },
    { "aug-noise", 0, 0, G_OPTION_ARG_FILENAME, &o->aug_noise,
      "list of noise files to mix in", "LIST" },
    { "aug-snr", 0, 0, G_OPTION_ARG_STRING, &o->aug_snr,
      "SNR range of the noise, dB (default 5:20)", "MIN:MAX" },
    { "aug-speed", 0, 0, G_OPTION_ARG_DOUBLE, &o->aug_speed,
      "random speed change within +-PCT percent", "PCT" },
    { "aug-prob", 0, 0, G_OPTION_ARG_DOUBLE, &o->aug_prob,
      "chance that a file is augmented in an epoch (default 0.5)", "P" },
    G_OPTION_ENTRY_NULL
  };

  const es_option_group groups[] = {
    { "main", "Data and output options:", main_entries },
    { "model", "Model options:", model_entries },
    { "training", "Training options:", training_entries },
    { "front-end", "Front-end options (stored in the model; the element "
      "follows them):", fe_entries },
    { "augmentation", "Augmentation options (off by default):", aug_entries },
  };
  GOptionContext *ctx = es_option_context_new ("--data MANIFEST -o OUT",
      "Trains a recurrent frame classifier (RNN, LSTM or GRU) on labelled "
      "audio\nand writes it as a model for the GStreamer element `earshot`.",
      train_description, groups, G_N_ELEMENTS (groups));

  return es_option_parse (ctx, &o->help, argc, argv, error);
}

static gboolean
check_options (train_run *r, int argc, GError **error)
{
  train_opts *o = &r->o;

  if (argc > 1)
    return es_fail_usage (error, "unexpected argument; the manifest goes "
        "after --data");
  if (o->data == NULL)
    return es_fail_usage (error, "--data MANIFEST is required");
  if (o->output == NULL)
    return es_fail_usage (error, "-o OUT (the model file to write) is required");
  if (!o->cell)
    o->cell = g_strdup ("gru");
  r->cell = strcmp (o->cell, "gru") == 0 ? EARSHOT_LAYER_GRU
      : strcmp (o->cell, "lstm") == 0 ? EARSHOT_LAYER_LSTM
      : strcmp (o->cell, "rnn") == 0 ? EARSHOT_LAYER_RNN : 0;
  if (r->cell == 0)
    return es_fail_usage (error, "--cell must be rnn, lstm or gru, not '%s'",
        o->cell);
  if (o->hidden < 1 || o->hidden > 65536)
    return es_fail_usage (error, "--hidden must be 1 to 65536");
  if (o->layers < 1 || o->layers > EARSHOT_NET_MAX_LAYERS - 1)
    return es_fail_usage (error, "--layers must be 1 to %d",
        EARSHOT_NET_MAX_LAYERS - 1);
  if (o->epochs < 1)
    return es_fail_usage (error, "--epochs must be at least 1");
  if (o->batch < 1 || o->chunk < 1)
    return es_fail_usage (error, "--batch and --chunk must be at least 1");
  if (o->patience < 0 || o->warmup < 0 || o->stop_after < 0
      || o->threads < 0)
    return es_fail_usage (error, "--patience, --warmup, --stop-after and "
        "--threads cannot be negative");
  if (!(o->lr > 0))
    return es_fail_usage (error, "--lr must be positive");
  if (!o->optimizer)
    o->optimizer = g_strdup ("adam");
  if (strcmp (o->optimizer, "adam") != 0 && strcmp (o->optimizer, "sgd") != 0)
    return es_fail_usage (error, "--optimizer must be adam or sgd, not '%s'",
        o->optimizer);
  if (!(o->dropout >= 0 && o->dropout < 1))
    return es_fail_usage (error, "--dropout must be in [0, 1)");
  if (o->valid && o->valid_fraction >= 0)
    return es_fail_usage (error, "give --valid or --valid-fraction, not both");
  if (o->valid_fraction == -1)      /* not given */
    o->valid_fraction = o->valid ? 0 : 0.2;
  if (!(o->valid_fraction >= 0 && o->valid_fraction < 1))
    return es_fail_usage (error, "--valid-fraction must be in [0, 1)");
  if (o->no_background && o->background)
    return es_fail_usage (error, "give --background or --no-background, not "
        "both");
  if (o->seed < 0)
    return es_fail_usage (error, "--seed cannot be negative");

  /* front end */
  earshot_features_config *c = &r->cfg;
  *c = earshot_features_default_config ();
  if (o->sample_rate < 1000 || o->sample_rate > 384000)
    return es_fail_usage (error, "--sample-rate must be 1000 to 384000 Hz");
  c->sample_rate = (uint32_t) o->sample_rate;
  if (!parse_samples (o->win ? o->win : "25ms", c->sample_rate,
          &c->win_length))
    return es_fail_usage (error, "--win: '%s' is not a length (25ms, 0.025s or "
        "400)", o->win);
  if (!parse_samples (o->hop ? o->hop : "10ms", c->sample_rate,
          &c->hop_length))
    return es_fail_usage (error, "--hop: '%s' is not a length (10ms, 0.01s or "
        "160)", o->hop);
  if (o->lookahead != NULL) {
    guint32 la = 0;
    if (strcmp (o->lookahead, "0") != 0
        && (!parse_samples (o->lookahead, c->sample_rate, &la)
            || la % c->hop_length != 0
            || la / c->hop_length > EARSHOT_MODEL_MAX_LOOKAHEAD))
      return es_fail_usage (error, "--lookahead: '%s' is not a multiple of "
          "the hop (%u samples) up to %u hops, as 200ms, 0.2s or 3200",
          o->lookahead, c->hop_length, EARSHOT_MODEL_MAX_LOOKAHEAD);
    r->lookahead = la / c->hop_length;
  }
  if (o->n_fft > 0) {
    c->n_fft = (uint32_t) o->n_fft;
  } else {
    c->n_fft = 16;
    while (c->n_fft < c->win_length && c->n_fft < (1u << 16))
      c->n_fft *= 2;
  }
  if (o->mels < 1)
    return es_fail_usage (error, "--mels must be at least 1");
  c->n_mels = (uint32_t) o->mels;
  c->fmin = (float) o->fmin;
  c->fmax = o->fmax > 0 ? (float) o->fmax : c->sample_rate / 2.0f;
  const char *scale = o->mel_scale ? o->mel_scale : "slaney";
  if (strcmp (scale, "slaney") == 0)
    c->mel_scale = EARSHOT_MEL_SLANEY;
  else if (strcmp (scale, "htk") == 0)
    c->mel_scale = EARSHOT_MEL_HTK;
  else
    return es_fail_usage (error, "--mel-scale must be slaney or htk");
  const char *win = o->window ? o->window : "hann";
  if (strcmp (win, "hann") == 0)
    c->window = EARSHOT_WINDOW_HANN;
  else if (strcmp (win, "hamming") == 0)
    c->window = EARSHOT_WINDOW_HAMMING;
  else if (strcmp (win, "rect") == 0)
    c->window = EARSHOT_WINDOW_RECT;
  else
    return es_fail_usage (error, "--window must be hann, hamming or rect");
  char msg[256];
  if (earshot_features_config_check (c, msg, sizeof msg) != EARSHOT_OK)
    return es_fail_usage (error, "front end: %s", msg);

  /* augmentation */
  r->snr_min = 5;
  r->snr_max = 20;
  if (o->aug_snr) {
    char *end;
    r->snr_min = g_ascii_strtod (o->aug_snr, &end);
    if (*end != ':' || (r->snr_max = g_ascii_strtod (end + 1, &end),
            *end != '\0') || !(r->snr_min <= r->snr_max))
      return es_fail_usage (error, "--aug-snr must be MIN:MAX in dB, "
          "MIN <= MAX, e.g. 5:20");
  }
  if (o->aug_gain < 0 || o->aug_gain > 60)
    return es_fail_usage (error, "--aug-gain must be 0 to 60 dB");
  if (o->aug_speed < 0 || o->aug_speed >= 50)
    return es_fail_usage (error, "--aug-speed must be 0 to 50 percent");
  if (!(o->aug_prob >= 0 && o->aug_prob <= 1))
    return es_fail_usage (error, "--aug-prob must be in [0, 1]");

  r->csv_path = es_sibling_path (o->output, ".csv");
  r->svg_path = es_sibling_path (o->output, ".svg");
  r->ckpt_path = o->checkpoint ? g_strdup (o->checkpoint)
      : es_sibling_path (o->output, ".ckpt");
  /* Fail now, not after hours of training, if OUT cannot be written. */
  char *dir = g_path_get_dirname (o->output);
  gboolean dir_ok = g_file_test (dir, G_FILE_TEST_IS_DIR)
      && access (dir, W_OK) == 0;
  if (!dir_ok)
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot write %s: the folder "
        "%s does not exist or is not writable", o->output, dir);
  g_free (dir);
  return dir_ok;
}

/* ---- classes ---------------------------------------------------------- */

static gint
compare_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static gboolean
decide_classes (train_run *r, GError **error)
{
  const train_opts *o = &r->o;
  const char *bg = o->no_background ? NULL
      : o->background ? o->background : "silence";
  GPtrArray *cls = g_ptr_array_new ();

  if (o->classes) {
    char **parts = g_strsplit (o->classes, ",", -1);
    for (char **p = parts; *p; p++) {
      char *name = g_strstrip (*p);
      if (*name == '\0') {
        g_strfreev (parts);
        g_ptr_array_free (cls, TRUE);
        return es_fail_usage (error, "--classes: empty class name");
      }
      for (guint i = 0; i < cls->len; i++)
        if (strcmp (cls->pdata[i], name) == 0) {
          es_fail_usage (error, "--classes: '%s' is listed twice", name);
          g_strfreev (parts);
          g_ptr_array_free (cls, TRUE);
          return FALSE;
        }
      g_ptr_array_add (cls, g_strdup (name));
    }
    g_strfreev (parts);
  } else {
    GHashTable *names = g_hash_table_new (g_str_hash, g_str_equal);
    es_dataset_collect_labels (r->train_ds, names);
    if (r->valid_ds)
      es_dataset_collect_labels (r->valid_ds, names);
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init (&it, names);
    while (g_hash_table_iter_next (&it, &key, NULL))
      if (bg == NULL || strcmp (key, bg) != 0)
        g_ptr_array_add (cls, g_strdup (key));
    g_hash_table_unref (names);
    g_ptr_array_sort (cls, compare_str);
  }

  r->background = -1;
  if (bg != NULL) {
    for (guint i = 0; i < cls->len; i++)
      if (strcmp (cls->pdata[i], bg) == 0)
        r->background = (int32_t) i;
    if (r->background < 0) {
      r->background = (int32_t) cls->len;
      g_ptr_array_add (cls, g_strdup (bg));
    }
  }
  r->n_classes = cls->len;
  g_ptr_array_add (cls, NULL);
  r->classes = (char **) g_ptr_array_free (cls, FALSE);

  /* Names from the command line must be valid model labels now, not when
   * the model is saved after training. */
  for (gsize c = 0; c < r->n_classes; c++) {
    const char *n = r->classes[c];
    gboolean ok = *n != '\0' && strlen (n) <= EARSHOT_MODEL_MAX_LABEL_LEN;
    for (const char *q = n; ok && *q; q++)
      ok = (unsigned char) *q >= 0x20 && *q != 0x7f;
    if (!ok)
      return es_fail_usage (error, "'%s' cannot be a class name (1 to %u bytes, "
          "no control characters)", n, EARSHOT_MODEL_MAX_LABEL_LEN);
  }

  if (r->n_classes < 2) {
    g_set_error (error, ES_ERROR, ES_ERROR_DATA, "%s: a model needs at least "
        "two classes; the labels give %s%s%s", r->o.data,
        r->n_classes ? "only " : "none", r->n_classes ? r->classes[0] : "",
        r->n_classes && r->background >= 0 ? " (the background class)" : "");
    return FALSE;
  }
  if (r->n_classes > EARSHOT_MODEL_MAX_LABELS)
    return es_fail_usage (error, "%zu classes; a model holds at most %u",
        r->n_classes, EARSHOT_MODEL_MAX_LABELS);
  return TRUE;
}

/* ---- split, statistics ------------------------------------------------ */

static void
split_data (train_run *r)
{
  gsize n = r->train_ds->n_items;
  r->train_idx = g_array_new (FALSE, FALSE, sizeof (gsize));
  r->valid_idx = g_array_new (FALSE, FALSE, sizeof (gsize));

  if (r->valid_ds != NULL) {
    for (gsize i = 0; i < n; i++)
      g_array_append_val (r->train_idx, i);
    for (gsize i = 0; i < r->valid_ds->n_items; i++)
      g_array_append_val (r->valid_idx, i);
    return;
  }
  gsize n_valid = (gsize) floor (r->o.valid_fraction * (double) n + 0.5);
  if (r->o.valid_fraction > 0 && n_valid == 0)
    n_valid = 1;
  if (n_valid >= n) {
    if (r->o.valid_fraction > 0 && !r->o.quiet)
      es_print_warning ("%s lists only %zu file%s: no validation split",
          r->o.data, n, n == 1 ? "" : "s");
    n_valid = 0;
  }
  /* Fisher-Yates over the manifest order; the first n_valid validate.
   * Both lists stay in manifest order. */
  gsize *perm = g_new (gsize, n);
  for (gsize i = 0; i < n; i++)
    perm[i] = i;
  uint64_t rng = es_rng_derive ((uint64_t) r->o.seed, RNG_SPLIT, 0, 0);
  for (gsize i = n; i > 1; i--) {
    gsize j = (gsize) (es_rng_next (&rng) % i);
    gsize t = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = t;
  }
  gboolean *is_valid = g_new0 (gboolean, n);
  for (gsize i = 0; i < n_valid; i++)
    is_valid[perm[i]] = TRUE;
  for (gsize i = 0; i < n; i++)
    g_array_append_val (is_valid[i] ? r->valid_idx : r->train_idx, i);
  g_free (is_valid);
  g_free (perm);
}

/* In place: y[t] = y[t - d], the first d frames without a target.  With
 * lookahead d the net's output at frame t answers for frame t - d. */
static void
delay_targets (int32_t *y, gsize n, guint32 d)
{
  for (gsize t = n; t-- > 0;)
    y[t] = t >= d ? y[t - d] : -1;
}

/* The targets a sequence trains on: the item's, or a delayed copy. */
static const int32_t *
sequence_targets (train_run *r, const es_item *it)
{
  if (r->lookahead == 0)
    return it->targets;
  int32_t *y = g_memdup2 (it->targets, MAX (it->n_frames, 1)
      * sizeof *y);
  delay_targets (y, it->n_frames, r->lookahead);
  g_ptr_array_add (r->delayed, y);
  return y;
}

static void
make_sequences (train_run *r)
{
  es_dataset *vds = r->valid_ds ? r->valid_ds : r->train_ds;
  if (r->lookahead > 0)
    r->delayed = g_ptr_array_new_with_free_func (g_free);
  r->n_train = r->train_idx->len;
  r->n_valid = r->valid_idx->len;
  r->train_items = g_new (es_item *, r->n_train);
  r->valid_items = g_new (es_item *, MAX (r->n_valid, 1));
  r->train_seqs = g_new (earshot_sequence, r->n_train);
  r->valid_seqs = g_new (earshot_sequence, MAX (r->n_valid, 1));
  for (gsize i = 0; i < r->n_train; i++) {
    es_item *it = &r->train_ds->items[g_array_index (r->train_idx, gsize, i)];
    r->train_items[i] = it;
    r->train_seqs[i] = (earshot_sequence) { it->features,
      sequence_targets (r, it), it->n_frames };
    r->train_frames += it->n_frames;
  }
  for (gsize i = 0; i < r->n_valid; i++) {
    es_item *it = &vds->items[g_array_index (r->valid_idx, gsize, i)];
    r->valid_items[i] = it;
    r->valid_seqs[i] = (earshot_sequence) { it->features,
      sequence_targets (r, it), it->n_frames };
    r->valid_frames += it->n_frames;
  }
}

static gboolean
count_classes (train_run *r, GError **error)
{
  r->class_frames = g_new0 (guint64, r->n_classes);
  for (gsize i = 0; i < r->n_train; i++) {
    const es_item *it = r->train_items[i];
    for (gsize t = 0; t < it->n_frames; t++)
      if (it->targets[t] >= 0)
        r->class_frames[it->targets[t]]++;
  }
  for (gsize c = 0; c < r->n_classes; c++)
    if (r->class_frames[c] == 0) {
      g_set_error (error, ES_ERROR, ES_ERROR_DATA, "class '%s' has no "
          "training frames%s", r->classes[c], (int32_t) c == r->background
          ? " (every moment is labelled: use --no-background, or "
          "--background with a label that occurs)"
          : ": remove it from --classes or add labelled examples to the "
          "training files");
      return FALSE;
    }
  return TRUE;
}

/* Per-band mean and standard deviation of the raw log-mel training frames,
 * in manifest order with double accumulators (so the result is exact to a
 * bit whatever the thread count); then every item is normalised. */
static void
normalise_all (train_run *r)
{
  const guint nm = r->cfg.n_mels;
  double *sum = g_new0 (double, nm), *sq = g_new0 (double, nm);
  guint64 n = 0;

  for (gsize i = 0; i < r->n_train; i++) {
    const es_item *it = r->train_items[i];
    for (gsize t = 0; t < it->n_frames; t++)
      for (guint m = 0; m < nm; m++) {
        double v = it->features[t * nm + m];
        sum[m] += v;
        sq[m] += v * v;
      }
    n += it->n_frames;
  }
  r->mean = g_new (float, nm);
  r->std = g_new (float, nm);
  for (guint m = 0; m < nm; m++) {
    double mu = sum[m] / (double) n;
    double var = sq[m] / (double) n - mu * mu;
    double sd = var > 0 ? sqrt (var) : 0;
    r->mean[m] = (float) mu;
    /* A band that never varies (above the content, or digital silence
     * everywhere) is only centred. */
    r->std[m] = sd > 1e-4 ? (float) sd : 1.0f;
  }
  g_free (sum);
  g_free (sq);

  for (gsize i = 0; i < r->train_ds->n_items; i++) {
    es_item *it = &r->train_ds->items[i];
    es_normalise (it->features, it->n_frames, nm, r->mean, r->std);
  }
  if (r->valid_ds)
    for (gsize i = 0; i < r->valid_ds->n_items; i++) {
      es_item *it = &r->valid_ds->items[i];
      es_normalise (it->features, it->n_frames, nm, r->mean, r->std);
    }
}

/* SHA-256 over what training sees: each file's content hash, frame count
 * and targets, split by role.  The fingerprint of --resume and the
 * data-sha256 the model records. */
static void
data_hash (train_run *r)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  for (int role = 0; role < 2; role++) {
    es_item **items = role ? r->valid_items : r->train_items;
    gsize n = role ? r->n_valid : r->n_train;
    g_checksum_update (sum, (const guchar *) (role ? "valid" : "train"), 5);
    for (gsize i = 0; i < n; i++) {
      guint64 nf = GUINT64_TO_LE ((guint64) items[i]->n_frames);
      g_checksum_update (sum, (const guchar *) items[i]->sha256, 64);
      g_checksum_update (sum, (const guchar *) &nf, sizeof nf);
      for (gsize t = 0; t < items[i]->n_frames; t++) {
        guint32 v = GUINT32_TO_LE ((guint32) items[i]->targets[t]);
        g_checksum_update (sum, (const guchar *) &v, sizeof v);
      }
    }
  }
  g_strlcpy (r->data_sha, g_checksum_get_string (sum), sizeof r->data_sha);
  g_checksum_free (sum);
}

/* ---- augmentation ----------------------------------------------------- */

static gboolean
load_noise (train_run *r, const char *cache_dir, GError **error)
{
  char *text;
  gsize len;
  GError *e = NULL;

  r->noise = g_ptr_array_new_with_free_func (g_free);
  r->noise_len = g_array_new (FALSE, FALSE, sizeof (gsize));
  if (r->o.aug_noise == NULL)
    return TRUE;
  if (!g_file_get_contents (r->o.aug_noise, &text, &len, &e)) {
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "--aug-noise: %s",
        e->message);
    g_error_free (e);
    return FALSE;
  }
  char *base = g_path_get_dirname (r->o.aug_noise);
  char **lines = g_strsplit (text, "\n", -1);
  gboolean ok = TRUE;
  /* The noise enters the fingerprint by content, not by path. */
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  for (char **l = lines; ok && *l; l++) {
    char *p = g_strstrip (*l);
    if (*p == '\0' || *p == '#')
      continue;
    char *path = g_path_is_absolute (p) ? g_strdup (p)
        : g_build_filename (base, p, NULL);
    float *x;
    gsize n;
    char sha[65];
    ok = es_load_audio (path, r->cfg.sample_rate, cache_dir, &x, &n, sha,
        error);
    if (ok) {
      g_checksum_update (sum, (const guchar *) sha, 64);
      g_ptr_array_add (r->noise, x);
      g_array_append_val (r->noise_len, n);
    }
    g_free (path);
  }
  g_strfreev (lines);
  g_free (base);
  g_free (text);
  r->noise_sha = g_strdup (g_checksum_get_string (sum));
  g_checksum_free (sum);
  if (ok && r->noise->len == 0) {
    g_set_error (error, ES_ERROR, ES_ERROR_DATA, "%s: the noise list names "
        "no files", r->o.aug_noise);
    ok = FALSE;
  }
  r->aug.noise = (const float *const *) r->noise->pdata;
  r->aug.noise_len = (const gsize *) r->noise_len->data;
  r->aug.n_noise = r->noise->len;
  return ok;
}

typedef struct {
  const train_run *r;
  guint epoch;
  float **features;             /* [n_train] augmented features or NULL */
  int32_t **targets;            /* [n_train] their targets, or NULL */
  gsize *n_frames;
  GError **errors;
} aug_job;

static void
augment_worker (gpointer data, gpointer user)
{
  aug_job *job = user;
  const train_run *r = job->r;
  gsize i = GPOINTER_TO_SIZE (data) - 1;
  const es_item *it = r->train_items[i];
  /* One stream per (epoch, file): the same in a resumed run. */
  uint64_t rng = es_rng_derive ((uint64_t) r->o.seed, RNG_AUGMENT,
      job->epoch, g_array_index (r->train_idx, gsize, i));
  float *y;
  gsize m;
  double speed;

  if (!es_augment (&r->aug, &rng, it->samples, it->n_samples, &y, &m,
          &speed))
    return;
  float *f;
  gsize nf;
  if (es_compute_features (r->pool, y, m, &f, &nf, &job->errors[i])) {
    es_normalise (f, nf, r->cfg.n_mels, r->mean, r->std);
    job->features[i] = f;
    job->n_frames[i] = nf;
    if (speed != 1.0) {
      job->targets[i] = g_new (int32_t, nf);
      es_targets_resample (it->targets, it->n_frames, speed,
          job->targets[i], nf);
      delay_targets (job->targets[i], nf, r->lookahead);
    }
  }
  g_free (y);
}

/* The training sequences of one epoch with augmentation: seqs[i] is either
 * the clean item or its augmented version (buffers in *job, freed by
 * aug_job_clear). */
static gboolean
augment_epoch (train_run *r, guint epoch, aug_job *job,
    earshot_sequence *seqs, GError **error)
{
  gsize n = r->n_train;
  *job = (aug_job) {
    .r = r, .epoch = epoch,
    .features = g_new0 (float *, n),
    .targets = g_new0 (int32_t *, n),
    .n_frames = g_new0 (gsize, n),
    .errors = g_new0 (GError *, n),
  };
  GThreadPool *tp = g_thread_pool_new (augment_worker, job,
      (gint) r->threads, FALSE, NULL);
  for (gsize i = 0; i < n; i++)
    g_thread_pool_push (tp, GSIZE_TO_POINTER (i + 1), NULL);
  g_thread_pool_free (tp, FALSE, TRUE);

  for (gsize i = 0; i < n; i++) {
    if (job->errors[i] != NULL) {
      g_propagate_prefixed_error (error, g_steal_pointer (&job->errors[i]),
          "augmenting %s: ", r->train_items[i]->audio);
      return FALSE;
    }
    seqs[i] = r->train_seqs[i];
    if (job->features[i] != NULL) {
      seqs[i].features = job->features[i];
      seqs[i].n_frames = job->n_frames[i];
      if (job->targets[i] != NULL)
        seqs[i].targets = job->targets[i];
    }
  }
  return TRUE;
}

static void
aug_job_clear (aug_job *job, gsize n)
{
  if (job->features == NULL)
    return;
  for (gsize i = 0; i < n; i++) {
    g_free (job->features[i]);
    g_free (job->targets[i]);
    g_clear_error (&job->errors[i]);
  }
  g_free (job->features);
  g_free (job->targets);
  g_free (job->n_frames);
  g_free (job->errors);
  job->features = NULL;
}

/* ---- the tool's checkpoint state -------------------------------------- */

typedef struct {
  guint32 epoch;                /* epochs completed */
  guint32 best_epoch;           /* 1-based, 0 none */
  double best_loss;
  guint32 bad_epochs;           /* since the best (patience counter) */
  gboolean early_stopped;
  float *best_params;           /* [n_params] */
  GArray *history;              /* es_epoch_row */
} tool_state;

static GVariant *
tool_state_to_variant (const tool_state *s, const char *fingerprint,
    gsize n_params)
{
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "version",
      g_variant_new_uint32 (TOOL_STATE_VERSION));
  g_variant_builder_add (&b, "{sv}", "fingerprint",
      g_variant_new_string (fingerprint));
  g_variant_builder_add (&b, "{sv}", "epoch", g_variant_new_uint32 (s->epoch));
  g_variant_builder_add (&b, "{sv}", "best-epoch",
      g_variant_new_uint32 (s->best_epoch));
  g_variant_builder_add (&b, "{sv}", "best-loss",
      g_variant_new_double (s->best_loss));
  g_variant_builder_add (&b, "{sv}", "bad-epochs",
      g_variant_new_uint32 (s->bad_epochs));
  g_variant_builder_add (&b, "{sv}", "early-stopped",
      g_variant_new_boolean (s->early_stopped));
  /* Parameters as little-endian bit patterns. */
  guint32 *bits = g_new (guint32, MAX (n_params, 1));
  for (gsize i = 0; i < n_params; i++) {
    guint32 u;
    memcpy (&u, &s->best_params[i], 4);
    bits[i] = GUINT32_TO_LE (u);
  }
  g_variant_builder_add (&b, "{sv}", "best-params",
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bits, n_params * 4, 1));
  g_free (bits);
  GVariantBuilder h;
  g_variant_builder_init (&h, G_VARIANT_TYPE ("a(udddddddd)"));
  for (guint i = 0; i < s->history->len; i++) {
    const es_epoch_row *e = &g_array_index (s->history, es_epoch_row, i);
    g_variant_builder_add (&h, "(udddddddd)", e->epoch, e->train_loss,
        e->train_acc, e->train_f1, e->valid_loss, e->valid_acc, e->valid_f1,
        e->lr, e->seconds);
  }
  g_variant_builder_add (&b, "{sv}", "history", g_variant_builder_end (&h));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static gboolean
tool_state_from_blob (tool_state *s, void *blob, size_t size,
    const char *fingerprint, gsize n_params, const char *path,
    GError **error)
{
  GVariant *v = g_variant_ref_sink (g_variant_new_from_data (
          G_VARIANT_TYPE_VARDICT, blob, size, FALSE, free, blob));
  guint32 version = 0;
  const char *fp = NULL;
  GVariant *params = NULL, *hist = NULL;
  gboolean ok = g_variant_lookup (v, "version", "u", &version)
      && version == TOOL_STATE_VERSION
      && g_variant_lookup (v, "fingerprint", "&s", &fp)
      && g_variant_lookup (v, "epoch", "u", &s->epoch)
      && g_variant_lookup (v, "best-epoch", "u", &s->best_epoch)
      && g_variant_lookup (v, "best-loss", "d", &s->best_loss)
      && g_variant_lookup (v, "bad-epochs", "u", &s->bad_epochs)
      && g_variant_lookup (v, "early-stopped", "b", &s->early_stopped)
      && (params = g_variant_lookup_value (v, "best-params",
              G_VARIANT_TYPE_BYTESTRING)) != NULL
      && (hist = g_variant_lookup_value (v, "history",
              G_VARIANT_TYPE ("a(udddddddd)"))) != NULL;
  if (!ok) {
    g_set_error (error, ES_ERROR, ES_ERROR_DATA, "%s: not a checkpoint of "
        "this version of earshot train (tool state missing or damaged)",
        path);
  } else if (strcmp (fp, fingerprint) != 0) {
    g_set_error (error, ES_ERROR, ES_ERROR_DATA, "%s was made with other "
        "data or options; --resume needs the same ones (only --epochs, "
        "--patience and session options may change)", path);
    ok = FALSE;
  } else {
    gsize nb;
    const guint32 *bits = g_variant_get_fixed_array (params, &nb, 1);
    if (nb != n_params * 4) {
      g_set_error (error, ES_ERROR, ES_ERROR_DATA, "%s: the best parameters "
          "have the wrong size", path);
      ok = FALSE;
    } else {
      for (gsize i = 0; i < n_params; i++) {
        guint32 u = GUINT32_FROM_LE (bits[i]);
        memcpy (&s->best_params[i], &u, 4);
      }
      GVariantIter it;
      es_epoch_row e;
      g_variant_iter_init (&it, hist);
      g_array_set_size (s->history, 0);
      while (g_variant_iter_next (&it, "(udddddddd)", &e.epoch,
              &e.train_loss, &e.train_acc, &e.train_f1, &e.valid_loss,
              &e.valid_acc, &e.valid_f1, &e.lr, &e.seconds))
        g_array_append_val (s->history, e);
    }
  }
  if (params)
    g_variant_unref (params);
  if (hist)
    g_variant_unref (hist);
  g_variant_unref (v);
  return ok;
}

/* ---- output files ----------------------------------------------------- */

static void
csv_number (GString *s, double v)
{
  if (isfinite (v))
    g_string_append_printf (s, ",%.6g", v);
  else
    g_string_append_c (s, ',');
}

static gboolean
write_logs (const train_run *r, const tool_state *st, GError **error)
{
  GString *s = g_string_new ("epoch,train_loss,train_accuracy,"
      "train_macro_f1,valid_loss,valid_accuracy,valid_macro_f1,"
      "learning_rate,seconds\n");
  for (guint i = 0; i < st->history->len; i++) {
    const es_epoch_row *e = &g_array_index (st->history, es_epoch_row, i);
    g_string_append_printf (s, "%u", e->epoch);
    csv_number (s, e->train_loss);
    csv_number (s, e->train_acc);
    csv_number (s, e->train_f1);
    csv_number (s, e->valid_loss);
    csv_number (s, e->valid_acc);
    csv_number (s, e->valid_f1);
    csv_number (s, e->lr);
    csv_number (s, e->seconds);
    g_string_append_c (s, '\n');
  }
  gboolean ok = es_write_file_atomic (r->csv_path, s->str, s->len, error);
  g_string_free (s, TRUE);
  if (ok) {
    char *base = g_path_get_basename (r->o.output);
    char *title = g_strdup_printf ("%s: %s %dx%d, %zu classes", base,
        r->o.cell, r->o.layers, r->o.hidden, r->n_classes);
    ok = es_plot_svg (r->svg_path, (const es_epoch_row *) st->history->data,
        st->history->len, st->best_epoch, title, error);
    g_free (title);
    g_free (base);
  }
  return ok;
}

static char *
iso_date (void)
{
  /* SOURCE_DATE_EPOCH (reproducible-builds.org) fixes the date, so two runs
   * can write bit-identical models. */
  const char *sde = g_getenv ("SOURCE_DATE_EPOCH");
  GDateTime *dt = NULL;
  if (sde != NULL && *sde) {
    char *end;
    gint64 t = g_ascii_strtoll (sde, &end, 10);
    if (*end == '\0')
      dt = g_date_time_new_from_unix_utc (t);
  }
  if (dt == NULL)
    dt = g_date_time_new_now_utc ();
  char *s = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
  g_date_time_unref (dt);
  return s;
}

static gboolean
set_meta (earshot_model *m, const char *key, const char *value,
    GError **error)
{
  if (earshot_model_set_meta (m, key, value) != EARSHOT_OK) {
    g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "cannot record metadata "
        "%s", key);
    return FALSE;
  }
  return TRUE;
}

static gboolean
save_model (train_run *r, const earshot_net *net, const tool_state *st,
    GError **error)
{
  earshot_net *best;
  char msg[512];
  if (earshot_net_copy (net, &best) != EARSHOT_OK) {
    g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "out of memory");
    return FALSE;
  }
  memcpy (earshot_net_params (best), st->best_params,
      earshot_net_n_params (best) * sizeof (float));
  earshot_model *m;
  earshot_status s = earshot_model_new (&r->cfg, r->mean, r->std,
      (const char *const *) r->classes, r->n_classes, best, &m, msg,
      sizeof msg);
  if (s != EARSHOT_OK) {
    earshot_net_free (best);
    es_set_status_error (error, s, msg);
    return FALSE;
  }
  earshot_model_set_lookahead (m, r->lookahead);   /* checked at parsing */

  const es_epoch_row *b = NULL;
  for (guint i = 0; i < st->history->len; i++)
    if (g_array_index (st->history, es_epoch_row, i).epoch == st->best_epoch)
      b = &g_array_index (st->history, es_epoch_row, i);
  char *date = iso_date ();
  char *tool = g_strdup_printf ("earshot %s", earshot_version ());
  char *valid = r->valid_ds ? g_strdup (r->o.valid)
      : r->n_valid ? g_strdup_printf ("%zu files split from the training "
          "data (fraction %g, seed %" G_GINT64_FORMAT ")", r->n_valid,
          r->o.valid_fraction, r->o.seed) : g_strdup ("none");
  char *files = g_strdup_printf ("%zu training, %zu validation", r->n_train,
      r->n_valid);
  char *frames = g_strdup_printf ("%" G_GUINT64_FORMAT " training, %"
      G_GUINT64_FORMAT " validation", r->train_frames, r->valid_frames);
  GString *cf = g_string_new (NULL);
  for (gsize c = 0; c < r->n_classes; c++)
    g_string_append_printf (cf, "%s%s=%" G_GUINT64_FORMAT, c ? " " : "",
        r->classes[c], r->class_frames[c]);
  char *epochs = g_strdup_printf ("%u", st->epoch);
  /* OpenBLAS splits its work by thread count, which changes the rounding:
   * bit-identical runs need the same count. */
  char *threads = g_strdup_printf ("%u", r->threads);
  char *best_epoch = g_strdup_printf ("%u", st->best_epoch);
  char *stopped = st->early_stopped
      ? g_strdup_printf ("early: no lower validation loss for %d epochs",
          r->o.patience)
      : g_strdup_printf ("after %u epochs", st->epoch);
  char num[6][32];
  if (b != NULL) {
    g_snprintf (num[0], 32, "%.6f", b->train_loss);
    g_snprintf (num[1], 32, "%.6f", b->train_acc);
    g_snprintf (num[2], 32, "%.6f", b->valid_loss);
    g_snprintf (num[3], 32, "%.6f", b->valid_acc);
    g_snprintf (num[4], 32, "%.6f", b->valid_f1);
  }

  gboolean ok = set_meta (m, "train.tool", tool, error)
      && set_meta (m, "train.command", r->command, error)
      && set_meta (m, "train.date", date, error)
      && set_meta (m, "train.data", r->o.data, error)
      && set_meta (m, "train.valid-data", valid, error)
      && set_meta (m, "train.data-sha256", r->data_sha, error)
      && set_meta (m, "train.files", files, error)
      && set_meta (m, "train.frames", frames, error)
      && set_meta (m, "train.class-frames", cf->str, error)
      && set_meta (m, "train.background", r->background >= 0
          ? r->classes[r->background] : "(none)", error)
      && set_meta (m, "train.options", r->options_text, error)
      && set_meta (m, "train.threads", threads, error)
      && set_meta (m, "train.epochs", epochs, error)
      && set_meta (m, "train.stopped", stopped, error)
      && set_meta (m, "train.best-epoch", best_epoch, error);
  if (ok && b != NULL) {
    ok = set_meta (m, "train.loss", num[0], error)
        && set_meta (m, "train.accuracy", num[1], error);
    if (ok && r->n_valid > 0)
      ok = set_meta (m, "valid.loss", num[2], error)
          && set_meta (m, "valid.accuracy", num[3], error)
          && set_meta (m, "valid.macro-f1", num[4], error);
  }
  g_free (date);
  g_free (tool);
  g_free (valid);
  g_free (files);
  g_free (frames);
  g_string_free (cf, TRUE);
  g_free (epochs);
  g_free (threads);
  g_free (best_epoch);
  g_free (stopped);

  if (ok && (s = earshot_model_save (m, r->o.output, msg, sizeof msg))
      != EARSHOT_OK) {
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot write %s: %s",
        r->o.output, msg);
    ok = FALSE;
  }
  earshot_model_free (m);
  return ok;
}

/* Per-class precision, recall and F1 of the best parameters on validation. */
static void
print_class_report (const train_run *r, earshot_net *net, const float *params)
{
  gsize np = earshot_net_n_params (net);
  float *keep = g_memdup2 (earshot_net_params (net), np * sizeof (float));
  memcpy (earshot_net_params (net), params, np * sizeof (float));
  guint64 *conf = g_new0 (guint64, r->n_classes * r->n_classes);
  earshot_train_stats vs;
  earshot_status s = earshot_evaluate (net, r->valid_seqs, r->n_valid, NULL,
      (uint64_t *) conf, &vs);
  memcpy (earshot_net_params (net), keep, np * sizeof (float));
  g_free (keep);
  if (s != EARSHOT_OK) {
    g_free (conf);
    return;
  }
  int w = 5;
  for (gsize c = 0; c < r->n_classes; c++)
    w = MAX (w, (int) strlen (r->classes[c]));
  printf ("\n%-*s  %9s  %9s  %7s  %7s\n", w, "class", "frames", "precision",
      "recall", "F1");
  for (gsize c = 0; c < r->n_classes; c++) {
    guint64 tp = conf[c * r->n_classes + c], row = 0, col = 0;
    for (gsize k = 0; k < r->n_classes; k++) {
      row += conf[c * r->n_classes + k];
      col += conf[k * r->n_classes + c];
    }
    double p = col ? (double) tp / col : NAN, rc = row ? (double) tp / row
        : NAN;
    double f = p + rc > 0 ? 2 * p * rc / (p + rc) : 0;
    printf ("%-*s  %9" G_GUINT64_FORMAT "  %9.3f  %7.3f  %7.3f\n", w,
        r->classes[c], row, p, rc, f);
  }
  printf ("confusion (rows: reference, columns: prediction)\n");
  for (gsize c = 0; c < r->n_classes; c++) {
    printf ("%-*s ", w, r->classes[c]);
    for (gsize k = 0; k < r->n_classes; k++)
      printf (" %8" G_GUINT64_FORMAT, conf[c * r->n_classes + k]);
    printf ("\n");
  }
  g_free (conf);
}

/* ---- the training loop ------------------------------------------------ */

static volatile sig_atomic_t interrupted = 0;

static void
on_sigint (int sig)
{
  interrupted = 1;
}

typedef struct {
  es_progress bar;
  char what[64];
} progress_ctx;

static bool
on_progress (void *user, size_t done, size_t total)
{
  progress_ctx *p = user;
  es_progress_update (&p->bar, p->what, done, total, "frames");
  return !interrupted;
}

static void
print_row (const es_epoch_row *e, gboolean best, gboolean has_valid)
{
  char *t = es_format_duration (e->seconds);
  if (has_valid)
    printf ("%5u  %10.4f  %8.2f%%  %10.4f  %8.2f%%  %8.4f  %9.2e  %7s%s\n",
        e->epoch, e->train_loss, 100 * e->train_acc, e->valid_loss,
        100 * e->valid_acc, e->valid_f1, e->lr, t, best ? "  *" : "");
  else
    printf ("%5u  %10.4f  %8.2f%%  %10s  %9s  %8s  %9.2e  %7s\n", e->epoch,
        e->train_loss, 100 * e->train_acc, "-", "-", "-", e->lr, t);
  fflush (stdout);
  g_free (t);
}

static int
train_loop (train_run *r, GError **error)
{
  const train_opts *o = &r->o;
  earshot_net *net = NULL;
  earshot_trainer *tr = NULL;
  char msg[512];
  int status = ES_EXIT_FAILURE;
  tool_state st = { .best_loss = INFINITY,
    .history = g_array_new (FALSE, FALSE, sizeof (es_epoch_row)) };
  earshot_sequence *aug_seqs = NULL;
  aug_job job = { 0 };

  earshot_status s = earshot_net_new_stack (r->cell, r->cfg.n_mels,
      (uint32_t) o->hidden, (uint32_t) o->layers, (uint32_t) r->n_classes,
      &net, msg, sizeof msg);
  if (s != EARSHOT_OK) {
    es_set_status_error (error, s, msg);
    goto out;
  }
  earshot_net_init (net, (uint64_t) o->seed);
  gsize np = earshot_net_n_params (net);
  st.best_params = g_memdup2 (earshot_net_params (net), np * sizeof (float));

  earshot_train_params p = earshot_train_default_params ();
  p.optimizer = strcmp (o->optimizer, "sgd") == 0 ? EARSHOT_OPT_SGD
      : EARSHOT_OPT_ADAM;
  p.learning_rate = (float) o->lr;
  p.momentum = (float) o->momentum;
  p.weight_decay = (float) o->weight_decay;
  p.clip_norm = (float) o->clip;
  p.warmup_steps = (uint32_t) o->warmup;
  p.lr_decay = (float) o->lr_decay;
  p.chunk_frames = (uint32_t) o->chunk;
  p.batch_size = (uint32_t) o->batch;
  p.dropout = (float) o->dropout;
  p.seed = (uint64_t) o->seed;
  p.class_weights = r->class_weights;
  if ((s = earshot_trainer_new (net, &p, &tr, msg, sizeof msg))
      != EARSHOT_OK) {
    g_set_error (error, ES_ERROR, ES_ERROR_USAGE, "%s", msg);
    goto out;
  }

  if (o->resume) {
    void *extra = NULL;
    size_t extra_size = 0;
    if ((s = earshot_trainer_load_checkpoint (tr, r->ckpt_path, &extra,
                &extra_size, msg, sizeof msg)) != EARSHOT_OK) {
      g_set_error (error, ES_ERROR, ES_ERROR_DATA, "cannot resume from %s: "
          "%s", r->ckpt_path, msg);
      free (extra);
      goto out;
    }
    if (extra == NULL) {
      g_set_error (error, ES_ERROR, ES_ERROR_DATA, "%s: not a checkpoint of "
          "earshot train (no tool state)", r->ckpt_path);
      goto out;
    }
    /* tool_state_from_blob takes `extra` over. */
    if (!tool_state_from_blob (&st, extra, extra_size, r->fingerprint, np,
            r->ckpt_path, error))
      goto out;
    if (!o->quiet)
      printf ("resuming from %s after epoch %u%s\n", r->ckpt_path, st.epoch,
          st.early_stopped || st.epoch >= (guint32) o->epochs
          ? " (training had finished: the model is written again)" : "");
  }

  gboolean has_valid = r->n_valid > 0;
  gboolean augment = es_augment_enabled (&r->aug);
  if (augment)
    aug_seqs = g_new (earshot_sequence, r->n_train);
  if (!o->quiet) {
    printf ("\n%5s  %10s  %9s  %10s  %9s  %8s  %9s  %7s\n", "epoch",
        "train loss", "train acc", "valid loss", "valid acc", "valid F1",
        "lr", "time");
    for (guint i = 0; i < st.history->len; i++) {
      const es_epoch_row *e = &g_array_index (st.history, es_epoch_row, i);
      print_row (e, e->epoch == st.best_epoch, has_valid);
    }
  }

  struct sigaction sa = { .sa_handler = on_sigint, .sa_flags =
        SA_RESETHAND }, old_sa;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, &old_sa);

  guint epoch = st.epoch, st_epoch0 = st.epoch;
  gint64 run_start = g_get_monotonic_time ();
  while (epoch < (guint) o->epochs && !st.early_stopped) {
    gint64 t0 = g_get_monotonic_time ();
    const earshot_sequence *seqs = r->train_seqs;
    if (augment) {
      aug_job_clear (&job, r->n_train);
      if (!augment_epoch (r, epoch, &job, aug_seqs, error))
        goto restore;
      seqs = aug_seqs;
    }
    progress_ctx pc;
    es_progress_start (&pc.bar, !o->quiet);
    if (epoch > st_epoch0) {
      /* the whole run's remaining time, from this session's epochs */
      double per_epoch = (double) (t0 - run_start) / 1e6
          / (double) (epoch - st_epoch0);
      char *left = es_format_duration (per_epoch * (o->epochs - epoch));
      g_snprintf (pc.what, sizeof pc.what, "epoch %u/%d (run: %s left)",
          epoch + 1, o->epochs, left);
      g_free (left);
    } else {
      g_snprintf (pc.what, sizeof pc.what, "epoch %u/%d", epoch + 1,
          o->epochs);
    }
    earshot_train_stats ts, vs = { .loss = NAN, .accuracy = NAN,
      .macro_f1 = NAN };
    s = earshot_trainer_epoch (tr, seqs, r->n_train, &ts, on_progress, &pc);
    es_progress_clear (&pc.bar);
    if (s != EARSHOT_OK) {
      g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "training failed in "
          "epoch %u: %s", epoch + 1, earshot_status_str (s));
      goto restore;
    }
    if (interrupted) {
      g_set_error (error, ES_ERROR, ES_ERROR_INTERRUPTED, "interrupted in "
          "epoch %u; no model written.  %s", epoch + 1, epoch > 0
          ? "Continue from the last checkpoint with --resume" : "");
      status = ES_EXIT_INTERRUPTED;
      goto restore;
    }
    if (!isfinite (ts.loss)) {
      g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "training diverged in "
          "epoch %u (the loss is not finite); try a lower --lr or --clip",
          epoch + 1);
      goto restore;
    }
    if (has_valid && (s = earshot_evaluate (net, r->valid_seqs, r->n_valid,
                NULL, NULL, &vs)) != EARSHOT_OK) {
      g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "validation failed in "
          "epoch %u: %s", epoch + 1, earshot_status_str (s));
      goto restore;
    }
    epoch++;
    es_epoch_row row = {
      .epoch = epoch, .train_loss = ts.loss, .train_acc = ts.accuracy,
      .train_f1 = ts.macro_f1, .valid_loss = vs.loss,
      .valid_acc = vs.accuracy, .valid_f1 = vs.macro_f1,
      .lr = ts.learning_rate,
      .seconds = (double) (g_get_monotonic_time () - t0) / 1e6,
    };
    /* Without validation the last epoch is the best one. */
    gboolean best = !has_valid || vs.loss < st.best_loss;
    if (best) {
      st.best_loss = has_valid ? vs.loss : ts.loss;
      st.best_epoch = epoch;
      st.bad_epochs = 0;
      memcpy (st.best_params, earshot_net_params (net), np * sizeof (float));
    } else {
      st.bad_epochs++;
    }
    st.epoch = epoch;
    st.early_stopped = has_valid && o->patience > 0
        && st.bad_epochs >= (guint32) o->patience;
    g_array_append_val (st.history, row);
    if (!o->quiet)
      print_row (&row, best, has_valid);

    GVariant *v = tool_state_to_variant (&st, r->fingerprint, np);
    s = earshot_trainer_save_checkpoint (tr, r->ckpt_path,
        g_variant_get_data (v), g_variant_get_size (v), msg, sizeof msg);
    g_variant_unref (v);
    if (s != EARSHOT_OK) {
      g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot write the "
          "checkpoint %s: %s", r->ckpt_path, msg);
      goto restore;
    }
    if (!write_logs (r, &st, error))
      goto restore;
    if (o->stop_after > 0 && epoch == (guint) o->stop_after
        && epoch < (guint) o->epochs && !st.early_stopped) {
      if (!o->quiet)
        printf ("stopped after epoch %u as asked (--stop-after); continue "
            "with --resume (checkpoint %s)\n", epoch, r->ckpt_path);
      status = ES_EXIT_OK;
      goto restore;
    }
  }
  sigaction (SIGINT, &old_sa, NULL);

  if (st.epoch == 0 || st.best_epoch == 0) {
    g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "no epoch was trained");
    goto out;
  }
  if (!o->quiet) {
    if (st.early_stopped)
      printf ("early stop: no lower validation loss for %d epochs\n",
          o->patience);
    const es_epoch_row *b = NULL;
    for (guint i = 0; i < st.history->len; i++)
      if (g_array_index (st.history, es_epoch_row, i).epoch == st.best_epoch)
        b = &g_array_index (st.history, es_epoch_row, i);
    if (has_valid && b != NULL) {
      printf ("best epoch %u: validation loss %.4f, accuracy %.2f%%, "
          "macro-F1 %.4f\n", b->epoch, b->valid_loss, 100 * b->valid_acc,
          b->valid_f1);
      print_class_report (r, net, st.best_params);
    } else if (b != NULL) {
      printf ("no validation data: the model is epoch %u (training loss "
          "%.4f)\n", b->epoch, b->train_loss);
    }
  }
  if (!save_model (r, net, &st, error))
    goto out;
  if (!o->quiet)
    printf ("wrote %s (log %s, curves %s)\n", o->output, r->csv_path,
        r->svg_path);
  status = ES_EXIT_OK;
  goto out;

restore:
  sigaction (SIGINT, &old_sa, NULL);
out:
  aug_job_clear (&job, r->n_train);
  g_free (aug_seqs);
  earshot_trainer_free (tr);
  earshot_net_free (net);
  g_free (st.best_params);
  g_array_free (st.history, TRUE);
  return status;
}

/* ---- entry point ------------------------------------------------------ */

static void
train_run_clear (train_run *r)
{
  train_opts_clear (&r->o);
  g_strfreev (r->classes);
  es_dataset_free (r->train_ds);
  es_dataset_free (r->valid_ds);
  if (r->train_idx)
    g_array_free (r->train_idx, TRUE);
  if (r->valid_idx)
    g_array_free (r->valid_idx, TRUE);
  g_free (r->train_items);
  g_free (r->valid_items);
  g_free (r->train_seqs);
  g_free (r->valid_seqs);
  if (r->delayed)
    g_ptr_array_free (r->delayed, TRUE);
  g_free (r->class_frames);
  g_free (r->mean);
  g_free (r->std);
  g_free (r->class_weights);
  g_free (r->options_text);
  g_free (r->fingerprint);
  g_free (r->command);
  if (r->noise)
    g_ptr_array_unref (r->noise);
  g_free (r->noise_sha);
  if (r->noise_len)
    g_array_free (r->noise_len, TRUE);
  es_fe_pool_free (r->pool);
  g_free (r->csv_path);
  g_free (r->svg_path);
  g_free (r->ckpt_path);
}

static int
train_main (train_run *r, int argc, char **argv, GError **error)
{
  train_opts *o = &r->o;
  char *command = record_command (argc, argv);   /* before GOption edits */

  if (!parse_options (r, &argc, &argv, error)) {
    g_free (command);
    return ES_EXIT_USAGE;
  }
  r->command = command;
  if (o->help)
    return ES_EXIT_OK;
  if (!check_options (r, argc, error))
    return ES_EXIT_FAILURE;     /* ES_ERROR_USAGE becomes 2 in the caller */

  if (!gst_init_check (NULL, NULL, error))
    return ES_EXIT_FAILURE;
  guint threads = r->threads = o->threads > 0 ? (guint) o->threads
      : g_get_num_processors ();
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
  openblas_set_num_threads ((int) threads);
#endif

  /* 1-2: manifests, label files, classes */
  if (!es_dataset_open (o->data, &r->train_ds, error))
    return ES_EXIT_FAILURE;
  if (o->valid && !es_dataset_open (o->valid, &r->valid_ds, error))
    return ES_EXIT_FAILURE;
  if (!decide_classes (r, error))
    return ES_EXIT_FAILURE;

  /* 3: audio -> features, through the cache */
  char *cache = o->no_cache ? NULL
      : o->cache_dir ? g_strdup (o->cache_dir) : es_default_cache_dir ();
  r->aug = (es_augment_opts) { .gain_db = o->aug_gain, .snr_min = r->snr_min,
    .snr_max = r->snr_max, .speed_pct = o->aug_speed, .prob = o->aug_prob };
  gboolean ok = (r->pool = es_fe_pool_new (&r->cfg, error)) != NULL
      && load_noise (r, cache, error);
  es_extract_opts xo = {
    .cfg = &r->cfg, .cache_dir = cache,
    .keep_audio = es_augment_enabled (&r->aug),
    .n_threads = threads, .progress = !o->quiet, .what = "reading audio",
  };
  ok = ok && es_dataset_extract (r->train_ds, r->pool, &xo, error);
  xo.keep_audio = FALSE;
  xo.what = "reading validation audio";
  ok = ok && (r->valid_ds == NULL || es_dataset_extract (r->valid_ds,
          r->pool, &xo, error));
  g_free (cache);
  if (!ok)
    return ES_EXIT_FAILURE;

  /* 4-6: targets, split, classes present */
  const char *const *cls = (const char *const *) r->classes;
  if (!es_dataset_targets (r->train_ds, cls, r->n_classes, r->background,
          &r->cfg, error)
      || (r->valid_ds && !es_dataset_targets (r->valid_ds, cls,
              r->n_classes, r->background, &r->cfg, error)))
    return ES_EXIT_FAILURE;
  split_data (r);
  make_sequences (r);
  for (gsize i = 0; i < r->n_valid; i++)    /* never augmented */
    g_clear_pointer (&r->valid_items[i]->samples, g_free);
  if (!count_classes (r, error))
    return ES_EXIT_FAILURE;

  /* 7: normalisation, class weights, fingerprint */
  normalise_all (r);
  if (o->balance) {
    /* w_c = N / (C n_c): inverse frequency, weighted mean 1 */
    guint64 total = 0;
    for (gsize c = 0; c < r->n_classes; c++)
      total += r->class_frames[c];
    r->class_weights = g_new (float, r->n_classes);
    for (gsize c = 0; c < r->n_classes; c++)
      r->class_weights[c] = (float) ((double) total
          / ((double) r->n_classes * (double) r->class_frames[c]));
  }
  data_hash (r);
  char *traj = trajectory_text (r);
  r->options_text = g_strdup_printf ("%s epochs=%d patience=%d", traj,
      o->epochs, o->patience);
  char *fp_text = g_strdup_printf ("%s\n%s\n", traj, r->data_sha);
  r->fingerprint = g_compute_checksum_for_string (G_CHECKSUM_SHA256, fp_text,
      -1);
  g_free (fp_text);
  g_free (traj);

  if (!o->quiet) {
    printf ("training: %zu files, %" G_GUINT64_FORMAT " frames (%.1f min); "
        "validation: %zu files, %" G_GUINT64_FORMAT " frames\n", r->n_train,
        r->train_frames, r->train_frames * (double) r->cfg.hop_length
        / r->cfg.sample_rate / 60, r->n_valid, r->valid_frames);
    printf ("classes (priority order):");
    for (gsize c = 0; c < r->n_classes; c++)
      printf (" %s%s (%.1f%%)", r->classes[c], (int32_t) c == r->background
          ? " [background]" : "", 100.0 * r->class_frames[c]
          / (double) MAX (r->train_frames, 1));
    printf ("\nmodel: %s, %d layer%s of %d, %u mel bands -> %zu classes; "
        "%u thread%s\n", o->cell, o->layers, o->layers > 1 ? "s" : "",
        o->hidden, r->cfg.n_mels, r->n_classes, threads,
        threads > 1 ? "s" : "");
    fflush (stdout);
  }
  return train_loop (r, error);
}

int
es_cmd_train (int argc, char **argv)
{
  train_run r = { 0 };
  GError *error = NULL;
  int status = train_main (&r, argc, argv, &error);

  status = es_command_status ("train", status, error);
  train_run_clear (&r);
  if (gst_is_initialized ())
    gst_deinit ();
  return status;
}
