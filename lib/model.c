/* model.c — the immutable model bundle and the .earshot file format.
 *
 * The format is documented in models/FORMAT.md; in short:
 *
 *   "EARSHOT\x1a"  u32 version  u32 n_sections
 *   n_sections x { char tag[4]  u32 reserved(0)  u64 length  byte payload[length] }
 *   u32 crc32 of every byte before it
 *
 * all integers and floats little-endian.  Parsing never trusts a count: every
 * length is checked against the bytes that are actually there before it is
 * used, and the only allocations are bounded by the file's own size.
 */
#include "earshot_model.h"
#include "earshot_private.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "EARSHOT\x1a"
#define MAGIC_LEN 8
#define HEADER_LEN (MAGIC_LEN + 4 + 4)
#define SECTION_HEADER_LEN 16
#define CRC_LEN 4
#define MAX_SECTIONS 64
#define FEAT_LEN 40
#define LOOK_LEN 4
#define META_KEY_MAX 64

struct earshot_model {
  earshot_features_config features;
  float *mean;                  /* [n_mels] */
  float *std;                   /* [n_mels] */
  char **labels;                /* [n_labels] owned strings */
  size_t n_labels;
  earshot_net *net;             /* owned */
  char **meta_keys;             /* [n_meta] owned strings */
  char **meta_values;           /* [n_meta] owned strings */
  size_t n_meta;
  uint32_t lookahead;           /* frames; 0: causal */
  uint32_t format_version;
};

/* Starts a section and returns the offset of its length field, patched by
 * section_end once the payload is written. */
static size_t
section_begin (earshot_buf *o, const char tag[4])
{
  earshot_buf_put (o, tag, 4);
  earshot_buf_put_u32 (o, 0);
  size_t at = o->len;
  earshot_buf_put_u64 (o, 0);
  return at;
}

static void
section_end (earshot_buf *o, size_t at)
{
  if (o->failed)
    return;
  uint64_t len = o->len - (at + 8);
  for (int i = 0; i < 8; i++)
    o->data[at + i] = (unsigned char) (len >> (8 * i));
}

/* ---- validation helpers ---------------------------------------------- */

/* Well-formed UTF-8: no overlong forms, no surrogates, at most U+10FFFF.
 * Labels and metadata end up in GStreamer string fields, which require it. */
static bool
utf8_ok (const unsigned char *s, size_t len)
{
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    size_t n;
    unsigned min;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, min = 0x80, c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, min = 0x800, c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, min = 0x10000, c &= 0x07;
    } else {
      return false;
    }
    if (len - i - 1 < n)
      return false;
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
      c = c << 6 | (s[i + k] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

static bool
label_ok (const char *s, size_t len)
{
  if (len == 0 || len > EARSHOT_MODEL_MAX_LABEL_LEN
      || !utf8_ok ((const unsigned char *) s, len))
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char) s[i];
    if (c < 0x20 || c == 0x7f)
      return false;
  }
  return true;
}

