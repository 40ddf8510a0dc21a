/* test_model.c — the .earshot file: round trip, and refusal of every kind of
 * damaged file with a message (run under ASan, so "no crash, no leak" is
 * checked by the sanitizer). */
#define _GNU_SOURCE             /* memmem */
#include "earshot_model.h"
#include "earshot_private.h"
#include "earshot_stream.h"
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t
rnd (void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t) (rng >> 32);
}

static float
rndf (void)
{
  return (float) rnd () / 4294967296.0f * 2.0f - 1.0f;
}

static earshot_model *
make_model (earshot_layer_type cell, uint32_t hidden, uint32_t layers)
{
  earshot_features_config cfg = earshot_features_default_config ();
  const char *labels[] = { "speech", "music", "noise" };
  float mean[40], std[40];
  earshot_net *net;
  earshot_model *m;
  char err[256];

  for (int i = 0; i < 40; i++) {
    mean[i] = -10.0f + rndf ();
    std[i] = 2.0f + rndf ();
  }
  if (earshot_net_new_stack (cell, 40, hidden, layers, 3, &net, err,
          sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "net: %s\n", err);
    exit (1);
  }
  earshot_net_init (net, 42);
  if (earshot_model_new (&cfg, mean, std, labels, 3, net, &m, err,
          sizeof err) != EARSHOT_OK) {
    fprintf (stderr, "model: %s\n", err);
    exit (1);
  }
  earshot_model_set_meta (m, "trained-by", "test_model");
  earshot_model_set_meta (m, "epochs", "3");
  return m;
}

/* Posteriors of 1 s of deterministic noise and a tone through the model. */
static float *
run_model (const earshot_model *m, size_t *n_out)
{
  enum { N = 16000 };
  static float x[N];
  for (int i = 0; i < N; i++)
    x[i] = 0.3f * sinf (0.2f * (float) i) + 0.05f * (float) ((i * 7919) % 101
        - 50) / 50.0f;
  earshot_stream *s;
  if (earshot_stream_new (m, &s) != EARSHOT_OK)
    return NULL;
  size_t cap = earshot_stream_frames_for (s, N) + earshot_stream_frames_pending (s) + 4;
  size_t c = earshot_stream_n_classes (s);
  float *p = calloc (cap * c, sizeof (float));
  size_t n = earshot_stream_process (s, x, N, p, NULL, cap);
  n += earshot_stream_flush (s, p + n * c, NULL, cap - n);
  earshot_stream_free (s);
  *n_out = n * c;
  return p;
}

static void
test_round_trip (void)
{
  const earshot_layer_type cells[] = { EARSHOT_LAYER_RNN, EARSHOT_LAYER_GRU,
    EARSHOT_LAYER_LSTM };
  char path[] = "/tmp/earshot-test-model-XXXXXX";
  int fd = mkstemp (path);
  close (fd);

  for (int c = 0; c < 3; c++) {
    earshot_model *m = make_model (cells[c], 8, 2), *l = NULL;
    char err[256] = "";
    CHECK (earshot_model_save (m, path, err, sizeof err) == EARSHOT_OK,
        "save: %s", err);
    CHECK (earshot_model_load (path, &l, err, sizeof err) == EARSHOT_OK,
        "load: %s", err);
    if (l == NULL) {
      earshot_model_free (m);
      continue;
    }
    CHECK (memcmp (earshot_model_features_config (m),
            earshot_model_features_config (l),
            sizeof (earshot_features_config)) == 0, "front end differs");
    CHECK (memcmp (earshot_model_norm_mean (m), earshot_model_norm_mean (l),
            40 * sizeof (float)) == 0, "mean differs");
    CHECK (memcmp (earshot_model_norm_std (m), earshot_model_norm_std (l),
            40 * sizeof (float)) == 0, "std differs");
    CHECK (earshot_model_n_labels (l) == 3, "labels");
    CHECK (strcmp (earshot_model_label (l, 1), "music") == 0, "label 1");
    CHECK (earshot_model_find_label (l, "speech") == 0, "find speech");
    CHECK (earshot_model_find_label (l, "dog") == -1, "find dog");
    CHECK (earshot_model_get_meta (l, "epochs") != NULL
        && strcmp (earshot_model_get_meta (l, "epochs"), "3") == 0, "meta");
    /* A causal model is written as version 1, readable by older earshots. */
    CHECK (earshot_model_format_version (l) == 1, "version");
    CHECK (earshot_model_lookahead (l) == 0, "lookahead");
    const earshot_net *a = earshot_model_net (m), *b = earshot_model_net (l);
    CHECK (earshot_net_n_params (a) == earshot_net_n_params (b)
        && memcmp (earshot_net_params_const (a), earshot_net_params_const (b),
            earshot_net_n_params (a) * sizeof (float)) == 0, "weights differ");

    size_t na, nb;
    float *pa = run_model (m, &na), *pb = run_model (l, &nb);
    CHECK (pa && pb && na == nb && na == 100 * 3
        && memcmp (pa, pb, na * sizeof (float)) == 0,
        "outputs after save/load are not bit-identical (%zu, %zu values)",
        na, nb);
    free (pa);
    free (pb);

    /* Saving the loaded model gives the same bytes. */
    void *da, *db;
    size_t sa, sb;
    earshot_model_save_memory (m, &da, &sa);
    earshot_model_save_memory (l, &db, &sb);
    CHECK (sa == sb && memcmp (da, db, sa) == 0, "re-save differs");
    free (da);
    free (db);
    earshot_model_free (m);
    earshot_model_free (l);
  }
  unlink (path);
}

