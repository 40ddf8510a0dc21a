/* labels.c — label-file and manifest parsers, and labels to frame targets.
 *
 * The parsers work line by line over a buffer that is not NUL-terminated;
 * each line is copied into a bounded scratch buffer first, so field
 * splitting can use ordinary string functions without ever reading past the
 * input.  All strings of a list live in one arena owned by the list.
 */
#define _GNU_SOURCE             /* strtod_l, newlocale */
#include "earshot_labels.h"
#include "earshot_private.h"

#include <locale.h>
#include <pthread.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LINE 65536
#define MAX_FIELDS 8

/* ---- a string arena and a growable array ------------------------------ */

typedef struct arena_block {
  struct arena_block *next;
  size_t used, cap;
  char data[];
} arena_block;

static char *
arena_strndup (arena_block **arena, const char *s, size_t n)
{
  arena_block *b = *arena;
  if (b == NULL || b->cap - b->used < n + 1) {
    size_t cap = n + 1 > 65536 ? n + 1 : 65536;
    b = malloc (sizeof *b + cap);
    if (b == NULL)
      return NULL;
    b->next = *arena;
    b->used = 0;
    b->cap = cap;
    *arena = b;
  }
  char *d = b->data + b->used;
  memcpy (d, s, n);
  d[n] = '\0';
  b->used += n + 1;
  return d;
}

static void
arena_free (arena_block *b)
{
  while (b != NULL) {
    arena_block *next = b->next;
    free (b);
    b = next;
  }
}

/* Grows *items (of `size` bytes each) to hold at least n + 1. */
static bool
grow (void **items, size_t *cap, size_t n, size_t size)
{
  if (n < *cap)
    return true;
  size_t c = *cap ? *cap * 2 : 64;
  void *p = realloc (*items, c * size);
  if (p == NULL)
    return false;
  *items = p;
  *cap = c;
  return true;
}

struct earshot_label_list {
  earshot_label *items;
  size_t n, cap;
  arena_block *arena;
  /* Label indices with a NULL file first (in file order), then sorted by
   * file (stable), so the labels of one clip are found by binary search:
   * a manifest of many clips over one label file stays linear. */
  size_t *by_file;
  size_t n_no_file;
};

/* ---- line and field splitting ---------------------------------------- */

typedef struct {
  const char *p, *end;
  unsigned line;
  char buf[MAX_LINE + 1];
} line_reader;

/* Copies the next line (without its CR/LF) into r->buf.  Returns 0 at end of
 * input, 1 for a line, -1 for a line that is too long, -2 for a line holding
 * a NUL byte (binary data). */
static int
next_line (line_reader *r)
{
  if (r->p >= r->end)
    return 0;
  const char *nl = memchr (r->p, '\n', (size_t) (r->end - r->p));
  const char *stop = nl ? nl : r->end;
  size_t n = (size_t) (stop - r->p);
  r->line++;
  if (r->line == 1 && n >= 3 && memcmp (r->p, "\xEF\xBB\xBF", 3) == 0) {
    r->p += 3;                  /* UTF-8 byte-order mark */
    n -= 3;
  }
  if (n > 0 && r->p[n - 1] == '\r')
    n--;
  if (n > MAX_LINE)
    return -1;
  if (memchr (r->p, '\0', n) != NULL)
    return -2;
  memcpy (r->buf, r->p, n);
  r->buf[n] = '\0';
  r->p = nl ? nl + 1 : r->end;
  return 1;
}

static earshot_status
bad_line (const line_reader *r, int got, char *err, size_t err_size)
{
  if (got == -2)
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "line %u holds a NUL byte: not a text file", r->line);
  return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
      "line %u is longer than %d bytes", r->line, MAX_LINE);
}

static bool
is_blank_or_comment (const char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  return *s == '\0' || *s == '#';
}

