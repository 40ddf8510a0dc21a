/* gstearshot.c — the `earshot` element: a thin GStreamer shell over
 * libearshot's streams (lib/earshot_stream.h). */

/**
 * SECTION:element-earshot
 * @title: earshot
 * @short_description: tells what is sounding: per-frame audio classes from a
 *     recurrent network, as buffer metadata and bus messages
 *
 * `earshot` passes audio through untouched (the buffers' memory is never
 * written) while it classifies an internal copy, frame by frame, with the
 * recurrent network of an Earshot model (`.earshot` file).  Any raw audio
 * format, at any rate from 1 Hz to 1 MHz, with up to 63 channels, is
 * accepted (but a model whose band starts at or above half the rate
 * refuses it at negotiation): the copy is converted to mono (the mean of
 * all channels,
 * #GstEarshot:channel-mode=mix) or kept per channel (channel-mode=each, one
 * recurrent state per channel) 32-bit float at the model's sample rate, so
 * no `audioresample` is needed in front.  F32 and S16 interleaved input in
 * channel-mode=mix is mixed down by the element and, above the model's
 * rate, resampled by Earshot's own filter (lib/earshot_resample.h: flat
 * within 0.01 dB to 6 kHz, about -6 dB at 7.5 kHz, 70 dB down from 9 kHz, 16
 * output periods to each side; at 44.1 kHz under half the converter's
 * cost);
 * everything else goes through a #GstAudioConverter.
 *
 * ## Frames and time
 *
 * Frame t describes the hop interval [t*hop, (t+1)*hop) of the stream since
 * the element last reset its state, in samples at the model's rate; sample 0
 * is stamped with the timestamp of the first buffer after the reset (or of
 * the GAP event that started the stream), and every later time is computed
 * from exact sample counts (no accumulated rounding).  A first buffer
 * without a timestamp continues the audio before the reset when that was a
 * caps or model change, and otherwise starts at the segment's position.
 * A frame is complete once its whole analysis window has arrived, and, for
 * a model with lookahead (`earshot train --lookahead`), once the lookahead's
 * worth of later audio has too.  So results lag the audio by the model's
 * window minus its hop, plus its lookahead (plus the resampler's delay, if
 * any): that is what the element answers to a LATENCY query.  Frames keep
 * the time of the audio they describe, whatever the lag.
 *
 * ## State
 *
 * The recurrent state is carried from buffer to buffer.  It is reset, and
 * the next buffer's timestamp becomes the new frame 0:
 *
 * * at EOS, on STREAM_START, on new caps, on a new model, and on a buffer
 *   flagged DISCONT when #GstEarshot:reset-on-discont is %TRUE (the
 *   default): the analysis is finished first — the last partial frames are
 *   zero-padded and classified, open segments end.  Those last frames have
 *   no buffer left to ride on, so they are posted as messages only, not
 *   attached as meta.  With reset-on-discont=%FALSE a DISCONT is ignored
 *   and the audio is treated as contiguous.
 * * on FLUSH_STOP: the unfinished frames are dropped with the flushed
 *   audio; open segments end at their last frame.
 *
 * A GAP event is classified as the silence it stands for (its frames are
 * posted, not attached).
 *
 * ## Bus messages
 *
 * When #GstEarshot:post-messages is %TRUE, element messages as from `level`:
 *
 * `earshot`, one per frame (#GstEarshot:message-interval = 0) or per
 * interval of frames, per classified channel:
 *
 * * #GstClockTime `timestamp`: start of the first frame
 * * #GstClockTime `stream-time`: the same, as stream time
 * * #GstClockTime `running-time`: the same, as running time
 * * #GstClockTime `duration`: time the frames cover
 * * #guint `frames`: how many frames are summarised (1 per frame)
 * * #gint `channel`: the input channel, or -1 for the mix
 * * #gchararray `label`: name of the most probable class
 * * #gint `class`: its index
 * * #gdouble `confidence`: its probability
 * * #GstValueArray of #gdouble `probabilities`: one per class (the mean over
 *   the frames of an interval)
 *
 * Frame messages carry the network's raw posteriors.
 *
 * `earshot-segment`, when a class starts or stops being what is heard:
 *
 * * #gchararray `event`: "start" or "end"
 * * #gchararray `label`, #gint `class`, #gint `channel` as above
 * * #GstClockTime `start`, `start-stream-time`, `start-running-time`:
 *   start of the segment's first frame
 * * #GstClockTime `end`, `end-stream-time`, `end-running-time`, `duration`:
 *   end of its last frame (%GST_CLOCK_TIME_NONE in "start" events)
 * * #gdouble `confidence`: mean smoothed probability of the class over the
 *   segment's frames so far
 *
 * Segments come from smoothed decisions: the posteriors are averaged over a
 * centred window of #GstEarshot:smoothing frames; a frame is decided as its
 * most probable class when that class's smoothed probability reaches
 * #GstEarshot:threshold (otherwise as no class); a class's segment starts
 * once it has been decided for #GstEarshot:min-segment and ends once it has
 * not been decided for #GstEarshot:min-gap (shorter gaps are bridged).
 * Times are back-dated to the frames they describe, so messages arrive
 * later than the times they carry.  Segments of different classes may
 * overlap by up to min-gap.
 *
 * ## Meta
 *
 * Every buffer during which frames were completed carries a
 * #GstEarshotMeta (<gst/earshot/gstearshotmeta.h>, pkg-config
 * `gstearshotmeta-1.0`) with those frames' times, classes, confidences,
 * posteriors and the label names.  If the model has a class named
 * "speech", every buffer also carries a #GstAudioLevelMeta whose
 * voice_activity says whether any frame completed during the buffer was
 * classified as speech (the previous frame's decision when none was); an
 * existing level meta keeps its level, a new one gets the level of the
 * analysed copy in -dBov (NaN and Inf samples count as silence, as they
 * do for the classifier).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=x.ogg ! decodebin ! audioconvert ! earshot model=vad ! fakesink -m
 * ]|
 */

#include "gstearshot.h"

#include <gst/audio/audio.h>
#include <gst/earshot/gstearshotmeta.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "earshot_model.h"
#include "earshot_resample.h"
#include "earshot_stream.h"

GST_DEBUG_CATEGORY_STATIC (gst_earshot_debug);
#define GST_CAT_DEFAULT gst_earshot_debug

/* The model used when `model` is not set, once it is installed. */
#define DEFAULT_MODEL_NAME "vad"
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_MESSAGE_INTERVAL 0
#define DEFAULT_THRESHOLD 0.5
#define DEFAULT_SMOOTHING 5
#define MAX_SMOOTHING 1000
#define DEFAULT_MIN_SEGMENT (100 * GST_MSECOND)
#define DEFAULT_MIN_GAP (100 * GST_MSECOND)
#define DEFAULT_CHANNEL_MODE GST_EARSHOT_CHANNEL_MODE_MIX
#define DEFAULT_RESET_ON_DISCONT TRUE

/* GAP events are classified in pieces of this many input samples. */
#define SILENCE_CHUNK 4096

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_LABELS,
  PROP_MODEL_PATH,
  PROP_POST_MESSAGES,
  PROP_MESSAGE_INTERVAL,
  PROP_THRESHOLD,
  PROP_SMOOTHING,
  PROP_MIN_SEGMENT,
  PROP_MIN_GAP,
  PROP_CHANNEL_MODE,
  PROP_RESET_ON_DISCONT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* A loaded model, shared by the property side (which loads it) and the
 * streaming side (whose streams read it), and by every element in the
 * process that uses the same file (the model cache below).  Reference
 * counted: the model is freed when the last holder lets go, which is after
 * every stream over it has been freed.  Immutable. */
typedef struct
{
  gatomicrefcount ref;
  gchar *cache_key;             /* its key in model_cache, or NULL */
  earshot_model *model;
  gchar *path;                  /* the file it came from */
  gchar **labels;               /* [n_classes + 1] class names */
  guint n_classes;
  gint speech;                  /* index of the class "speech", or -1 */
} ModelRef;

/* The models loaded in this process, so that N elements using one file
 * hold one copy of its weights (a model is read only once loaded).  Keyed
 * by the file's canonical path, device, inode, size and modification time,
 * so an edited or replaced file is loaded afresh; the key -> ModelRef map
 * holds no reference: a model leaves it when its last reference goes.
 * model_cache_lock protects the map and every final unref, so that a
 * lookup can never take a reference on a model being freed. */
static GMutex model_cache_lock;
static GHashTable *model_cache;     /* gchar * -> ModelRef * */

/* Property values; copied under the object lock before each buffer. */
typedef struct
{
  gboolean post_messages;
  GstClockTime message_interval;
  gdouble threshold;
  guint smoothing;
  GstClockTime min_segment;
  GstClockTime min_gap;
  GstEarshotChannelMode channel_mode;
  gboolean reset_on_discont;
} Settings;

/* Segment tracking of one class in one channel. */
typedef struct
{
  gboolean active;              /* a segment is open: its start was emitted */
  gint64 run_start;             /* first frame of the current run of decisions
                                 * for the class while not active, -1: none */
  guint64 seg_start;            /* first frame of the open segment */
  guint64 last_on;              /* last frame decided as the class */
  gdouble conf_sum;             /* smoothed probabilities of the frames of the
                                 * run / segment, for its mean confidence */
  guint64 conf_n;
} ClassTrack;

/* One classified channel: the mix, or one input channel. */
typedef struct
{
  earshot_stream *stream;
  gfloat *probs;                /* [probs_cap x n_classes] posteriors of the
                                 * frames completed by the current call */
  gfloat *ring;                 /* [ring_size x n_classes] raw posteriors of
                                 * the last frames: frame j at row j % ring_size */
  gdouble *agg;                 /* [n_classes] posterior sums of the pending
                                 * interval message */
  ClassTrack *tracks;           /* [n_classes] */
} Channel;

/* The frames completed by one buffer, for its meta.  Frame-major: frame f
 * of channel c at f * n_channels + c. */
