/* util.c — messages, hashing, atomic files, the progress bar and the RNG of
 * the `earshot` command. */
#include "earshot-tool.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK (earshot-tool-error-quark, es_error)

static void
print_line (const char *kind, const char *fmt, va_list ap)
{
  char *msg = g_strdup_vprintf (fmt, ap);
  const char *prg = g_get_prgname ();

  fprintf (stderr, "%s: %s%s\n", prg ? prg : "earshot", kind, msg);
  g_free (msg);
}

void
es_print_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  print_line ("", fmt, ap);
  va_end (ap);
}

void
es_print_warning (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  print_line ("warning: ", fmt, ap);
  va_end (ap);
}

gboolean
es_fail_usage (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, ES_ERROR, ES_ERROR_USAGE, msg);
  g_free (msg);
  return FALSE;
}

GOptionContext *
es_option_context_new (const char *parameter, const char *summary,
    const char *const *description, const es_option_group *groups,
    gsize n_groups)
{
  GOptionContext *ctx = g_option_context_new (parameter);
  g_option_context_set_summary (ctx, summary);
  char *text = g_strjoinv ("", (char **) description);
  g_option_context_set_description (ctx, text);
  g_free (text);
  g_option_context_set_help_enabled (ctx, FALSE);
  /* groups, not main entries, so that they come in the order given */
  for (gsize i = 0; i < n_groups; i++) {
    GOptionGroup *g = g_option_group_new (groups[i].name, groups[i].title,
        groups[i].title, NULL, NULL);
    g_option_group_add_entries (g, groups[i].entries);
    g_option_context_add_group (ctx, g);
  }
  return ctx;
}

gboolean
es_option_parse (GOptionContext *ctx, const gboolean *help, int *argc,
    char ***argv, GError **error)
{
  gboolean ok = g_option_context_parse (ctx, argc, argv, error);
  if (ok && *help) {
    char *text = g_option_context_get_help (ctx, FALSE, NULL);
    fputs (text, stdout);
    g_free (text);
  }
  g_option_context_free (ctx);
  return ok;
}

int
es_command_status (const char *cmd, int status, GError *error)
{
  if (error == NULL)
    return status;
  if (g_error_matches (error, ES_ERROR, ES_ERROR_USAGE))
    status = ES_EXIT_USAGE;
  if (status == ES_EXIT_USAGE)
    es_print_error ("%s (see 'earshot %s --help')", error->message, cmd);
  else
    es_print_error ("%s", error->message);
  g_error_free (error);
  return status == ES_EXIT_OK ? ES_EXIT_FAILURE : status;
}

void
es_set_status_error (GError **error, earshot_status st, const char *msg)
{
  g_set_error (error, ES_ERROR,
      st == EARSHOT_ERR_IO ? ES_ERROR_IO : ES_ERROR_DATA, "%s",
      msg && *msg ? msg : earshot_status_str (st));
}

/* ---- files ------------------------------------------------------------ */

gboolean
es_sha256_file (const char *path, char hex[65], GError **error)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL) {
    int e = errno;
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot read %s: %s", path,
        g_strerror (e));
    return FALSE;
  }

  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  guchar *buf = g_malloc (1 << 20);
  size_t got;
  while ((got = fread (buf, 1, 1 << 20, f)) > 0)
    g_checksum_update (sum, buf, got);
  gboolean ok = !ferror (f);
  int e = errno;
  fclose (f);
  g_free (buf);
  if (!ok) {
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "cannot read %s: %s", path,
        g_strerror (e));
  } else {
    g_strlcpy (hex, g_checksum_get_string (sum), 65);
  }
  g_checksum_free (sum);
  return ok;
}

gboolean
es_write_file_atomic (const char *path, const void *data, gsize size,
    GError **error)
{
  GError *e = NULL;

  /* CONSISTENT: a temporary file in the same folder renamed over `path`. */
  if (!g_file_set_contents_full (path, data, (gssize) size,
          G_FILE_SET_CONTENTS_CONSISTENT, 0644, &e)) {
    g_set_error (error, ES_ERROR, ES_ERROR_IO, "%s", e->message);
    g_error_free (e);
    return FALSE;
  }
  return TRUE;
}

