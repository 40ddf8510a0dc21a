/* fuzz_labels.c — libFuzzer target for the label-file parsers and
 * earshot_labels_to_targets.
 *
 * Input: one control byte, then the label file's text.  The control byte
 * picks
 *   bits 0-1  the format: AUTO, AUDACITY, DCASE, CSV (so the ASCII digits
 *             '0'..'3' in the seeds name them);
 *   bit  2    a background class (else no target, -1, for unlabelled time);
 *   bit  3    classes in reverse order of appearance (changes priorities);
 *   bit  4    leave the last class out (a label that is not a class);
 *   bits 5-6  the rate and hop of the frames.
 *
 * A parsed list must hold what the header promises (start < end, times
 * finite and non-negative, names non-empty without control characters, a
 * file exactly where the format has one).  Targets are checked against a
 * naive reference: frame t takes the first class (in priority order) with a
 * label covering its centre (t + 0.5) * hop / rate, else the background;
 * frames whose centre lies within rounding of a label edge are skipped.
 * Text that parses in an explicit format whose shape its first data line has
 * (3 tab-separated fields: Audacity, 4: DCASE, commas only: CSV) must parse
 * the same with EARSHOT_LABELS_AUTO.
 */
#include "earshot_labels.h"
#include "fuzz.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES 8
#define MAX_FRAMES 256
/* Cannot be a label name: labels hold no control characters. */
#define BACKGROUND_NAME "\x01" "background"

static const struct {
  uint32_t rate, hop;
} framings[4] = { { 16000, 160 }, { 1000, 1 }, { 44100, 441 }, { 48000, 1024 } };

static bool
applies (const earshot_label *e, const char *file)
{
  return e->label != NULL
      && (file == NULL || e->file == NULL || strcmp (file, e->file) == 0);
}

static void
check_list (const earshot_label_list *l, earshot_labels_format format)
{
  size_t n = earshot_label_list_count (l);
  FUZZ_CHECK (earshot_label_list_get (l, n) == NULL);
  for (size_t i = 0; i < n; i++) {
    const earshot_label *e = earshot_label_list_get (l, i);
    FUZZ_CHECK (e != NULL && e->line >= 1);
    if (i > 0)
      FUZZ_CHECK (e->line > earshot_label_list_get (l, i - 1)->line);
    if (e->label == NULL) {
      /* "No events" rows exist only in DCASE files. */
      FUZZ_CHECK (format == EARSHOT_LABELS_DCASE && e->file != NULL
          && e->file[0] != '\0');
      FUZZ_CHECK (e->start == 0.0 && e->end == 0.0);
      continue;
    }
    FUZZ_CHECK (isfinite (e->start) && isfinite (e->end));
    FUZZ_CHECK (e->start >= 0.0 && e->start < e->end);
    size_t len = strlen (e->label);
    FUZZ_CHECK (len >= 1 && len <= 255);
    for (size_t k = 0; k < len; k++)
      FUZZ_CHECK ((unsigned char) e->label[k] >= 0x20 && e->label[k] != 0x7f);
    if (format == EARSHOT_LABELS_AUDACITY)
      FUZZ_CHECK (e->file == NULL);
    if (format == EARSHOT_LABELS_DCASE)
      FUZZ_CHECK (e->file != NULL && e->file[0] != '\0');
    if (e->file != NULL)
      FUZZ_CHECK (format != EARSHOT_LABELS_AUDACITY);
  }
}

/* The frame centre lies within rounding of one of the label's edges. */
static bool
near_edge (const earshot_label *e, double centre)
{
  double tol = 1e-9 * (1.0 + fabs (centre));
  return fabs (centre - e->start) <= tol || fabs (centre - e->end) <= tol;
}

