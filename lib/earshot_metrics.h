/* earshot_metrics.h — how well a classifier's decisions match a reference:
 * frame metrics from a confusion matrix, segment-based metrics in the sense
 * of sed_eval (Mesaros, Heittola and Virtanen, "Metrics for polyphonic sound
 * event detection", 2016), and ROC-AUC of a score.
 *
 *   uint64_t conf[C * C] = { 0 };
 *   earshot_confusion_add (conf, C, ref, pred, n_frames);    // every file
 *   earshot_class_metrics cls[C];
 *   earshot_frame_metrics fm;
 *   earshot_frame_metrics_compute (conf, C, cls, &fm);
 *
 *   earshot_segment_counts sc = { 0 };
 *   size_t ns = earshot_segment_count (duration, 1.0);        // every file:
 *   earshot_segment_activity (ref_events, n_ref, C, 1.0, ns, ref_active);
 *   earshot_segment_activity (est_events, n_est, C, 1.0, ns, est_active);
 *   earshot_segment_counts_add (&sc, ref_active, est_active, ns, C, NULL);
 *   earshot_segment_metrics sm;
 *   earshot_segment_metrics_compute (&sc, &sm);
 *
 *   double auc;
 *   earshot_roc_auc (scores, is_positive, n, &auc);
 *
 * Frame metrics.  confusion[r * C + p] counts the frames whose reference
 * class is r and whose predicted class is p (row = reference, column =
 * prediction, as earshot_evaluate).  For class k: TP = confusion[k][k],
 * FP = column sum - TP, FN = row sum - TP;
 *   precision = TP / (TP + FP)        NAN when nothing was predicted as k
 *   recall    = TP / (TP + FN)        NAN when the reference has no k
 *   F1        = 2 TP / (2 TP + FP + FN)
 *                                     NAN when k is in neither (0 when k is
 *                                     in one of them but TP = 0)
 *   frame accuracy = trace / total
 *   macro-F1 = mean of F1 over the classes that occur in the reference or
 *              the prediction (the same as earshot_evaluate's macro_f1).
 *
 * Segment-based metrics.  Time is cut into segments of L seconds (1 s in
 * DCASE): segment i is [i L, (i + 1) L).  A class is active in a segment of
 * the reference (of the estimate) when one of its reference (estimated)
 * events overlaps the segment by more than zero time.  For every segment and
 * every counted class, TP: active in both; FP: only in the estimate; FN: only
 * in the reference.  Summed over all segments and classes (micro average):
 *   precision = TP / (TP + FP), recall = TP / (TP + FN),
 *   F1 = 2 TP / (2 TP + FP + FN)      NAN when TP + FP + FN = 0
 * Error rate, counted per segment s and then summed:
 *   S = sum_s min(FN_s, FP_s)          substitutions
 *   D = sum_s max(0, FN_s - FP_s)      deletions
 *   I = sum_s max(0, FP_s - FN_s)      insertions
 *   N = sum_s (reference active classes in s)
 *   ER = (S + D + I) / N               NAN when N = 0; S/N, D/N, I/N too
 * ER is 0 for a perfect estimate and can exceed 1.
 *
 * ROC-AUC.  The area under the ROC curve of a score for a binary target,
 * computed from ranks (Mann-Whitney U): the probability that a random
 * positive scores higher than a random negative, ties counting one half.
 *
 * Everything here is plain arithmetic on the caller's arrays; only
 * earshot_roc_auc allocates (a sort buffer).  Thread safety: no shared
 * state.
 */
#ifndef EARSHOT_METRICS_H
#define EARSHOT_METRICS_H

#include "earshot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- frames ----------------------------------------------------------- */

/* Adds n frames to confusion [n_classes x n_classes]: frame t adds one to
 * confusion[ref[t] * n_classes + pred[t]].  Frames whose reference or
 * prediction is negative (no target, no decision) are skipped; values
 * >= n_classes are a programmer error. */
EARSHOT_API void earshot_confusion_add (uint64_t *confusion,
    size_t n_classes, const int32_t *ref, const int32_t *pred, size_t n);

