/* earshot-tool.h — internals shared by the modules of the `earshot` command.
 *
 * The command is a thin GLib/GStreamer shell over libearshot: GStreamer
 * decodes audio (decode.c), the core's own front end turns it into log-mel
 * frames exactly as the element does, and the core's trainer trains.
 *
 *   earshot.c     main(): the table of subcommands, help, version
 *   util.c        messages, hashing, atomic files, progress bar, RNG
 *   decode.c      any audio file -> mono float samples at a given rate
 *   dataset.c     manifest + label files -> cached features and targets
 *   augment.c     gain, noise mixing and speed changes of decoded audio
 *   plot.c        learning curves as SVG
 *   element.c     audio files through the `earshot` element: frames and
 *                 segments from its bus messages; finding models by name
 *   label-plot.c  a labelled file as SVG: waveform, segments, posteriors
 *   train-cmd.c   `earshot train`
 *   info-cmd.c    `earshot info`
 *   label-cmd.c   `earshot label`
 *   eval-cmd.c    `earshot eval`
 *
 * Errors: functions that can fail return FALSE (or NULL) with a GError whose
 * message is one readable line that names the file involved; the command
 * prints it once and exits non-zero.
 *
 * Thread safety: everything here is used from the main thread, except the
 * functions marked "any thread" (used by the data-preparation pool).
 */
#ifndef EARSHOT_TOOL_H
#define EARSHOT_TOOL_H

#include "earshot_features.h"
#include "earshot_labels.h"
#include "earshot_model.h"

#include <glib.h>
#include <gst/gst.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* ---- subcommands -------------------------------------------------------- */

/* Exit statuses of every subcommand. */
#define ES_EXIT_OK 0
#define ES_EXIT_FAILURE 1       /* the command ran and failed */
#define ES_EXIT_USAGE 2         /* bad command line */
#define ES_EXIT_INTERRUPTED 130 /* SIGINT */

/* A subcommand's entry point.  argv[0] is "earshot NAME"; the function owns
 * neither argv nor its strings but may permute them (GOption does).  It
 * returns one of the ES_EXIT_ statuses. */
typedef int (*es_command_fn) (int argc, char **argv);

int es_cmd_train (int argc, char **argv);
int es_cmd_info (int argc, char **argv);
int es_cmd_label (int argc, char **argv);
int es_cmd_eval (int argc, char **argv);

/* ---- messages (util.c) -------------------------------------------------- */

#define ES_ERROR (es_error_quark ())
GQuark es_error_quark (void);

typedef enum {
  ES_ERROR_FAILED,        /* anything else */
  ES_ERROR_IO,            /* a file could not be read or written */
  ES_ERROR_DECODE,        /* GStreamer could not decode a file */
  ES_ERROR_DATA,          /* a manifest, label file or data set is wrong */
  ES_ERROR_USAGE,         /* an option value is wrong */
  ES_ERROR_INTERRUPTED,   /* SIGINT */
} es_error_code;

/* Prints "earshot CMD: MESSAGE" to stderr, CMD being the running
 * subcommand (g_get_prgname ()).  One line; the newline is added. */