/* Every truncation is refused with a message. */
static void
test_truncations (void)
{
  earshot_model *m = make_model (EARSHOT_LAYER_GRU, 6, 1);
  void *data;
  size_t size;
  int refused = 0;

  CHECK (earshot_model_save_memory (m, &data, &size) == EARSHOT_OK, "save");
  for (size_t len = 0; len < size; len++) {
    earshot_model *l = NULL;
    char err[256] = "";
    /* A copy of exactly len bytes, so ASan sees any read past the end. */
    unsigned char *copy = malloc (len ? len : 1);
    memcpy (copy, data, len);
    earshot_status st = earshot_model_load_memory (copy, len, &l, err,
        sizeof err);
    if (st != EARSHOT_OK && l == NULL && err[0] != '\0')
      refused++;
    else
      CHECK (0, "truncation to %zu of %zu bytes: status %d, message '%s'",
          len, size, st, err);
    earshot_model_free (l);
    free (copy);
  }
  CHECK (refused == (int) size, "%d of %zu truncations refused", refused,
      size);
  free (data);
  earshot_model_free (m);
}

/* Random byte flips: the checksum refuses all of them.  With the checksum
 * recomputed, the structural checks must cope: refuse with a message, or
 * load a model that then runs. */
static void
test_flips (void)
{
  earshot_model *m = make_model (EARSHOT_LAYER_LSTM, 5, 2);
  void *data;
  size_t size;
  int refused_crc = 0, refused_fixed = 0, loaded_fixed = 0;

  earshot_model_save_memory (m, &data, &size);
  unsigned char *buf = malloc (size);
  for (int trial = 0; trial < 3000; trial++) {
    memcpy (buf, data, size);
    int flips = 1 + (int) (rnd () % 4);
    /* Bias half the trials to the header and section headers, where the
     * counts live. */
    for (int f = 0; f < flips; f++) {
      size_t at = (trial & 1) ? rnd () % (size < 200 ? size : 200)
          : rnd () % size;
      buf[at] ^= (unsigned char) (1u << (rnd () % 8));
    }
    bool fix = trial >= 1500;
    if (fix) {
      uint32_t crc = earshot_crc32 (0, buf, size - 4);
      for (int i = 0; i < 4; i++)
        buf[size - 4 + i] = (unsigned char) (crc >> (8 * i));
    }
    if (memcmp (buf, data, size) == 0)
      continue;                 /* flipped the same bit twice */
    earshot_model *l = NULL;
    char err[256] = "";
    earshot_status st = earshot_model_load_memory (buf, size, &l, err,
        sizeof err);
    if (st == EARSHOT_OK) {
      CHECK (fix, "a flip passed the checksum");
      size_t n;
      float *p = run_model (l, &n);
      CHECK (p != NULL && n > 0, "loaded flipped model does not run");
      free (p);
      loaded_fixed++;
      earshot_model_free (l);
    } else {
      CHECK (err[0] != '\0' && l == NULL, "refusal without a message");
      if (fix)
        refused_fixed++;
      else
        refused_crc++;
    }
  }
  printf ("flips: %d refused by checksum; with checksum fixed %d refused, "
      "%d loaded and ran\n", refused_crc, refused_fixed, loaded_fixed);
  free (buf);
  free (data);
  earshot_model_free (m);
}