typedef struct
{
  guint n, cap;
  guint64 first;                /* frame index of the first one */
  GstClockTime *pts;            /* [cap] */
  GstClockTime *duration;       /* [cap] */
  gint *classes;                /* [cap x n_channels] */
  gfloat *confidences;          /* [cap x n_channels] */
  gfloat *probs;                /* [cap x n_channels x n_classes] */
  gboolean speech;              /* a frame was classified "speech" */
  gdouble sum_squares;          /* of the analysed samples, for the level */
  guint64 n_squares;
} Batch;

struct _GstEarshot
{
  GstAudioFilter parent;

  /* ---- Property side; everything here is protected by the OBJECT_LOCK. */
  gchar *model_name;            /* `model` as set; NULL: the default model */
  ModelRef *model;              /* the model to use (a reference), or NULL */
  GError *model_error;          /* why loading `model_name` failed while
                                 * stopped; start() reports it */
  guint model_cookie;           /* bumped whenever `model` changes */
  Settings settings;            /* the other property values */
  gboolean started;             /* between start() and stop() */
  gint in_rate;                 /* rate of the negotiated caps, 0: none */
  GstClockTime latency;         /* our part of the LATENCY answer */

  /* ---- Streaming side; protected by the STREAM_LOCK: only touched by
   * the streaming thread (transform_ip, serialized events, setup) and by
   * start/stop/finalize while no data flows. */
  ModelRef *active;             /* the model the channels use (a reference) */
  guint active_cookie;          /* model_cookie `active` was taken at */
  Settings cur;                 /* settings of the data being processed */
  GstAudioInfo in_info;         /* the negotiated input */
  gboolean configured;          /* converter and channels exist for in_info
                                 * and active */
  GstAudioConverter *conv;      /* conv_info -> F32 planar at the model's
                                 * rate */
  GstAudioInfo conv_info;       /* what conv takes: in_info, or F32 mono at
                                 * its rate when premix */
  gboolean premix;              /* mix the channels down ourselves before
                                 * conv (see premix()) */
  gboolean conv_passthrough;    /* conv_info is already what conv makes:
                                 * skip conv */
  earshot_resampler *rs;        /* instead of conv, where it can: F32 mono
                                 * (after premix) down to the model's rate */
  gfloat *mix;                  /* premix's output, mix_cap floats */
  gsize mix_cap;
  guint n_channels;             /* classified channels */
  guint n_classes;
  guint hop;                    /* model hop, samples at the model's rate */
  guint model_rate;             /* model sample rate, Hz */
  Channel *channels;            /* [n_channels] */
  gfloat **planes;              /* [n_channels] converter output, planes_cap
                                 * floats each */
  gsize planes_cap;
  gsize probs_cap;              /* frames each Channel.probs can hold */
  guint ring_size;              /* rows of the rings (smoothing window) */
  guint64 ring_first;           /* first frame the rings hold since they
                                 * were (re)allocated */
  guint64 min_segment_frames;   /* cur.min_segment in frames, >= 1 */
  guint64 min_gap_frames;       /* cur.min_gap in frames, >= 1 */

  guint64 in_samples;           /* input samples since the last reset */
  guint64 out_samples;          /* model-rate samples classified since then */
  guint64 n_frames;             /* frames completed since then */
  guint64 n_decided;            /* frames with a smoothed decision */
  GstClockTime anchor;          /* time of model-rate sample 0, NONE until
                                 * the first buffer after a reset */
  GstClockTime resume;          /* after a caps or model change, the end of
                                 * the audio before it: the anchor if the
                                 * next buffer has no timestamp; else NONE */
  guint64 agg_first;            /* first frame of the pending interval message */
  guint agg_frames;             /* its frames; 0: none pending */
  gboolean last_speech;         /* voice activity of the last frame */

  Batch batch;                  /* frames of the buffer being processed */
  GQueue messages;              /* messages to post once no lock is held */
};

#define gst_earshot_parent_class parent_class
G_DEFINE_TYPE (GstEarshot, gst_earshot, GST_TYPE_AUDIO_FILTER)
GST_ELEMENT_REGISTER_DEFINE (earshot, "earshot", GST_RANK_NONE,
    GST_TYPE_EARSHOT)

/* GstAudioConverter's channel mixer takes at most 63 input channels (with
 * 64 or more, gst_audio_converter_new crashes in GStreamer 1.22). */
#define MAX_CHANNELS 63

/* GstAudioConverter's resampler needs memory that grows with the ratio of
 * the rates, and GStreamer 1.22 aborts the process when it cannot have it
 * (an 800 GB allocation at 2^31 - 1 Hz).  1 MHz is tested. */
#define MAX_RATE 1000000

#define ALLOWED_CAPS \
    "audio/x-raw, format = (string) " GST_AUDIO_FORMATS_ALL ", " \
    "rate = (int) [ 1, " G_STRINGIFY (MAX_RATE) " ], " \
    "channels = (int) [ 1, " G_STRINGIFY (MAX_CHANNELS) " ], " \
    "layout = (string) { interleaved, non-interleaved }"

GType
gst_earshot_channel_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_EARSHOT_CHANNEL_MODE_MIX,
        "Classify the mean of all channels", "mix"},
    {GST_EARSHOT_CHANNEL_MODE_EACH,
        "Classify each channel on its own", "each"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstEarshotChannelMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ---- Models ------------------------------------------------------------ */

static void
model_ref_free (ModelRef * m)
{
  earshot_model_free (m->model);
  g_free (m->path);
  g_strfreev (m->labels);
  g_free (m->cache_key);
  g_free (m);
}

static ModelRef *
model_ref_ref (ModelRef * m)
{
  if (m)
    g_atomic_ref_count_inc (&m->ref);
  return m;
}

static void
model_ref_unref (ModelRef * m)
{
  gboolean last;

  if (m == NULL)
    return;
  g_mutex_lock (&model_cache_lock);
  last = g_atomic_ref_count_dec (&m->ref);
  if (last && m->cache_key != NULL && model_cache != NULL
      && g_hash_table_lookup (model_cache, m->cache_key) == m)
    g_hash_table_remove (model_cache, m->cache_key);
  g_mutex_unlock (&model_cache_lock);
  if (last)
    model_ref_free (m);
}

/* The cache key of the model file at `path`, or NULL if it cannot be
 * stat()ed (then the model is loaded without the cache). */
static gchar *
model_cache_key (const gchar * path)
{
  GStatBuf st;
  gchar *canon, *key;

  if (g_stat (path, &st) != 0)
    return NULL;
  canon = g_canonicalize_filename (path, NULL);
  key = g_strdup_printf ("%s|%" G_GUINT64_FORMAT "|%" G_GUINT64_FORMAT "|%"
      G_GINT64_FORMAT "|%" G_GINT64_FORMAT ".%09ld", canon,
      (guint64) st.st_dev, (guint64) st.st_ino, (gint64) st.st_size,
      (gint64) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec);
  g_free (canon);
  return key;
}

/* A reference to the cached model under `key`, or NULL. */
static ModelRef *
model_cache_lookup (const gchar * key)
{
  ModelRef *m = NULL;

  g_mutex_lock (&model_cache_lock);
  if (model_cache != NULL)
    m = model_ref_ref (g_hash_table_lookup (model_cache, key));
  g_mutex_unlock (&model_cache_lock);
  return m;
}

/* Puts the freshly loaded `m` (its cache_key set) into the cache and
 * returns it, or, if another thread cached the same file meanwhile, frees
 * `m` and returns a reference to that one. */
static ModelRef *
model_cache_insert (ModelRef * m)
{
  ModelRef *have;

  g_mutex_lock (&model_cache_lock);
  if (model_cache == NULL)
    model_cache = g_hash_table_new (g_str_hash, g_str_equal);
  have = model_ref_ref (g_hash_table_lookup (model_cache, m->cache_key));
  if (have == NULL)
    g_hash_table_insert (model_cache, m->cache_key, m);
  g_mutex_unlock (&model_cache_lock);
  if (have != NULL) {
    model_ref_unref (m);
    return have;
  }
  return m;
}

/* Model search path: the folders of $EARSHOT_MODEL_PATH, then the system
 * folders: those of $EARSHOT_MODEL_SYSTEM_PATH if it is set (even empty),
 * else the install datadir and the source tree's models/ (so a build that
 * is not installed finds the shipped models). */
static void
add_dirs (GPtrArray * dirs, const gchar * list)
{
  gchar **parts = g_strsplit (list, G_SEARCHPATH_SEPARATOR_S, -1);
  for (gchar ** p = parts; *p; p++)
    if (**p)
      g_ptr_array_add (dirs, g_strdup (*p));
  g_strfreev (parts);
}

static gchar **
model_search_dirs (void)
{
  const gchar *env = g_getenv ("EARSHOT_MODEL_PATH");
  const gchar *sys = g_getenv ("EARSHOT_MODEL_SYSTEM_PATH");
  GPtrArray *dirs = g_ptr_array_new ();

  if (env)
    add_dirs (dirs, env);
  if (sys) {
    add_dirs (dirs, sys);
  } else {
    g_ptr_array_add (dirs, g_strdup (EARSHOT_MODELS_DIR));
    g_ptr_array_add (dirs, g_strdup (EARSHOT_SOURCE_MODELS_DIR));
  }
  g_ptr_array_add (dirs, NULL);
  return (gchar **) g_ptr_array_free (dirs, FALSE);
}

/* A value that looks like a path is one; a bare name is looked up as
 * NAME.earshot in the search dirs.  Returns the file (free it), or NULL with
 * *searched set to the directories tried (free it). */
static gchar *
model_find (const gchar * name, gchar ** searched)
{
  gchar **dirs, *file, *path = NULL;

  *searched = NULL;
  if (strchr (name, '/') || strchr (name, G_DIR_SEPARATOR)
      || g_str_has_suffix (name, ".earshot")
      || g_file_test (name, G_FILE_TEST_EXISTS))
    return g_strdup (name);

  dirs = model_search_dirs ();
  file = g_strconcat (name, ".earshot", NULL);
  for (gchar ** d = dirs; *d && path == NULL; d++) {
    gchar *candidate = g_build_filename (*d, file, NULL);
    if (g_file_test (candidate, G_FILE_TEST_IS_REGULAR))
      path = candidate;
    else
      g_free (candidate);
  }
  if (path == NULL)
    *searched = g_strjoinv (", ", dirs);
  g_free (file);
  g_strfreev (dirs);
  return path;
}

/* Loads a model by name or path; NULL means the default model.  File I/O:
 * called without any lock held. */
static ModelRef *
model_load (const gchar * name, GError ** error)
{
  gchar *path, *searched = NULL, *key;
  earshot_model *model = NULL;
  earshot_status st;
  char msg[512] = "";
  ModelRef *m;
  gboolean is_default = (name == NULL || *name == '\0');

  path = model_find (is_default ? DEFAULT_MODEL_NAME : name, &searched);
  if (path == NULL) {
    if (is_default)
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
          "No model set: set the \"model\" property to a .earshot file or "
          "the name of an installed model (the default model \"%s\" is not "
          "installed; searched %s)", DEFAULT_MODEL_NAME, searched);
    else
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
          "No model \"%s\": not a file, and no %s.earshot in %s", name,
          name, searched);
    g_free (searched);
    return NULL;
  }
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "Model file \"%s\" does not exist", path);
    g_free (path);
    return NULL;
  }

  key = model_cache_key (path);
  if (key != NULL && (m = model_cache_lookup (key)) != NULL) {
    GST_DEBUG ("model %s: shared with other elements", path);
    g_free (key);
    g_free (path);
    return m;
  }

  st = earshot_model_load (path, &model, msg, sizeof msg);
  if (st != EARSHOT_OK) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
        "Could not load model \"%s\": %s", path,
        msg[0] ? msg : earshot_status_str (st));
    g_free (key);
    g_free (path);
    return NULL;
  }

  m = g_new0 (ModelRef, 1);
  g_atomic_ref_count_init (&m->ref);
  m->cache_key = key;
  m->model = model;
  m->path = path;
  m->n_classes = (guint) earshot_model_n_labels (model);
  m->labels = g_new0 (gchar *, m->n_classes + 1);
  for (guint i = 0; i < m->n_classes; i++)
    m->labels[i] = g_strdup (earshot_model_label (model, i));
  m->speech = earshot_model_find_label (model, "speech");
  GST_DEBUG ("loaded model %s: %u classes, %u Hz, hop %u, window %u", path,
      m->n_classes, earshot_model_features_config (model)->sample_rate,
      earshot_model_features_config (model)->hop_length,
      earshot_model_features_config (model)->win_length);
  return key != NULL ? model_cache_insert (m) : m;
}

