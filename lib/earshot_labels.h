/* earshot_labels.h — label files and manifests to per-frame targets.
 *
 * Label files in the formats people already have:
 *
 *   EARSHOT_LABELS_AUDACITY  Audacity label track export: one label per line,
 *                            `start<TAB>end<TAB>label`, seconds; the
 *                            spectral-selection lines Audacity writes after a
 *                            label (starting with '\') are ignored.
 *   EARSHOT_LABELS_DCASE     DCASE-style TSV: `filename<TAB>onset<TAB>offset
 *                            <TAB>event_label`, optionally with that header;
 *                            one file for many clips.  A row with empty onset,
 *                            offset and label names a file with no events.
 *   EARSHOT_LABELS_CSV       `start,end,label` or `filename,start,end,label`,
 *                            optional header row, RFC 4180 quoting.
 *
 * In every format blank lines and lines starting with '#' are ignored, times
 * are seconds (decimal, '.' as separator), start < end is required, and
 * errors name the line.  EARSHOT_LABELS_AUTO picks the format from the first
 * data line (a header with "onset" is DCASE; tabs are Audacity (3 fields) or
 * DCASE (4); commas are CSV).
 *
 * Frames follow the project's convention: frame t gets the label that covers
 * the centre of its hop interval, (t + 0.5) * hop / rate seconds.  Where
 * labels overlap at that instant, the class that comes first in the class
 * list wins (order the classes by priority).  Time no label covers gets the
 * background class, or no target (-1) if there is none.
 *
 * Manifests list training files, one per line:
 *   audio_path<TAB>label_path     paths relative to the manifest's folder
 * or are a DCASE-style TSV (header with filename/onset/offset/event_label)
 * whose filename column names the audio files directly.  '#' starts a
 * comment line.
 *
 * Everything here is plain parsing over a buffer in memory: no I/O, so the
 * parsers can be fuzzed.  Thread safety: lists are immutable once parsed.
 */
#ifndef EARSHOT_LABELS_H
#define EARSHOT_LABELS_H

#include "earshot.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  EARSHOT_LABELS_AUTO = 0,
  EARSHOT_LABELS_AUDACITY = 1,
  EARSHOT_LABELS_DCASE = 2,
  EARSHOT_LABELS_CSV = 3,
} earshot_labels_format;

typedef struct {
  const char *file;     /* DCASE/CSV with a filename column: the clip; else NULL */
  double start, end;    /* seconds, start < end; both 0 for "no events" rows */
  const char *label;    /* NULL for "no events" rows */
  unsigned line;        /* 1-based line in the source, for messages */
} earshot_label;

typedef struct earshot_label_list earshot_label_list;

/* Limits: at most 10 million labels and lines of at most 64 KiB. */
#define EARSHOT_LABELS_MAX 10000000u

/* Parses a label file's text (not NUL-terminated; may hold a UTF-8 BOM and
 * CRLF line ends).  *format_out (may be NULL) receives the format used. */
EARSHOT_API earshot_status earshot_labels_parse (const char *text,
    size_t len, earshot_labels_format format, earshot_label_list **out,
    earshot_labels_format *format_out, char *err, size_t err_size);
EARSHOT_API void earshot_label_list_free (earshot_label_list *l);

EARSHOT_API size_t earshot_label_list_count (const earshot_label_list *l);
EARSHOT_API const earshot_label *earshot_label_list_get (
    const earshot_label_list *l, size_t i);
EARSHOT_API const char *earshot_labels_format_name (earshot_labels_format f);

/* Fills targets[n_frames] for the labels of one file: those whose `file`
 * equals `file` (or all labels when file is NULL; labels with a NULL file
 * always apply).  classes: n_classes names in priority order; background:
 * index of the class for unlabelled time, or -1 for "no target".  A label
 * whose name is not in classes, or that lies outside the file (start at or
 * after `duration` seconds, or end more than one hop after it), is an error
 * naming it and its line.  Returns EARSHOT_ERR_INVALID with the message. */
EARSHOT_API earshot_status earshot_labels_to_targets (
    const earshot_label_list *l, const char *file,
    const char *const *classes, size_t n_classes, int32_t background,
    uint32_t sample_rate, uint32_t hop, size_t n_frames, double duration,
    int32_t *targets, char *err, size_t err_size);

/* ---- manifests -------------------------------------------------------- */

typedef struct {
  const char *audio;    /* path, resolved against the manifest's folder */
  const char *labels;   /* label file path, resolved; NULL for DCASE rows */
  unsigned line;
} earshot_manifest_entry;

typedef struct earshot_manifest earshot_manifest;

/* Parses a manifest's text.  base_dir: the folder relative paths are
 * resolved against ("" or NULL: as written).  Audio files listed twice are
 * an error.  For a DCASE-style manifest, earshot_manifest_labels returns its
 * labels (file = the audio path as written in the manifest, before
 * resolution). */
EARSHOT_API earshot_status earshot_manifest_parse (const char *text,
    size_t len, const char *base_dir, earshot_manifest **out, char *err,
    size_t err_size);
EARSHOT_API void earshot_manifest_free (earshot_manifest *m);
EARSHOT_API size_t earshot_manifest_count (const earshot_manifest *m);
EARSHOT_API const earshot_manifest_entry *earshot_manifest_get (
    const earshot_manifest *m, size_t i);
/* The manifest's own labels (DCASE-style manifests), or NULL. */
EARSHOT_API const earshot_label_list *earshot_manifest_labels (
    const earshot_manifest *m);
/* For entry i of a DCASE-style manifest: the `file` value its labels carry. */
EARSHOT_API const char *earshot_manifest_label_key (const earshot_manifest *m,
    size_t i);

#ifdef __cplusplus
}
#endif

#endif /* EARSHOT_LABELS_H */