static void
check_targets (const earshot_label_list *l, const char *file, uint8_t ctl)
{
  const char *classes[MAX_CLASSES + 1];
  size_t n_classes = 0;
  size_t n = earshot_label_list_count (l);
  bool all_named = true;
  double duration = 0.0;

  /* Class names: distinct label names in order of appearance. */
  for (size_t i = 0; i < n; i++) {
    const earshot_label *e = earshot_label_list_get (l, i);
    if (!applies (e, file))
      continue;
    if (e->end > duration)
      duration = e->end;
    size_t c;
    for (c = 0; c < n_classes; c++)
      if (strcmp (classes[c], e->label) == 0)
        break;
    if (c == n_classes && n_classes < MAX_CLASSES)
      classes[n_classes++] = e->label;
  }
  if ((ctl & 0x10) && n_classes > 0)
    n_classes--;
  if (ctl & 0x08) {
    for (size_t a = 0, b = n_classes; a + 1 < b; a++, b--) {
      const char *t = classes[a];
      classes[a] = classes[b - 1];
      classes[b - 1] = t;
    }
  }
  int32_t background = -1;
  if (ctl & 0x04) {
    background = (int32_t) n_classes;
    classes[n_classes++] = BACKGROUND_NAME;
  }
  for (size_t i = 0; i < n && all_named; i++) {
    const earshot_label *e = earshot_label_list_get (l, i);
    if (!applies (e, file))
      continue;
    size_t c;
    for (c = 0; c < n_classes; c++)
      if (strcmp (classes[c], e->label) == 0)
        break;
    all_named = c < n_classes;
  }
  if (duration == 0.0)
    duration = 1.0;

  uint32_t rate = framings[(ctl >> 5) & 3].rate;
  uint32_t hop = framings[(ctl >> 5) & 3].hop;
  double frame_s = (double) hop / rate;
  double want_frames = ceil (duration / frame_s);
  size_t n_frames = want_frames < MAX_FRAMES ? (size_t) want_frames
      : MAX_FRAMES;
  /* Exactly n_frames, so an overrun is caught by the sanitizer. */
  int32_t *targets = malloc ((n_frames ? n_frames : 1) * sizeof *targets);
  FUZZ_CHECK (targets != NULL);
  char err[256] = "";

  earshot_status st = earshot_labels_to_targets (l, file, classes, n_classes,
      background, rate, hop, n_frames, duration, targets, err, sizeof err);
  if (all_named && st != EARSHOT_OK)
    fprintf (stderr, "unexpected refusal: %s\n", err);
  FUZZ_CHECK (st == (all_named ? EARSHOT_OK : EARSHOT_ERR_INVALID));
  if (st != EARSHOT_OK)
    FUZZ_CHECK (err[0] != '\0');

  for (size_t t = 0; st == EARSHOT_OK && t < n_frames; t++) {
    double centre = ((double) t + 0.5) * frame_s;
    bool ambiguous = false;
    int32_t want = background;
    for (size_t c = 0; c < n_classes && want == background && !ambiguous;
        c++) {
      for (size_t i = 0; i < n; i++) {
        const earshot_label *e = earshot_label_list_get (l, i);
        if (!applies (e, file) || strcmp (e->label, classes[c]) != 0)
          continue;
        if (near_edge (e, centre)) {
          ambiguous = true;
          break;
        }
        if (e->start <= centre && centre < e->end) {
          want = (int32_t) c;
          break;
        }
      }
    }
    if (!ambiguous && targets[t] != want) {
      fprintf (stderr, "frame %zu (centre %.17g s): target %d, expected %d\n",
          t, centre, targets[t], want);
      FUZZ_CHECK (targets[t] == want);
    }
  }

  /* Audio that ends before the labels start: each applicable label is then
   * outside it, an error. */
  if (n_classes > 0) {
    double first_start = -1.0;
    for (size_t i = 0; i < n; i++) {
      const earshot_label *e = earshot_label_list_get (l, i);
      if (applies (e, file) && (first_start < 0.0 || e->start < first_start))
        first_start = e->start;
    }
    if (first_start >= 0.0) {
      st = earshot_labels_to_targets (l, file, classes, n_classes,
          background, rate, hop, n_frames, first_start, targets, err,
          sizeof err);
      FUZZ_CHECK (st == EARSHOT_ERR_INVALID);
    }
  }
  free (targets);
}