static bool
meta_key_ok (const char *k, size_t len)
{
  if (len == 0 || len > META_KEY_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (k[i] <= 0x20 || k[i] >= 0x7f || k[i] == '=')
      return false;
  return true;
}

static char *
dup_n (const char *s, size_t n)
{
  char *d = malloc (n + 1);
  if (d != NULL) {
    memcpy (d, s, n);
    d[n] = '\0';
  }
  return d;
}

/* ---- construction ---------------------------------------------------- */

void
earshot_model_free (earshot_model *m)
{
  if (m == NULL)
    return;
  free (m->mean);
  free (m->std);
  for (size_t i = 0; i < m->n_labels; i++)
    free (m->labels[i]);
  free (m->labels);
  for (size_t i = 0; i < m->n_meta; i++) {
    free (m->meta_keys[i]);
    free (m->meta_values[i]);
  }
  free (m->meta_keys);
  free (m->meta_values);
  earshot_net_free (m->net);
  free (m);
}

/* Checks the parts and makes a model holding copies of them, without the
 * net (the caller attaches it on success). */
static earshot_status
model_build (const earshot_features_config *cfg, const float *mean,
    const float *std, const char *const *labels, size_t n_labels,
    const earshot_net *net, earshot_model **out, char *err, size_t err_size)
{
  earshot_status st;

  *out = NULL;
  st = earshot_features_config_check (cfg, err, err_size);
  if (st != EARSHOT_OK)
    return st;
  if ((mean == NULL) != (std == NULL))
    return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
        "normalisation needs both mean and std, or neither");
  for (uint32_t i = 0; mean != NULL && i < cfg->n_mels; i++) {
    if (!isfinite (mean[i]) || !isfinite (std[i]) || !(std[i] > 0.0f))
      return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
          "normalisation of band %u is invalid (mean %g, std %g): std must "
          "be finite and > 0", i, (double) mean[i], (double) std[i]);
  }
  if (n_labels < 2 || n_labels > EARSHOT_MODEL_MAX_LABELS)
    return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
        "a model needs 2 to %u labels, not %zu", EARSHOT_MODEL_MAX_LABELS,
        n_labels);
  for (size_t i = 0; i < n_labels; i++) {
    if (labels[i] == NULL || !label_ok (labels[i], strlen (labels[i])))
      return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
          "label %zu is empty, longer than %u bytes, not UTF-8 or holds "
          "control characters", i, EARSHOT_MODEL_MAX_LABEL_LEN);
    for (size_t j = 0; j < i; j++)
      if (strcmp (labels[i], labels[j]) == 0)
        return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
            "label \"%s\" appears twice", labels[i]);
  }
  if (earshot_net_n_inputs (net) != cfg->n_mels)
    return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
        "the network takes %u inputs but the front end makes %u mel bands",
        earshot_net_n_inputs (net), cfg->n_mels);
  if (earshot_net_n_outputs (net) != n_labels)
    return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
        "the network has %u outputs but the model has %zu labels",
        earshot_net_n_outputs (net), n_labels);

  earshot_model *m = calloc (1, sizeof *m);
  if (m == NULL)
    goto nomem;
  m->features = *cfg;
  m->format_version = 1;
  m->mean = malloc (cfg->n_mels * sizeof (float));
  m->std = malloc (cfg->n_mels * sizeof (float));
  m->labels = calloc (n_labels, sizeof (char *));
  if (m->mean == NULL || m->std == NULL || m->labels == NULL)
    goto nomem;
  for (uint32_t i = 0; i < cfg->n_mels; i++) {
    m->mean[i] = mean ? mean[i] : 0.0f;
    m->std[i] = std ? std[i] : 1.0f;
  }
  for (size_t i = 0; i < n_labels; i++) {
    m->labels[i] = dup_n (labels[i], strlen (labels[i]));
    if (m->labels[i] == NULL)
      goto nomem;
    m->n_labels = i + 1;
  }
  *out = m;
  return EARSHOT_OK;

nomem:
  earshot_model_free (m);
  return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
}

earshot_status
earshot_model_new (const earshot_features_config *cfg, const float *mean,
    const float *std, const char *const *labels, size_t n_labels,
    earshot_net *net, earshot_model **out, char *err, size_t err_size)
{
  earshot_status st = model_build (cfg, mean, std, labels, n_labels, net,
      out, err, err_size);
  if (st == EARSHOT_OK)
    (*out)->net = net;
  return st;
}

earshot_status
earshot_model_set_lookahead (earshot_model *m, uint32_t frames)
{
  if (frames > EARSHOT_MODEL_MAX_LOOKAHEAD)
    return EARSHOT_ERR_INVALID;
  m->lookahead = frames;
  /* Version 1 readers do not know LOOK: such a file must be version 2. */
  m->format_version = frames > 0 ? 2 : 1;
  return EARSHOT_OK;
}

uint32_t
earshot_model_lookahead (const earshot_model *m)
{
  return m->lookahead;
}

