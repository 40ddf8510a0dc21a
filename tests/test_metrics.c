/* test_metrics.c — frame, segment and ranking metrics against hand
 * computation. */
#include "earshot_metrics.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define EXACT 1e-12

static void
test_perfect (void)
{
  const int32_t ref[] = { 0, 0, 1, 1, 1, 2, -1, 2, 0 };
  const size_t n = sizeof ref / sizeof ref[0];
  uint64_t conf[9] = { 0 };
  earshot_class_metrics cls[3];
  earshot_frame_metrics fm;

  earshot_confusion_add (conf, 3, ref, ref, n);
  earshot_frame_metrics_compute (conf, 3, cls, &fm);
  CHECK (fm.frames == 8 && fm.correct == 8, "frames %llu correct %llu",
      (unsigned long long) fm.frames, (unsigned long long) fm.correct);
  CHECK_NEAR (fm.accuracy, 1.0, EXACT, "accuracy");
  CHECK_NEAR (fm.macro_f1, 1.0, EXACT, "macro-F1");
  for (int k = 0; k < 3; k++) {
    CHECK_NEAR (cls[k].precision, 1.0, EXACT, "precision");
    CHECK_NEAR (cls[k].recall, 1.0, EXACT, "recall");
    CHECK_NEAR (cls[k].f1, 1.0, EXACT, "F1");
  }
  CHECK (cls[1].support == 3 && cls[1].predicted == 3 && cls[1].tp == 3,
      "class 1 counts");

  /* The same sequences as events: every segment matches. */
  earshot_event ev[9];
  size_t ne = earshot_frames_to_events (ref, n, 0.25, ev);
  CHECK (ne == 5, "%zu events", ne);
  size_t ns = earshot_segment_count (n * 0.25, 1.0);
  CHECK (ns == 3, "%zu segments", ns);
  uint8_t act[9];
  earshot_segment_activity (ev, ne, 3, 1.0, ns, act);
  earshot_segment_counts sc = { 0 };
  earshot_segment_metrics sm;
  earshot_segment_counts_add (&sc, act, act, ns, 3, NULL);
  earshot_segment_metrics_compute (&sc, &sm);
  CHECK_NEAR (sm.f1, 1.0, EXACT, "segment F1");
  CHECK_NEAR (sm.precision, 1.0, EXACT, "segment precision");
  CHECK_NEAR (sm.recall, 1.0, EXACT, "segment recall");
  CHECK_NEAR (sm.error_rate, 0.0, EXACT, "segment ER");
}

