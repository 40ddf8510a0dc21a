/* test_labels.c — label files, manifests, and labels to frame targets. */
#include "earshot_labels.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static earshot_label_list *
parse (const char *text, earshot_labels_format fmt, earshot_labels_format *got)
{
  earshot_label_list *l = NULL;
  char err[256] = "";
  earshot_status st = earshot_labels_parse (text, strlen (text), fmt, &l, got,
      err, sizeof err);
  CHECK (st == EARSHOT_OK, "parse failed: %s", err);
  return l;
}

static void
expect_error (const char *text, earshot_labels_format fmt, const char *words)
{
  earshot_label_list *l = NULL;
  char err[256] = "";
  earshot_status st = earshot_labels_parse (text, strlen (text), fmt, &l,
      NULL, err, sizeof err);
  CHECK (st != EARSHOT_OK && l == NULL && strstr (err, words) != NULL,
      "'%s': status %d, message '%s', wanted '%s'", text, st, err, words);
  earshot_label_list_free (l);
}

static void
test_formats (void)
{
  earshot_labels_format f;
  earshot_label_list *l;

  /* Audacity, with a BOM, CRLF, a comment and a spectral-selection line. */
  l = parse ("\xEF\xBB\xBF# comment\r\n0.5\t1.25\tspeech\r\n\\\t100\t2000\r\n"
      "2\t3.000000\tmusic\r\n", EARSHOT_LABELS_AUTO, &f);
  CHECK (f == EARSHOT_LABELS_AUDACITY, "format %d", f);
  CHECK (l && earshot_label_list_count (l) == 2, "count");
  if (l && earshot_label_list_count (l) == 2) {
    const earshot_label *a = earshot_label_list_get (l, 0);
    const earshot_label *b = earshot_label_list_get (l, 1);
    CHECK (a->start == 0.5 && a->end == 1.25 && !strcmp (a->label, "speech")
        && a->file == NULL && a->line == 2, "first label");
    CHECK (b->start == 2 && b->end == 3 && !strcmp (b->label, "music")
        && b->line == 4, "second label line %u", b->line);
  }
  earshot_label_list_free (l);

  /* DCASE with header, two files, a file without events. */
  l = parse ("filename\tonset\toffset\tevent_label\n"
      "a.wav\t0.0\t1.0\tdog\n"
      "b.wav\t2.5\t3\tbell\n"
      "c.wav\t\t\t\n", EARSHOT_LABELS_AUTO, &f);
  CHECK (f == EARSHOT_LABELS_DCASE, "dcase format %d", f);
  CHECK (l && earshot_label_list_count (l) == 3, "dcase count");
  if (l && earshot_label_list_count (l) == 3) {
    CHECK (!strcmp (earshot_label_list_get (l, 1)->file, "b.wav")
        && earshot_label_list_get (l, 1)->start == 2.5, "dcase row");
    CHECK (earshot_label_list_get (l, 2)->label == NULL
        && !strcmp (earshot_label_list_get (l, 2)->file, "c.wav"),
        "no-event row");
  }
  earshot_label_list_free (l);

  /* CSV with header and quoting; CSV with a filename column. */
  l = parse ("start,end,label\n0,1,\"speech, loud\"\n1.5, 2 ,\"say \"\"hi\"\"\"\n",
      EARSHOT_LABELS_AUTO, &f);
  CHECK (f == EARSHOT_LABELS_CSV, "csv format");
  CHECK (l && earshot_label_list_count (l) == 2
      && !strcmp (earshot_label_list_get (l, 0)->label, "speech, loud")
      && !strcmp (earshot_label_list_get (l, 1)->label, "say \"hi\""),
      "csv quoting");
  earshot_label_list_free (l);
  l = parse ("x.wav,0,1,a\ny.wav,1,2,b\n", EARSHOT_LABELS_CSV, &f);
  CHECK (l && earshot_label_list_count (l) == 2
      && !strcmp (earshot_label_list_get (l, 1)->file, "y.wav"), "csv file");
  earshot_label_list_free (l);

  /* Empty files are valid and empty. */
  l = parse ("", EARSHOT_LABELS_AUDACITY, NULL);
  CHECK (l && earshot_label_list_count (l) == 0, "empty");
  earshot_label_list_free (l);

  expect_error ("hello world\n", EARSHOT_LABELS_AUTO, "known format");
  expect_error ("0\t1\n", EARSHOT_LABELS_AUDACITY, "3 tab-separated");
  expect_error ("2\t1\tx\n", EARSHOT_LABELS_AUDACITY, "before it starts");
  expect_error ("a\tb\tx\n", EARSHOT_LABELS_AUDACITY, "times in seconds");
  expect_error ("0\tinf\tx\n", EARSHOT_LABELS_AUDACITY, "times in seconds");
  expect_error ("-1\t1\tx\n", EARSHOT_LABELS_AUDACITY, "times in seconds");
  expect_error ("0\t1\t\n", EARSHOT_LABELS_AUDACITY, "empty label");
  expect_error ("0,1,\"open\n", EARSHOT_LABELS_CSV, "unterminated");
  expect_error ("0,1\n", EARSHOT_LABELS_CSV, "3 fields");
  expect_error ("a.wav\t0\t1\n", EARSHOT_LABELS_DCASE, "4 fields");
  {
    const char bin[] = "0\t1\tx\n\0\x01\x02";
    earshot_label_list *b = NULL;
    char err[256] = "";
    CHECK (earshot_labels_parse (bin, sizeof bin - 1, EARSHOT_LABELS_AUTO, &b,
            NULL, err, sizeof err) == EARSHOT_ERR_FORMAT
        && strstr (err, "line 2") && strstr (err, "NUL"), "NUL: '%s'", err);
  }
  {
    size_t n = 70000;
    char *big = malloc (n + 1);
    memset (big, 'x', n);
    big[n] = '\0';
    expect_error (big, EARSHOT_LABELS_AUTO, "longer than");
    free (big);
  }
}