char *
es_sibling_path (const char *path, const char *suffix)
{
  if (g_str_has_suffix (path, ".earshot")) {
    char *stem = g_strndup (path, strlen (path) - strlen (".earshot"));
    char *r = g_strconcat (stem, suffix, NULL);
    g_free (stem);
    return r;
  }
  return g_strconcat (path, suffix, NULL);
}

/* ---- JSON ------------------------------------------------------------- */

void
es_json_string (GString *s, const char *v)
{
  char *valid = g_utf8_make_valid (v, -1);
  g_string_append_c (s, '"');
  for (const unsigned char *p = (const unsigned char *) valid; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (s, "\\%c", *p);
    else if (*p == '\n')
      g_string_append (s, "\\n");
    else if (*p == '\t')
      g_string_append (s, "\\t");
    else if (*p < 0x20)
      g_string_append_printf (s, "\\u%04x", *p);
    else
      g_string_append_c (s, (char) *p);
  }
  g_string_append_c (s, '"');
  g_free (valid);
}

void
es_json_number (GString *s, double v)
{
  if (isfinite (v))
    g_string_append_printf (s, "%.9g", v);
  else
    g_string_append (s, "null");
}

/* ---- terminal --------------------------------------------------------- */

char *
es_format_duration (double s)
{
  if (!isfinite (s) || s < 0)
    return g_strdup ("?");
  if (s < 60)
    return g_strdup_printf ("%.1fs", s);
  unsigned long t = (unsigned long) (s + 0.5);
  if (t < 3600)
    return g_strdup_printf ("%lu:%02lu", t / 60, t % 60);
  return g_strdup_printf ("%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
}

void
es_progress_start (es_progress *p, gboolean enabled)
{
  p->enabled = enabled && isatty (STDERR_FILENO);
  p->start_us = g_get_monotonic_time ();
  p->last_draw_us = 0;
  p->drawn = FALSE;
}

void
es_progress_update (es_progress *p, const char *what, guint64 done,
    guint64 total, const char *unit)
{
  enum { WIDTH = 30 };
  gint64 now = g_get_monotonic_time ();

  if (!p->enabled || (now - p->last_draw_us < 100000 && done < total))
    return;
  p->last_draw_us = now;

  double frac = total ? (double) done / (double) total : 0.0;
  if (frac > 1)
    frac = 1;
  double elapsed = (double) (now - p->start_us) / 1e6;
  double rate = elapsed > 0 ? (double) done / elapsed : 0;
  char bar[WIDTH + 1];
  int full = (int) (frac * WIDTH);
  for (int i = 0; i < WIDTH; i++)
    bar[i] = i < full ? '#' : i == full ? '>' : ' ';
  bar[WIDTH] = '\0';
  char *eta = done > 0 && done < total
      ? es_format_duration (elapsed * (double) (total - done) / (double) done)
      : g_strdup ("-");
  /* \r to the line start, \033[K clears what a longer line left behind. */
  fprintf (stderr, "\r%s [%s] %3d%%  %.0f %s/s  ETA %s\033[K", what, bar,
      (int) (frac * 100), rate, unit, eta);
  fflush (stderr);
  g_free (eta);
  p->drawn = TRUE;
}

void
es_progress_clear (es_progress *p)
{
  if (p->enabled && p->drawn) {
    fputs ("\r\033[K", stderr);
    fflush (stderr);
  }
  p->drawn = FALSE;
}

/* ---- randomness ------------------------------------------------------- */

uint64_t
es_rng_next (uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double
es_rng_uniform (uint64_t *state)
{
  return (double) (es_rng_next (state) >> 11) * 0x1.0p-53;
}

uint64_t
es_rng_derive (uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
  uint64_t s = seed;
  uint64_t r = es_rng_next (&s);
  s = r ^ a;
  r = es_rng_next (&s);
  s = r ^ b;
  r = es_rng_next (&s);
  s = r ^ c;
  return es_rng_next (&s);
}