static void
test_confusion (void)
{
  /* Reference / prediction pairs, 3 classes (frames with a -1 skipped):
   *              pred 0  pred 1  pred 2
   *   ref 0         5       2       1
   *   ref 1         1       3       0
   *   ref 2         0       2       0
   * class 0: TP 5, FP 1, FN 3   P 5/6  R 5/8  F1 10/14
   * class 1: TP 3, FP 4, FN 1   P 3/7  R 3/4  F1 6/11
   * class 2: TP 0, FP 1, FN 2   P 0    R 0    F1 0
   * accuracy 8/14; macro-F1 (10/14 + 6/11 + 0) / 3 */
  static const int pairs[][2] = {
    {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 1}, {0, 1}, {0, 2},
    {1, 0}, {1, 1}, {1, 1}, {1, 1}, {2, 1}, {2, 1},
    {-1, 2}, {1, -1},
  };
  const size_t n = sizeof pairs / sizeof pairs[0];
  int32_t ref[16], pred[16];
  for (size_t i = 0; i < n; i++) {
    ref[i] = pairs[i][0];
    pred[i] = pairs[i][1];
  }
  uint64_t conf[9] = { 0 };
  /* Added in two calls: the counts accumulate. */
  earshot_confusion_add (conf, 3, ref, pred, 7);
  earshot_confusion_add (conf, 3, ref + 7, pred + 7, n - 7);
  static const uint64_t want[9] = { 5, 2, 1, 1, 3, 0, 0, 2, 0 };
  CHECK (memcmp (conf, want, sizeof want) == 0, "confusion matrix");

  earshot_class_metrics c[3];
  earshot_frame_metrics fm;
  earshot_frame_metrics_compute (conf, 3, c, &fm);
  CHECK (fm.frames == 14 && fm.correct == 8 && fm.n_f1 == 3, "totals");
  CHECK_NEAR (fm.accuracy, 8.0 / 14.0, EXACT, "accuracy");
  CHECK_NEAR (c[0].precision, 5.0 / 6.0, EXACT, "P0");
  CHECK_NEAR (c[0].recall, 5.0 / 8.0, EXACT, "R0");
  CHECK_NEAR (c[0].f1, 10.0 / 14.0, EXACT, "F1 0");
  CHECK_NEAR (c[1].precision, 3.0 / 7.0, EXACT, "P1");
  CHECK_NEAR (c[1].recall, 3.0 / 4.0, EXACT, "R1");
  CHECK_NEAR (c[1].f1, 6.0 / 11.0, EXACT, "F1 1");
  CHECK_NEAR (c[2].precision, 0.0, EXACT, "P2");
  CHECK_NEAR (c[2].recall, 0.0, EXACT, "R2");
  CHECK_NEAR (c[2].f1, 0.0, EXACT, "F1 2");
  CHECK (c[2].support == 2 && c[2].predicted == 1 && c[2].tp == 0,
      "class 2 counts");
  /* F1 is the harmonic mean of P and R where both are defined. */
  CHECK_NEAR (c[1].f1, 2 * c[1].precision * c[1].recall
      / (c[1].precision + c[1].recall), EXACT, "F1 = harmonic mean");
  CHECK_NEAR (fm.macro_f1, (10.0 / 14.0 + 6.0 / 11.0) / 3.0, EXACT,
      "macro-F1");

  /* A class in neither reference nor prediction: undefined, left out of
   * the macro mean; precision undefined without predictions. */
  uint64_t c4[16] = { 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0 };
  earshot_class_metrics k4[4];
  earshot_frame_metrics f4;
  earshot_frame_metrics_compute (c4, 4, k4, &f4);
  CHECK (isnan (k4[1].f1) && isnan (k4[1].precision) && isnan (k4[1].recall),
      "absent class is NAN");
  CHECK (isnan (k4[3].f1), "class 3 absent");
  CHECK (f4.n_f1 == 2, "%zu classes in the mean", f4.n_f1);
  /* class 0: TP 4 FP 0 FN 1 -> 8/9; class 2: TP 2 FP 1 FN 0 -> 4/5 */
  CHECK_NEAR (f4.macro_f1, (8.0 / 9.0 + 4.0 / 5.0) / 2, EXACT,
      "macro-F1 over present classes");

  /* Nothing counted: NAN, not a division by zero. */
  uint64_t zero[4] = { 0 };
  earshot_frame_metrics_compute (zero, 2, NULL, &fm);
  CHECK (fm.frames == 0 && isnan (fm.accuracy) && isnan (fm.macro_f1),
      "empty matrix");
}