/* Offset of the payload of section `tag` in a serialised model. */
static size_t
find_section (const unsigned char *d, size_t size, const char *tag)
{
  size_t pos = 16;
  while (pos + 16 <= size) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--)
      len = len << 8 | d[pos + 8 + i];
    if (memcmp (d + pos, tag, 4) == 0)
      return pos + 16;
    pos += 16 + (size_t) len;
  }
  return 0;
}

static void
put32 (unsigned char *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char) (v >> (8 * i));
}

static void
fix_crc (unsigned char *d, size_t size)
{
  put32 (d + size - 4, earshot_crc32 (0, d, size - 4));
}

/* Loads a patched copy and expects refusal with `status` and a message
 * containing `words`. */
static void
expect_refusal (const unsigned char *d, size_t size, earshot_status status,
    const char *words, const char *what)
{
  earshot_model *l = NULL;
  char err[256] = "";
  earshot_status st = earshot_model_load_memory (d, size, &l, err, sizeof err);
  CHECK (st == status && l == NULL, "%s: status %d (%s), expected %d; '%s'",
      what, st, earshot_status_str (st), status, err);
  CHECK (strstr (err, words) != NULL, "%s: message '%s' lacks '%s'", what,
      err, words);
  printf ("%-28s -> %s\n", what, err);
  earshot_model_free (l);
}

static void
test_crafted (void)
{
  earshot_model *m = make_model (EARSHOT_LAYER_GRU, 4, 1);
  unsigned char *data, *d;
  size_t size;

  earshot_model_save_memory (m, (void **) &data, &size);
  d = malloc (size);

#define PATCH(stmt)                                                          \
  do {                                                                       \
    memcpy (d, data, size);                                                  \
    stmt;                                                                    \
    fix_crc (d, size);                                                       \
  } while (0)

  PATCH (d[0] = 'X');
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "bad magic", "wrong magic");
  PATCH (put32 (d + 8, EARSHOT_MODEL_FORMAT_VERSION + 1));
  expect_refusal (d, size, EARSHOT_ERR_VERSION, "upgrade earshot",
      "newer version");
  PATCH (put32 (d + 8, 0));
  expect_refusal (d, size, EARSHOT_ERR_VERSION, "version 0", "version 0");
  PATCH (put32 (d + 12, 1u << 31));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "sections", "2^31 sections");

  size_t layr = find_section (data, size, "LAYR");
  CHECK (layr > 0, "no LAYR");
  /* Layer 0: type, n_in, n_out, activation after the count. */
  PATCH (put32 (d + layr + 4 + 8, 1u << 31));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "2147483648 units",
      "layer of 2^31 units");
  PATCH (put32 (d + layr + 4 + 8, 65536));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "parameters",
      "layer of 65536 units");
  PATCH (put32 (d + layr, 1u << 30));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "layers", "2^30 layers");
  PATCH (put32 (d + layr + 4, 99));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "unknown type",
      "unknown layer type");

  size_t labl = find_section (data, size, "LABL");
  PATCH (put32 (d + labl, 0xffffffffu));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "labels", "2^32 labels");
  PATCH (d[labl + 4] = 200);
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "label 0", "label too long");

  size_t feat = find_section (data, size, "FEAT");
  PATCH (put32 (d + feat + 16, 1u << 31));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "front end",
      "2^31 mel bands");
  PATCH (put32 (d + feat + 4, 0));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "front end", "zero window");

  /* A recurrent layer with an activation; a label that is not UTF-8. */
  PATCH (put32 (d + layr + 4 + 12, 1));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "must be 0",
      "recurrent activation");
  PATCH (d[labl + 6] = 0xff);
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "UTF-8", "label not UTF-8");

  /* A section length of 2^63. */
  PATCH (d[feat - 1] = 0x80);
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "truncated", "2^63 length");

  size_t norm = find_section (data, size, "NORM");
  PATCH (memset (d + norm + 40 * 4, 0, 4));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "std", "zero std");

  size_t wght = find_section (data, size, "WGHT");
  PATCH (put32 (d + wght, 0x7fc00000u));
  expect_refusal (d, size, EARSHOT_ERR_FORMAT, "finite", "NaN weight");

  /* Unknown required section; unknown optional section is skipped. */
  PATCH (memcpy (d + 16, "ZZZZ", 4));
  expect_refusal (d, size, EARSHOT_ERR_UNSUPPORTED, "ZZZZ",
      "unknown required section");
  {
    /* Insert an optional "xtra" section of 3 bytes after the header. */
    size_t n2 = size + 19;
    unsigned char *e = malloc (n2);
    memcpy (e, data, 16);
    put32 (e + 12, 6 + 1);
    memcpy (e + 16, "xtra\0\0\0\0\3\0\0\0\0\0\0\0abc", 19);
    memcpy (e + 35, data + 16, size - 16);
    fix_crc (e, n2);
    earshot_model *l = NULL;
    char err[256] = "";
    CHECK (earshot_model_load_memory (e, n2, &l, err, sizeof err)
        == EARSHOT_OK, "optional section not skipped: %s", err);
    earshot_model_free (l);
    /* Trailing garbage before the checksum is refused. */
    put32 (e + 12, 6);
    fix_crc (e, n2);
    expect_refusal (e, n2, EARSHOT_ERR_FORMAT, "", "missing section count");
    free (e);
  }
  /* Corrupted checksum alone. */
  memcpy (d, data, size);
  d[size - 1] ^= 1;
  expect_refusal (d, size, EARSHOT_ERR_CHECKSUM, "corrupted", "bad checksum");