static char *
trim (char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen (s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  return s;
}

/* Splits s in place at every `sep`; returns the field count, or -1 if more
 * than MAX_FIELDS. */
static int
split (char *s, char sep, char **fields)
{
  int n = 0;
  for (;;) {
    if (n == MAX_FIELDS)
      return -1;
    fields[n++] = s;
    char *c = strchr (s, sep);
    if (c == NULL)
      return n;
    *c = '\0';
    s = c + 1;
  }
}

/* RFC 4180 CSV: fields separated by commas, optionally in double quotes with
 * "" for a quote.  Unquotes in place.  Returns the field count, or -1 for
 * too many fields or an unterminated quote. */
static int
split_csv (char *s, char **fields)
{
  int n = 0;
  char *w = s;
  for (;;) {
    if (n == MAX_FIELDS)
      return -1;
    while (*s == ' ')
      s++;
    fields[n++] = w;
    if (*s == '"') {
      s++;
      for (;;) {
        if (*s == '\0')
          return -1;
        if (*s == '"' && s[1] == '"') {
          *w++ = '"';
          s += 2;
        } else if (*s == '"') {
          s++;
          break;
        } else {
          *w++ = *s++;
        }
      }
      while (*s == ' ')
        s++;
      if (*s != ',' && *s != '\0')
        return -1;
    } else {
      while (*s != ',' && *s != '\0')
        *w++ = *s++;
    }
    if (*s == '\0') {
      *w = '\0';
      return n;
    }
    *w++ = '\0';
    s++;
  }
}

/* The "C" locale, for parsing numbers the same way whatever the user's
 * locale says the decimal separator is. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void
c_locale_init (void)
{
  c_locale = newlocale (LC_ALL_MASK, "C", (locale_t) 0);
}

/* A time in seconds: a finite, non-negative decimal number written with '.'
 * (digits, an optional fraction, an optional exponent; no hex, inf or nan),
 * whatever the process's locale. */
static bool
parse_time (const char *s, double *out)
{
  char *end;
  s = trim ((char *) s);
  const char *p = s;
  if (*p == '+')
    p++;
  if (!isdigit ((unsigned char) *p) && !(*p == '.'
          && isdigit ((unsigned char) p[1])))
    return false;
  while (isdigit ((unsigned char) *p) || *p == '.' || *p == 'e' || *p == 'E'
      || ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')))
    p++;
  if (*trim ((char *) p) != '\0')
    return false;
  pthread_once (&c_locale_once, c_locale_init);
  if (c_locale == (locale_t) 0)
    return false;
  errno = 0;
  double v = strtod_l (s, &end, c_locale);
  if (errno != 0 || *trim (end) != '\0' || !isfinite (v) || v < 0 || v > 1e9)
    return false;
  *out = v;
  return true;
}

static bool
looks_like_number (const char *s)
{
  double v;
  char tmp[64];
  size_t n = strlen (s);
  if (n >= sizeof tmp)
    return false;
  memcpy (tmp, s, n + 1);
  return parse_time (tmp, &v);
}

/* ---- label files ----------------------------------------------------- */

void
earshot_label_list_free (earshot_label_list *l)
{
  if (l == NULL)
    return;
  free (l->items);
  free (l->by_file);
  arena_free (l->arena);
  free (l);
}

size_t
earshot_label_list_count (const earshot_label_list *l)
{
  return l->n;
}

const earshot_label *
earshot_label_list_get (const earshot_label_list *l, size_t i)
{
  return i < l->n ? &l->items[i] : NULL;
}

const char *
earshot_labels_format_name (earshot_labels_format f)
{
  switch (f) {
    case EARSHOT_LABELS_AUTO: return "auto";
    case EARSHOT_LABELS_AUDACITY: return "audacity";
    case EARSHOT_LABELS_DCASE: return "dcase";
    case EARSHOT_LABELS_CSV: return "csv";
  }
  return "unknown";
}

/* Adds a label; file and label may be NULL. */
static earshot_status
add_label (earshot_label_list *l, const char *file, double start, double end,
    const char *label, unsigned line)
{
  if (l->n >= EARSHOT_LABELS_MAX)
    return EARSHOT_ERR_INVALID;
  if (!grow ((void **) &l->items, &l->cap, l->n, sizeof (earshot_label)))
    return EARSHOT_ERR_NOMEM;
  earshot_label *e = &l->items[l->n];
  e->file = file ? arena_strndup (&l->arena, file, strlen (file)) : NULL;
  e->label = label ? arena_strndup (&l->arena, label, strlen (label)) : NULL;
  if ((file && !e->file) || (label && !e->label))
    return EARSHOT_ERR_NOMEM;
  e->start = start;
  e->end = end;
  e->line = line;
  l->n++;
  return EARSHOT_OK;
}

static bool
label_name_ok (const char *s)
{
  if (*s == '\0' || strlen (s) > 255)
    return false;
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

/* Whether field `i` (0-based) of a line split at `sep` is exactly `name`. */
static bool
field_is (const char *line, char sep, int i, const char *name)
{
  for (; i > 0; i--) {
    line = strchr (line, sep);
    if (line == NULL)
      return false;
    line++;
  }
  size_t n = strlen (name);
  return strncmp (line, name, n) == 0 && (line[n] == sep || line[n] == '\0');
}

static int
count_fields (const char *line, char sep)
{
  int n = 1;
  for (; *line; line++)
    n += *line == sep;
  return n;
}

/* A DCASE header: filename<TAB>onset<TAB>offset<TAB>event_label (the first
 * field's name varies between data sets; onset and offset do not). */
static bool
is_dcase_header (const char *line)
{
  return count_fields (line, '\t') >= 3 && field_is (line, '\t', 1, "onset")
      && field_is (line, '\t', 2, "offset");
}

/* Guesses the format from the first data line. */
static earshot_labels_format
detect (const char *line)
{
  if (strchr (line, '\t') != NULL)
    return is_dcase_header (line) || count_fields (line, '\t') == 4
        ? EARSHOT_LABELS_DCASE : EARSHOT_LABELS_AUDACITY;
  if (strchr (line, ',') != NULL)
    return EARSHOT_LABELS_CSV;
  return EARSHOT_LABELS_AUTO;
}

static bool
name_in (const char *s, const char *const *names)
{
  s = trim ((char *) s);
  for (; *names; names++)
    if (strcasecmp (s, *names) == 0)
      return true;
  return false;
}

/* A header row names its time columns (start/onset..., end/offset...);
 * anything else in the first row is data, and a typo there an error. */
static bool
is_header (char **f, int n)
{
  static const char *const starts[] = { "start", "onset", "begin",
    "start_time", "onset_time", "start (s)", "onset (s)", NULL };
  static const char *const ends[] = { "end", "offset", "stop", "end_time",
    "offset_time", "end (s)", "offset (s)", NULL };
  return n == 2 && name_in (f[0], starts) && name_in (f[1], ends);
}

/* qsort comparator over label indices: by file, then by position. */
static const earshot_label *sort_items;

static int
cmp_by_file (const void *a, const void *b)
{
  size_t i = *(const size_t *) a, j = *(const size_t *) b;
  int c = strcmp (sort_items[i].file, sort_items[j].file);
  return c != 0 ? c : (i > j) - (i < j);
}

static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

static bool
index_by_file (earshot_label_list *l)
{
  l->by_file = malloc ((l->n ? l->n : 1) * sizeof (size_t));
  if (l->by_file == NULL)
    return false;
  size_t k = 0;
  for (size_t i = 0; i < l->n; i++)
    if (l->items[i].file == NULL)
      l->by_file[k++] = i;
  l->n_no_file = k;
  for (size_t i = 0; i < l->n; i++)
    if (l->items[i].file != NULL)
      l->by_file[k++] = i;
  /* qsort has no context argument in C11: the items go through a static,
   * under a lock. */
  pthread_mutex_lock (&sort_lock);
  sort_items = l->items;
  qsort (l->by_file + l->n_no_file, l->n - l->n_no_file, sizeof (size_t),
      cmp_by_file);
  pthread_mutex_unlock (&sort_lock);
  return true;
}

/* The range [*lo, *hi) of by_file whose labels belong to `file`. */
static void
file_range (const earshot_label_list *l, const char *file, size_t *lo,
    size_t *hi)
{
  size_t a = l->n_no_file, b = l->n;
  while (a < b) {               /* first >= file */
    size_t mid = a + (b - a) / 2;
    if (strcmp (l->items[l->by_file[mid]].file, file) < 0)
      a = mid + 1;
    else
      b = mid;
  }
  *lo = a;
  b = l->n;
  while (a < b) {               /* first > file */
    size_t mid = a + (b - a) / 2;
    if (strcmp (l->items[l->by_file[mid]].file, file) <= 0)
      a = mid + 1;
    else
      b = mid;
  }
  *hi = a;
}

earshot_status
earshot_labels_parse (const char *text, size_t len,
    earshot_labels_format format, earshot_label_list **out,
    earshot_labels_format *format_out, char *err, size_t err_size)
{
  earshot_label_list *l;
  line_reader *r;
  earshot_status st = EARSHOT_OK;
  bool first_data = true;
  int file_col = -1;            /* CSV: 4 columns with a filename first */

  *out = NULL;
  l = calloc (1, sizeof *l);
  r = malloc (sizeof *r);
  if (l == NULL || r == NULL) {
    free (l);
    free (r);
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
  }
  r->p = text;
  r->end = text + len;
  r->line = 0;

  int got;
  while ((got = next_line (r)) != 0) {
    char *fields[MAX_FIELDS];
    char **f = fields;          /* advanced past a filename column */
    int n;
    double start = 0, end = 0;

    if (got < 0) {
      st = bad_line (r, got, err, err_size);
      goto fail;
    }
    if (is_blank_or_comment (r->buf))
      continue;
    if (format == EARSHOT_LABELS_AUTO) {
      format = detect (r->buf);
      if (format == EARSHOT_LABELS_AUTO) {
        st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
            "line %u: not a label file in a known format (Audacity "
            "start<TAB>end<TAB>label, DCASE filename<TAB>onset<TAB>offset"
            "<TAB>event_label, or CSV start,end,label)", r->line);
        goto fail;
      }
    }

    switch (format) {
      case EARSHOT_LABELS_AUDACITY:
        if (r->buf[0] == '\\')
          continue;             /* spectral selection of the label above */
        n = split (r->buf, '\t', f);
        if (n != 3) {
          st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
              "line %u: an Audacity label line has 3 tab-separated fields "
              "(start, end, label), this one has %d", r->line, n < 0 ? 9 : n);
          goto fail;
        }
        break;
      case EARSHOT_LABELS_DCASE:
        n = split (r->buf, '\t', f);
        if (first_data && n >= 3 && is_header (f + 1, 2)) {
          first_data = false;
          continue;
        }
        if (n == 3 || (n == 4 && *trim (f[1]) == '\0' && *trim (f[2]) == '\0'
                && *trim (f[3]) == '\0') || (n == 1 && *trim (f[0]))) {
          /* A file with no events. */
          if (n == 3 && (*trim (f[1]) || *trim (f[2]))) {
            st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
                "line %u: a DCASE row has 4 fields (filename, onset, offset, "
                "event_label)", r->line);
            goto fail;
          }
          if ((st = add_label (l, trim (f[0]), 0, 0, NULL, r->line)) != 0)
            goto nomem;
          first_data = false;
          continue;
        }
        if (n != 4) {
          st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
              "line %u: a DCASE row has 4 tab-separated fields (filename, "
              "onset, offset, event_label), this one has %d", r->line,
              n < 0 ? 9 : n);
          goto fail;
        }
        f[0] = trim (f[0]);
        if (*f[0] == '\0') {
          st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
              "line %u: empty filename", r->line);
          goto fail;
        }
        f++;                    /* onset, offset, label as in the others */
        break;
      case EARSHOT_LABELS_CSV:
        n = split_csv (r->buf, f);
        if (n < 0) {
          st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
              "line %u: malformed CSV (unterminated quote or more than %d "
              "fields)", r->line, MAX_FIELDS);
          goto fail;
        }
        if (first_data && (n == 3 || n == 4) && is_header (f + (n - 3), 2)) {
          first_data = false;
          file_col = n == 4 ? 0 : -1;
          continue;
        }
        if (first_data)
          file_col = n == 4 ? 0 : -1;
        if (n != (file_col == 0 ? 4 : 3)) {
          st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
              "line %u: a CSV label row has %d fields (%sstart,end,label), "
              "this one has %d", r->line, file_col == 0 ? 4 : 3,
              file_col == 0 ? "filename," : "", n);
          goto fail;
        }
        if (file_col == 0) {
          f[0] = trim (f[0]);
          if (*f[0] == '\0') {
            st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
                "line %u: empty filename", r->line);
            goto fail;
          }
          f++;
        }
        break;
      default:
        st = earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
            "unknown label format %d", (int) format);
        goto fail;
    }
    first_data = false;

    /* f[0] start, f[1] end, f[2] label; f[-1] the filename if there is one */
    if (!parse_time (f[0], &start) || !parse_time (f[1], &end)) {
      st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "line %u: start and end must be times in seconds", r->line);
      goto fail;
    }
    if (!(start < end)) {
      st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "line %u: the label ends (%g s) before it starts (%g s)", r->line,
          end, start);
      goto fail;
    }
    char *name = trim (f[2]);
    if (!label_name_ok (name)) {
      st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
          "line %u: empty label name, longer than 255 bytes, or with "
          "control characters", r->line);
      goto fail;
    }
    bool has_file = format == EARSHOT_LABELS_DCASE
        || (format == EARSHOT_LABELS_CSV && file_col == 0);
    if ((st = add_label (l, has_file ? f[-1] : NULL, start, end, name,
                r->line)) != EARSHOT_OK) {
      if (st == EARSHOT_ERR_INVALID) {
        st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
            "more than %u labels", EARSHOT_LABELS_MAX);
        goto fail;
      }
      goto nomem;
    }
  }

  free (r);
  if (!index_by_file (l)) {
    earshot_label_list_free (l);
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
  }
  if (format_out)
    *format_out = format;
  *out = l;
  return EARSHOT_OK;