static void
test_segments (void)
{
  /* Two classes (A = 0, B = 1), 1 s segments over 4.5 s -> 5 segments.
   * Reference events:  A [0.2, 1.5)  B [1.0, 1.0) (empty)  B [3.0, 4.0)
   * Estimated events:  A [0.5, 0.9)  B [1.999999999999, 2.5)  A [3.2, 3.3)
   *                    B [4.0, 9.0)
   *
   * activity            seg 0  seg 1  seg 2  seg 3  seg 4
   *   reference A         1      1      0      0      0
   *   reference B         0      0      0      1      0    (the empty event
   *                                                          and the end at
   *                                                          4.0 touch no
   *                                                          more)
   *   estimate A          1      0      0      1      0
   *   estimate B          0      0      1      0      1    (1.999999999999
   *                                                          is 2.0 within the
   *                                                          tolerance; cut
   *                                                          at 5 segments)
   * per segment  (TP, FP, FN):  s0 (1,0,0)  s1 (0,0,1)  s2 (0,1,0)
   *                             s3 (0,1,1)  s4 (0,1,0)
   * TP 1, FP 3, FN 2; S = 1 (s3), D = 1 (s1), I = 2 (s2, s4); N = 3
   * P 1/4, R 1/3, F1 2/7, ER 4/3. */
  const earshot_event ref[] = {
    {0.2, 1.5, 0}, {1.0, 1.0, 1}, {3.0, 4.0, 1},
  };
  const earshot_event est[] = {
    {0.5, 0.9, 0}, {1.999999999999, 2.5, 1}, {3.2, 3.3, 0}, {4.0, 9.0, 1},
    {0.0, 4.5, -1},
  };
  size_t ns = earshot_segment_count (4.5, 1.0);
  CHECK (ns == 5, "%zu segments", ns);
  uint8_t ra[10], ea[10];
  earshot_segment_activity (ref, 3, 2, 1.0, ns, ra);
  earshot_segment_activity (est, 5, 2, 1.0, ns, ea);
  static const uint8_t want_r[10] = { 1, 0, 1, 0, 0, 0, 0, 1, 0, 0 };
  static const uint8_t want_e[10] = { 1, 0, 0, 0, 0, 1, 1, 0, 0, 1 };
  CHECK (memcmp (ra, want_r, 10) == 0, "reference activity");
  CHECK (memcmp (ea, want_e, 10) == 0, "estimated activity");

  earshot_segment_counts sc = { 0 };
  earshot_segment_counts_add (&sc, ra, ea, ns, 2, NULL);
  CHECK (sc.tp == 1 && sc.fp == 3 && sc.fn == 2, "TP %llu FP %llu FN %llu",
      (unsigned long long) sc.tp, (unsigned long long) sc.fp,
      (unsigned long long) sc.fn);
  CHECK (sc.substitutions == 1 && sc.deletions == 1 && sc.insertions == 2
      && sc.n_ref == 3 && sc.n_segments == 5, "S %llu D %llu I %llu N %llu",
      (unsigned long long) sc.substitutions,
      (unsigned long long) sc.deletions, (unsigned long long) sc.insertions,
      (unsigned long long) sc.n_ref);
  earshot_segment_metrics sm;
  earshot_segment_metrics_compute (&sc, &sm);
  CHECK_NEAR (sm.precision, 1.0 / 4.0, EXACT, "segment precision");
  CHECK_NEAR (sm.recall, 1.0 / 3.0, EXACT, "segment recall");
  CHECK_NEAR (sm.f1, 2.0 / 7.0, EXACT, "segment F1");
  CHECK_NEAR (sm.error_rate, 4.0 / 3.0, EXACT, "ER");
  CHECK_NEAR (sm.substitution_rate, 1.0 / 3.0, EXACT, "S rate");
  CHECK_NEAR (sm.deletion_rate, 1.0 / 3.0, EXACT, "D rate");
  CHECK_NEAR (sm.insertion_rate, 2.0 / 3.0, EXACT, "I rate");

  /* Only class B counts: TP 0 FP 2 FN 1; S 0 (s3: FN only), D 1, I 2; N 1. */
  const uint8_t only_b[2] = { 0, 1 };
  earshot_segment_counts b = { 0 };
  earshot_segment_counts_add (&b, ra, ea, ns, 2, only_b);
  earshot_segment_metrics_compute (&b, &sm);
  CHECK (b.tp == 0 && b.fp == 2 && b.fn == 1 && b.n_ref == 1, "class B");
  CHECK_NEAR (sm.f1, 0.0, EXACT, "B F1");
  CHECK_NEAR (sm.error_rate, 3.0, EXACT, "B ER");

  /* Accumulating a second file adds its counts: the same file twice gives
   * the same rates. */
  earshot_segment_counts_add (&sc, ra, ea, ns, 2, NULL);
  earshot_segment_metrics_compute (&sc, &sm);
  CHECK (sc.n_segments == 10 && sc.tp == 2, "two files");
  CHECK_NEAR (sm.error_rate, 4.0 / 3.0, EXACT, "ER of two files");

  /* Segment counts with inexact decimal products. */
  CHECK (earshot_segment_count (3.0, 0.1) == 30, "3.0 s / 0.1 s");
  CHECK (earshot_segment_count (0.1 * 3, 0.1) == 3, "0.3 s / 0.1 s");
  CHECK (earshot_segment_count (3.0001, 1.0) == 4, "partial segment");
  CHECK (earshot_segment_count (0.0, 1.0) == 0, "empty");

  /* Frames to events: runs, with -1 gaps. */
  const int32_t fr[] = { 1, 1, -1, -1, 0, 0, 0, 1 };
  earshot_event ev[8];
  size_t ne = earshot_frames_to_events (fr, 8, 0.01, ev);
  CHECK (ne == 3, "%zu events", ne);
  CHECK (ev[0].cls == 1 && ev[0].onset == 0.0 && ev[0].offset == 0.02
      && ev[1].cls == 0 && ev[1].onset == 4 * 0.01 && ev[1].offset == 7 * 0.01
      && ev[2].cls == 1 && ev[2].onset == 7 * 0.01 && ev[2].offset == 8 * 0.01,
      "event times");

  /* No reference activity: ER undefined. */
  earshot_segment_counts none = { 0 };
  uint8_t zero[2] = { 0, 0 };
  earshot_segment_counts_add (&none, zero, zero, 1, 2, NULL);
  earshot_segment_metrics_compute (&none, &sm);
  CHECK (isnan (sm.error_rate) && isnan (sm.f1), "nothing active: NAN");
}

