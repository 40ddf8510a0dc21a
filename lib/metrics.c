/* metrics.c — confusion matrices, segment-based metrics and ROC-AUC; the
 * definitions are in earshot_metrics.h. */
#include "earshot_metrics.h"
#include "earshot_private.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

/* ---- frames ----------------------------------------------------------- */

void
earshot_confusion_add (uint64_t *confusion, size_t n_classes,
    const int32_t *ref, const int32_t *pred, size_t n)
{
  for (size_t t = 0; t < n; t++) {
    if (ref[t] < 0 || pred[t] < 0)
      continue;
    assert ((size_t) ref[t] < n_classes && (size_t) pred[t] < n_classes);
    confusion[(size_t) ref[t] * n_classes + (size_t) pred[t]]++;
  }
}

void
earshot_frame_metrics_compute (const uint64_t *confusion, size_t n_classes,
    earshot_class_metrics *per_class, earshot_frame_metrics *out)
{
  uint64_t total = 0, correct = 0;
  double f1_sum = 0.0;
  size_t f1_n = 0;

  for (size_t k = 0; k < n_classes; k++) {
    uint64_t tp = confusion[k * n_classes + k], row = 0, col = 0;
    for (size_t j = 0; j < n_classes; j++) {
      row += confusion[k * n_classes + j];
      col += confusion[j * n_classes + k];
    }
    total += row;
    correct += tp;
    /* 2 TP + FP + FN = row + col */
    double f1 = row + col > 0 ? 2.0 * (double) tp / (double) (row + col)
        : NAN;
    if (row + col > 0) {
      f1_sum += f1;
      f1_n++;
    }
    if (per_class != NULL)
      per_class[k] = (earshot_class_metrics) {
        .support = row, .predicted = col, .tp = tp,
        .precision = col > 0 ? (double) tp / (double) col : NAN,
        .recall = row > 0 ? (double) tp / (double) row : NAN,
        .f1 = f1,
      };
  }
  *out = (earshot_frame_metrics) {
    .frames = total, .correct = correct,
    .accuracy = total > 0 ? (double) correct / (double) total : NAN,
    .macro_f1 = f1_n > 0 ? f1_sum / (double) f1_n : NAN,
    .n_f1 = f1_n,
  };
}

/* ---- segments --------------------------------------------------------- */

/* x measured in segments, nudged by a relative 1e-9 so that boundaries
 * computed in floating point (0.1 * 30) land where they were meant to. */
static double
tol (double x)
{
  return 1e-9 * (fabs (x) > 1.0 ? fabs (x) : 1.0);
}

size_t
earshot_segment_count (double duration_s, double segment_s)
{
  assert (segment_s > 0);
  if (!(duration_s > 0))
    return 0;
  double x = duration_s / segment_s;
  return (size_t) ceil (x - tol (x));
}

void
earshot_segment_activity (const earshot_event *events, size_t n_events,
    size_t n_classes, double segment_s, size_t n_segments, uint8_t *active)
{
  assert (segment_s > 0);
  memset (active, 0, n_segments * n_classes);
  for (size_t i = 0; i < n_events; i++) {
    const earshot_event *e = &events[i];
    if (e->cls < 0)
      continue;
    assert ((size_t) e->cls < n_classes);
    /* Segments [s L, (s+1) L) with s L < offset and (s+1) L > onset. */
    double a = e->onset / segment_s, b = e->offset / segment_s;
    double first = floor (a + tol (a));
    double end = ceil (b - tol (b));            /* exclusive */
    if (first < 0)
      first = 0;
    if (end > (double) n_segments)
      end = (double) n_segments;
    for (size_t s = (size_t) first; (double) s < end; s++)
      active[s * n_classes + (size_t) e->cls] = 1;
  }
}

size_t
earshot_frames_to_events (const int32_t *classes, size_t n_frames,
    double frame_s, earshot_event *events)
{
  size_t n = 0;
  for (size_t t = 0; t < n_frames;) {
    size_t u = t + 1;
    while (u < n_frames && classes[u] == classes[t])
      u++;
    if (classes[t] >= 0)
      events[n++] = (earshot_event) { (double) t * frame_s,
        (double) u * frame_s, classes[t] };
    t = u;
  }
  return n;
}