/* The format EARSHOT_LABELS_AUTO must pick for this text, as the header
 * words it: from the first data line, tabs are Audacity (3 fields) or DCASE
 * (4), commas without tabs are CSV.  AUTO when the header leaves it open. */
static earshot_labels_format
documented_auto (const char *text, size_t len)
{
  const char *p = text, *end = text + len;
  bool first = true;
  while (p < end) {
    const char *nl = memchr (p, '\n', (size_t) (end - p));
    const char *stop = nl ? nl : end;
    if (first && stop - p >= 3 && memcmp (p, "\xEF\xBB\xBF", 3) == 0)
      p += 3;
    first = false;
    if (stop > p && stop[-1] == '\r')
      stop--;
    const char *q = p;
    while (q < stop && (*q == ' ' || *q == '\t'))
      q++;
    if (q < stop && *q != '#') {
      size_t tabs = 0, commas = 0;
      for (q = p; q < stop; q++) {
        tabs += *q == '\t';
        commas += *q == ',';
      }
      if (tabs == 2)
        return EARSHOT_LABELS_AUDACITY;
      if (tabs == 3)
        return EARSHOT_LABELS_DCASE;
      if (tabs == 0 && commas > 0)
        return EARSHOT_LABELS_CSV;
      return EARSHOT_LABELS_AUTO;
    }
    p = nl ? nl + 1 : end;
  }
  return EARSHOT_LABELS_AUTO;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t ctl = data[0];
  earshot_labels_format format = (earshot_labels_format) (ctl & 3);
  earshot_labels_format used = (earshot_labels_format) 99;
  earshot_label_list *l = (earshot_label_list *) &sentinel;
  char err[256] = "";

  earshot_status st = earshot_labels_parse ((const char *) data + 1, size - 1,
      format, &l, &used, err, sizeof err);
  FUZZ_CHECK ((st == EARSHOT_OK) == (l != NULL));
  if (st != EARSHOT_OK) {
    FUZZ_CHECK (err[0] != '\0');
    return 0;
  }
  if (format != EARSHOT_LABELS_AUTO)
    FUZZ_CHECK (used == format);
  FUZZ_CHECK (used <= EARSHOT_LABELS_CSV);
  FUZZ_CHECK (earshot_labels_format_name (used) != NULL);
  check_list (l, used);

  /* Text that parses in the format its first line names parses in AUTO. */
  if (format != EARSHOT_LABELS_AUTO
      && documented_auto ((const char *) data + 1, size - 1) == format) {
    earshot_label_list *l2 = NULL;
    earshot_labels_format used2 = EARSHOT_LABELS_AUTO;
    st = earshot_labels_parse ((const char *) data + 1, size - 1,
        EARSHOT_LABELS_AUTO, &l2, &used2, err, sizeof err);
    {
      if (st != EARSHOT_OK || used2 != format)
        fprintf (stderr, "AUTO gave %s (%s), the format is %s\n",
            earshot_labels_format_name (used2),
            st != EARSHOT_OK ? err : "parsed",
            earshot_labels_format_name (format));
      FUZZ_CHECK (st == EARSHOT_OK && used2 == format);
      FUZZ_CHECK (earshot_label_list_count (l2)
          == earshot_label_list_count (l));
    }
    earshot_label_list_free (l2);
  }

  check_targets (l, NULL, ctl);
  if (earshot_label_list_count (l) > 0) {
    const char *file = earshot_label_list_get (l, 0)->file;
    if (file != NULL)
      check_targets (l, file, ctl);
  }
  earshot_label_list_free (l);
  return 0;
}