static void
test_auc (void)
{
  const double s[] = { 0.9, 0.8, 0.7, 0.3, 0.2, 0.1 };
  const uint8_t pos[] = { 1, 1, 1, 0, 0, 0 };
  const uint8_t neg[] = { 0, 0, 0, 1, 1, 1 };
  double auc;

  CHECK (earshot_roc_auc (s, pos, 6, &auc) == EARSHOT_OK, "status");
  CHECK_NEAR (auc, 1.0, EXACT, "separated");
  CHECK (earshot_roc_auc (s, neg, 6, &auc) == EARSHOT_OK, "status");
  CHECK_NEAR (auc, 0.0, EXACT, "reversed");

  const double same[] = { 0.5, 0.5, 0.5, 0.5, 0.5 };
  const uint8_t mix[] = { 1, 0, 0, 1, 0 };
  CHECK (earshot_roc_auc (same, mix, 5, &auc) == EARSHOT_OK, "status");
  CHECK_NEAR (auc, 0.5, EXACT, "all tied");

  /* Hand count: positives {0.8, 0.5, 0.5}, negatives {0.5, 0.3, 0.9}.
   * Pairs (p > n: 1, tie: 1/2): 0.8: 1 + 1 + 0 = 2; each 0.5: 0.5 + 1 + 0
   * = 1.5; total 5 of 9. */
  const double t[] = { 0.8, 0.5, 0.5, 0.5, 0.3, 0.9 };
  const uint8_t tp[] = { 1, 1, 1, 0, 0, 0 };
  CHECK (earshot_roc_auc (t, tp, 6, &auc) == EARSHOT_OK, "status");
  CHECK_NEAR (auc, 5.0 / 9.0, EXACT, "partial ties");

  CHECK (earshot_roc_auc (s, pos, 3, &auc) == EARSHOT_ERR_INVALID
      && isnan (auc), "no negatives");
  const double bad[] = { 0.1, NAN };
  const uint8_t bp[] = { 1, 0 };
  CHECK (earshot_roc_auc (bad, bp, 2, &auc) == EARSHOT_ERR_INVALID,
      "NaN score");

  /* Many samples in random order: the rank formula against the O(n^2)
   * pair count, scores on a coarse grid so ties are common. */
  enum { N = 2000 };
  double *r = malloc (N * sizeof *r);
  uint8_t *lab = malloc (N);
  uint64_t state = 12345;
  for (int i = 0; i < N; i++) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    lab[i] = (state >> 33) % 3 == 0;
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    r[i] = (double) ((state >> 33) % 50) / 50.0 + (lab[i] ? 0.1 : 0.0);
  }
  double pairs = 0, np = 0, nn = 0;
  for (int i = 0; i < N; i++) {
    np += lab[i];
    nn += !lab[i];
    if (!lab[i])
      continue;
    for (int j = 0; j < N; j++)
      if (!lab[j])
        pairs += r[i] > r[j] ? 1.0 : r[i] == r[j] ? 0.5 : 0.0;
  }
  CHECK (earshot_roc_auc (r, lab, N, &auc) == EARSHOT_OK, "status");
  CHECK_NEAR (auc, pairs / (np * nn), EXACT, "ranks equal pair counting");
  free (r);
  free (lab);
}

int
main (void)
{
  test_perfect ();
  test_confusion ();
  test_segments ();
  test_auc ();
  return check_finish ("metrics");
}