nomem:
  st = earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
fail:
  free (r);
  earshot_label_list_free (l);
  return st;
}

/* Label k of those that apply to a clip whose range in by_file starts at lo:
 * first the labels without a file, then the clip's own. */
static const earshot_label *
applying (const earshot_label_list *l, size_t lo, size_t k)
{
  return &l->items[l->by_file[k < l->n_no_file ? k
          : lo + (k - l->n_no_file)]];
}

earshot_status
earshot_labels_to_targets (const earshot_label_list *l, const char *file,
    const char *const *classes, size_t n_classes, int32_t background,
    uint32_t sample_rate, uint32_t hop, size_t n_frames, double duration,
    int32_t *targets, char *err, size_t err_size)
{
  double frame_s = (double) hop / sample_rate;
  /* The labels that apply: by_file[0, n_no_file) and by_file[lo, hi), or
   * every label when file is NULL. */
  size_t lo = l->n_no_file, hi = l->n;

  if (background >= (int32_t) n_classes || sample_rate == 0 || hop == 0)
    return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
        "invalid background class, rate or hop");
  if (file != NULL)
    file_range (l, file, &lo, &hi);
  for (size_t t = 0; t < n_frames; t++)
    targets[t] = background;

  size_t n_apply = l->n_no_file + (hi - lo);

  for (size_t k = 0; k < n_apply; k++) {
    const earshot_label *e = applying (l, lo, k);
    if (e->label == NULL)
      continue;
    size_t c;
    for (c = 0; c < n_classes; c++)
      if (strcmp (classes[c], e->label) == 0)
        break;
    if (c == n_classes)
      return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
          "line %u: label \"%s\" is not one of the classes", e->line,
          e->label);
    if (e->start >= duration || e->end > duration + frame_s)
      return earshot_fail (err, err_size, EARSHOT_ERR_INVALID,
          "line %u: label \"%s\" (%.3f-%.3f s) lies outside the audio, "
          "which lasts %.3f s", e->line, e->label, e->start, e->end,
          duration);
  }
  /* Paint in reverse priority, so the first class wins overlaps: class c
   * paints after every class > c. */
  for (size_t c = n_classes; c-- > 0;) {
    for (size_t k = 0; k < n_apply; k++) {
      const earshot_label *e = applying (l, lo, k);
      if (e->label == NULL || strcmp (classes[c], e->label) != 0)
        continue;
      /* Frames whose centre (t + 0.5) * frame_s lies in [start, end). */
      double first = ceil (e->start / frame_s - 0.5);
      double last = ceil (e->end / frame_s - 0.5);   /* exclusive */
      size_t t0 = first < 0 ? 0 : (size_t) first;
      size_t t1 = last > (double) n_frames ? n_frames : (size_t) last;
      for (size_t t = t0; t < t1; t++)
        targets[t] = (int32_t) c;
    }
  }
  return EARSHOT_OK;
}

