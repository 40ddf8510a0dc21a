/* replay.c — runs a libFuzzer target over files without libFuzzer.
 *
 *   fuzz-replay-model FILE_OR_FOLDER...
 *
 * Feeds every file (folders: every regular file in them, sorted by name, not
 * recursive) to LLVMFuzzerTestOneInput, so the corpora and the crash
 * reproducers run as an ordinary test under any compiler and sanitizer.  A
 * target reports a problem by aborting (or the sanitizer does), so reaching
 * the end means every input passed.  Files whose names start with '.' are
 * skipped (a folder may hold a .keep).  No input at all is a failure: an
 * empty or misnamed corpus would otherwise pass silently.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
run_file (const char *path)
{
  FILE *fp = fopen (path, "rb");
  if (fp == NULL) {
    fprintf (stderr, "replay: cannot open %s: %s\n", path, strerror (errno));
    return -1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc (cap);
  for (;;) {
    if (buf == NULL) {
      fclose (fp);
      fprintf (stderr, "replay: out of memory reading %s\n", path);
      return -1;
    }
    len += fread (buf + len, 1, cap - len, fp);
    if (len < cap)
      break;
    uint8_t *more = realloc (buf, cap * 2);
    if (more == NULL)
      free (buf);
    buf = more;
    cap *= 2;
  }
  int bad = ferror (fp);
  fclose (fp);
  if (bad) {
    free (buf);
    fprintf (stderr, "replay: cannot read %s\n", path);
    return -1;
  }
  /* An exact-size copy, so reading past the input is caught by ASan. */
  uint8_t *exact = malloc (len ? len : 1);
  if (exact == NULL) {
    free (buf);
    fprintf (stderr, "replay: out of memory reading %s\n", path);
    return -1;
  }
  memcpy (exact, buf, len);
  free (buf);
  LLVMFuzzerTestOneInput (exact, len);
  free (exact);
  return 0;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Runs every regular file in dir; returns the count, or -1 on error. */
static long
run_dir (const char *dir)
{
  DIR *d = opendir (dir);
  if (d == NULL) {
    fprintf (stderr, "replay: cannot open folder %s: %s\n", dir,
        strerror (errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir (d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **more = realloc (names, cap * sizeof *names);
      if (more == NULL)
        break;
      names = more;
    }
    size_t len = strlen (dir) + 1 + strlen (de->d_name) + 1;
    names[n] = malloc (len);
    if (names[n] == NULL)
      break;
    snprintf (names[n], len, "%s/%s", dir, de->d_name);
    n++;
  }
  closedir (d);
  if (n > 1)
    qsort (names, n, sizeof *names, compare_names);
  long count = 0;
  for (size_t i = 0; i < n; i++) {
    struct stat sb;
    if (stat (names[i], &sb) == 0 && S_ISREG (sb.st_mode)) {
      if (run_file (names[i]) != 0)
        count = -1;
      else if (count >= 0)
        count++;
    }
    free (names[i]);
  }
  free (names);
  return count;
}

int
main (int argc, char **argv)
{
  long total = 0;
  int failed = 0;

  if (argc < 2) {
    fprintf (stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat (argv[i], &sb) != 0) {
      fprintf (stderr, "replay: %s: %s\n", argv[i], strerror (errno));
      failed = 1;
    } else if (S_ISDIR (sb.st_mode)) {
      long n = run_dir (argv[i]);
      if (n < 0)
        failed = 1;
      else
        total += n;
    } else if (run_file (argv[i]) == 0) {
      total++;
    } else {
      failed = 1;
    }
  }
  printf ("replayed %ld inputs\n", total);
  if (total == 0) {
    fprintf (stderr, "replay: no input files\n");
    return 1;
  }
  return failed;
}
