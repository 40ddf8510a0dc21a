/* dataset.c — a manifest and its label files, turned into log-mel features
 * and per-frame targets, with an on-disk cache.
 *
 * Cache.  Decoding is the slow part of data preparation, so results are
 * kept in a cache folder, keyed by what they depend on:
 *
 *   features/KEY.mel   raw (un-normalised) log-mel frames of one file;
 *                      KEY = SHA-256 of (the file's SHA-256, every front-end
 *                      field, libearshot's and GStreamer's versions)
 *   audio/KEY.f32      the decoded mono samples at one rate; KEY = SHA-256 of
 *                      (the file's SHA-256, the rate, GStreamer's version)
 *
 * Features are what every run needs; decoded audio is cached only when
 * augmentation is on, because augmented epochs alter the audio and run the
 * front end again on it.  Content keys (not names or dates) mean a renamed
 * or copied file still hits and an edited one never does.  Cache files are
 * written to a temporary name and renamed, so a crash or a concurrent run
 * never leaves a partial one; a cache file that fails its checks is ignored
 * and rewritten.  The cache is an optimisation only: when it cannot be
 * written, training goes on without it.
 */
#include "earshot-tool.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- front-end pool --------------------------------------------------- */

struct es_fe_pool {
  earshot_features_config cfg;
  GAsyncQueue *idle;            /* earshot_features * not in use */
};

es_fe_pool *
es_fe_pool_new (const earshot_features_config *cfg, GError **error)
{
  char msg[256];
  if (earshot_features_config_check (cfg, msg, sizeof msg) != EARSHOT_OK) {
    g_set_error (error, ES_ERROR, ES_ERROR_USAGE, "front end: %s", msg);
    return NULL;
  }
  es_fe_pool *pool = g_new0 (es_fe_pool, 1);
  pool->cfg = *cfg;
  pool->idle = g_async_queue_new ();
  return pool;
}

void
es_fe_pool_free (es_fe_pool *pool)
{
  if (pool == NULL)
    return;
  earshot_features *fe;
  while ((fe = g_async_queue_try_pop (pool->idle)) != NULL)
    earshot_features_free (fe);
  g_async_queue_unref (pool->idle);
  g_free (pool);
}

gboolean
es_compute_features (es_fe_pool *pool, const float *x, gsize n,
    float **frames, gsize *n_frames, GError **error)
{
  earshot_features *fe = g_async_queue_try_pop (pool->idle);
  char msg[256];

  if (fe == NULL && earshot_features_new (&pool->cfg, NULL, NULL, &fe, msg,
          sizeof msg) != EARSHOT_OK) {
    g_set_error (error, ES_ERROR, ES_ERROR_FAILED, "front end: %s", msg);
    return FALSE;
  }
  earshot_features_reset (fe);

  const guint n_mels = pool->cfg.n_mels, hop = pool->cfg.hop_length;
  /* After n samples and a flush there are exactly ceil(n / hop) frames. */
  gsize cap = (n + hop - 1) / hop;
  float *out = g_new (float, (cap ? cap : 1) * n_mels);
  gsize k = 0;
  gboolean stuck = FALSE;

  while (n > 0 && !stuck) {
    gsize used = earshot_features_push (fe, x, n);
    gsize before = k;
    x += used;
    n -= used;
    while (k < cap && earshot_features_pull (fe, out + k * n_mels))
      k++;
    stuck = used == 0 && k == before;   /* more frames than ceil(n/hop) */
  }
  earshot_features_flush (fe);
  while (k < cap && earshot_features_pull (fe, out + k * n_mels))
    k++;
  if (stuck)
    k = cap + 1;
  earshot_features_reset (fe);
  g_async_queue_push (pool->idle, fe);

  if (k != cap) {
    g_free (out);
    g_set_error (error, ES_ERROR, ES_ERROR_FAILED,
        "front end produced %zu frames where %zu were expected", k, cap);
    return FALSE;
  }
  *frames = out;
  *n_frames = cap;
  return TRUE;
}

