/* test_locale.c — label and time parsing under a locale whose decimal
 * separator is a comma: times are written with '.', whatever LC_NUMERIC
 * says.
 *
 * The locale is made here, without root: `localedef -i de_DE -f UTF-8
 * DIR/de_DE.UTF-8` into a temporary folder, used through $LOCPATH (glibc
 * reads it at every setlocale()).  Debian's `locales` package has the
 * de_DE source.  If localedef or that source is missing, an installed
 * de_DE.UTF-8 or fr_FR.UTF-8 is used; if there is none either, the test
 * says what is missing and is skipped (exit status 77). */
#define _GNU_SOURCE             /* mkdtemp, nftw */
#include "earshot_labels.h"
#include "check.h"

#include <ftw.h>
#include <locale.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define LOCALE_SOURCE "/usr/share/i18n/locales/de_DE"

static char locale_dir[512];   /* the generated locale's folder, or "" */

static int
remove_entry (const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
  (void) st;
  (void) flag;
  (void) ftw;
  return remove (path);
}

static void
remove_locale_dir (void)
{
  if (locale_dir[0])
    nftw (locale_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
  locale_dir[0] = '\0';
}

/* Runs localedef into a new temporary folder and points $LOCPATH at it.
 * Returns the locale's name, or NULL after saying why on stderr. */
static const char *
generate_locale (void)
{
  const char *tmp = getenv ("TMPDIR");
  char out[600];
  char *argv[] = { "localedef", "-i", "de_DE", "-f", "UTF-8", out, NULL };
  pid_t pid;
  int status = 0;

  if (access (LOCALE_SOURCE, R_OK) != 0) {
    fprintf (stderr, "locale: %s is missing (Debian package locales)\n",
        LOCALE_SOURCE);
    return NULL;
  }
  snprintf (locale_dir, sizeof locale_dir, "%s/earshot-locale-XXXXXX",
      tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp (locale_dir) == NULL) {
    perror ("locale: mkdtemp");
    locale_dir[0] = '\0';
    return NULL;
  }
  snprintf (out, sizeof out, "%s/de_DE.UTF-8", locale_dir);
  if (posix_spawnp (&pid, "localedef", NULL, NULL, argv, environ) != 0) {
    fprintf (stderr, "locale: cannot run localedef (Debian package "
        "libc-bin)\n");
    return NULL;
  }
  if (waitpid (pid, &status, 0) < 0 || !WIFEXITED (status)) {
    fprintf (stderr, "locale: localedef did not finish\n");
    return NULL;
  }
  /* localedef exits 1 after mere warnings: the files are what counts */
  snprintf (out, sizeof out, "%s/de_DE.UTF-8/LC_NUMERIC", locale_dir);
  if (access (out, R_OK) != 0) {
    fprintf (stderr, "locale: localedef exited with %d and wrote no %s\n",
        WEXITSTATUS (status), out);
    return NULL;
  }
  setenv ("LOCPATH", locale_dir, 1);
  return "de_DE.UTF-8";
}

/* Sets LC_ALL to a comma-decimal locale; returns its name, or NULL. */
static const char *
comma_locale (void)
{
  static const char *installed[] = { "de_DE.UTF-8", "fr_FR.UTF-8",
    "de_DE.utf8", "fr_FR.utf8"
  };
  const char *name = generate_locale ();

  if (name && setlocale (LC_ALL, name) != NULL)
    return name;
  if (name)
    fprintf (stderr, "locale: setlocale (%s) failed with LOCPATH=%s\n",
        name, locale_dir);
  unsetenv ("LOCPATH");
  for (size_t i = 0; i < sizeof installed / sizeof *installed; i++)
    if (setlocale (LC_ALL, installed[i]) != NULL)
      return installed[i];
  return NULL;
}

static earshot_label_list *
parse (const char *text, earshot_labels_format fmt)
{
  earshot_label_list *l = NULL;
  char err[256] = "";

  CHECK (earshot_labels_parse (text, strlen (text), fmt, &l, NULL, err,
          sizeof err) == EARSHOT_OK, "'%s': %s", text, err);
  return l;
}

static void
check_times (const earshot_label_list *l, size_t i, double start, double end)
{
  CHECK (l && earshot_label_list_count (l) > i, "label %zu missing", i);
  if (l && earshot_label_list_count (l) > i) {
    CHECK (earshot_label_list_get (l, i)->start == start,
        "label %zu starts at %.17g, not %.17g", i,
        earshot_label_list_get (l, i)->start, start);
    CHECK (earshot_label_list_get (l, i)->end == end,
        "label %zu ends at %.17g, not %.17g", i,
        earshot_label_list_get (l, i)->end, end);
  }
}

/* Frame targets of an Audacity label text, 16 kHz, hop 160, 40 frames. */
static void
targets (const char *text, int32_t *t)
{
  static const char *classes[] = { "speech", "music", "silence" };
  earshot_label_list *l = parse (text, EARSHOT_LABELS_AUDACITY);
  char err[256] = "";

  CHECK (earshot_labels_to_targets (l, NULL, classes, 3, 2, 16000, 160, 40,
          0.4, t, err, sizeof err) == EARSHOT_OK, "targets: %s", err);
  earshot_label_list_free (l);
}

int
main (void)
{
  const char *text = "0.105\t0.195\tmusic\n0.155\t0.295\tspeech\n";
  const char *name;
  char buf[32];
  int32_t in_c[40], in_comma[40];
  earshot_label_list *l;
  earshot_label_list *bad = NULL;
  char err[256] = "";

  targets (text, in_c);
  name = comma_locale ();
  if (name == NULL) {
    fprintf (stderr, "SKIP: no comma-decimal locale: localedef or %s is "
        "missing, and neither de_DE.UTF-8 nor fr_FR.UTF-8 is installed\n",
        LOCALE_SOURCE);
    remove_locale_dir ();
    return 77;
  }
  printf ("locale %s%s%s\n", name, getenv ("LOCPATH") ? ", generated in " :
      " (installed)", getenv ("LOCPATH") ? getenv ("LOCPATH") : "");

  /* the locale really does write and read "1,5" */
  CHECK (strcmp (localeconv ()->decimal_point, ",") == 0,
      "decimal point '%s'", localeconv ()->decimal_point);
  snprintf (buf, sizeof buf, "%.1f", 1.5);
  CHECK (strcmp (buf, "1,5") == 0, "printf gives '%s'", buf);
  CHECK (strtod ("1,5", NULL) == 1.5, "strtod reads 1,5 as %g",
      strtod ("1,5", NULL));

  /* every format reads '.' times exactly */
  l = parse ("0.5\t1.25\tspeech\n2\t3.000000\tmusic\n1e-1\t.5\tx\n",
      EARSHOT_LABELS_AUDACITY);
  check_times (l, 0, 0.5, 1.25);
  check_times (l, 1, 2.0, 3.0);
  check_times (l, 2, 0.1, 0.5);
  earshot_label_list_free (l);
  l = parse ("start,end,label\n0.25,0.75,\"a, b\"\n", EARSHOT_LABELS_AUTO);
  check_times (l, 0, 0.25, 0.75);
  earshot_label_list_free (l);
  l = parse ("filename\tonset\toffset\tevent_label\na.wav\t0.5\t1.5\tdog\n",
      EARSHOT_LABELS_AUTO);
  check_times (l, 0, 0.5, 1.5);
  earshot_label_list_free (l);

  /* ... and a comma is still not a decimal separator */
  CHECK (earshot_labels_parse ("1,5\t2\tx\n", 8, EARSHOT_LABELS_AUDACITY,
          &bad, NULL, err, sizeof err) != EARSHOT_OK && bad == NULL
      && strstr (err, "times") != NULL, "'1,5' accepted: '%s'", err);
  earshot_label_list_free (bad);

  /* the same frame targets as in the C locale */
  targets (text, in_comma);
  CHECK (memcmp (in_c, in_comma, sizeof in_c) == 0,
      "targets differ from the C locale's");

  setlocale (LC_ALL, "C");
  remove_locale_dir ();
  return check_finish ("locale");
}