/* Whether input at `rate` can feed the model at all: some of the band the
 * model listens to (fmin .. fmax) must exist in the input.  Input that only
 * lacks the top of that band (8 kHz telephone audio into a 16 kHz model) is
 * accepted: configure() warns, and models trained with band-limited audio
 * handle it. */
static gboolean
model_accepts_rate (const ModelRef * m, gint rate, GError ** error)
{
  const earshot_features_config *cfg =
      earshot_model_features_config (m->model);

  if ((gdouble) rate / 2.0 <= cfg->fmin) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "Input sample rate %d Hz is too low for model \"%s\": its features "
        "use frequencies from %g Hz up, and %d Hz audio holds nothing above "
        "%g Hz", rate, m->path, cfg->fmin, rate, rate / 2.0);
    return FALSE;
  }
  return TRUE;
}

static void
post_error (GstEarshot * self, const GError * error)
{
  GST_WARNING_OBJECT (self, "%s", error->message);
  gst_element_message_full (GST_ELEMENT (self), GST_MESSAGE_ERROR,
      error->domain, error->code, g_strdup (error->message), NULL,
      __FILE__, GST_FUNCTION, __LINE__);
}

/* ---- Time -------------------------------------------------------------- */

/* Start of frame j: the anchor plus j hops, from exact sample counts. */
static GstClockTime
frame_time (GstEarshot * self, guint64 j)
{
  if (!GST_CLOCK_TIME_IS_VALID (self->anchor))
    return GST_CLOCK_TIME_NONE;
  return self->anchor + gst_util_uint64_scale_int (j * self->hop, GST_SECOND,
      self->model_rate);
}

/* Time just after the last input sample since the reset: where audio that
 * goes on through a caps or model change starts.  NONE if unknown. */
static GstClockTime
input_end (GstEarshot * self)
{
  if (!self->configured || !GST_CLOCK_TIME_IS_VALID (self->anchor))
    return self->resume;
  return self->anchor + gst_util_uint64_scale_int (self->in_samples,
      GST_SECOND, GST_AUDIO_INFO_RATE (&self->in_info));
}

static void
segment_times (GstEarshot * self, GstClockTime ts, GstClockTime * stream_time,
    GstClockTime * running_time)
{
  GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;

  *stream_time = *running_time = GST_CLOCK_TIME_NONE;
  if (seg->format == GST_FORMAT_TIME && GST_CLOCK_TIME_IS_VALID (ts)) {
    *stream_time = gst_segment_to_stream_time (seg, GST_FORMAT_TIME, ts);
    *running_time = gst_segment_to_running_time (seg, GST_FORMAT_TIME, ts);
  }
}

/* ---- Messages ---------------------------------------------------------- */

static gint
argmax (const gdouble * v, guint n)
{
  gint best = 0;

  for (guint k = 1; k < n; k++)
    if (v[k] > v[best])
      best = (gint) k;
  return best;
}

/* Names of the `earshot` message and its fields, interned once
 * (class_init): a message per 10 ms frame should not look each of eleven
 * strings up in GLib's quark table, under its lock. */
static GQuark q_earshot, q_timestamp, q_stream_time, q_running_time,
    q_duration, q_frames, q_channel, q_label, q_class, q_confidence,
    q_probabilities;

static void
intern_message_names (void)
{
  q_earshot = g_quark_from_static_string ("earshot");
  q_timestamp = g_quark_from_static_string ("timestamp");
  q_stream_time = g_quark_from_static_string ("stream-time");
  q_running_time = g_quark_from_static_string ("running-time");
  q_duration = g_quark_from_static_string ("duration");
  q_frames = g_quark_from_static_string ("frames");
  q_channel = g_quark_from_static_string ("channel");
  q_label = g_quark_from_static_string ("label");
  q_class = g_quark_from_static_string ("class");
  q_confidence = g_quark_from_static_string ("confidence");
  q_probabilities = g_quark_from_static_string ("probabilities");
}

/* Queues an `earshot` message: mean posteriors `p` of `frames` frames from
 * frame `first`, channel `channel` (-1: the mix). */
static void
queue_frame_message (GstEarshot * self, gint channel, guint64 first,
    guint frames, const gdouble * p)
{
  GstClockTime ts = frame_time (self, first);
  GstClockTime end = frame_time (self, first + frames);
  GstClockTime st, rt;
  GValue array = G_VALUE_INIT;
  GstStructure *s;
  gint k = argmax (p, self->n_classes);

  segment_times (self, ts, &st, &rt);
  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " (+%u) at %" GST_TIME_FORMAT
      ": %s %.3f", first, frames, GST_TIME_ARGS (ts), self->active->labels[k],
      p[k]);
  s = gst_structure_new_id (q_earshot,
      q_timestamp, G_TYPE_UINT64, ts,
      q_stream_time, G_TYPE_UINT64, st,
      q_running_time, G_TYPE_UINT64, rt,
      q_duration, G_TYPE_UINT64, GST_CLOCK_DIFF (ts, end),
      q_frames, G_TYPE_UINT, frames,
      q_channel, G_TYPE_INT, channel,
      q_label, G_TYPE_STRING, self->active->labels[k],
      q_class, G_TYPE_INT, k, q_confidence, G_TYPE_DOUBLE, p[k], NULL);
  g_value_init (&array, GST_TYPE_ARRAY);
  for (guint i = 0; i < self->n_classes; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, p[i]);
    gst_value_array_append_and_take_value (&array, &v);
  }
  gst_structure_id_take_value (s, q_probabilities, &array);
  g_queue_push_tail (&self->messages,
      gst_message_new_element (GST_OBJECT (self), s));
}

/* Queues an `earshot-segment` message for class k of channel c: its
 * "start", or its "end" after its last frame t->last_on. */
static void
queue_segment_message (GstEarshot * self, guint c, guint k,
    const ClassTrack * t, gboolean start)
{
  GstClockTime ts = frame_time (self, t->seg_start);
  GstClockTime end = start ? GST_CLOCK_TIME_NONE :
      frame_time (self, t->last_on + 1);
  GstClockTime st, rt, est, ert;
  GstStructure *s;

  if (!self->cur.post_messages)
    return;
  segment_times (self, ts, &st, &rt);
  segment_times (self, end, &est, &ert);
  s = gst_structure_new ("earshot-segment",
      "event", G_TYPE_STRING, start ? "start" : "end",
      "label", G_TYPE_STRING, self->active->labels[k],
      "class", G_TYPE_INT, (gint) k,
      "channel", G_TYPE_INT,
      self->cur.channel_mode == GST_EARSHOT_CHANNEL_MODE_EACH ? (gint) c : -1,
      "start", G_TYPE_UINT64, ts,
      "start-stream-time", G_TYPE_UINT64, st,
      "start-running-time", G_TYPE_UINT64, rt,
      "end", G_TYPE_UINT64, end,
      "end-stream-time", G_TYPE_UINT64, est,
      "end-running-time", G_TYPE_UINT64, ert,
      "duration", G_TYPE_UINT64,
      start ? GST_CLOCK_TIME_NONE : (GstClockTime) GST_CLOCK_DIFF (ts, end),
      "confidence", G_TYPE_DOUBLE,
      t->conf_n ? t->conf_sum / (gdouble) t->conf_n : 0.0, NULL);
  g_queue_push_tail (&self->messages,
      gst_message_new_element (GST_OBJECT (self), s));
}

/* Posts the queued messages.  Called with no lock held (not even the
 * object lock: a bus sync handler may call back into the element). */
static void
post_messages (GstEarshot * self)
{
  GstMessage *msg;

  while ((msg = g_queue_pop_head (&self->messages)))
    gst_element_post_message (GST_ELEMENT (self), msg);
}