void
es_normalise (float *frames, gsize n_frames, guint n_mels, const float *mean,
    const float *std)
{
  for (gsize t = 0; t < n_frames; t++)
    for (guint m = 0; m < n_mels; m++)
      frames[t * n_mels + m] = (frames[t * n_mels + m] - mean[m]) / std[m];
}

/* ---- cache files ------------------------------------------------------ */

#define CACHE_MAGIC "ESCACHE1"
#define CACHE_BOM 0x01020304u   /* host byte order; another order misses */
#define CACHE_HEADER 40
enum { CACHE_AUDIO = 1, CACHE_FEATURES = 2 };

typedef struct {
  guint32 kind, width, rate;
  guint64 n_rows;               /* rows of `width` floats */
  guint64 n_samples;            /* the decoded length behind them */
} cache_header;

char *
es_default_cache_dir (void)
{
  return g_build_filename (g_get_user_cache_dir (), "earshot", NULL);
}

static char *
sha256_hex (const char *text)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
}

/* The "cache 2" in the keys: decoding has mixed down and resampled as the
 * element does since then (decode.c); cache 1 entries, from audioconvert
 * and audioresample, are never read again.  Features are at "cache 3":
 * the front end's FFT follows shipped plans since (features.c), which
 * round differently from FFTW_ESTIMATE's own. */
static char *
audio_key (const char *sha, guint rate)
{
  char *gst = gst_version_string ();
  char *text = g_strdup_printf ("earshot audio cache 2\n%s\nrate=%u\n"
      "gstreamer=%s\n", sha, rate, gst);
  char *key = sha256_hex (text);
  g_free (text);
  g_free (gst);
  return key;
}

static char *
features_key (const char *sha, const earshot_features_config *c)
{
  /* %a: floats exactly, so any change of a field changes the key. */
  char *gst = gst_version_string ();
  char *text = g_strdup_printf ("earshot features cache 3\n%s\n"
      "rate=%u win=%u hop=%u n_fft=%u mels=%u fmin=%a fmax=%a window=%d "
      "scale=%d floor=%a\nlibearshot=%s\ngstreamer=%s\n", sha,
      c->sample_rate, c->win_length, c->hop_length, c->n_fft, c->n_mels,
      (double) c->fmin, (double) c->fmax, (int) c->window, (int) c->mel_scale,
      (double) c->log_floor, earshot_version (), gst);
  char *key = sha256_hex (text);
  g_free (text);
  g_free (gst);
  return key;
}

static char *
cache_path (const char *dir, const char *sub, const char *key,
    const char *ext)
{
  char *name = g_strconcat (key, ext, NULL);
  char *p = g_build_filename (dir, sub, name, NULL);
  g_free (name);
  return p;
}

/* Reads a cache file; FALSE (silently) if it is missing or fails a check. */
static gboolean
cache_read (const char *path, const cache_header *want, cache_header *got,
    float **data)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return FALSE;

  unsigned char h[CACHE_HEADER];
  gboolean ok = fread (h, 1, CACHE_HEADER, f) == CACHE_HEADER
      && memcmp (h, CACHE_MAGIC, 8) == 0;
  guint32 u[4];
  guint64 rows = 0, samples = 0;
  if (ok) {
    memcpy (u, h + 8, sizeof u);
    memcpy (&rows, h + 24, 8);
    memcpy (&samples, h + 32, 8);
    ok = u[0] == CACHE_BOM && u[1] == want->kind && u[2] == want->width
        && u[3] == want->rate && rows > 0 && rows <= (G_MAXSIZE / 4) / u[2];
  }
  float *d = NULL;
  if (ok) {
    gsize n = (gsize) rows * u[2];
    d = g_try_malloc (n * sizeof (float));
    ok = d != NULL && fread (d, sizeof (float), n, f) == n
        && fgetc (f) == EOF;
  }
  fclose (f);
  if (!ok) {
    g_free (d);
    return FALSE;
  }
  got->kind = u[1];
  got->width = u[2];
  got->rate = u[3];
  got->n_rows = rows;
  got->n_samples = samples;
  *data = d;
  return TRUE;
}