void
earshot_segment_counts_add (earshot_segment_counts *c, const uint8_t *ref,
    const uint8_t *est, size_t n_segments, size_t n_classes,
    const uint8_t *use_class)
{
  for (size_t s = 0; s < n_segments; s++) {
    uint64_t tp = 0, fp = 0, fn = 0, nref = 0;
    for (size_t k = 0; k < n_classes; k++) {
      if (use_class != NULL && !use_class[k])
        continue;
      int r = ref[s * n_classes + k] != 0, e = est[s * n_classes + k] != 0;
      tp += r && e;
      fp += !r && e;
      fn += r && !e;
      nref += r;
    }
    c->tp += tp;
    c->fp += fp;
    c->fn += fn;
    c->n_ref += nref;
    c->substitutions += fn < fp ? fn : fp;
    c->deletions += fn > fp ? fn - fp : 0;
    c->insertions += fp > fn ? fp - fn : 0;
  }
  c->n_segments += n_segments;
}

void
earshot_segment_metrics_compute (const earshot_segment_counts *c,
    earshot_segment_metrics *out)
{
  double tp = (double) c->tp, fp = (double) c->fp, fn = (double) c->fn;
  double n = (double) c->n_ref;

  *out = (earshot_segment_metrics) {
    .precision = c->tp + c->fp > 0 ? tp / (tp + fp) : NAN,
    .recall = c->tp + c->fn > 0 ? tp / (tp + fn) : NAN,
    .f1 = c->tp + c->fp + c->fn > 0 ? 2 * tp / (2 * tp + fp + fn) : NAN,
    .error_rate = c->n_ref > 0 ? (double) (c->substitutions + c->deletions
        + c->insertions) / n : NAN,
    .substitution_rate = c->n_ref > 0 ? (double) c->substitutions / n : NAN,
    .deletion_rate = c->n_ref > 0 ? (double) c->deletions / n : NAN,
    .insertion_rate = c->n_ref > 0 ? (double) c->insertions / n : NAN,
  };
}

/* ---- scores ----------------------------------------------------------- */

typedef struct {
  double score;
  int positive;
} scored;

static int
compare_scored (const void *a, const void *b)
{
  double x = ((const scored *) a)->score, y = ((const scored *) b)->score;
  return (x > y) - (x < y);
}

earshot_status
earshot_roc_auc (const double *scores, const uint8_t *positive, size_t n,
    double *auc)
{
  uint64_t n_pos = 0;

  *auc = NAN;
  for (size_t i = 0; i < n; i++) {
    if (isnan (scores[i]))
      return EARSHOT_ERR_INVALID;
    n_pos += positive[i] != 0;
  }
  uint64_t n_neg = (uint64_t) n - n_pos;
  if (n_pos == 0 || n_neg == 0)
    return EARSHOT_ERR_INVALID;

  scored *v = malloc (n * sizeof *v);
  if (v == NULL)
    return EARSHOT_ERR_NOMEM;
  for (size_t i = 0; i < n; i++)
    v[i] = (scored) { scores[i], positive[i] != 0 };
  qsort (v, n, sizeof *v, compare_scored);

  /* Sum of the positives' ranks (1-based), each tie group sharing the mean
   * of its ranks: U = R_pos - n_pos (n_pos + 1) / 2,
   * AUC = U / (n_pos n_neg). */
  double rank_sum = 0.0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    uint64_t pos = v[i].positive;
    while (j < n && v[j].score == v[i].score)
      pos += v[j++].positive;
    double mid = ((double) i + 1 + (double) j) / 2;  /* ranks i+1 .. j */
    rank_sum += mid * (double) pos;
    i = j;
  }
  free (v);
  double np = (double) n_pos, nn = (double) n_neg;
  *auc = (rank_sum - np * (np + 1) / 2) / (np * nn);
  return EARSHOT_OK;
}