static void
queue_interval_messages (GstEarshot * self)
{
  gdouble *mean;

  if (self->agg_frames == 0)
    return;
  mean = g_newa (gdouble, self->n_classes);
  for (guint c = 0; c < self->n_channels; c++) {
    Channel *ch = &self->channels[c];
    for (guint k = 0; k < self->n_classes; k++) {
      mean[k] = ch->agg[k] / self->agg_frames;
      ch->agg[k] = 0.0;
    }
    if (self->cur.post_messages)
      queue_frame_message (self,
          self->cur.channel_mode == GST_EARSHOT_CHANNEL_MODE_EACH ?
          (gint) c : -1, self->agg_first, self->agg_frames, mean);
  }
  self->agg_frames = 0;
}

/* ---- Smoothed decisions and segments ----------------------------------- */

static void
track_reset (ClassTrack * t)
{
  memset (t, 0, sizeof *t);
  t->run_start = -1;
}

/* Frame j of channel c was decided as class d (-1: none) with smoothed
 * probability q. */
static void
track_frame (GstEarshot * self, guint c, guint64 j, gint d, gdouble q)
{
  Channel *ch = &self->channels[c];

  for (guint k = 0; k < self->n_classes; k++) {
    ClassTrack *t = &ch->tracks[k];

    if ((gint) k == d) {
      if (t->active) {
        t->last_on = j;
      } else if (t->run_start < 0) {
        t->run_start = (gint64) j;
        t->conf_sum = 0.0;
        t->conf_n = 0;
      }
      t->conf_sum += q;
      t->conf_n++;
      if (!t->active && j - (guint64) t->run_start + 1 >=
          self->min_segment_frames) {
        t->active = TRUE;
        t->seg_start = (guint64) t->run_start;
        t->last_on = j;
        queue_segment_message (self, c, k, t, TRUE);
      }
    } else if (!t->active) {
      t->run_start = -1;
    } else if (j - t->last_on >= self->min_gap_frames) {
      queue_segment_message (self, c, k, t, FALSE);
      track_reset (t);
    }
  }
}

/* Decides frame j from the frames [j - (W-1)/2, j + W/2] of the ring,
 * clipped to [ring_first, last]. */
static void
decide_frame (GstEarshot * self, guint64 j, guint64 last)
{
  guint w = self->ring_size;
  guint64 lo = j >= self->ring_first + (w - 1) / 2 ? j - (w - 1) / 2 :
      self->ring_first;
  guint64 hi = MIN (last, j + w / 2);
  gdouble *mean = g_newa (gdouble, self->n_classes);

  for (guint c = 0; c < self->n_channels; c++) {
    Channel *ch = &self->channels[c];
    gint d;

    memset (mean, 0, self->n_classes * sizeof (gdouble));
    for (guint64 i = lo; i <= hi; i++) {
      const gfloat *row = ch->ring + (i % w) * self->n_classes;
      for (guint k = 0; k < self->n_classes; k++)
        mean[k] += row[k];
    }
    for (guint k = 0; k < self->n_classes; k++)
      mean[k] /= (gdouble) (hi - lo + 1);
    d = argmax (mean, self->n_classes);
    track_frame (self, c, j, mean[d] >= self->cur.threshold ? d : -1,
        mean[d]);
  }
}

/* Finishes the analysis so far: decides the frames still waiting for
 * their smoothing window, posts the pending interval message and ends the
 * open segments. */
static void
close_tracks (GstEarshot * self)
{
  if (!self->configured)
    return;
  while (self->n_decided < self->n_frames) {
    decide_frame (self, self->n_decided, self->n_frames - 1);
    self->n_decided++;
  }
  queue_interval_messages (self);
  for (guint c = 0; c < self->n_channels; c++) {
    for (guint k = 0; k < self->n_classes; k++) {
      ClassTrack *t = &self->channels[c].tracks[k];
      if (t->active)
        queue_segment_message (self, c, k, t, FALSE);
      track_reset (t);
    }
  }
}

/* ---- Frames ------------------------------------------------------------ */

static void
batch_clear (Batch * b)
{
  b->n = 0;
  b->speech = FALSE;
  b->sum_squares = 0.0;
  b->n_squares = 0;
}

static void
batch_free (Batch * b)
{
  g_free (b->pts);
  g_free (b->duration);
  g_free (b->classes);
  g_free (b->confidences);
  g_free (b->probs);
  memset (b, 0, sizeof *b);
}

static void
batch_reserve (GstEarshot * self, guint more)
{
  Batch *b = &self->batch;
  gsize nc = self->n_channels, nk = self->n_classes;
  guint cap;

  if (b->n + more <= b->cap)
    return;
  cap = MAX (b->n + more, 2 * b->cap);
  b->pts = g_renew (GstClockTime, b->pts, cap);
  b->duration = g_renew (GstClockTime, b->duration, cap);
  b->classes = g_renew (gint, b->classes, cap * nc);
  b->confidences = g_renew (gfloat, b->confidences, cap * nc);
  b->probs = g_renew (gfloat, b->probs, cap * nc * nk);
  b->cap = cap;
}

/* The frames [n_frames, n_frames + count) were completed; their posteriors
 * are in each channel's probs.  Records them for the meta, the messages and
 * the segments. */
static void
handle_frames (GstEarshot * self, guint count, gboolean for_meta)
{
  guint nk = self->n_classes, nc = self->n_channels;
  gdouble *p = g_newa (gdouble, nk);

  if (for_meta)
    batch_reserve (self, count);
  for (guint f = 0; f < count; f++) {
    guint64 j = self->n_frames;
    GstClockTime t0 = frame_time (self, j), t1 = frame_time (self, j + 1);
    Batch *b = &self->batch;
    guint bi = b->n;
    gboolean speech = FALSE;

    if (for_meta) {
      if (b->n == 0)
        b->first = j;
      b->pts[bi] = t0;
      b->duration[bi] = t1 - t0;
      b->n++;
    }
    for (guint c = 0; c < nc; c++) {
      Channel *ch = &self->channels[c];
      const gfloat *probs = ch->probs + (gsize) f * nk;
      gint best;

      for (guint k = 0; k < nk; k++)
        p[k] = probs[k];
      best = argmax (p, nk);
      speech |= (best == self->active->speech);
      if (for_meta) {
        b->classes[bi * nc + c] = best;
        b->confidences[bi * nc + c] = probs[best];
        memcpy (b->probs + ((gsize) bi * nc + c) * nk, probs,
            nk * sizeof (gfloat));
      }
      memcpy (ch->ring + (j % self->ring_size) * nk, probs,
          nk * sizeof (gfloat));
      if (self->cur.message_interval == 0) {
        if (self->cur.post_messages)
          queue_frame_message (self,
              self->cur.channel_mode == GST_EARSHOT_CHANNEL_MODE_EACH ?
              (gint) c : -1, j, 1, p);
      } else {
        for (guint k = 0; k < nk; k++)
          ch->agg[k] += p[k];
      }
    }
    self->last_speech = speech;
    if (for_meta)
      b->speech |= speech;
    self->n_frames = j + 1;

    if (self->cur.message_interval > 0) {
      if (self->agg_frames++ == 0)
        self->agg_first = j;
      if (GST_CLOCK_DIFF (frame_time (self, self->agg_first), t1) >=
          (GstClockTimeDiff) self->cur.message_interval)
        queue_interval_messages (self);
    }
    while (self->n_decided + self->ring_size / 2 < self->n_frames) {
      decide_frame (self, self->n_decided, self->n_frames - 1);
      self->n_decided++;
    }
  }
}

static void
ensure_probs (GstEarshot * self, gsize frames)
{
  if (frames <= self->probs_cap)
    return;
  self->probs_cap = MAX (frames, 2 * self->probs_cap);
  for (guint c = 0; c < self->n_channels; c++)
    self->channels[c].probs = g_renew (gfloat, self->channels[c].probs,
        self->probs_cap * self->n_classes);
}

static void
ensure_planes (GstEarshot * self, gsize n)
{
  if (n <= self->planes_cap)
    return;
  self->planes_cap = MAX (n, 2 * self->planes_cap);
  for (guint c = 0; c < self->n_channels; c++)
    self->planes[c] = g_renew (gfloat, self->planes[c], self->planes_cap);
}

/* The input's n interleaved frames as one F32 channel, in self->mix: the
 * mean of the channels (earshot_mix_down_*), or S16 mono read as
 * x / 32768.  GstAudioConverter's general matrix mix costs about 25
 * instructions per input sample (three times the whole network at
 * 44.1 kHz stereo); these loops a few. */
static const gfloat *
premix (GstEarshot * self, gconstpointer in, gsize n)
{
  guint nc = (guint) GST_AUDIO_INFO_CHANNELS (&self->in_info);

  if (n > self->mix_cap) {
    self->mix_cap = MAX (n, 2 * self->mix_cap);
    self->mix = g_renew (gfloat, self->mix, self->mix_cap);
  }
  if (GST_AUDIO_INFO_FORMAT (&self->in_info) == GST_AUDIO_FORMAT_F32)
    earshot_mix_down_f32 (in, n, nc, self->mix);
  else
    earshot_mix_down_s16 (in, n, nc, self->mix);
  return self->mix;
}

/* Classifies `in_frames` input samples (in: the buffer's planes).  At most
 * max_out model-rate samples are classified (the resampler's tail at the
 * end of a stream is cut to the input's length).  Returns how many were. */