static void
test_targets (void)
{
  /* 16 kHz, hop 160: frame t's centre is (t + 0.5) * 10 ms. */
  const char *classes[] = { "speech", "music", "silence" };
  earshot_label_list *l = parse ("0.10\t0.20\tmusic\n0.15\t0.30\tspeech\n",
      EARSHOT_LABELS_AUDACITY, NULL);
  int32_t t[40];
  char err[256] = "";

  CHECK (earshot_labels_to_targets (l, NULL, classes, 3, 2, 16000, 160, 40,
          0.4, t, err, sizeof err) == EARSHOT_OK, "%s", err);
  /* music covers centres 0.105 .. 0.195 -> frames 10..19; speech covers
   * 0.155 .. 0.295 -> frames 15..29 and wins the overlap (first class). */
  for (int i = 0; i < 40; i++) {
    int want = i >= 15 && i < 30 ? 0 : i >= 10 && i < 15 ? 1 : 2;
    CHECK (t[i] == want, "frame %d: %d, want %d", i, t[i], want);
  }
  /* No background: unlabelled frames get no target. */
  earshot_labels_to_targets (l, NULL, classes, 3, -1, 16000, 160, 40, 0.4, t,
      err, sizeof err);
  CHECK (t[0] == -1 && t[39] == -1 && t[12] == 1, "no background");

  /* Outside the file; unknown class. */
  CHECK (earshot_labels_to_targets (l, NULL, classes, 3, 2, 16000, 160, 10,
          0.1, t, err, sizeof err) == EARSHOT_ERR_INVALID
      && strstr (err, "outside"), "outside: '%s'", err);
  const char *few[] = { "speech", "silence" };
  CHECK (earshot_labels_to_targets (l, NULL, few, 2, 1, 16000, 160, 40, 0.4,
          t, err, sizeof err) == EARSHOT_ERR_INVALID
      && strstr (err, "\"music\"") && strstr (err, "line 1"),
      "unknown class: '%s'", err);
  earshot_label_list_free (l);

  /* Per-file selection in a DCASE list. */
  l = parse ("a.wav\t0\t0.05\tspeech\nb.wav\t0\t0.1\tmusic\n",
      EARSHOT_LABELS_DCASE, NULL);
  earshot_labels_to_targets (l, "b.wav", classes, 3, 2, 16000, 160, 20, 0.2,
      t, err, sizeof err);
  CHECK (t[0] == 1 && t[9] == 1 && t[10] == 2, "file b");
  earshot_labels_to_targets (l, "a.wav", classes, 3, 2, 16000, 160, 20, 0.2,
      t, err, sizeof err);
  CHECK (t[0] == 0 && t[4] == 0 && t[5] == 2, "file a");
  earshot_label_list_free (l);
}