earshot_status
earshot_model_set_meta (earshot_model *m, const char *key, const char *value)
{
  size_t vlen = strlen (value);

  if (!meta_key_ok (key, strlen (key)) || vlen > EARSHOT_MODEL_MAX_META_LEN
      || !utf8_ok ((const unsigned char *) value, vlen))
    return EARSHOT_ERR_INVALID;
  for (size_t i = 0; i < m->n_meta; i++) {
    if (strcmp (m->meta_keys[i], key) == 0) {
      char *v = dup_n (value, vlen);
      if (v == NULL)
        return EARSHOT_ERR_NOMEM;
      free (m->meta_values[i]);
      m->meta_values[i] = v;
      return EARSHOT_OK;
    }
  }
  if (m->n_meta >= EARSHOT_MODEL_MAX_META)
    return EARSHOT_ERR_INVALID;

  char **keys = realloc (m->meta_keys, (m->n_meta + 1) * sizeof (char *));
  if (keys == NULL)
    return EARSHOT_ERR_NOMEM;
  m->meta_keys = keys;
  char **values = realloc (m->meta_values, (m->n_meta + 1) * sizeof (char *));
  if (values == NULL)
    return EARSHOT_ERR_NOMEM;
  m->meta_values = values;
  char *k = dup_n (key, strlen (key));
  char *v = dup_n (value, vlen);
  if (k == NULL || v == NULL) {
    free (k);
    free (v);
    return EARSHOT_ERR_NOMEM;
  }
  m->meta_keys[m->n_meta] = k;
  m->meta_values[m->n_meta] = v;
  m->n_meta++;
  return EARSHOT_OK;
}

/* ---- accessors ------------------------------------------------------- */

const earshot_features_config *
earshot_model_features_config (const earshot_model *m)
{
  return &m->features;
}

const float *
earshot_model_norm_mean (const earshot_model *m)
{
  return m->mean;
}

const float *
earshot_model_norm_std (const earshot_model *m)
{
  return m->std;
}

const earshot_net *
earshot_model_net (const earshot_model *m)
{
  return m->net;
}

size_t
earshot_model_n_labels (const earshot_model *m)
{
  return m->n_labels;
}

const char *
earshot_model_label (const earshot_model *m, size_t i)
{
  return i < m->n_labels ? m->labels[i] : NULL;
}

int
earshot_model_find_label (const earshot_model *m, const char *name)
{
  for (size_t i = 0; i < m->n_labels; i++)
    if (strcmp (m->labels[i], name) == 0)
      return (int) i;
  return -1;
}

size_t
earshot_model_n_meta (const earshot_model *m)
{
  return m->n_meta;
}

const char *
earshot_model_meta_key (const earshot_model *m, size_t i)
{
  return i < m->n_meta ? m->meta_keys[i] : NULL;
}

const char *
earshot_model_meta_value (const earshot_model *m, size_t i)
{
  return i < m->n_meta ? m->meta_values[i] : NULL;
}

const char *
earshot_model_get_meta (const earshot_model *m, const char *key)
{
  for (size_t i = 0; i < m->n_meta; i++)
    if (strcmp (m->meta_keys[i], key) == 0)
      return m->meta_values[i];
  return NULL;
}

uint32_t
earshot_model_format_version (const earshot_model *m)
{
  return m->format_version;
}

/* ---- saving ---------------------------------------------------------- */