static gsize
classify (GstEarshot * self, const gpointer * in, gsize in_frames,
    gsize max_out, gboolean count_input, gboolean for_meta)
{
  const gfloat **x = g_newa (const gfloat *, self->n_channels);
  gconstpointer mixed[1];
  gsize n_out, frames;

  if (self->premix) {
    mixed[0] = premix (self, in[0], in_frames);
    in = (const gpointer *) mixed;
  }
  if (self->rs != NULL) {
    ensure_planes (self, earshot_resampler_max_out (self->rs, in_frames));
    n_out = earshot_resampler_process (self->rs, in[0], in_frames,
        self->planes[0]);
    x[0] = self->planes[0];
  } else if (self->conv_passthrough) {
    n_out = in_frames;
    x[0] = in[0];
  } else {
    n_out = gst_audio_converter_get_out_frames (self->conv, in_frames);
    ensure_planes (self, n_out);
    if (!gst_audio_converter_samples (self->conv,
            GST_AUDIO_CONVERTER_FLAG_NONE, (gpointer *) in, in_frames,
            (gpointer *) self->planes, n_out)) {
      GST_WARNING_OBJECT (self, "conversion of %" G_GSIZE_FORMAT
          " samples failed; treating them as silence", in_frames);
      for (guint c = 0; c < self->n_channels; c++)
        memset (self->planes[c], 0, n_out * sizeof (gfloat));
    }
    for (guint c = 0; c < self->n_channels; c++)
      x[c] = self->planes[c];
  }
  n_out = MIN (n_out, max_out);
  if (count_input)
    self->in_samples += in_frames;
  if (n_out == 0)
    return 0;

  for (guint c = 0; c < self->n_channels; c++) {
    self->batch.sum_squares += earshot_features_sum_squares (x[c], n_out);
    self->batch.n_squares += n_out;
  }

  frames = earshot_stream_frames_for (self->channels[0].stream, n_out);
  ensure_probs (self, frames);
  for (guint c = 0; c < self->n_channels; c++) {
    gsize got = earshot_stream_process (self->channels[c].stream, x[c], n_out,
        self->channels[c].probs, NULL, frames);
    g_assert (got == frames);
  }
  self->out_samples += n_out;
  handle_frames (self, (guint) frames, for_meta);
  return n_out;
}

/* Classifies n input samples of silence (a GAP, the resampler's tail), in
 * the input format: the converter is given real samples, never NULL. */
static void
classify_silence (GstEarshot * self, guint64 n, gsize max_out,
    gboolean count_input)
{
  const GstAudioInfo *info = &self->in_info;
  gboolean planar =
      GST_AUDIO_INFO_LAYOUT (info) == GST_AUDIO_LAYOUT_NON_INTERLEAVED;
  guint n_planes = planar ? (guint) GST_AUDIO_INFO_CHANNELS (info) : 1;
  gsize chunk = (gsize) MIN (n, SILENCE_CHUNK);
  gsize plane_bytes = chunk * GST_AUDIO_INFO_BPF (info) / n_planes;
  guint8 *data;
  gpointer *planes = g_newa (gpointer, n_planes);

  if (n == 0)
    return;
  data = g_malloc (plane_bytes * n_planes);
  gst_audio_format_info_fill_silence (info->finfo, data,
      plane_bytes * n_planes);
  for (guint i = 0; i < n_planes; i++)
    planes[i] = data + i * plane_bytes;
  while (n > 0 && max_out > 0) {
    gsize len = (gsize) MIN (n, chunk);
    max_out -= classify (self, planes, len, max_out, count_input, FALSE);
    n -= len;
  }
  g_free (data);
}

/* Ends the analysis of the stream so far: the resampler's tail, the last
 * partial frames (zero-padded), the pending decisions and segments.  The
 * frames go to messages only.  Leaves the state to reset_state(). */
static void
drain (GstEarshot * self)
{
  gsize frames;

  if (!self->configured)
    return;
  if (self->in_samples > 0 && !self->conv_passthrough) {
    guint64 want = gst_util_uint64_scale_int_ceil (self->in_samples,
        self->model_rate, GST_AUDIO_INFO_RATE (&self->in_info));
    gsize tail = self->rs != NULL ? earshot_resampler_latency (self->rs) :
        gst_audio_converter_get_max_latency (self->conv);
    /* upsampling, GStreamer 1.22's resampler holds back one input sample
     * more than its latency says: 1000 model samples at 16 Hz, a second's
     * worth at 1 Hz */
    if (tail > 0 && want > self->out_samples)
      classify_silence (self, tail + 1, want - self->out_samples, FALSE);
  }
  frames = earshot_stream_frames_pending (self->channels[0].stream);
  if (frames > 0) {
    ensure_probs (self, frames);
    for (guint c = 0; c < self->n_channels; c++) {
      gsize got = earshot_stream_flush (self->channels[c].stream,
          self->channels[c].probs, NULL, frames);
      g_assert (got == frames);
    }
    handle_frames (self, (guint) frames, FALSE);
  }
  close_tracks (self);
  GST_DEBUG_OBJECT (self, "drained after %" G_GUINT64_FORMAT " frames",
      self->n_frames);
}

/* ---- State ------------------------------------------------------------- */

static GstAudioConverter *make_converter (const GstAudioInfo * in,
    guint rate, guint out_channels);

/* Back to the start of a stream: streams, converter, counters, smoothing,
 * segments.  Posts nothing (finalize calls it); close_tracks() first where
 * the open segments should be ended. */
static void
reset_state (GstEarshot * self)
{
  for (guint c = 0; c < self->n_channels; c++) {
    Channel *ch = &self->channels[c];
    earshot_stream_reset (ch->stream);
    memset (ch->agg, 0, self->n_classes * sizeof (gdouble));
    for (guint k = 0; k < self->n_classes; k++)
      track_reset (&ch->tracks[k]);
  }
  if (self->rs != NULL)
    earshot_resampler_reset (self->rs);
  if (self->conv && !self->conv_passthrough && self->in_samples > 0) {
    /* A new converter rather than gst_audio_converter_reset(): in GStreamer
     * 1.22 that leaves the resampler's filter phase where it was, so after
     * a reset at a rate that is no multiple of the model's (44.1 kHz into
     * 16 kHz) the output would differ from a fresh element's.  One that
     * has seen no samples since it was made or reset is fresh already. */
    GstAudioConverter *fresh = make_converter (&self->conv_info,
        self->model_rate, self->n_channels);
    if (fresh != NULL) {
      gst_audio_converter_free (self->conv);
      self->conv = fresh;
    } else {
      gst_audio_converter_reset (self->conv);
    }
  }
  self->in_samples = 0;
  self->out_samples = 0;
  self->n_frames = 0;
  self->n_decided = 0;
  self->ring_first = 0;
  self->anchor = GST_CLOCK_TIME_NONE;
  self->resume = GST_CLOCK_TIME_NONE;
  self->agg_frames = 0;
  self->last_speech = FALSE;
  batch_clear (&self->batch);
}

/* Frees the converter and channels (the streaming side's resources). */
static void
free_channels (GstEarshot * self)
{
  for (guint c = 0; c < self->n_channels; c++) {
    Channel *ch = &self->channels[c];
    earshot_stream_free (ch->stream);
    g_free (ch->probs);
    g_free (ch->ring);
    g_free (ch->agg);
    g_free (ch->tracks);
    g_free (self->planes[c]);
  }
  g_clear_pointer (&self->channels, g_free);
  g_clear_pointer (&self->planes, g_free);
  g_clear_pointer (&self->conv, gst_audio_converter_free);
  g_clear_pointer (&self->rs, earshot_resampler_free);
  g_clear_pointer (&self->mix, g_free);
  self->mix_cap = 0;
  self->premix = FALSE;
  batch_free (&self->batch);
  self->n_channels = 0;
  self->n_classes = 0;
  self->planes_cap = 0;
  self->probs_cap = 0;
  self->configured = FALSE;
}

static void
alloc_rings (GstEarshot * self)
{
  self->ring_size = self->cur.smoothing;
  self->ring_first = self->n_frames;
  for (guint c = 0; c < self->n_channels; c++) {
    g_free (self->channels[c].ring);
    self->channels[c].ring = g_new0 (gfloat,
        (gsize) self->ring_size * self->n_classes);
  }
}

static guint64
duration_to_frames (GstEarshot * self, GstClockTime d)
{
  guint64 hop_ns = gst_util_uint64_scale_int (self->hop, GST_SECOND,
      self->model_rate);
  guint64 n = hop_ns ? (d + hop_ns - 1) / hop_ns : 1;

  return MAX (n, 1);
}

static GstAudioConverter *
make_converter (const GstAudioInfo * in, guint rate, guint out_channels)
{
  GstAudioInfo out;
  GstStructure *config;
  guint in_channels = GST_AUDIO_INFO_CHANNELS (in);

  gst_audio_info_init (&out);
  gst_audio_info_set_format (&out, GST_AUDIO_FORMAT_F32, (gint) rate,
      (gint) out_channels, out_channels == in_channels ? in->position : NULL);
  /* one plane per channel; mono is the same either way, and interleaved
   * lets F32 mono at the model's rate pass without a copy */
  out.layout = out_channels > 1 ? GST_AUDIO_LAYOUT_NON_INTERLEAVED :
      GST_AUDIO_LAYOUT_INTERLEAVED;

  config = gst_structure_new ("GstEarshotConverter",
      GST_AUDIO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_AUDIO_DITHER_METHOD,
      GST_AUDIO_DITHER_NONE,
      GST_AUDIO_CONVERTER_OPT_NOISE_SHAPING_METHOD,
      GST_TYPE_AUDIO_NOISE_SHAPING_METHOD, GST_AUDIO_NOISE_SHAPING_NONE, NULL);

  /* An explicit matrix: the mix is the plain mean of the channels and
   * `each` the identity, whatever the channel positions say. */
  if (in_channels > 1) {
    GValue matrix = G_VALUE_INIT, row = G_VALUE_INIT, v = G_VALUE_INIT;

    g_value_init (&matrix, GST_TYPE_ARRAY);
    g_value_init (&v, G_TYPE_FLOAT);
    for (guint o = 0; o < out_channels; o++) {
      g_value_init (&row, GST_TYPE_ARRAY);
      for (guint i = 0; i < in_channels; i++) {
        if (out_channels == 1)
          g_value_set_float (&v, 1.0f / (gfloat) in_channels);
        else
          g_value_set_float (&v, i == o ? 1.0f : 0.0f);
        gst_value_array_append_value (&row, &v);
      }
      gst_value_array_append_and_take_value (&matrix, &row);
      memset (&row, 0, sizeof row);
    }
    g_value_unset (&v);
    gst_structure_take_value (config, GST_AUDIO_CONVERTER_OPT_MIX_MATRIX,
        &matrix);
  }
  return gst_audio_converter_new (GST_AUDIO_CONVERTER_FLAG_NONE,
      (GstAudioInfo *) in, &out, config);
}

/* Builds the converter and the channels for input `info` and model `m`
 * (which becomes the active one).  Posts an error and returns FALSE when
 * they cannot be made. */