void es_print_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
void es_print_warning (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

/* Sets *error from an earshot_status and its message buffer. */
void es_set_status_error (GError **error, earshot_status st, const char *msg);

/* Sets an ES_ERROR_USAGE error from a format and returns FALSE, so option
 * checks read `return es_fail_usage (error, "...")`. */
gboolean es_fail_usage (GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);

/* One group of a subcommand's options, under its title in --help. */
typedef struct {
  const char *name, *title;
  const GOptionEntry *entries;
} es_option_group;

/* An option context for a subcommand: `parameter` after the options in the
 * usage line, `summary` above them, the NULL-terminated `description`
 * lines joined below them, and the groups in order.  --help is left to
 * es_option_parse, which shows every group (nobody should need --help-all
 * to find an option). */
GOptionContext *es_option_context_new (const char *parameter,
    const char *summary, const char *const *description,
    const es_option_group *groups, gsize n_groups);

/* Parses the command line with ctx, prints its help to stdout when *help
 * was set by the options, and frees ctx. */
gboolean es_option_parse (GOptionContext *ctx, const gboolean *help,
    int *argc, char ***argv, GError **error);

/* The exit status of a subcommand: ES_EXIT_USAGE for a usage error (its
 * message then points at 'earshot CMD --help'), else status, at least
 * ES_EXIT_FAILURE when there is an error.  Prints and frees error. */
int es_command_status (const char *cmd, int status, GError *error);

/* ---- files (util.c) ----------------------------------------------------- */

/* SHA-256 of a file's bytes as 64 lowercase hex digits in hex[65].  The error
 * names the file.  Any thread. */
gboolean es_sha256_file (const char *path, char hex[65], GError **error);

/* Writes a file atomically (temporary file beside it, then rename): readers
 * see the old content or the new one, never a part.  Any thread. */
gboolean es_write_file_atomic (const char *path, const void *data,
    gsize size, GError **error);

/* `path` with a trailing ".earshot" replaced by `suffix` (".csv"), or with
 * `suffix` appended when it has no such ending.  g_free the result. */
char *es_sibling_path (const char *path, const char *suffix);

/* ---- JSON (util.c) ------------------------------------------------------ */

/* Appends `v` as a JSON string (quoted, escaped; invalid UTF-8 replaced). */
void es_json_string (GString *s, const char *v);
/* Appends `v` with 9 significant digits, or null when it is not finite. */
void es_json_number (GString *s, double v);

/* ---- terminal (util.c) -------------------------------------------------- */

/* A one-line progress bar with rate and ETA, drawn on stderr only when it is
 * a terminal (and not disabled); redrawn at most ten times a second. */
typedef struct {
  gboolean enabled;
  gint64 start_us;              /* monotonic time of es_progress_start */
  gint64 last_draw_us;
  gboolean drawn;               /* a line is on screen and needs clearing */
} es_progress;

void es_progress_start (es_progress *p, gboolean enabled);
/* `what` prefixes the bar ("epoch 3/30"); `unit` names what done/total
 * count ("frames"). */
void es_progress_update (es_progress *p, const char *what, guint64 done,
    guint64 total, const char *unit);
/* Erases the bar so ordinary output can follow. */
void es_progress_clear (es_progress *p);

/* "1:02:03", "4:05" or "6.7s". */
char *es_format_duration (double seconds);

/* ---- randomness (util.c) ------------------------------------------------ */

/* SplitMix64: a tiny, well-mixed generator whose whole state is one word, so
 * a stream can be derived from (seed, purpose, epoch, file) and replayed
 * exactly after --resume. */
uint64_t es_rng_next (uint64_t *state);
/* Uniform in [0, 1). */
double es_rng_uniform (uint64_t *state);
/* A state derived from a seed and up to three indices. */
uint64_t es_rng_derive (uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

/* ---- decoding (decode.c) ------------------------------------------------ */

/* Decodes the audio file at `path` (any format GStreamer can decode) to mono
 * float samples at `rate` Hz: uridecodebin ! audioconvert ! appsink, then
 * mixed down and resampled as the element does it (see decode.c).
 * *samples (g_free it) receives *n_samples samples.  The error names the
 * file.  gst_init must have been called.  Any thread. */
gboolean es_decode_file (const char *path, guint rate, float **samples,
    gsize *n_samples, GError **error);

/* Where a decoder (uridecodebin) links: its first audio pad goes to
 * `convert`'s sink pad, other streams stay unlinked; a file without audio
 * gets an error message ("the file has no audio stream") instead of
 * GStreamer's generic "not linked".  Lives as long as the pipeline. */
typedef struct {
  GstElement *convert;          /* the element after the decoder */
  gboolean linked;              /* streaming thread; read after no-more-pads */
} es_audio_link;

/* Connects `dec`'s pad-added and no-more-pads to `link`. */
void es_audio_link_connect (GstElement *dec, es_audio_link *link);

/* ---- features (dataset.c) ----------------------------------------------- */

/* A pool of front ends for one configuration, so worker threads need not
 * create (and plan) one per file.  All without normalisation. */
typedef struct es_fe_pool es_fe_pool;

es_fe_pool *es_fe_pool_new (const earshot_features_config *cfg,
    GError **error);
void es_fe_pool_free (es_fe_pool *pool);

/* Raw log-mel frames of a whole signal: *frames [*n_frames x n_mels]
 * (g_free), ceil(n / hop) of them, computed with libearshot's front end.
 * Any thread. */
gboolean es_compute_features (es_fe_pool *pool, const float *x, gsize n,
    float **frames, gsize *n_frames, GError **error);

/* (x - mean) / std in place over n_frames rows of n_mels. */
void es_normalise (float *frames, gsize n_frames, guint n_mels,
    const float *mean, const float *std);

/* ---- data sets (dataset.c) ---------------------------------------------- */

/* One audio file of a manifest with everything derived from it. */
typedef struct {
  char *audio;                  /* path, resolved against the manifest */
  char *label_path;             /* its label file, or NULL (DCASE manifest) */
  char *label_key;              /* `file` value its labels carry, or NULL */
  const earshot_label_list *labels; /* its labels (owned by the data set) */
  unsigned line;                /* line in the manifest */
  char sha256[65];              /* of the audio file's bytes */
  gsize n_samples;              /* decoded length at the front end's rate */
  gsize n_frames;
  float *features;              /* [n_frames x n_mels]: raw log-mel, or
                                   normalised after es_normalise */
  float *samples;               /* [n_samples] decoded audio, if kept */
  int32_t *targets;             /* [n_frames], after es_dataset_targets */
} es_item;

typedef struct {
  char *path;                   /* the manifest, as given */
  earshot_manifest *manifest;
  GPtrArray *label_lists;       /* every parsed label file (owned) */
  es_item *items;
  gsize n_items;
} es_dataset;

/* Reads and parses a manifest and every label file it names, checking that
 * each label file is in a known format.  No audio is touched yet. */
gboolean es_dataset_open (const char *manifest_path, es_dataset **out,
    GError **error);
void es_dataset_free (es_dataset *ds);

/* Adds every label name of the data set to `names` (a set: keys are the
 * names, owned by the data set). */
void es_dataset_collect_labels (const es_dataset *ds, GHashTable *names);

typedef struct {
  const earshot_features_config *cfg;
  const char *cache_dir;        /* feature/audio cache, or NULL for none */
  gboolean keep_audio;          /* keep decoded samples (augmentation) */
  guint n_threads;              /* parallel files */
  gboolean progress;            /* progress bar on stderr */
  const char *what;             /* "training data": for the progress bar */
} es_extract_opts;

/* Hashes, decodes (or finds in the cache) and computes the raw log-mel
 * features of every file, several files at a time.  The first failure in
 * manifest order is reported. */
gboolean es_dataset_extract (es_dataset *ds, es_fe_pool *pool,
    const es_extract_opts *opts, GError **error);

/* Decoded audio of one file through the audio cache (used for noise files).
 * *sha256 (may be NULL) receives the content hash.  Any thread. */
gboolean es_load_audio (const char *path, guint rate, const char *cache_dir,
    float **samples, gsize *n_samples, char sha256[65], GError **error);

/* Per-frame targets of every file: classes in priority order, background
 * class index or -1.  Errors name the label file and the audio file. */
gboolean es_dataset_targets (es_dataset *ds, const char *const *classes,
    gsize n_classes, int32_t background, const earshot_features_config *cfg,
    GError **error);

/* The same for one item of `ds`, whose n_frames and n_samples (at
 * sample_rate) are set: it->targets is (re)allocated and filled. */
gboolean es_item_targets (const es_dataset *ds, es_item *it,
    const char *const *classes, gsize n_classes, int32_t background,
    guint sample_rate, guint hop, GError **error);

/* The default cache folder: $XDG_CACHE_HOME/earshot or ~/.cache/earshot. */
char *es_default_cache_dir (void);

/* ---- augmentation (augment.c) ------------------------------------------- */

typedef struct {
  double gain_db;               /* random gain in [-gain_db, +gain_db]; 0 off */
  double snr_min, snr_max;      /* noise SNR range in dB */
  double speed_pct;             /* speed factor in 1 +- speed_pct/100; 0 off */
  double prob;                  /* chance that a file is augmented per epoch */
  const float *const *noise;    /* n_noise decoded noise signals */
  const gsize *noise_len;
  gsize n_noise;
} es_augment_opts;

/* Whether any augmentation is on. */
gboolean es_augment_enabled (const es_augment_opts *o);

/* One random draw of the augmentation of one file, from `rng`: writes the
 * altered signal to *out (g_free; *out_n samples) and returns TRUE, or
 * returns FALSE when this file stays clean this time (then *out is NULL).
 * `speed` receives the speed factor applied (1 if none): the output's
 * time t corresponds to the input's time t * speed. */
gboolean es_augment (const es_augment_opts *o, uint64_t *rng, const float *x,
    gsize n, float **out, gsize *out_n, double *speed);

/* Targets of frames of a signal sped up by `speed`: frame t of the new
 * signal takes the target of the original frame under its centre. */
void es_targets_resample (const int32_t *targets, gsize n_frames,
    double speed, int32_t *out, gsize out_frames);

/* ---- the element (element.c) ------------------------------------------- */

/* Finds a model the way the element's `model` property does: a value that
 * looks like a path (holds a '/', ends in ".earshot", or names an existing
 * file) is one; a bare name is NAME.earshot in the folders of
 * $EARSHOT_MODEL_PATH, then in the installed models folder.  Loads it:
 * *path (g_free) receives the file.  The error names the file, or the
 * folders searched. */
earshot_model *es_model_open (const char *name, char **path, GError **error);

/* Values of the element's segment properties; negative (smoothing: 0)
 * leaves the element's default. */
typedef struct {
  double threshold;
  int smoothing;
  gint64 min_segment, min_gap;  /* ns */
} es_element_settings;

/* The options that set them (--threshold, --smoothing, --min-segment,
 * --min-gap), for a subcommand's GOptionContext, and their check. */
typedef struct {
  double threshold;
  int smoothing;
  char *min_segment, *min_gap;
  GOptionEntry entries[5];
} es_element_options;

void es_element_options_init (es_element_options *o);
void es_element_options_clear (es_element_options *o);
gboolean es_element_options_parse (const es_element_options *o,
    es_element_settings *s, GError **error);

/* A segment of one class, as the element's `earshot-segment` "end"
 * messages report it. */
typedef struct {
  double start, end;            /* seconds, stream time */
  int cls;
  double confidence;            /* mean smoothed probability */
} es_segment;

/* What the element said about one file. */
typedef struct {
  guint n_classes;
  gsize n_frames;               /* frames, in the order they were posted */
  guint64 *start_ns;            /* [n_frames] stream time of each frame */
  guint64 *duration_ns;         /* [n_frames] */
  int32_t *classes;             /* [n_frames] most probable class */
  float *confidences;           /* [n_frames] its probability */
  float *probs;                 /* [n_frames x n_classes] posteriors */
  es_segment *segments;         /* [n_segments] by start, then class */
  gsize n_segments;
  double duration;              /* seconds: the pipeline's DURATION, or the
                                   end of the last frame */
  /* With es_label_opts.envelope: the minimum and maximum of the (mono mix
   * of the) audio over consecutive blocks of env_block seconds from
   * env_start. */
  float *env_min, *env_max;
  gsize n_env;
  double env_start, env_block;
} es_labelling;

typedef struct {
  const char *model;            /* a model file (from es_model_open) */
  es_element_settings settings;
  gboolean progress;            /* progress bar on stderr (a terminal) */
  gboolean envelope;            /* collect the waveform envelope */
} es_label_opts;

/* Runs `audio` through uridecodebin ! audioconvert ! earshot ! fakesink
 * (sync=false) and collects the element's per-frame `earshot` messages
 * and its segments.  The error is one line naming the file.  gst_init
 * must have been called. */
gboolean es_label_file (const char *audio, const es_label_opts *o,
    es_labelling **out, GError **error);
void es_labelling_free (es_labelling *l);

/* Whether the element can be made (installed, or on GST_PLUGIN_PATH);
 * if not, the error says how to fix it. */
gboolean es_element_available (GError **error);

/* ---- pictures of labelled files (label-plot.c) ------------------------- */

/* Writes an SVG picture of a labelled file: the waveform envelope (when
 * collected), one lane per class with its segments, and the posterior of
 * every class against time.  Atomic. */
gboolean es_plot_labelling_svg (const char *path, const es_labelling *l,
    const char *const *labels, const char *title, GError **error);

/* ---- learning curves (plot.c) ------------------------------------------- */

/* A round tick step (1, 2 or 5 times a power of ten) giving at most
 * `max_ticks` ticks over [lo, hi]. */
double es_plot_tick_step (double lo, double hi, int max_ticks);


/* One row of the training log. */
typedef struct {
  guint epoch;                  /* 1-based */
  double train_loss, train_acc, train_f1;
  double valid_loss, valid_acc, valid_f1;   /* NAN without validation */
  double lr;
  double seconds;               /* wall time of the epoch */
} es_epoch_row;

/* Writes an SVG picture of the loss and accuracy curves: two panels, axes,
 * legend; best_epoch (1-based, 0 for none) is marked.  Atomic. */
gboolean es_plot_svg (const char *path, const es_epoch_row *rows, gsize n,
    guint best_epoch, const char *title, GError **error);

G_END_DECLS

#endif /* EARSHOT_TOOL_H */