earshot_status
earshot_model_save_memory (const earshot_model *m, void **data, size_t *size)
{
  earshot_buf o = { 0 };
  const earshot_features_config *c = &m->features;
  const earshot_net *net = m->net;
  size_t n_layers = earshot_net_n_layers (net);
  size_t at;

  *data = NULL;
  *size = 0;
  earshot_buf_put (&o, MAGIC, MAGIC_LEN);
  /* The lowest version that describes the model, so that a causal model
   * stays readable by version-1 readers. */
  earshot_buf_put_u32 (&o, m->lookahead > 0 ? 2 : 1);
  earshot_buf_put_u32 (&o, 5 + (m->n_meta > 0) + (m->lookahead > 0));

  at = section_begin (&o, "FEAT");
  earshot_buf_put_u32 (&o, c->sample_rate);
  earshot_buf_put_u32 (&o, c->win_length);
  earshot_buf_put_u32 (&o, c->hop_length);
  earshot_buf_put_u32 (&o, c->n_fft);
  earshot_buf_put_u32 (&o, c->n_mels);
  earshot_buf_put_u32 (&o, (uint32_t) c->window);
  earshot_buf_put_u32 (&o, (uint32_t) c->mel_scale);
  earshot_buf_put_f32s (&o, &c->fmin, 1);
  earshot_buf_put_f32s (&o, &c->fmax, 1);
  earshot_buf_put_f32s (&o, &c->log_floor, 1);
  section_end (&o, at);

  at = section_begin (&o, "NORM");
  earshot_buf_put_f32s (&o, m->mean, c->n_mels);
  earshot_buf_put_f32s (&o, m->std, c->n_mels);
  section_end (&o, at);

  at = section_begin (&o, "LABL");
  earshot_buf_put_u32 (&o, (uint32_t) m->n_labels);
  for (size_t i = 0; i < m->n_labels; i++) {
    size_t len = strlen (m->labels[i]);
    earshot_buf_put_u16 (&o, (uint16_t) len);
    earshot_buf_put (&o, m->labels[i], len);
  }
  section_end (&o, at);

  at = section_begin (&o, "LAYR");
  earshot_buf_put_u32 (&o, (uint32_t) n_layers);
  for (size_t i = 0; i < n_layers; i++) {
    const earshot_layer_spec *l = earshot_net_layer (net, i);
    earshot_buf_put_u32 (&o, (uint32_t) l->type);
    earshot_buf_put_u32 (&o, l->n_in);
    earshot_buf_put_u32 (&o, l->n_out);
    earshot_buf_put_u32 (&o, (uint32_t) l->activation);
  }
  section_end (&o, at);

  at = section_begin (&o, "WGHT");
  earshot_buf_put_f32s (&o, earshot_net_params_const (net),
      earshot_net_n_params (net));
  section_end (&o, at);

  if (m->lookahead > 0) {
    at = section_begin (&o, "LOOK");
    earshot_buf_put_u32 (&o, m->lookahead);
    section_end (&o, at);
  }

  if (m->n_meta > 0) {
    at = section_begin (&o, "META");
    earshot_buf_put_u32 (&o, (uint32_t) m->n_meta);
    for (size_t i = 0; i < m->n_meta; i++) {
      size_t klen = strlen (m->meta_keys[i]);
      size_t vlen = strlen (m->meta_values[i]);
      earshot_buf_put_u16 (&o, (uint16_t) klen);
      earshot_buf_put (&o, m->meta_keys[i], klen);
      earshot_buf_put_u32 (&o, (uint32_t) vlen);
      earshot_buf_put (&o, m->meta_values[i], vlen);
    }
    section_end (&o, at);
  }

  if (!o.failed)
    earshot_buf_put_u32 (&o, earshot_crc32 (0, o.data, o.len));
  if (o.failed) {
    free (o.data);
    return EARSHOT_ERR_NOMEM;
  }
  *data = o.data;
  *size = o.len;
  return EARSHOT_OK;
}

earshot_status
earshot_model_save (const earshot_model *m, const char *path, char *err,
    size_t err_size)
{
  void *data;
  size_t size;
  earshot_status st = earshot_model_save_memory (m, &data, &size);
  if (st != EARSHOT_OK)
    return earshot_fail (err, err_size, st, "cannot serialise model: %s",
        earshot_status_str (st));

  st = earshot_write_file_atomic (path, data, size, err, err_size);
  free (data);
  return st;
}

/* ---- loading --------------------------------------------------------- */