/* Writes a cache file atomically; failures only warn, once per run. */
static void
cache_write (const char *path, const cache_header *h, const float *data)
{
  static gint warned = 0;
  char *dir = g_path_get_dirname (path);
  char *tmp = g_strconcat (path, ".XXXXXX", NULL);
  int fd = -1;
  gboolean ok = g_mkdir_with_parents (dir, 0755) == 0
      && (fd = g_mkstemp (tmp)) >= 0;
  FILE *f = ok ? fdopen (fd, "wb") : NULL;
  if (ok && f == NULL) {
    close (fd);
    ok = FALSE;
  }
  if (ok) {
    unsigned char hb[CACHE_HEADER];
    guint32 u[4] = { CACHE_BOM, h->kind, h->width, h->rate };
    memcpy (hb, CACHE_MAGIC, 8);
    memcpy (hb + 8, u, sizeof u);
    memcpy (hb + 24, &h->n_rows, 8);
    memcpy (hb + 32, &h->n_samples, 8);
    gsize n = (gsize) h->n_rows * h->width;
    ok = fwrite (hb, 1, CACHE_HEADER, f) == CACHE_HEADER
        && fwrite (data, sizeof (float), n, f) == n;
    ok = fclose (f) == 0 && ok;
    ok = ok && g_rename (tmp, path) == 0;
  }
  int e = errno;
  if (!ok) {
    if (fd >= 0)
      g_unlink (tmp);
    if (g_atomic_int_compare_and_exchange (&warned, 0, 1))
      es_print_warning ("cannot write the cache in %s (%s); going on "
          "without it", dir, g_strerror (e));
  }
  g_free (tmp);
  g_free (dir);
}

/* ---- decoded audio, through the cache --------------------------------- */

static gboolean
load_audio_hashed (const char *path, const char *sha, guint rate,
    const char *cache_dir, float **samples, gsize *n_samples, GError **error)
{
  char *file = NULL;
  if (cache_dir != NULL) {
    char *key = audio_key (sha, rate);
    file = cache_path (cache_dir, "audio", key, ".f32");
    g_free (key);
    cache_header want = { CACHE_AUDIO, 1, rate, 0, 0 }, got;
    if (cache_read (file, &want, &got, samples)) {
      *n_samples = got.n_rows;
      g_free (file);
      return TRUE;
    }
  }
  if (!es_decode_file (path, rate, samples, n_samples, error)) {
    g_free (file);
    return FALSE;
  }
  if (file != NULL) {
    cache_header h = { CACHE_AUDIO, 1, rate, *n_samples, *n_samples };
    cache_write (file, &h, *samples);
    g_free (file);
  }
  return TRUE;
}

gboolean
es_load_audio (const char *path, guint rate, const char *cache_dir,
    float **samples, gsize *n_samples, char sha256[65], GError **error)
{
  char sha[65];
  if (!es_sha256_file (path, sha, error))
    return FALSE;
  if (sha256 != NULL)
    memcpy (sha256, sha, 65);
  return load_audio_hashed (path, sha, rate, cache_dir, samples, n_samples,
      error);
}