typedef struct {
  uint64_t support;             /* reference frames of the class (row sum) */
  uint64_t predicted;           /* frames predicted as it (column sum) */
  uint64_t tp;
  double precision, recall, f1; /* NAN where undefined (see above) */
} earshot_class_metrics;

typedef struct {
  uint64_t frames;              /* all frames counted */
  uint64_t correct;             /* the trace */
  double accuracy;              /* NAN when frames = 0 */
  double macro_f1;              /* NAN when no class occurs */
  size_t n_f1;                  /* classes in the macro mean */
} earshot_frame_metrics;

/* Metrics of a confusion matrix [n_classes x n_classes].  per_class
 * ([n_classes], or NULL) receives each class's figures. */
EARSHOT_API void earshot_frame_metrics_compute (const uint64_t *confusion,
    size_t n_classes, earshot_class_metrics *per_class,
    earshot_frame_metrics *out);

/* ---- segments --------------------------------------------------------- */

/* An event: class `cls` sounds from `onset` to `offset` seconds. */
typedef struct {
  double onset, offset;
  int32_t cls;                  /* 0 .. n_classes-1; negative: ignored */
} earshot_event;

/* Segments of `segment_s` seconds that cover `duration_s` seconds:
 * ceil(duration_s / segment_s) (a last partial segment counts), computed
 * with a relative tolerance of 1e-9 so that 3.0 s in 0.1 s segments is 30. */
EARSHOT_API size_t earshot_segment_count (double duration_s,
    double segment_s);

/* Activity of n_events events in n_segments segments of segment_s seconds:
 * active[i * n_classes + c] is set to 1 when an event of class c overlaps
 * segment i by more than zero time (with the same tolerance), 0 otherwise.
 * active: [n_segments x n_classes], written whole.  Events beyond the last
 * segment are cut off. */
EARSHOT_API void earshot_segment_activity (const earshot_event *events,
    size_t n_events, size_t n_classes, double segment_s, size_t n_segments,
    uint8_t *active);

/* Runs of equal classes in a frame sequence as events: frame t spans
 * [t, t+1) * frame_s; frames with negative classes start no event.  events
 * must hold n_frames entries (the worst case).  Returns how many were
 * written, in time order. */
EARSHOT_API size_t earshot_frames_to_events (const int32_t *classes,
    size_t n_frames, double frame_s, earshot_event *events);

/* Running totals over any number of files; start from { 0 }. */
typedef struct {
  uint64_t tp, fp, fn;
  uint64_t substitutions, deletions, insertions;
  uint64_t n_ref;               /* reference active (segment, class) pairs */
  uint64_t n_segments;
} earshot_segment_counts;

/* Adds the segments of one file: ref and est are activity matrices
 * [n_segments x n_classes] (nonzero: active).  use_class ([n_classes], or
 * NULL for all) selects the classes that count. */
EARSHOT_API void earshot_segment_counts_add (earshot_segment_counts *c,
    const uint8_t *ref, const uint8_t *est, size_t n_segments,
    size_t n_classes, const uint8_t *use_class);

typedef struct {
  double precision, recall, f1;
  double error_rate;            /* (S + D + I) / N */
  double substitution_rate, deletion_rate, insertion_rate;
} earshot_segment_metrics;

EARSHOT_API void earshot_segment_metrics_compute (
    const earshot_segment_counts *c, earshot_segment_metrics *out);

/* ---- scores ----------------------------------------------------------- */

/* ROC-AUC of scores[n] for the binary targets positive[n] (nonzero:
 * positive).  EARSHOT_ERR_INVALID (and *auc = NAN) when there is no
 * positive or no negative, or a score is NaN; EARSHOT_ERR_NOMEM. */
EARSHOT_API earshot_status earshot_roc_auc (const double *scores,
    const uint8_t *positive, size_t n, double *auc);

#ifdef __cplusplus
}
#endif

#endif /* EARSHOT_METRICS_H */