typedef struct {
  const unsigned char *data;
  uint64_t len;
  bool present;
} section;

/* A bounds-checked reader over one section's payload. */
typedef struct {
  const unsigned char *p;
  uint64_t left;
} reader;

static bool
rd_take (reader *r, uint64_t n, const unsigned char **out)
{
  if (n > r->left)
    return false;
  *out = r->p;
  r->p += n;
  r->left -= n;
  return true;
}

static bool
rd_u16 (reader *r, uint32_t *v)
{
  const unsigned char *p;
  if (!rd_take (r, 2, &p))
    return false;
  *v = (uint32_t) p[0] | (uint32_t) p[1] << 8;
  return true;
}

static bool
rd_u32 (reader *r, uint32_t *v)
{
  const unsigned char *p;
  if (!rd_take (r, 4, &p))
    return false;
  *v = earshot_get_u32 (p);
  return true;
}

/* Known sections, in the order they are parsed. */
enum { SEC_FEAT, SEC_NORM, SEC_LABL, SEC_LAYR, SEC_WGHT, SEC_LOOK, SEC_META,
  SEC_COUNT };
static const char section_tags[SEC_COUNT][5] = {
  "FEAT", "NORM", "LABL", "LAYR", "WGHT", "LOOK", "META"
};
/* Sections a file may lack: the optional one and those of later versions. */
#define SEC_MAY_LACK(k) ((k) == SEC_META || (k) == SEC_LOOK)

static void
free_strings (char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
}

/* Parses the label list into *labels (n_labels owned strings). */
static earshot_status
parse_labels (const section *s, char ***labels, size_t *n_labels, char *err,
    size_t err_size)
{
  reader r = { s->data, s->len };
  uint32_t n;

  *labels = NULL;
  *n_labels = 0;
  if (!rd_u32 (&r, &n))
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "label section is truncated");
  /* Each label takes at least 3 bytes, so a count beyond that is a lie. */
  if (n < 2 || n > EARSHOT_MODEL_MAX_LABELS || n > r.left / 3)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "label section claims %u labels (a model has 2 to %u, and the "
        "section holds %llu bytes)", n, EARSHOT_MODEL_MAX_LABELS,
        (unsigned long long) s->len);
  char **v = calloc (n, sizeof (char *));
  if (v == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
  for (uint32_t i = 0; i < n; i++) {
    uint32_t len;
    const unsigned char *p;
    if (!rd_u16 (&r, &len) || !rd_take (&r, len, &p)) {
      free_strings (v, i);
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "label %u runs past the end of the label section", i);
    }
    if (!label_ok ((const char *) p, len) || memchr (p, 0, len) != NULL) {
      free_strings (v, i);
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "label %u is empty, too long, not UTF-8 or holds control "
          "characters", i);
    }
    v[i] = dup_n ((const char *) p, len);
    if (v[i] == NULL) {
      free_strings (v, i);
      return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
    }
  }
  if (r.left != 0) {
    free_strings (v, n);
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "label section has %llu stray bytes at its end",
        (unsigned long long) r.left);
  }
  *labels = v;
  *n_labels = n;
  return EARSHOT_OK;
}

