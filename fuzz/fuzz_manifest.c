/* fuzz_manifest.c — libFuzzer target for earshot_manifest_parse.
 *
 * Input: one control byte, then the manifest's text.  The control byte's
 * bits 0-1 pick the base folder: NULL, "", a relative one, an absolute one
 * (so the ASCII digits '0'..'3' in the seeds name them).
 *
 * A parsed manifest must hold what the header promises: at least one entry,
 * every path non-empty, resolved against the base folder, label paths for
 * two-column manifests and none (but a label key and the manifest's own
 * labels) for DCASE-style ones, no audio file twice.
 */
#include "earshot_labels.h"
#include "fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const bases[4] = { NULL, "", "data/set", "/srv/audio" };

/* path is `written` resolved against base (absolute paths stay as they are). */
static bool
resolved_from (const char *path, const char *base, const char *written)
{
  if (written[0] == '/' || base == NULL || base[0] == '\0')
    return strcmp (path, written) == 0;
  size_t b = strlen (base);
  return strncmp (path, base, b) == 0 && path[b] == '/'
      && strcmp (path + b + 1, written) == 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  const char *base = bases[data[0] & 3];
  earshot_manifest *m = (earshot_manifest *) &sentinel;
  char err[256] = "";

  earshot_status st = earshot_manifest_parse ((const char *) data + 1,
      size - 1, base, &m, err, sizeof err);
  FUZZ_CHECK ((st == EARSHOT_OK) == (m != NULL));
  if (st != EARSHOT_OK) {
    FUZZ_CHECK (err[0] != '\0');
    return 0;
  }

  size_t n = earshot_manifest_count (m);
  const earshot_label_list *labels = earshot_manifest_labels (m);
  FUZZ_CHECK (n >= 1);
  FUZZ_CHECK (earshot_manifest_get (m, n) == NULL);
  FUZZ_CHECK (earshot_manifest_label_key (m, n) == NULL);
  for (size_t i = 0; i < n; i++) {
    const earshot_manifest_entry *e = earshot_manifest_get (m, i);
    FUZZ_CHECK (e != NULL && e->audio != NULL && e->audio[0] != '\0');
    FUZZ_CHECK (e->line >= 1);
    const char *key = earshot_manifest_label_key (m, i);
    if (labels != NULL) {
      /* DCASE-style: the entry's labels are the rows whose file is its key. */
      FUZZ_CHECK (e->labels == NULL && key != NULL);
      FUZZ_CHECK (resolved_from (e->audio, base, key));
      bool found = false;
      for (size_t k = 0; k < earshot_label_list_count (labels) && !found; k++)
        found = strcmp (earshot_label_list_get (labels, k)->file, key) == 0;
      FUZZ_CHECK (found);
    } else {
      FUZZ_CHECK (e->labels != NULL && e->labels[0] != '\0' && key == NULL);
      if (i > 0)
        FUZZ_CHECK (e->line > earshot_manifest_get (m, i - 1)->line);
    }
    for (size_t j = 0; j < i; j++)
      FUZZ_CHECK (strcmp (earshot_manifest_get (m, j)->audio, e->audio) != 0);
  }
  earshot_manifest_free (m);
  return 0;
}