/* Everything for one item: hash, features (cache or decode), audio if kept. */
static gboolean
extract_item (es_item *it, es_fe_pool *pool, const es_extract_opts *o,
    GError **error)
{
  const earshot_features_config *cfg = o->cfg;
  char *file = NULL;
  gboolean have_features = FALSE;

  if (!es_sha256_file (it->audio, it->sha256, error))
    return FALSE;

  if (o->cache_dir != NULL) {
    char *key = features_key (it->sha256, cfg);
    file = cache_path (o->cache_dir, "features", key, ".mel");
    g_free (key);
    cache_header want = { CACHE_FEATURES, cfg->n_mels, cfg->sample_rate, 0,
      0 }, got;
    /* The frame count must follow from the sample count (a sanity check
     * that also catches a cache written by a different framing). */
    if (cache_read (file, &want, &got, &it->features)) {
      if (got.n_rows == (got.n_samples + cfg->hop_length - 1)
          / cfg->hop_length) {
        it->n_frames = got.n_rows;
        it->n_samples = got.n_samples;
        have_features = TRUE;
      } else {
        g_clear_pointer (&it->features, g_free);
      }
    }
  }
  if (have_features && !o->keep_audio) {
    g_free (file);
    return TRUE;
  }

  float *x;
  gsize n;
  if (!load_audio_hashed (it->audio, it->sha256, cfg->sample_rate,
          o->keep_audio ? o->cache_dir : NULL, &x, &n, error)) {
    g_free (file);
    return FALSE;
  }
  if (!have_features) {
    if (!es_compute_features (pool, x, n, &it->features, &it->n_frames,
            error)) {
      g_free (x);
      g_free (file);
      return FALSE;
    }
    it->n_samples = n;
    if (file != NULL) {
      cache_header h = { CACHE_FEATURES, cfg->n_mels, cfg->sample_rate,
        it->n_frames, n };
      cache_write (file, &h, it->features);
    }
  }
  g_free (file);
  if (o->keep_audio)
    it->samples = x;
  else
    g_free (x);
  return TRUE;
}

/* ---- parallel extraction ---------------------------------------------- */

typedef struct {
  es_dataset *ds;
  es_fe_pool *pool;
  const es_extract_opts *opts;
  GError **errors;              /* [n_items] */
  gint first_failed;            /* lowest failed index (atomic), or n */
  GMutex lock;
  GCond done_cond;
  gsize done;                   /* protected by lock */
} extract_job;

static void
extract_worker (gpointer data, gpointer user)
{
  extract_job *job = user;
  gsize i = GPOINTER_TO_SIZE (data) - 1;

  /* Items after a failure are skipped, items before it still run: the
   * error reported is always the first bad file in manifest order. */
  if ((gint) i < g_atomic_int_get (&job->first_failed)
      && !extract_item (&job->ds->items[i], job->pool, job->opts,
          &job->errors[i])) {
    gint cur;
    while ((cur = g_atomic_int_get (&job->first_failed)) > (gint) i
        && !g_atomic_int_compare_and_exchange (&job->first_failed, cur,
            (gint) i))
      ;
  }
  g_mutex_lock (&job->lock);
  job->done++;
  g_cond_signal (&job->done_cond);
  g_mutex_unlock (&job->lock);
}

gboolean
es_dataset_extract (es_dataset *ds, es_fe_pool *pool,
    const es_extract_opts *o, GError **error)
{
  extract_job job = {
    .ds = ds,
    .pool = pool,
    .opts = o,
    .errors = g_new0 (GError *, ds->n_items),
    .first_failed = (gint) ds->n_items,
  };
  g_mutex_init (&job.lock);
  g_cond_init (&job.done_cond);

  GThreadPool *tp = g_thread_pool_new (extract_worker, &job,
      (gint) MAX (1, o->n_threads), FALSE, NULL);
  for (gsize i = 0; i < ds->n_items; i++)
    g_thread_pool_push (tp, GSIZE_TO_POINTER (i + 1), NULL);

  es_progress bar;
  es_progress_start (&bar, o->progress);
  g_mutex_lock (&job.lock);
  while (job.done < ds->n_items) {
    gint64 until = g_get_monotonic_time () + 100000;
    g_cond_wait_until (&job.done_cond, &job.lock, until);
    gsize done = job.done;
    g_mutex_unlock (&job.lock);
    es_progress_update (&bar, o->what ? o->what : "reading audio", done,
        ds->n_items, "files");
    g_mutex_lock (&job.lock);
  }
  g_mutex_unlock (&job.lock);
  es_progress_clear (&bar);
  g_thread_pool_free (tp, FALSE, TRUE);

  gboolean ok = job.first_failed == (gint) ds->n_items;
  if (!ok)
    g_propagate_prefixed_error (error,
        g_steal_pointer (&job.errors[job.first_failed]), "%s line %u: ",
        ds->path, ds->items[job.first_failed].line);
  for (gsize i = 0; i < ds->n_items; i++)
    g_clear_error (&job.errors[i]);
  g_free (job.errors);
  g_mutex_clear (&job.lock);
  g_cond_clear (&job.done_cond);
  return ok;
}