static earshot_status
parse_meta (const section *s, earshot_model *m, char *err, size_t err_size)
{
  reader r = { s->data, s->len };
  uint32_t n;
  earshot_status st;

  if (!rd_u32 (&r, &n) || n > EARSHOT_MODEL_MAX_META || n > r.left / 7)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "metadata section is truncated or claims too many entries");
  for (uint32_t i = 0; i < n; i++) {
    uint32_t klen, vlen;
    const unsigned char *k, *v;
    if (!rd_u16 (&r, &klen) || !rd_take (&r, klen, &k)
        || !rd_u32 (&r, &vlen) || vlen > EARSHOT_MODEL_MAX_META_LEN
        || !rd_take (&r, vlen, &v))
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "metadata entry %u runs past the end of its section", i);
    if (!meta_key_ok ((const char *) k, klen) || memchr (v, 0, vlen) != NULL
        || !utf8_ok (v, vlen))
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "metadata entry %u has an invalid key, or a value that is not "
          "UTF-8 text", i);
    char *key = dup_n ((const char *) k, klen);
    if (key != NULL && earshot_model_get_meta (m, key) != NULL) {
      st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "metadata key \"%s\" appears twice", key);
      free (key);
      return st;
    }
    char *val = dup_n ((const char *) v, vlen);
    st = (key && val) ? earshot_model_set_meta (m, key, val)
        : EARSHOT_ERR_NOMEM;
    free (key);
    free (val);
    if (st != EARSHOT_OK)
      return earshot_fail (err, err_size, st, "cannot read metadata: %s",
          earshot_status_str (st));
  }
  if (r.left != 0)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "metadata section has %llu stray bytes at its end",
        (unsigned long long) r.left);
  return EARSHOT_OK;
}