static gboolean
configure (GstEarshot * self, const GstAudioInfo * info, ModelRef * m,
    const Settings * s)
{
  const earshot_features_config *cfg = earshot_model_features_config
      (m->model);
  GError *error = NULL;
  guint nc;
  GstClockTime latency;

  free_channels (self);
  model_ref_unref (self->active);
  self->active = model_ref_ref (m);
  self->cur = *s;

  if (!model_accepts_rate (m, GST_AUDIO_INFO_RATE (info), &error)) {
    post_error (self, error);
    g_error_free (error);
    return FALSE;
  }
  if (GST_AUDIO_INFO_RATE (info) < 2.0 * cfg->fmax)
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("Input sample rate %d Hz is lower than model \"%s\" expects: it "
            "listens up to %g Hz, the input holds up to %g Hz; results may "
            "be less accurate", GST_AUDIO_INFO_RATE (info), m->path,
            cfg->fmax, GST_AUDIO_INFO_RATE (info) / 2.0), (NULL));

  nc = s->channel_mode == GST_EARSHOT_CHANNEL_MODE_EACH ?
      (guint) GST_AUDIO_INFO_CHANNELS (info) : 1;
  /* Mixing down F32 or S16 interleaved ourselves (the formats decoders
   * give) is cheaper than the converter's mix; the converter then only
   * resamples, if the rate needs it. */
  self->conv_info = *info;
  self->premix = nc == 1
      && GST_AUDIO_INFO_LAYOUT (info) == GST_AUDIO_LAYOUT_INTERLEAVED
      && ((GST_AUDIO_INFO_FORMAT (info) == GST_AUDIO_FORMAT_F32
              && GST_AUDIO_INFO_CHANNELS (info) > 1)
      || GST_AUDIO_INFO_FORMAT (info) == GST_AUDIO_FORMAT_S16);
  if (self->premix) {
    gst_audio_info_init (&self->conv_info);
    gst_audio_info_set_format (&self->conv_info, GST_AUDIO_FORMAT_F32,
        GST_AUDIO_INFO_RATE (info), 1, NULL);
  }
  /* Down to the model's rate, F32 mono: our resampler (earshot_resample.h:
   * a tenth of the converter's cost at 44.1 kHz); anything else: the
   * converter. */
  if (nc == 1 && GST_AUDIO_INFO_FORMAT (&self->conv_info) ==
      GST_AUDIO_FORMAT_F32 && GST_AUDIO_INFO_CHANNELS (&self->conv_info) == 1
      && GST_AUDIO_INFO_LAYOUT (&self->conv_info) ==
      GST_AUDIO_LAYOUT_INTERLEAVED
      && earshot_resampler_supports ((guint) GST_AUDIO_INFO_RATE (info),
          cfg->sample_rate)
      && earshot_resampler_new ((guint) GST_AUDIO_INFO_RATE (info),
          cfg->sample_rate, &self->rs) != EARSHOT_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
        ("Cannot make a resampler from %d Hz to %u Hz: out of memory",
            GST_AUDIO_INFO_RATE (info), cfg->sample_rate), (NULL));
    return FALSE;
  }
  if (self->rs == NULL)
    self->conv = make_converter (&self->conv_info, cfg->sample_rate, nc);
  if (self->rs == NULL && self->conv == NULL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Cannot convert %s audio at %d Hz with %d channels to what model "
            "\"%s\" needs (%u Hz)",
            GST_AUDIO_INFO_NAME (info), GST_AUDIO_INFO_RATE (info),
            GST_AUDIO_INFO_CHANNELS (info), m->path, cfg->sample_rate),
        (NULL));
    return FALSE;
  }
  self->conv_passthrough = self->conv != NULL
      && gst_audio_converter_is_passthrough (self->conv)
      && GST_AUDIO_INFO_LAYOUT (&self->conv_info) ==
      GST_AUDIO_LAYOUT_INTERLEAVED && nc == 1;

  self->in_info = *info;
  self->model_rate = cfg->sample_rate;
  self->hop = cfg->hop_length;
  self->n_classes = m->n_classes;
  self->n_channels = nc;
  self->channels = g_new0 (Channel, nc);
  self->planes = g_new0 (gfloat *, nc);
  for (guint c = 0; c < nc; c++) {
    Channel *ch = &self->channels[c];
    earshot_status st = earshot_stream_new (m->model, &ch->stream);

    ch->agg = g_new0 (gdouble, self->n_classes);
    ch->tracks = g_new0 (ClassTrack, self->n_classes);
    if (st != EARSHOT_OK) {
      GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
          ("Cannot create a stream for model \"%s\": %s", m->path,
              earshot_status_str (st)), (NULL));
      self->n_channels = c + 1;
      free_channels (self);
      return FALSE;
    }
  }
  alloc_rings (self);
  self->min_segment_frames = duration_to_frames (self, s->min_segment);
  self->min_gap_frames = duration_to_frames (self, s->min_gap);
  self->configured = TRUE;
  reset_state (self);

  /* The window's look past its hop, plus the model's lookahead. */
  latency = gst_util_uint64_scale_int (cfg->win_length - cfg->hop_length
      + (guint64) earshot_model_lookahead (m->model) * cfg->hop_length,
      GST_SECOND, (gint) cfg->sample_rate);
  if (self->rs != NULL)
    latency += gst_util_uint64_scale_int (earshot_resampler_latency
        (self->rs), GST_SECOND, GST_AUDIO_INFO_RATE (info));
  else if (!self->conv_passthrough)
    latency += gst_util_uint64_scale_int (gst_audio_converter_get_max_latency
        (self->conv), GST_SECOND, GST_AUDIO_INFO_RATE (info));
  GST_OBJECT_LOCK (self);
  self->latency = latency;
  self->in_rate = GST_AUDIO_INFO_RATE (info);
  GST_OBJECT_UNLOCK (self);

  GST_INFO_OBJECT (self, "classifying %s %d Hz x %d as %u channel(s) at %u "
      "Hz with %s (%u classes), latency %" GST_TIME_FORMAT "%s",
      GST_AUDIO_INFO_NAME (info), GST_AUDIO_INFO_RATE (info),
      GST_AUDIO_INFO_CHANNELS (info), nc, self->model_rate, m->path,
      self->n_classes, GST_TIME_ARGS (latency),
      self->rs != NULL ? " (earshot's resampler)" :
      self->conv_passthrough ? " (no conversion)" : "");
  return TRUE;
}

/* Picks up property changes before a buffer or event: a new model
 * (finishing the old model's analysis first) and new settings. */
static gboolean
sync_settings (GstEarshot * self)
{
  ModelRef *m = NULL;
  Settings s;
  guint cookie;
  gboolean new_model;

  GST_OBJECT_LOCK (self);
  s = self->settings;
  cookie = self->model_cookie;
  new_model = cookie != self->active_cookie;
  if (new_model)
    m = model_ref_ref (self->model);
  GST_OBJECT_UNLOCK (self);

  if (new_model) {
    gboolean ok = FALSE;
    GstClockTime resume = input_end (self);

    GST_INFO_OBJECT (self, "switching to model %s", m ? m->path : "(none)");
    if (self->configured) {
      drain (self);
      reset_state (self);
    }
    self->active_cookie = cookie;
    if (m && GST_AUDIO_INFO_IS_VALID (&self->in_info))
      ok = configure (self, &self->in_info, m, &s);
    else if (m == NULL)
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No model set"), (NULL));
    model_ref_unref (m);
    self->resume = resume;
    return ok;
  }

  if (!self->configured) {
    self->cur = s;
    return TRUE;
  }
  if (s.smoothing != self->ring_size) {
    close_tracks (self);
    self->cur = s;
    alloc_rings (self);
  }
  /* channel_mode changes only in READY, with new caps */
  s.channel_mode = self->cur.channel_mode;
  self->cur = s;
  self->min_segment_frames = duration_to_frames (self, s.min_segment);
  self->min_gap_frames = duration_to_frames (self, s.min_gap);
  return TRUE;
}

/* Attaches the frames of the buffer (and the voice activity). */
static void
attach_metas (GstEarshot * self, GstBuffer * buf)
{
  Batch *b = &self->batch;
  guint nc = self->n_channels, nk = self->n_classes;

  if (b->n > 0) {
    GstEarshotMeta *meta = gst_buffer_add_earshot_meta (buf, b->n, nc, nk,
        (const gchar * const *) self->active->labels);

    if (meta) {
      meta->first_frame = b->first;
      memcpy (meta->pts, b->pts, b->n * sizeof (GstClockTime));
      memcpy (meta->duration, b->duration, b->n * sizeof (GstClockTime));
      for (guint c = 0; c < nc; c++) {
        for (guint f = 0; f < b->n; f++) {
          gsize src = (gsize) f * nc + c, dst = (gsize) c * b->n + f;
          meta->classes[dst] = b->classes[src];
          meta->confidences[dst] = b->confidences[src];
          memcpy (meta->probabilities + dst * nk, b->probs + src * nk,
              nk * sizeof (gfloat));
        }
      }
    }
  }

  if (self->active->speech >= 0) {
    gboolean voice = b->n > 0 ? b->speech : self->last_speech;
    GstAudioLevelMeta *level = gst_buffer_get_audio_level_meta (buf);

    if (level) {
      level->voice_activity = voice;
    } else {
      gdouble rms = b->n_squares ? sqrt (b->sum_squares / b->n_squares) : 0.0;
      gdouble dbov = rms > 0.0 ? -20.0 * log10 (rms) : 127.0;
      gst_buffer_add_audio_level_meta (buf, (guint8) CLAMP (lrint (dbov), 0,
              127), voice);
    }
  }
}

/* ---- GstBaseTransform / GstAudioFilter --------------------------------- */

static gboolean
gst_earshot_setup (GstAudioFilter * filter, const GstAudioInfo * info)
{
  GstEarshot *self = GST_EARSHOT (filter);
  ModelRef *m;
  Settings s;
  gboolean ok;
  GstClockTime resume;

  GST_OBJECT_LOCK (self);
  m = model_ref_ref (self->model);
  s = self->settings;
  self->active_cookie = self->model_cookie;
  GST_OBJECT_UNLOCK (self);

  if (self->configured && m == self->active
      && s.channel_mode == self->cur.channel_mode
      && gst_audio_info_is_equal (info, &self->in_info)) {
    model_ref_unref (m);
    return TRUE;
  }
  resume = input_end (self);
  if (self->configured) {
    /* new caps end the analysis of the old ones; the audio goes on */
    drain (self);
    post_messages (self);
  }
  if (m == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No model set"), (NULL));
    return FALSE;
  }
  ok = configure (self, info, m, &s);
  model_ref_unref (m);
  self->resume = resume;
  return ok;
}