/* ---- a string -> index hash map (open addressing, FNV-1a) ------------- */

typedef struct {
  const char **key;             /* [cap], NULL: empty; keys are borrowed */
  size_t *value;                /* [cap] */
  size_t cap, n;
} strmap;

static uint64_t
fnv1a (const char *s)
{
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++)
    h = (h ^ (unsigned char) *s) * 0x100000001b3ull;
  return h;
}

static void
strmap_free (strmap *m)
{
  free (m->key);
  free (m->value);
  *m = (strmap) { 0 };
}

/* Adds key -> value unless key is there.  Returns 1 if added, 0 if present
 * (*found = its value), -1 when out of memory. */
static int
strmap_add (strmap *m, const char *key, size_t value, size_t *found)
{
  if (2 * (m->n + 1) > m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 64;
    strmap bigger = { calloc (cap, sizeof (char *)),
      malloc (cap * sizeof (size_t)), cap, 0 };
    if (bigger.key == NULL || bigger.value == NULL) {
      strmap_free (&bigger);
      return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
      if (m->key[i] != NULL)
        strmap_add (&bigger, m->key[i], m->value[i], found);
    strmap_free (m);
    *m = bigger;
  }
  for (size_t i = fnv1a (key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (m->key[i] == NULL) {
      m->key[i] = key;
      m->value[i] = value;
      m->n++;
      return 1;
    }
    if (strcmp (m->key[i], key) == 0) {
      *found = m->value[i];
      return 0;
    }
  }
}

/* ---- manifests ------------------------------------------------------- */

struct earshot_manifest {
  earshot_manifest_entry *items;
  const char **keys;            /* DCASE: label `file` key per entry */
  size_t n, cap, keys_cap;
  arena_block *arena;
  earshot_label_list *labels;   /* DCASE-style manifests only */
};

void
earshot_manifest_free (earshot_manifest *m)
{
  if (m == NULL)
    return;
  free (m->items);
  free (m->keys);
  arena_free (m->arena);
  earshot_label_list_free (m->labels);
  free (m);
}

size_t
earshot_manifest_count (const earshot_manifest *m)
{
  return m->n;
}

const earshot_manifest_entry *
earshot_manifest_get (const earshot_manifest *m, size_t i)
{
  return i < m->n ? &m->items[i] : NULL;
}

const earshot_label_list *
earshot_manifest_labels (const earshot_manifest *m)
{
  return m->labels;
}

const char *
earshot_manifest_label_key (const earshot_manifest *m, size_t i)
{
  return m->labels != NULL && i < m->n ? m->keys[i] : NULL;
}

/* base_dir + "/" + path unless path is absolute; in the arena. */
static const char *
resolve (earshot_manifest *m, const char *base, const char *path)
{
  if (path[0] == '/' || base == NULL || base[0] == '\0')
    return arena_strndup (&m->arena, path, strlen (path));
  size_t b = strlen (base), p = strlen (path);
  char *tmp = malloc (b + 1 + p + 1);
  if (tmp == NULL)
    return NULL;
  memcpy (tmp, base, b);
  tmp[b] = '/';
  memcpy (tmp + b + 1, path, p + 1);
  const char *r = arena_strndup (&m->arena, tmp, b + 1 + p);
  free (tmp);
  return r;
}

static bool
path_ok (const char *p)
{
  if (*p == '\0' || strlen (p) > 4096)
    return false;
  for (; *p; p++)
    if ((unsigned char) *p < 0x20)
      return false;
  return true;
}

earshot_status
earshot_manifest_parse (const char *text, size_t len, const char *base_dir,
    earshot_manifest **out, char *err, size_t err_size)
{
  earshot_manifest *m;
  line_reader *r;
  earshot_status st = EARSHOT_OK;

  *out = NULL;
  m = calloc (1, sizeof *m);
  r = malloc (sizeof *r);
  if (m == NULL || r == NULL) {
    free (m);
    free (r);
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
  }
  r->p = text;
  r->end = text + len;
  r->line = 0;

  /* A DCASE-style manifest is recognised by its first data line: a DCASE
   * header, or four fields with numeric onset and offset. */
  int got;
  while ((got = next_line (r)) > 0 && is_blank_or_comment (r->buf))
    ;
  bool dcase = got > 0 && is_dcase_header (r->buf);
  if (got > 0 && !dcase && count_fields (r->buf, '\t') == 4) {
    char *f[MAX_FIELDS];
    split (r->buf, '\t', f);
    dcase = looks_like_number (f[1]) && looks_like_number (f[2]);
  }

  /* Resolved audio paths -> entry, to refuse a file listed twice (also
   * under two spellings); for DCASE, label keys -> entry too. */
  strmap seen = { 0 }, keys = { 0 };
  size_t at;
  int added;

  if (dcase) {
    char why[256];
    st = earshot_labels_parse (text, len, EARSHOT_LABELS_DCASE, &m->labels,
        NULL, why, sizeof why);
    if (st != EARSHOT_OK) {
      st = earshot_fail (err, err_size, st, "%s", why);
      goto fail;
    }
    /* One entry per distinct file, in order of first appearance. */
    for (size_t i = 0; i < m->labels->n; i++) {
      const earshot_label *e = &m->labels->items[i];
      if ((added = strmap_add (&keys, e->file, m->n, &at)) < 0)
        goto nomem;
      if (added == 0)
        continue;               /* another row of a file already listed */
      if (!path_ok (e->file)) {
        st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
            "line %u: invalid file name", e->line);
        goto fail;
      }
      if (!grow ((void **) &m->items, &m->cap, m->n, sizeof *m->items)
          || !grow ((void **) &m->keys, &m->keys_cap, m->n, sizeof *m->keys))
        goto nomem;
      const char *audio = resolve (m, base_dir, e->file);
      if (audio == NULL || (added = strmap_add (&seen, audio, m->n, &at)) < 0)
        goto nomem;
      if (added == 0) {
        st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
            "line %u: %s is already listed on line %u", e->line, audio,
            m->items[at].line);
        goto fail;
      }
      m->keys[m->n] = e->file;
      m->items[m->n] = (earshot_manifest_entry) { audio, NULL, e->line };
      m->n++;
    }
  } else {
    r->p = text;
    r->line = 0;
    while ((got = next_line (r)) != 0) {
      char *f[MAX_FIELDS];
      if (got < 0) {
        st = bad_line (r, got, err, err_size);
        goto fail;
      }
      if (is_blank_or_comment (r->buf))
        continue;
      int n = split (r->buf, '\t', f);
      if (n != 2 || !path_ok (trim (f[0])) || !path_ok (trim (f[1]))) {
        st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
            "line %u: a manifest line is audio_path<TAB>label_path", r->line);
        goto fail;
      }
      const char *audio = resolve (m, base_dir, trim (f[0]));
      const char *labels = resolve (m, base_dir, trim (f[1]));
      if (audio == NULL || labels == NULL
          || (added = strmap_add (&seen, audio, m->n, &at)) < 0)
        goto nomem;
      if (added == 0) {
        st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
            "line %u: %s is already listed on line %u", r->line, audio,
            m->items[at].line);
        goto fail;
      }
      if (!grow ((void **) &m->items, &m->cap, m->n, sizeof *m->items))
        goto nomem;
      m->items[m->n] = (earshot_manifest_entry) { audio, labels, r->line };
      m->n++;
    }
  }
  strmap_free (&seen);
  strmap_free (&keys);
  if (m->n == 0) {
    st = earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "the manifest lists no audio files");
    goto fail;
  }
  free (r);
  *out = m;
  return EARSHOT_OK;

nomem:
  st = earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
fail:
  strmap_free (&seen);
  strmap_free (&keys);
  free (r);
  earshot_manifest_free (m);
  return st;
}