#undef PATCH
  free (d);
  free (data);
  earshot_model_free (m);
}

static void
test_files (void)
{
  earshot_model *l = NULL;
  char err[256] = "";
  CHECK (earshot_model_load ("/nonexistent/x.earshot", &l, err, sizeof err)
      == EARSHOT_ERR_IO && strstr (err, "/nonexistent/x.earshot") != NULL,
      "missing file: '%s'", err);
  CHECK (earshot_model_load ("/tmp", &l, err, sizeof err) == EARSHOT_ERR_IO,
      "directory: '%s'", err);

  earshot_model *m = make_model (EARSHOT_LAYER_RNN, 4, 1);
  CHECK (earshot_model_save (m, "/nonexistent/dir/m.earshot", err, sizeof err)
      == EARSHOT_ERR_IO && err[0] != '\0', "save to missing dir: '%s'", err);

  /* An empty file and a text file. */
  char path[] = "/tmp/earshot-test-text-XXXXXX";
  int fd = mkstemp (path);
  CHECK (earshot_model_load (path, &l, err, sizeof err) == EARSHOT_ERR_FORMAT,
      "empty file: '%s'", err);
  CHECK (write (fd, "hello, world\n", 13) == 13, "write");
  close (fd);
  CHECK (earshot_model_load (path, &l, err, sizeof err) == EARSHOT_ERR_FORMAT
      && strstr (err, "not an Earshot model") != NULL, "text file: '%s'", err);

  /* Saving over an existing file replaces it and leaves no temporary. */
  CHECK (earshot_model_save (m, path, err, sizeof err) == EARSHOT_OK, "%s",
      err);
  CHECK (earshot_model_load (path, &l, err, sizeof err) == EARSHOT_OK, "%s",
      err);
  earshot_model_free (l);
  unlink (path);
  earshot_model_free (m);
  earshot_model_free (NULL);
}

/* Metadata keys are unique and values UTF-8 in files, as in memory. */
static void
test_meta_rules (void)
{
  earshot_model *m = make_model (EARSHOT_LAYER_GRU, 4, 1);
  unsigned char *data;
  size_t size;

  CHECK (earshot_model_set_meta (m, "note", "caf\xc3\xa9") == EARSHOT_OK,
      "utf-8 value");
  CHECK (earshot_model_set_meta (m, "bad", "\xc3(") == EARSHOT_ERR_INVALID,
      "broken utf-8 refused");
  CHECK (earshot_model_set_meta (m, "surrogate", "\xed\xa0\x80")
      == EARSHOT_ERR_INVALID, "surrogate refused");
  CHECK (earshot_model_set_meta (m, "nine", "") == EARSHOT_OK, "empty value");
  earshot_model_save_memory (m, (void **) &data, &size);
  /* Rename key "nine" to "note": the same key twice. */
  unsigned char *k = memmem (data, size, "nine", 4);
  CHECK (k != NULL, "key in file");
  if (k != NULL) {
    memcpy (k, "note", 4);
    fix_crc (data, size);
    expect_refusal (data, size, EARSHOT_ERR_FORMAT, "appears twice",
        "duplicate metadata key");
  }
  free (data);
  earshot_model_free (m);
}