/* What gst_audio_buffer_map() requires of a buffer's GstAudioMeta (it logs
 * a critical, or reads the planes as the meta says, otherwise): planar
 * audio needs a meta, and a meta must match the caps and fit the buffer.
 * Posts an error and returns FALSE when the buffer falls short. */
static gboolean
buffer_layout_ok (GstEarshot * self, GstBuffer * buf)
{
  const GstAudioInfo *info = GST_AUDIO_FILTER_INFO (self);
  GstAudioMeta *meta = gst_buffer_get_audio_meta (buf);

  if (meta == NULL && GST_AUDIO_INFO_LAYOUT (info) !=
      GST_AUDIO_LAYOUT_INTERLEAVED) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Non-interleaved audio buffer without a GstAudioMeta: the element "
            "upstream did not say where the channels' planes are"), (NULL));
    return FALSE;
  }
  if (meta && !gst_audio_info_is_equal (&meta->info, info)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Audio buffer's GstAudioMeta (%s, %d Hz, %d channels, %s) does not "
            "match the caps (%s, %d Hz, %d channels, %s)",
            GST_AUDIO_INFO_NAME (&meta->info), GST_AUDIO_INFO_RATE
            (&meta->info), GST_AUDIO_INFO_CHANNELS (&meta->info),
            GST_AUDIO_INFO_LAYOUT (&meta->info) ==
            GST_AUDIO_LAYOUT_INTERLEAVED ? "interleaved" : "non-interleaved",
            GST_AUDIO_INFO_NAME (info), GST_AUDIO_INFO_RATE (info),
            GST_AUDIO_INFO_CHANNELS (info),
            GST_AUDIO_INFO_LAYOUT (info) == GST_AUDIO_LAYOUT_INTERLEAVED ?
            "interleaved" : "non-interleaved"), (NULL));
    return FALSE;
  }
  if (meta && meta->samples > gst_buffer_get_size (buf) /
      GST_AUDIO_INFO_BPF (info)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Audio buffer's GstAudioMeta claims %" G_GSIZE_FORMAT " samples; "
            "the buffer holds %" G_GSIZE_FORMAT, meta->samples,
            gst_buffer_get_size (buf) / GST_AUDIO_INFO_BPF (info)), (NULL));
    return FALSE;
  }
  return TRUE;
}

static GstFlowReturn
gst_earshot_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstEarshot *self = GST_EARSHOT (trans);
  GstAudioBuffer abuf;

  if (!sync_settings (self)) {
    /* the new model could not be set up: the error is posted */
    post_messages (self);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (!self->configured) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("earshot received data before it could be configured"), (NULL));
    return GST_FLOW_NOT_NEGOTIATED;
  }

  if (GST_BUFFER_IS_DISCONT (buf) && self->in_samples > 0) {
    if (self->cur.reset_on_discont) {
      GST_DEBUG_OBJECT (self, "discontinuity at %" GST_TIME_FORMAT
          ": resetting", GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
      drain (self);
      reset_state (self);
    } else {
      GST_DEBUG_OBJECT (self, "discontinuity ignored (reset-on-discont=0)");
    }
  }
  batch_clear (&self->batch);

  if (!GST_CLOCK_TIME_IS_VALID (self->anchor)) {
    GstSegment *seg = &trans->segment;
    if (GST_BUFFER_PTS_IS_VALID (buf))
      self->anchor = GST_BUFFER_PTS (buf);
    else if (GST_CLOCK_TIME_IS_VALID (self->resume))
      self->anchor = self->resume;
    else if (seg->format == GST_FORMAT_TIME)
      self->anchor = seg->position != GST_CLOCK_TIME_NONE ?
          seg->position : seg->start;
    else
      self->anchor = 0;
    GST_DEBUG_OBJECT (self, "frame 0 at %" GST_TIME_FORMAT,
        GST_TIME_ARGS (self->anchor));
  }

  if (!buffer_layout_ok (self, buf))
    return GST_FLOW_ERROR;
  if (!gst_audio_buffer_map (&abuf, GST_AUDIO_FILTER_INFO (self), buf,
          GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot read an audio buffer"),
        (NULL));
    return GST_FLOW_ERROR;
  }
  classify (self, (const gpointer *) abuf.planes, abuf.n_samples, G_MAXSIZE,
      TRUE, TRUE);
  gst_audio_buffer_unmap (&abuf);

  attach_metas (self, buf);
  batch_clear (&self->batch);
  post_messages (self);
  return GST_FLOW_OK;
}

static gboolean
gst_earshot_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstEarshot *self = GST_EARSHOT (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
      /* the flushed audio is gone: end what was open, start afresh */
      close_tracks (self);
      if (self->configured)
        reset_state (self);
      break;
    case GST_EVENT_STREAM_START:
    case GST_EVENT_EOS:
      if (self->configured) {
        sync_settings (self);
        drain (self);
        reset_state (self);
      }
      break;
    case GST_EVENT_GAP:{
      GstClockTime ts, duration;

      gst_event_parse_gap (event, &ts, &duration);
      if (!self->configured || !sync_settings (self) || !self->configured
          || !GST_CLOCK_TIME_IS_VALID (duration))
        break;
      if (!GST_CLOCK_TIME_IS_VALID (self->anchor))
        self->anchor = GST_CLOCK_TIME_IS_VALID (ts) ? ts : 0;
      {
        guint64 n = gst_util_uint64_scale_int_round (duration,
            GST_AUDIO_INFO_RATE (&self->in_info), GST_SECOND);
        GST_DEBUG_OBJECT (self, "gap of %" G_GUINT64_FORMAT " samples "
            "classified as silence", n);
        classify_silence (self, n, G_MAXSIZE, TRUE);
      }
      break;
    }
    default:
      break;
  }
  /* ours first: they describe audio before the event */
  post_messages (self);
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_earshot_query (GstBaseTransform * trans, GstPadDirection direction,
    GstQuery * query)
{
  GstEarshot *self = GST_EARSHOT (trans);

  if (direction == GST_PAD_SRC && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max, ours;

    if (!GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction,
            query))
      return FALSE;
    gst_query_parse_latency (query, &live, &min, &max);
    GST_OBJECT_LOCK (self);
    ours = self->latency;
    GST_OBJECT_UNLOCK (self);
    GST_DEBUG_OBJECT (self, "upstream latency %" GST_TIME_FORMAT ", ours %"
        GST_TIME_FORMAT, GST_TIME_ARGS (min), GST_TIME_ARGS (ours));
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += ours;
    gst_query_set_latency (query, live, min, max);
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction,
      query);
}

static gboolean
gst_earshot_start (GstBaseTransform * trans)
{
  GstEarshot *self = GST_EARSHOT (trans);
  GError *error = NULL;
  gchar *name;
  gboolean need;

  GST_OBJECT_LOCK (self);
  need = self->model == NULL;
  if (self->model_error)
    error = g_error_copy (self->model_error);
  name = g_strdup (self->model_name);
  GST_OBJECT_UNLOCK (self);

  if (need && error == NULL) {
    /* `model` unset: the default model, if installed */
    ModelRef *m = model_load (name, &error);
    if (m) {
      GST_OBJECT_LOCK (self);
      if (self->model == NULL) {
        self->model = m;
        self->model_cookie++;
        m = NULL;
      }
      GST_OBJECT_UNLOCK (self);
      model_ref_unref (m);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABELS]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_PATH]);
    }
  }
  g_free (name);
  if (error) {
    post_error (self, error);
    g_error_free (error);
    return FALSE;
  }

  GST_OBJECT_LOCK (self);
  self->started = TRUE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_earshot_stop (GstBaseTransform * trans)
{
  GstEarshot *self = GST_EARSHOT (trans);

  reset_state (self);
  free_channels (self);
  g_clear_pointer (&self->active, model_ref_unref);
  gst_audio_info_init (&self->in_info);
  g_queue_clear_full (&self->messages, (GDestroyNotify) gst_message_unref);

  GST_OBJECT_LOCK (self);
  self->started = FALSE;
  self->in_rate = 0;
  self->latency = 0;
  self->active_cookie = self->model_cookie - 1;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* ---- GObject ----------------------------------------------------------- */

static void
gst_earshot_set_model (GstEarshot * self, const gchar * name)
{
  GError *error = NULL;
  ModelRef *m, *old;

  /* the file is read without any lock held */
  m = model_load (name, &error);

  GST_OBJECT_LOCK (self);
  if (m && self->in_rate > 0 && !model_accepts_rate (m, self->in_rate,
          &error))
    g_clear_pointer (&m, model_ref_unref);
  if (m == NULL && self->started) {
    /* running: the model in use stays; the application hears why */
    GST_OBJECT_UNLOCK (self);
    post_error (self, error);
    g_error_free (error);
    return;
  }
  old = self->model;
  self->model = m;
  g_free (self->model_name);
  self->model_name = g_strdup (name);
  g_clear_error (&self->model_error);
  /* unset while stopped: the default model is looked for at start */
  if (name == NULL || *name == '\0')
    g_clear_error (&error);
  self->model_error = error;
  self->model_cookie++;
  GST_OBJECT_UNLOCK (self);

  if (error)
    GST_WARNING_OBJECT (self, "%s", error->message);
  /* the streaming side holds its own reference until it has switched */
  model_ref_unref (old);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABELS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_PATH]);
}