static void
test_manifest (void)
{
  earshot_manifest *m = NULL;
  char err[256] = "";
  const char *text = "# training set\n\none.wav\tone.txt\n"
      "/abs/two.ogg\tlabels/two.txt\n";

  CHECK (earshot_manifest_parse (text, strlen (text), "/data", &m, err,
          sizeof err) == EARSHOT_OK, "%s", err);
  CHECK (m && earshot_manifest_count (m) == 2, "count");
  if (m && earshot_manifest_count (m) == 2) {
    CHECK (!strcmp (earshot_manifest_get (m, 0)->audio, "/data/one.wav")
        && !strcmp (earshot_manifest_get (m, 0)->labels, "/data/one.txt"),
        "relative paths");
    CHECK (!strcmp (earshot_manifest_get (m, 1)->audio, "/abs/two.ogg")
        && !strcmp (earshot_manifest_get (m, 1)->labels,
            "/data/labels/two.txt") && earshot_manifest_get (m, 1)->line == 4,
        "absolute path");
    CHECK (earshot_manifest_labels (m) == NULL, "no own labels");
  }
  earshot_manifest_free (m);

  const char *dcase = "filename\tonset\toffset\tevent_label\n"
      "a.wav\t0\t1\tdog\na.wav\t2\t3\tdog\nb.wav\t0\t1\tcat\n";
  CHECK (earshot_manifest_parse (dcase, strlen (dcase), "d", &m, err,
          sizeof err) == EARSHOT_OK, "%s", err);
  CHECK (m && earshot_manifest_count (m) == 2
      && !strcmp (earshot_manifest_get (m, 1)->audio, "d/b.wav")
      && earshot_manifest_get (m, 1)->labels == NULL
      && !strcmp (earshot_manifest_label_key (m, 1), "b.wav")
      && earshot_label_list_count (earshot_manifest_labels (m)) == 3,
      "dcase manifest");
  earshot_manifest_free (m);

  const char *bad[][2] = {
    { "# nothing\n\n", "no audio files" },
    { "a.wav\n", "audio_path<TAB>label_path" },
    { "a.wav\ta.txt\na.wav\tb.txt\n", "already listed on line 1" },
  };
  for (size_t i = 0; i < 3; i++) {
    m = NULL;
    CHECK (earshot_manifest_parse (bad[i][0], strlen (bad[i][0]), "", &m,
            err, sizeof err) == EARSHOT_ERR_FORMAT && m == NULL
        && strstr (err, bad[i][1]), "bad manifest %zu: '%s'", i, err);
  }
  earshot_manifest_free (NULL);
  earshot_label_list_free (NULL);
}

