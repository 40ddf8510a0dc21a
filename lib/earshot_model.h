/* earshot_model.h — the immutable model bundle and its file format.
 *
 * A model is everything needed to turn audio into class posteriors: the
 * front-end configuration, the per-band normalisation, the label names, the
 * network, and free-form metadata (training summary).  The file format is
 * documented in models/FORMAT.md.
 *
 *   earshot_model *m;
 *   char err[256];
 *   if (earshot_model_load ("vad.earshot", &m, err, sizeof err) != EARSHOT_OK)
 *     fprintf (stderr, "%s\n", err);
 *   ... earshot_stream_new (m, &s) as many times as needed ...
 *   earshot_model_free (m);     // after every stream using it is freed
 *
 * Thread safety: a model is immutable once created or loaded and may be
 * shared by any number of streams and threads.  It must outlive them.
 */
#ifndef EARSHOT_MODEL_H
#define EARSHOT_MODEL_H

#include "earshot.h"
#include "earshot_features.h"
#include "earshot_net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The newest format version earshot_model_load reads.  earshot_model_save
 * writes the lowest version that can describe the model: 1, or 2 when it
 * has a lookahead. */
#define EARSHOT_MODEL_FORMAT_VERSION 2u
/* Files larger than this are refused before anything is allocated. */
#define EARSHOT_MODEL_MAX_FILE_SIZE (1u << 30)
#define EARSHOT_MODEL_MAX_LABELS 1024u
#define EARSHOT_MODEL_MAX_LABEL_LEN 255u
#define EARSHOT_MODEL_MAX_META 256u
#define EARSHOT_MODEL_MAX_META_LEN 65535u
/* At most this many frames of lookahead (earshot_model_set_lookahead). */
#define EARSHOT_MODEL_MAX_LOOKAHEAD 1000u

typedef struct earshot_model earshot_model;

/* Builds a model from parts.  cfg, mean, std (n_mels floats each; both NULL
 * means mean 0, std 1), labels (n_labels NUL-terminated names, non-empty,
 * unique, at most EARSHOT_MODEL_MAX_LABEL_LEN bytes, no control characters)
 * are copied.  The net is taken over by the model on success (and left to
 * the caller on failure).  Its input width must be cfg->n_mels and its output
 * width n_labels. */
EARSHOT_API earshot_status earshot_model_new (const earshot_features_config *cfg,
    const float *mean, const float *std, const char *const *labels,
    size_t n_labels, earshot_net *net, earshot_model **out, char *err,
    size_t err_size);

/* Adds or replaces a metadata entry (key: 1..64 printable ASCII characters,
 * no '='; value: UTF-8 up to EARSHOT_MODEL_MAX_META_LEN bytes).  Only on a
 * model being built, before it is shared. */
EARSHOT_API earshot_status earshot_model_set_meta (earshot_model *m,
    const char *key, const char *value);

/* Sets the model's lookahead: the network's output at frame t is the
 * posterior of frame t - frames, so a stream holds each result back until
 * `frames` later frames have been seen (earshot_stream.h), and the model's
 * latency grows by frames x hop.  0 (the default) is a causal model.
 * EARSHOT_ERR_INVALID above EARSHOT_MODEL_MAX_LOOKAHEAD.  Only on a model
 * being built, before it is shared. */
EARSHOT_API earshot_status earshot_model_set_lookahead (earshot_model *m,
    uint32_t frames);
EARSHOT_API uint32_t earshot_model_lookahead (const earshot_model *m);

/* Loads a model file.  Every size and count is validated before anything is
 * allocated; truncated, oversized, corrupted (checksum), newer-version or
 * inconsistent files are refused with a message that names the problem. */
EARSHOT_API earshot_status earshot_model_load (const char *path,
    earshot_model **out, char *err, size_t err_size);

/* Same, from memory (the bytes are not kept). */
EARSHOT_API earshot_status earshot_model_load_memory (const void *data,
    size_t size, earshot_model **out, char *err, size_t err_size);

/* Serialises to a malloc'd buffer (*data, *size; free() it). */
EARSHOT_API earshot_status earshot_model_save_memory (const earshot_model *m,
    void **data, size_t *size);

/* Writes the file atomically: a temporary file beside `path`, fsync, then
 * rename over `path`.  On failure no file is left behind. */
EARSHOT_API earshot_status earshot_model_save (const earshot_model *m,
    const char *path, char *err, size_t err_size);

/* Frees; NULL is a no-op. */
EARSHOT_API void earshot_model_free (earshot_model *m);

EARSHOT_API const earshot_features_config *earshot_model_features_config (
    const earshot_model *m);
/* n_mels floats each. */
EARSHOT_API const float *earshot_model_norm_mean (const earshot_model *m);
EARSHOT_API const float *earshot_model_norm_std (const earshot_model *m);
EARSHOT_API const earshot_net *earshot_model_net (const earshot_model *m);
EARSHOT_API size_t earshot_model_n_labels (const earshot_model *m);
EARSHOT_API const char *earshot_model_label (const earshot_model *m, size_t i);
/* Index of the label `name`, or -1. */
EARSHOT_API int earshot_model_find_label (const earshot_model *m,
    const char *name);
/* Metadata entries in insertion order; get returns NULL for an unknown key. */
EARSHOT_API size_t earshot_model_n_meta (const earshot_model *m);
EARSHOT_API const char *earshot_model_meta_key (const earshot_model *m, size_t i);
EARSHOT_API const char *earshot_model_meta_value (const earshot_model *m,
    size_t i);
EARSHOT_API const char *earshot_model_get_meta (const earshot_model *m,
    const char *key);
/* Format version the model was loaded from; for a model built in memory,
 * the version earshot_model_save would write. */
EARSHOT_API uint32_t earshot_model_format_version (const earshot_model *m);

#ifdef __cplusplus
}
#endif

#endif /* EARSHOT_MODEL_H */