earshot_status
earshot_model_load_memory (const void *bytes, size_t size,
    earshot_model **out, char *err, size_t err_size)
{
  const unsigned char *data = bytes;
  section sec[SEC_COUNT] = { { 0 } };
  earshot_status st;

  *out = NULL;
  if (size > EARSHOT_MODEL_MAX_FILE_SIZE)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "model is %zu bytes, more than the %u-byte limit", size,
        EARSHOT_MODEL_MAX_FILE_SIZE);
  if (size < MAGIC_LEN || memcmp (data, MAGIC, MAGIC_LEN) != 0)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "not an Earshot model file (bad magic)");
  if (size < HEADER_LEN + CRC_LEN)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "model file is truncated: %zu bytes", size);

  uint32_t version = earshot_get_u32 (data + MAGIC_LEN);
  if (version == 0 || version > EARSHOT_MODEL_FORMAT_VERSION)
    return earshot_fail (err, err_size, EARSHOT_ERR_VERSION,
        "model file format version %u is not supported: this build of "
        "earshot %s reads versions 1 to %u; upgrade earshot or re-export "
        "the model", version, earshot_version (),
        EARSHOT_MODEL_FORMAT_VERSION);

  /* Walk the section headers: every length must fit in what is left before
   * the checksum.  A truncated file fails here with a precise message. */
  uint32_t n_sections = earshot_get_u32 (data + MAGIC_LEN + 4);
  if (n_sections > MAX_SECTIONS)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "model file claims %u sections (at most %u)", n_sections,
        MAX_SECTIONS);
  uint64_t pos = HEADER_LEN;
  uint64_t end = size - CRC_LEN;
  for (uint32_t i = 0; i < n_sections; i++) {
    if (end - pos < SECTION_HEADER_LEN)
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "model file is truncated: section %u of %u is missing", i + 1,
          n_sections);
    const unsigned char *h = data + pos;
    uint64_t len = earshot_get_u64 (h + 8);
    pos += SECTION_HEADER_LEN;
    if (len > end - pos)
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "model file is truncated: section '%.4s' claims %llu bytes, %llu "
          "remain", (const char *) h, (unsigned long long) len,
          (unsigned long long) (end - pos));
    int k;
    for (k = 0; k < SEC_COUNT; k++)
      if (memcmp (h, section_tags[k], 4) == 0)
        break;
    if (k < SEC_COUNT) {
      if (sec[k].present)
        return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
            "section '%s' appears twice", section_tags[k]);
      sec[k].present = true;
      sec[k].data = data + pos;
      sec[k].len = len;
    } else if (h[0] >= 'A' && h[0] <= 'Z') {
      /* Upper-case first letter: a section this version must understand. */
      return earshot_fail (err, err_size, EARSHOT_ERR_UNSUPPORTED,
          "model file has a required section '%.4s' this build does not "
          "know; upgrade earshot", (const char *) h);
    }
    /* Otherwise an optional section from a newer writer: skipped. */
    pos += len;
  }
  if (pos != end)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "model file has %llu unexpected bytes after its sections",
        (unsigned long long) (end - pos));

  uint32_t stored = earshot_get_u32 (data + end);
  uint32_t actual = earshot_crc32 (0, data, (size_t) end);
  if (stored != actual)
    return earshot_fail (err, err_size, EARSHOT_ERR_CHECKSUM,
        "model file is corrupted: checksum %08x, contents give %08x",
        stored, actual);

  for (int k = 0; k < SEC_COUNT; k++)
    if (!sec[k].present && !SEC_MAY_LACK (k))
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "model file has no '%s' section", section_tags[k]);

  /* Front end. */
  if (sec[SEC_FEAT].len != FEAT_LEN)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "front-end section is %llu bytes, expected %d",
        (unsigned long long) sec[SEC_FEAT].len, FEAT_LEN);
  const unsigned char *f = sec[SEC_FEAT].data;
  earshot_features_config cfg = {
    .sample_rate = earshot_get_u32 (f),
    .win_length = earshot_get_u32 (f + 4),
    .hop_length = earshot_get_u32 (f + 8),
    .n_fft = earshot_get_u32 (f + 12),
    .n_mels = earshot_get_u32 (f + 16),
    .window = (earshot_window) earshot_get_u32 (f + 20),
    .mel_scale = (earshot_mel_scale) earshot_get_u32 (f + 24),
    .fmin = earshot_get_f32 (f + 28),
    .fmax = earshot_get_f32 (f + 32),
    .log_floor = earshot_get_f32 (f + 36),
  };
  char why[192];
  st = earshot_features_config_check (&cfg, why, sizeof why);
  if (st != EARSHOT_OK)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "model's front end is invalid: %s", why);

  /* Normalisation: n_mels means then n_mels standard deviations. */
  if (sec[SEC_NORM].len != (uint64_t) cfg.n_mels * 8)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "normalisation section is %llu bytes; %u bands need %llu",
        (unsigned long long) sec[SEC_NORM].len, cfg.n_mels,
        (unsigned long long) cfg.n_mels * 8);

  /* Lookahead (version 2): a u32 frame count, 1 to the maximum. */
  uint32_t lookahead = 0;
  if (sec[SEC_LOOK].present) {
    if (version < 2)
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "model file is format version %u but has a lookahead section, "
          "which version 2 introduced", version);
    if (sec[SEC_LOOK].len != LOOK_LEN)
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "lookahead section is %llu bytes, expected %d",
          (unsigned long long) sec[SEC_LOOK].len, LOOK_LEN);
    lookahead = earshot_get_u32 (sec[SEC_LOOK].data);
    if (lookahead == 0 || lookahead > EARSHOT_MODEL_MAX_LOOKAHEAD)
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "lookahead is %u frames (1 to %u allowed)", lookahead,
          EARSHOT_MODEL_MAX_LOOKAHEAD);
  }

  /* Layers: sizes and the parameter count are checked against the weight
   * section before the net (the one large allocation) is made. */
  reader r = { sec[SEC_LAYR].data, sec[SEC_LAYR].len };
  uint32_t n_layers;
  if (!rd_u32 (&r, &n_layers) || n_layers == 0
      || n_layers > EARSHOT_NET_MAX_LAYERS || r.left != (uint64_t) n_layers * 16)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "layer section is malformed: %u layers in %llu bytes (1 to %d "
        "layers of 16 bytes each)", n_layers,
        (unsigned long long) sec[SEC_LAYR].len, EARSHOT_NET_MAX_LAYERS);
  earshot_layer_spec specs[EARSHOT_NET_MAX_LAYERS];
  uint64_t n_params = 0;
  for (uint32_t i = 0; i < n_layers; i++) {
    uint32_t type, n_in, n_out, act;
    rd_u32 (&r, &type);
    rd_u32 (&r, &n_in);
    rd_u32 (&r, &n_out);
    rd_u32 (&r, &act);
    if (n_in == 0 || n_in > EARSHOT_NET_MAX_UNITS || n_out == 0
        || n_out > EARSHOT_NET_MAX_UNITS)
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "layer %u claims %u inputs and %u units (1 to %u allowed)", i,
          n_in, n_out, EARSHOT_NET_MAX_UNITS);
    if (type != EARSHOT_LAYER_DENSE && act != 0)
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "layer %u is recurrent but has activation %u (must be 0)", i, act);
    specs[i] = (earshot_layer_spec) { (earshot_layer_type) type, n_in, n_out,
      (earshot_activation) act };
    size_t np = earshot_layer_spec_n_params (&specs[i]);
    if (np == 0)
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "layer %u (type %u, activation %u, %u -> %u units) is not valid: "
          "an unknown type or activation, or more than %u parameters", i,
          type, act, n_in, n_out, EARSHOT_NET_MAX_PARAMS);
    n_params += np;
  }
  if (n_params > EARSHOT_NET_MAX_PARAMS
      || sec[SEC_WGHT].len != n_params * 4)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "weight section is %llu bytes; the layers need %llu parameters "
        "(%llu bytes)", (unsigned long long) sec[SEC_WGHT].len,
        (unsigned long long) n_params, (unsigned long long) n_params * 4);
  if (specs[0].n_in != cfg.n_mels)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "the first layer takes %u inputs but the front end makes %u bands",
        specs[0].n_in, cfg.n_mels);

  earshot_net *net = NULL;
  st = earshot_net_new (specs, n_layers, &net, why, sizeof why);
  if (st != EARSHOT_OK)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "model's network is invalid: %s", why);
  float *w = earshot_net_params (net);
  for (uint64_t i = 0; i < n_params; i++) {
    w[i] = earshot_get_f32 (sec[SEC_WGHT].data + 4 * i);
    if (!isfinite (w[i])) {
      earshot_net_free (net);
      return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "weight %llu is not a finite number", (unsigned long long) i);
    }
  }

  float *norm = malloc ((size_t) cfg.n_mels * 2 * sizeof (float));
  char **labels = NULL;
  size_t n_labels = 0;
  if (norm == NULL) {
    earshot_net_free (net);
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
  }
  for (uint32_t i = 0; i < 2 * cfg.n_mels; i++)
    norm[i] = earshot_get_f32 (sec[SEC_NORM].data + 4 * i);

  earshot_model *m = NULL;
  st = parse_labels (&sec[SEC_LABL], &labels, &n_labels, err, err_size);
  if (st == EARSHOT_OK) {
    st = model_build (&cfg, norm, norm + cfg.n_mels,
        (const char *const *) labels, n_labels, net, &m, why, sizeof why);
    if (st != EARSHOT_OK)
      st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "model file is inconsistent: %s", why);
  }
  free (norm);
  free_strings (labels, n_labels);
  if (st != EARSHOT_OK) {
    earshot_net_free (net);
    return st;
  }
  m->net = net;
  m->lookahead = lookahead;
  m->format_version = version;
  if (sec[SEC_META].present) {
    st = parse_meta (&sec[SEC_META], m, err, err_size);
    if (st != EARSHOT_OK) {
      earshot_model_free (m);
      return st;
    }
  }
  *out = m;
  return EARSHOT_OK;
}

earshot_status
earshot_model_load (const char *path, earshot_model **out, char *err,
    size_t err_size)
{
  unsigned char *data;
  size_t size;

  *out = NULL;
  earshot_status rs = earshot_read_file (path, EARSHOT_MODEL_MAX_FILE_SIZE,
      &data, &size, err, err_size);
  if (rs != EARSHOT_OK)
    return rs;

  char why[256];
  earshot_status st = earshot_model_load_memory (data, size, out, why,
      sizeof why);
  free (data);
  if (st != EARSHOT_OK)
    return earshot_fail (err, err_size, st, "%s: %s", path, why);
  return EARSHOT_OK;
}