/* Regressions found by the fuzzers and by review. */
static void
test_regressions (void)
{
  earshot_labels_format f;
  earshot_label_list *l;
  earshot_manifest *m = NULL;
  char err[256] = "";

  /* An Audacity label named "onset" is not a DCASE header. */
  l = parse ("0.0\t1.5\tonset\n", EARSHOT_LABELS_AUTO, &f);
  CHECK (f == EARSHOT_LABELS_AUDACITY && l
      && earshot_label_list_count (l) == 1, "label named onset: format %d", f);
  earshot_label_list_free (l);
  const char *two = "onset_filename.wav\tx.txt\n";
  CHECK (earshot_manifest_parse (two, strlen (two), "", &m, err, sizeof err)
      == EARSHOT_OK && earshot_manifest_labels (m) == NULL,
      "two-column manifest with 'onset' in a name: %s", err);
  earshot_manifest_free (m);

  /* One audio file under two spellings in a DCASE manifest. */
  const char *dup = "a.wav\t0\t1\tx\n/srv/audio/a.wav\t2\t3\tx\n";
  m = NULL;
  CHECK (earshot_manifest_parse (dup, strlen (dup), "/srv/audio", &m, err,
          sizeof err) == EARSHOT_ERR_FORMAT && m == NULL
      && strstr (err, "already listed on line 1"), "dcase duplicate: '%s'",
      err);

  /* Times are decimal numbers with '.', nothing else. */
  expect_error ("0x10\t0x20\tx\n", EARSHOT_LABELS_AUDACITY, "times");
  expect_error ("nan\t1\tx\n", EARSHOT_LABELS_AUDACITY, "times");
  expect_error ("1,5\t2\tx\n", EARSHOT_LABELS_AUDACITY, "times");
  l = parse ("1e-1\t.5\tx\n+2\t2.5E0\ty\n", EARSHOT_LABELS_AUDACITY, NULL);
  CHECK (l && earshot_label_list_count (l) == 2
      && earshot_label_list_get (l, 0)->start == 0.1
      && earshot_label_list_get (l, 0)->end == 0.5
      && earshot_label_list_get (l, 1)->end == 2.5, "exponents");
  earshot_label_list_free (l);
  /* ... whatever the locale says: test_locale.c */

  /* A first row that is neither data nor a header is an error, not a
   * header silently skipped. */
  expect_error ("a,b,x\n0,1,y\n", EARSHOT_LABELS_CSV, "times in seconds");
  l = parse ("Onset,Offset,Label\n0,1,y\n", EARSHOT_LABELS_CSV, NULL);
  CHECK (l && earshot_label_list_count (l) == 1, "csv header names");
  earshot_label_list_free (l);

  /* Clips interleaved in one DCASE list: each gets its own labels. */
  l = parse ("b.wav\t0\t0.1\tmusic\na.wav\t0.1\t0.2\tspeech\n"
      "b.wav\t0.15\t0.2\tspeech\nc.wav\t\t\t\n", EARSHOT_LABELS_DCASE,
      NULL);
  const char *classes[] = { "speech", "music", "silence" };
  int32_t t[20];
  earshot_labels_to_targets (l, "b.wav", classes, 3, 2, 16000, 160, 20, 0.2,
      t, err, sizeof err);
  CHECK (t[0] == 1 && t[9] == 1 && t[10] == 2 && t[15] == 0 && t[19] == 0,
      "b.wav targets");
  earshot_labels_to_targets (l, "a.wav", classes, 3, 2, 16000, 160, 20, 0.2,
      t, err, sizeof err);
  CHECK (t[0] == 2 && t[10] == 0 && t[19] == 0, "a.wav targets");
  CHECK (earshot_labels_to_targets (l, "c.wav", classes, 3, 2, 16000, 160,
          20, 0.2, t, err, sizeof err) == EARSHOT_OK && t[0] == 2
      && t[19] == 2, "c.wav has no events");
  earshot_label_list_free (l);
}

int
main (void)
{
  test_formats ();
  test_targets ();
  test_manifest ();
  test_regressions ();
  return check_finish ("labels");
}