static void
gst_earshot_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstEarshot *self = GST_EARSHOT (object);

  if (prop_id == PROP_MODEL) {
    gst_earshot_set_model (self, g_value_get_string (value));
    return;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_POST_MESSAGES:
      self->settings.post_messages = g_value_get_boolean (value);
      break;
    case PROP_MESSAGE_INTERVAL:
      self->settings.message_interval = g_value_get_uint64 (value);
      break;
    case PROP_THRESHOLD:
      self->settings.threshold = g_value_get_double (value);
      break;
    case PROP_SMOOTHING:
      self->settings.smoothing = g_value_get_uint (value);
      break;
    case PROP_MIN_SEGMENT:
      self->settings.min_segment = g_value_get_uint64 (value);
      break;
    case PROP_MIN_GAP:
      self->settings.min_gap = g_value_get_uint64 (value);
      break;
    case PROP_CHANNEL_MODE:
      self->settings.channel_mode = g_value_get_enum (value);
      break;
    case PROP_RESET_ON_DISCONT:
      self->settings.reset_on_discont = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_earshot_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstEarshot *self = GST_EARSHOT (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_name);
      break;
    case PROP_LABELS:
      g_value_set_boxed (value, self->model ? self->model->labels : NULL);
      break;
    case PROP_MODEL_PATH:
      g_value_set_string (value, self->model ? self->model->path : NULL);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->settings.post_messages);
      break;
    case PROP_MESSAGE_INTERVAL:
      g_value_set_uint64 (value, self->settings.message_interval);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, self->settings.threshold);
      break;
    case PROP_SMOOTHING:
      g_value_set_uint (value, self->settings.smoothing);
      break;
    case PROP_MIN_SEGMENT:
      g_value_set_uint64 (value, self->settings.min_segment);
      break;
    case PROP_MIN_GAP:
      g_value_set_uint64 (value, self->settings.min_gap);
      break;
    case PROP_CHANNEL_MODE:
      g_value_set_enum (value, self->settings.channel_mode);
      break;
    case PROP_RESET_ON_DISCONT:
      g_value_set_boolean (value, self->settings.reset_on_discont);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_earshot_finalize (GObject * object)
{
  GstEarshot *self = GST_EARSHOT (object);

  reset_state (self);
  free_channels (self);
  model_ref_unref (self->active);
  model_ref_unref (self->model);
  g_free (self->model_name);
  g_clear_error (&self->model_error);
  g_queue_clear_full (&self->messages, (GDestroyNotify) gst_message_unref);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_earshot_init (GstEarshot * self)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);

  /* In place but not passthrough: the base class then hands us a writable
   * buffer (a new GstBuffer sharing the same memory when needed) so metas
   * can be added; the memory itself is only ever mapped for reading. */
  gst_base_transform_set_in_place (trans, TRUE);
  gst_base_transform_set_passthrough (trans, FALSE);
  gst_base_transform_set_gap_aware (trans, TRUE);

  self->settings.post_messages = DEFAULT_POST_MESSAGES;
  self->settings.message_interval = DEFAULT_MESSAGE_INTERVAL;
  self->settings.threshold = DEFAULT_THRESHOLD;
  self->settings.smoothing = DEFAULT_SMOOTHING;
  self->settings.min_segment = DEFAULT_MIN_SEGMENT;
  self->settings.min_gap = DEFAULT_MIN_GAP;
  self->settings.channel_mode = DEFAULT_CHANNEL_MODE;
  self->settings.reset_on_discont = DEFAULT_RESET_ON_DISCONT;
  self->cur = self->settings;
  self->model_cookie = 1;
  self->active_cookie = 0;
  self->anchor = GST_CLOCK_TIME_NONE;
  self->resume = GST_CLOCK_TIME_NONE;
  gst_audio_info_init (&self->in_info);
  g_queue_init (&self->messages);
}

static void
gst_earshot_class_init (GstEarshotClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstAudioFilterClass *filter_class = GST_AUDIO_FILTER_CLASS (klass);
  GstCaps *caps;

  GST_DEBUG_CATEGORY_INIT (gst_earshot_debug, "earshot", 0,
      "audio classification");
  intern_message_names ();

  gobject_class->set_property = gst_earshot_set_property;
  gobject_class->get_property = gst_earshot_get_property;
  gobject_class->finalize = gst_earshot_finalize;

  /**
   * GstEarshot:model:
   *
   * The model: a `.earshot` file, or the name of an installed model, looked
   * up as NAME.earshot in the directories of $EARSHOT_MODEL_PATH
   * (separated like $PATH), then in the system directories: those of
   * $EARSHOT_MODEL_SYSTEM_PATH if it is set, else the install datadir and
   * the source tree's models/ (so a build that is not installed finds the
   * shipped models: "vad", speech/nonspeech, the default; "vad-lookahead",
   * the same decided 200 ms later (more latency, see the element's
   * documentation); "sms", speech/music/noise/silence, and
   * "sms-lookahead").  Unset: the default model, "vad".  May be changed
   * while
   * PLAYING: the
   * new model is loaded in the calling thread and takes over between two
   * buffers, with fresh state; a model that fails to load is reported as an
   * error and the current one stays.
   */
  properties[PROP_MODEL] = g_param_spec_string ("model", "Model",
      "Model file, or the name of an installed model (NAME.earshot in "
      "$EARSHOT_MODEL_PATH, " EARSHOT_MODELS_DIR " or "
      EARSHOT_SOURCE_MODELS_DIR "); unset: the default model \""
      DEFAULT_MODEL_NAME "\".  Elements using the same file share one "
      "loaded copy", NULL,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstEarshot:labels:
   *
   * The class names of the loaded model, in class-index order.
   */
  properties[PROP_LABELS] = g_param_spec_boxed ("labels", "Labels",
      "Class names of the loaded model, in class order", G_TYPE_STRV,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * GstEarshot:model-path:
   *
   * The file the loaded model was read from: `model` resolved through the
   * model search path.  %NULL until a model is loaded (an unset `model`
   * loads the default model when the element starts).  Tools read it to
   * learn which file a model name stands for.
   */
  properties[PROP_MODEL_PATH] = g_param_spec_string ("model-path",
      "Model path", "File the loaded model was read from (NULL until a model "
      "is loaded)", NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * GstEarshot:post-messages:
   *
   * Post `earshot` and `earshot-segment` element messages on the bus.
   */
  properties[PROP_POST_MESSAGES] = g_param_spec_boolean ("post-messages",
      "Post messages", "Post earshot and earshot-segment element messages",
      DEFAULT_POST_MESSAGES,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstEarshot:message-interval:
   *
   * 0: one `earshot` message per frame.  Otherwise one per interval of at
   * least this many nanoseconds of frames, with the mean posteriors.
   */
  properties[PROP_MESSAGE_INTERVAL] = g_param_spec_uint64 ("message-interval",
      "Message interval", "Time covered by one earshot message in ns "
      "(mean of its frames); 0: one message per frame", 0, G_MAXUINT64,
      DEFAULT_MESSAGE_INTERVAL,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstEarshot:threshold:
   *
   * Smoothed probability a frame's most probable class needs for the frame
   * to count towards that class's segment; frames below count as no class
   * (their labels are still reported in `earshot` messages and the meta).
   * With a model of more than two classes, transitions where no class
   * reaches it leave short gaps between segments.  At 0 the most probable
   * class always counts; with #GstEarshot:min-segment and
   * #GstEarshot:min-gap at 0 too, the segments are the runs of the smoothed
   * most probable class, end to end over the whole stream.
   */
  properties[PROP_THRESHOLD] = g_param_spec_double ("threshold", "Threshold",
      "Smoothed probability the most probable class needs for a frame to "
      "count towards its segment", 0.0, 1.0, DEFAULT_THRESHOLD,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstEarshot:smoothing:
   *
   * Width in frames of the centred moving average applied to the
   * posteriors before segment decisions (1: none).  Segment messages are
   * delayed by half of it.
   */
  properties[PROP_SMOOTHING] = g_param_spec_uint ("smoothing", "Smoothing",
      "Frames in the centred moving average of the posteriors used for "
      "segments (1: none)", 1, MAX_SMOOTHING, DEFAULT_SMOOTHING,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstEarshot:min-segment:
   *
   * A class's segment starts only after the class has been decided for
   * this long (ns, rounded up to whole frames).
   */
  properties[PROP_MIN_SEGMENT] = g_param_spec_uint64 ("min-segment",
      "Minimum segment", "Time in ns a class must be heard before its "
      "segment starts", 0, G_MAXUINT64, DEFAULT_MIN_SEGMENT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstEarshot:min-gap:
   *
   * A class's segment ends only after the class has not been decided for
   * this long (ns, rounded up to whole frames); shorter gaps are bridged.
   */
  properties[PROP_MIN_GAP] = g_param_spec_uint64 ("min-gap", "Minimum gap",
      "Time in ns a class must be absent before its segment ends; shorter "
      "gaps are bridged", 0, G_MAXUINT64, DEFAULT_MIN_GAP,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstEarshot:channel-mode:
   *
   * Classify the mean of the channels, or each channel with its own state
   * (meta and messages then carry one entry per channel).
   */
  properties[PROP_CHANNEL_MODE] = g_param_spec_enum ("channel-mode",
      "Channel mode", "Classify the mix of all channels, or each channel",
      GST_TYPE_EARSHOT_CHANNEL_MODE, DEFAULT_CHANNEL_MODE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstEarshot:reset-on-discont:
   *
   * On a buffer flagged DISCONT, finish the frames so far and restart with
   * fresh state anchored at the buffer's timestamp.  %FALSE: treat the
   * audio as contiguous.
   */
  properties[PROP_RESET_ON_DISCONT] = g_param_spec_boolean ("reset-on-discont",
      "Reset on discontinuity", "Finish the analysis and reset the state on "
      "a DISCONT buffer", DEFAULT_RESET_ON_DISCONT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  g_object_class_install_properties (gobject_class, N_PROPS, properties);

  gst_element_class_set_static_metadata (element_class,
      "Earshot audio classifier", "Filter/Analyzer/Audio",
      "Labels audio frames (speech, music, noise, custom classes) with a "
      "recurrent network; passes the audio through untouched",
      "Earshot project");

  caps = gst_caps_from_string (ALLOWED_CAPS);
  gst_audio_filter_class_add_pad_templates (filter_class, caps);
  gst_caps_unref (caps);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_earshot_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_earshot_stop);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_earshot_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_earshot_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_earshot_query);
  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_ip_on_passthrough = FALSE;
  filter_class->setup = GST_DEBUG_FUNCPTR (gst_earshot_setup);

  gst_type_mark_as_plugin_api (GST_TYPE_EARSHOT_CHANNEL_MODE, 0);
}