/* ---- manifests and label files ---------------------------------------- */

void
es_dataset_free (es_dataset *ds)
{
  if (ds == NULL)
    return;
  for (gsize i = 0; i < ds->n_items; i++) {
    es_item *it = &ds->items[i];
    g_free (it->audio);
    g_free (it->label_path);
    g_free (it->label_key);
    g_free (it->features);
    g_free (it->samples);
    g_free (it->targets);
  }
  g_free (ds->items);
  if (ds->label_lists != NULL)
    g_ptr_array_unref (ds->label_lists);
  earshot_manifest_free (ds->manifest);
  g_free (ds->path);
  g_free (ds);
}

/* The `file` value of a label list that names `audio`: the longest one that
 * is the audio path itself or a tail of it after a '/'.  NULL if none. */
static const char *
find_label_key (const earshot_label_list *l, const char *audio)
{
  const char *best = NULL;
  size_t best_len = 0, n = earshot_label_list_count (l);
  size_t alen = strlen (audio);

  for (size_t i = 0; i < n; i++) {
    const char *f = earshot_label_list_get (l, i)->file;
    if (f == NULL)
      continue;
    const char *k = g_str_has_prefix (f, "./") ? f + 2 : f;
    size_t klen = strlen (k);
    gboolean match = strcmp (k, audio) == 0 || (klen < alen
        && audio[alen - klen - 1] == '/' && strcmp (audio + alen - klen, k)
        == 0);
    if (match && klen > best_len) {
      best = f;
      best_len = klen;
    }
  }
  return best;
}

static gboolean
list_has_files (const earshot_label_list *l)
{
  size_t n = earshot_label_list_count (l);
  for (size_t i = 0; i < n; i++)
    if (earshot_label_list_get (l, i)->file != NULL)
      return TRUE;
  return FALSE;
}