static void
test_new_validation (void)
{
  earshot_features_config cfg = earshot_features_default_config ();
  const char *labels[] = { "a", "b", "a" };
  const char *bad[] = { "a", "" };
  earshot_net *net;
  earshot_model *m = NULL;
  char err[256];

  earshot_net_new_stack (EARSHOT_LAYER_GRU, 40, 4, 1, 3, &net, err,
      sizeof err);
  CHECK (earshot_model_new (&cfg, NULL, NULL, labels, 3, net, &m, err,
          sizeof err) == EARSHOT_ERR_INVALID && strstr (err, "twice"),
      "duplicate labels: '%s'", err);
  CHECK (earshot_model_new (&cfg, NULL, NULL, labels, 2, net, &m, err,
          sizeof err) == EARSHOT_ERR_INVALID && strstr (err, "outputs"),
      "label count mismatch: '%s'", err);
  CHECK (earshot_model_new (&cfg, NULL, NULL, bad, 2, net, &m, err,
          sizeof err) == EARSHOT_ERR_INVALID, "empty label");
  cfg.n_mels = 32;
  const char *good[] = { "a", "b", "c" };
  CHECK (earshot_model_new (&cfg, NULL, NULL, good, 3, net, &m, err,
          sizeof err) == EARSHOT_ERR_INVALID && strstr (err, "inputs"),
      "input mismatch: '%s'", err);
  CHECK (m == NULL, "no model on failure");
  earshot_net_free (net);
}

/* Lookahead: stored in a LOOK section of a version-2 file, round trip,
 * refused where it does not belong or is out of range. */
static void
test_lookahead (void)
{
  earshot_model *m = make_model (EARSHOT_LAYER_GRU, 8, 1);
  CHECK (earshot_model_set_lookahead (m, EARSHOT_MODEL_MAX_LOOKAHEAD + 1)
      == EARSHOT_ERR_INVALID, "lookahead above the maximum accepted");
  CHECK (earshot_model_lookahead (m) == 0, "refused lookahead was kept");
  CHECK (earshot_model_set_lookahead (m, 20) == EARSHOT_OK, "set lookahead");
  CHECK (earshot_model_format_version (m) == 2, "built version %u",
      earshot_model_format_version (m));

  void *data;
  size_t size;
  CHECK (earshot_model_save_memory (m, &data, &size) == EARSHOT_OK, "save");
  unsigned char *d = data;
  CHECK (d[8] == 2 && d[9] == 0 && d[10] == 0 && d[11] == 0,
      "file version %u, expected 2", d[8]);
  earshot_model *l = NULL;
  char err[256] = "";
  CHECK (earshot_model_load_memory (data, size, &l, err, sizeof err)
      == EARSHOT_OK, "load: %s", err);
  if (l != NULL) {
    CHECK (earshot_model_lookahead (l) == 20, "lookahead %u after load",
        earshot_model_lookahead (l));
    CHECK (earshot_model_format_version (l) == 2, "loaded version");
    void *again;
    size_t again_size;
    CHECK (earshot_model_save_memory (l, &again, &again_size) == EARSHOT_OK
        && again_size == size && memcmp (again, data, size) == 0,
        "re-saved file differs");
    free (again);
    earshot_model_free (l);
  }

  size_t look = find_section (d, size, "LOOK");
  CHECK (look > 0, "no LOOK section");
  unsigned char *p = malloc (size);
#define PATCH(stmt)                                                          \
  do {                                                                       \
    memcpy (p, d, size);                                                     \
    stmt;                                                                    \
    fix_crc (p, size);                                                       \
  } while (0)
  PATCH (put32 (p + 8, 1));
  expect_refusal (p, size, EARSHOT_ERR_FORMAT, "version 2",
      "LOOK in a version-1 file");
  PATCH (put32 (p + look, 0));
  expect_refusal (p, size, EARSHOT_ERR_FORMAT, "lookahead is 0",
      "lookahead 0");
  PATCH (put32 (p + look, EARSHOT_MODEL_MAX_LOOKAHEAD + 1));
  expect_refusal (p, size, EARSHOT_ERR_FORMAT, "1 to", "lookahead too long");
#undef PATCH
  free (p);
  /* A LOOK payload of 8 bytes: 4 more after the u32, length patched. */
  p = malloc (size + 4);
  memcpy (p, d, look + 4);
  memset (p + look + 4, 0, 4);
  memcpy (p + look + 8, d + look + 4, size - look - 4);
  put32 (p + look - 8, 8);
  fix_crc (p, size + 4);
  expect_refusal (p, size + 4, EARSHOT_ERR_FORMAT, "lookahead section is 8",
      "LOOK of 8 bytes");
  free (p);
  free (data);
  earshot_model_free (m);
}

int
main (void)
{
  test_round_trip ();
  test_truncations ();
  test_flips ();
  test_crafted ();
  test_files ();
  test_meta_rules ();
  test_new_validation ();
  test_lookahead ();
  return check_finish ("model");
}