gboolean
es_dataset_open (const char *manifest_path, es_dataset **out, GError **error)
{
  char *text = NULL;
  gsize len = 0;
  GError *e = NULL;
  char msg[512];

  *out = NULL;
  if (!g_file_get_contents (manifest_path, &text, &len, &e)) {
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot read the manifest: %s",
        e->message);
    g_error_free (e);
    return FALSE;
  }
  es_dataset *ds = g_new0 (es_dataset, 1);
  ds->path = g_strdup (manifest_path);
  ds->label_lists = g_ptr_array_new_with_free_func (
      (GDestroyNotify) earshot_label_list_free);
  /* A manifest in the current folder: paths stay as written. */
  char *base = g_path_get_dirname (manifest_path);
  earshot_status st = earshot_manifest_parse (text, len,
      strcmp (base, ".") == 0 ? NULL : base, &ds->manifest, msg, sizeof msg);
  g_free (base);
  g_free (text);
  if (st != EARSHOT_OK) {
    g_set_error (error, ES_ERROR, ES_ERROR_DATA, "%s: %s", manifest_path,
        msg);
    es_dataset_free (ds);
    return FALSE;
  }

  ds->n_items = earshot_manifest_count (ds->manifest);
  ds->items = g_new0 (es_item, ds->n_items);
  /* A label file named by several lines is parsed once. */
  GHashTable *parsed = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean ok = TRUE;

  for (gsize i = 0; ok && i < ds->n_items; i++) {
    const earshot_manifest_entry *en = earshot_manifest_get (ds->manifest, i);
    es_item *it = &ds->items[i];
    it->audio = g_strdup (en->audio);
    it->line = en->line;
    if (en->labels == NULL) {
      it->labels = earshot_manifest_labels (ds->manifest);
      it->label_key = g_strdup (earshot_manifest_label_key (ds->manifest, i));
      continue;
    }
    it->label_path = g_strdup (en->labels);
    earshot_label_list *l = g_hash_table_lookup (parsed, en->labels);
    if (l == NULL) {
      if (!g_file_get_contents (en->labels, &text, &len, &e)) {
        g_set_error (error, ES_ERROR, ES_ERROR_IO,
            "cannot read the label file of %s (%s line %u): %s", en->audio,
            manifest_path, en->line, e->message);
        g_clear_error (&e);
        ok = FALSE;
        break;
      }
      st = earshot_labels_parse (text, len, EARSHOT_LABELS_AUTO, &l, NULL,
          msg, sizeof msg);
      g_free (text);
      if (st != EARSHOT_OK) {
        g_set_error (error, ES_ERROR, ES_ERROR_DATA, "%s: %s", en->labels,
            msg);
        ok = FALSE;
        break;
      }
      g_ptr_array_add (ds->label_lists, l);
      g_hash_table_insert (parsed, it->label_path, l);
    }
    it->labels = l;
    if (list_has_files (l)) {
      /* One label file for many clips: its rows for this audio file. */
      const char *key = find_label_key (l, it->audio);
      if (key == NULL)
        es_print_warning ("%s has no rows for %s: all of it is background",
            en->labels, it->audio);
      it->label_key = g_strdup (key ? key : "");
    }
  }
  g_hash_table_unref (parsed);
  if (!ok) {
    es_dataset_free (ds);
    return FALSE;
  }
  *out = ds;
  return TRUE;
}

static gboolean
label_applies (const earshot_label *e, const char *key)
{
  return e->label != NULL && (e->file == NULL || key == NULL
      || strcmp (e->file, key) == 0);
}

void
es_dataset_collect_labels (const es_dataset *ds, GHashTable *names)
{
  for (gsize i = 0; i < ds->n_items; i++) {
    const es_item *it = &ds->items[i];
    size_t n = earshot_label_list_count (it->labels);
    for (size_t j = 0; j < n; j++) {
      const earshot_label *e = earshot_label_list_get (it->labels, j);
      if (label_applies (e, it->label_key))
        g_hash_table_add (names, (gpointer) e->label);
    }
  }
}

gboolean
es_item_targets (const es_dataset *ds, es_item *it,
    const char *const *classes, gsize n_classes, int32_t background,
    guint sample_rate, guint hop, GError **error)
{
  char msg[512];

  g_free (it->targets);
  it->targets = g_new (int32_t, MAX (it->n_frames, 1));
  double duration = (double) it->n_samples / sample_rate;
  earshot_status st = earshot_labels_to_targets (it->labels, it->label_key,
      classes, n_classes, background, sample_rate, hop, it->n_frames,
      duration, it->targets, msg, sizeof msg);
  if (st != EARSHOT_OK) {
    g_set_error (error, ES_ERROR, ES_ERROR_DATA, "%s: %s (audio file %s)",
        it->label_path ? it->label_path : ds->path, msg, it->audio);
    return FALSE;
  }
  return TRUE;
}

gboolean
es_dataset_targets (es_dataset *ds, const char *const *classes,
    gsize n_classes, int32_t background, const earshot_features_config *cfg,
    GError **error)
{
  for (gsize i = 0; i < ds->n_items; i++)
    if (!es_item_targets (ds, &ds->items[i], classes, n_classes, background,
            cfg->sample_rate, cfg->hop_length, error))
      return FALSE;
  return TRUE;
}
