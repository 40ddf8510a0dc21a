/* earshot_train.h — training a net on labelled feature sequences.
 *
 * The trainer knows nothing of audio or files: it takes sequences of
 * normalised feature frames with one integer target per frame, and trains a
 * net on them with truncated backpropagation through time.
 *
 *   earshot_train_params p = earshot_train_default_params ();
 *   p.seed = 1;
 *   earshot_trainer *tr;
 *   earshot_trainer_new (net, &p, &tr, err, sizeof err);
 *   for (epoch = 0; epoch < 30; epoch++) {
 *     earshot_train_stats st;
 *     earshot_trainer_epoch (tr, train, n_train, &st, progress, user);
 *     earshot_evaluate (net, valid, n_valid, n_classes, NULL, &vst);
 *   }
 *   earshot_trainer_free (tr);
 *
 * Batching: an epoch visits the training sequences in an order shuffled from
 * the trainer's RNG.  B lanes (params.batch_size) each walk one sequence in
 * consecutive chunks of T frames (params.chunk_frames), carrying the
 * recurrent state from one chunk to the next of the same sequence; a lane
 * that finishes its sequence starts the next one from zero state at the next
 * chunk.  Each sequence starts at a random offset in [0, min(T, n_frames))
 * (the frames before it are skipped this epoch), so chunk boundaries move
 * from epoch to epoch.  A batch step is: forward T steps of B lanes,
 * backward, gradient clipping by global norm, one optimiser update.  Lanes
 * that have run out of data (the rest of a sequence's last chunk, the last
 * batches of an epoch) are padded with zero frames and ignored targets.  A
 * batch without any target frame makes no update and is not a step.
 *
 * Learning rate of step s (counted from 0 over the whole training) in epoch
 * e (completed epochs so far):
 *   learning_rate * lr_decay^e * min(1, (s + 1) / warmup_steps)
 * (the last factor only when warmup_steps > 0).
 *
 * Determinism: given the same params (seed included), the same net and the
 * same sequences, an epoch gives bit-identical parameters.  A checkpoint
 * stores parameters, optimiser moments, step and epoch counters and the RNG,
 * so training resumed from it continues exactly as if never stopped.
 *
 * Thread safety: a trainer is used by one thread at a time.  OpenBLAS may use
 * several threads inside one call.
 */
#ifndef EARSHOT_TRAIN_H
#define EARSHOT_TRAIN_H

#include "earshot.h"
#include "earshot_net.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  EARSHOT_OPT_ADAM = 0,
  EARSHOT_OPT_SGD = 1,          /* with (heavy-ball) momentum */
} earshot_optimizer;

typedef struct {
  earshot_optimizer optimizer;
  float learning_rate;          /* peak rate; default 1e-3 */
  float momentum;               /* SGD only, in [0, 1); default 0.9 */
  float beta1, beta2, epsilon;  /* Adam; betas in [0, 1), epsilon > 0;
                                   defaults 0.9, 0.999, 1e-8 */
  float weight_decay;           /* decoupled (AdamW-style), per step
                                   w -= lr * wd * w; default 0 */
  float clip_norm;              /* global gradient-norm clip; 0 = none;
                                   default 5 */
  uint32_t warmup_steps;        /* linear warm-up from 0 over this many steps;
                                   default 0 */
  float lr_decay;               /* multiply the rate by this after each epoch;
                                   in (0, 1]; default 1 */
  uint32_t chunk_frames;        /* T, truncated-BPTT length, 1..100000;
                                   default 100 */
  uint32_t batch_size;          /* B, lanes, 1..4096; default 32 */
  float dropout;                /* between layers, in [0, 1); default 0 */
  uint64_t seed;                /* shuffling, offsets, dropout */
  const float *class_weights;   /* [n_classes] or NULL; copied by
                                   earshot_trainer_new */
} earshot_train_params;

/* One labelled sequence (one audio file).  Borrowed, not copied: it must stay
 * valid while the trainer uses it. */
typedef struct {
  const float *features;        /* [n_frames x n_inputs], row per frame */
  const int32_t *targets;       /* [n_frames]; < 0 means "no target" */
  size_t n_frames;
} earshot_sequence;

/* Results of an epoch or an evaluation. */
typedef struct {
  double loss;                  /* weighted mean cross-entropy per frame */
  size_t frames;                /* frames with a target */
  size_t correct;               /* ... whose argmax was right */
  double accuracy;              /* correct / frames */
  double macro_f1;              /* mean over classes present in targets or
                                   predictions of per-class F1 */
  uint64_t steps;               /* optimiser steps so far (epochs only) */
  double learning_rate;         /* rate of the epoch's last update (epochs
                                   only) */
} earshot_train_stats;

/* Called after each batch with the frames done so far and the epoch's total
 * (sequence frames from their start offsets, padding not counted).
 * Returning false stops the epoch after that batch; the epoch then returns
 * EARSHOT_OK with the statistics of the batches done, and counts as a
 * completed epoch (for earshot_trainer_epochs and lr_decay) only if no frame
 * was left. */
typedef bool (*earshot_progress_fn) (void *user, size_t done, size_t total);

typedef struct earshot_trainer earshot_trainer;

EARSHOT_API earshot_train_params earshot_train_default_params (void);

/* Creates a trainer for `net` (borrowed; trained in place; must outlive the
 * trainer).  Validates params with a message naming the field (ranges as in
 * earshot_train_params; rates, betas, epsilon and class weights finite;
 * epsilon > 0; at least one class weight > 0).  Every per-batch buffer
 * (batch, states, gradient, moments, workspace) is allocated here. */
EARSHOT_API earshot_status earshot_trainer_new (earshot_net *net,
    const earshot_train_params *params, earshot_trainer **out, char *err,
    size_t err_size);
EARSHOT_API void earshot_trainer_free (earshot_trainer *tr);

/* One pass over the sequences (at least one, each with n_frames > 0).  The
 * net's parameters are updated.  progress may be NULL.
 * EARSHOT_ERR_INVALID: bad sequences (none, NULL arrays, an empty one, a
 * target >= n_outputs, a non-finite feature), refused before anything
 * changes; or a non-finite gradient (diverged), whose update is not made and
 * which ends the epoch.  EARSHOT_ERR_NOMEM: the per-sequence arrays (grown
 * only when more sequences come than ever before) could not grow. */
EARSHOT_API earshot_status earshot_trainer_epoch (earshot_trainer *tr,
    const earshot_sequence *seqs, size_t n_seqs, earshot_train_stats *stats,
    earshot_progress_fn progress, void *user);

/* Completed epochs and optimiser steps. */
EARSHOT_API uint32_t earshot_trainer_epochs (const earshot_trainer *tr);
EARSHOT_API uint64_t earshot_trainer_steps (const earshot_trainer *tr);

/* Writes a checkpoint atomically (temporary file beside it + fsync +
 * rename): the net's layers and parameters, the optimiser state, the
 * counters, the RNG and the params.  `extra` (may be NULL/0) is an opaque
 * blob stored alongside for the caller (the tool keeps its own state there:
 * best validation loss, patience...).  Save between epochs: an epoch draws
 * all its random numbers while it runs. */
EARSHOT_API earshot_status earshot_trainer_save_checkpoint (
    const earshot_trainer *tr, const char *path, const void *extra,
    size_t extra_size, char *err, size_t err_size);

/* Restores a checkpoint into a trainer made for a net of the same layers.
 * Refuses (with a message) a checkpoint of different layers or params (every
 * field of earshot_train_params, the seed and class weights included), and a
 * truncated or corrupted file; a refused checkpoint leaves the trainer as it
 * was.  *extra receives a malloc'd copy of the extra blob (free it), or NULL
 * when it is empty; extra and extra_size may be NULL when not wanted. */
EARSHOT_API earshot_status earshot_trainer_load_checkpoint (
    earshot_trainer *tr, const char *path, void **extra, size_t *extra_size,
    char *err, size_t err_size);

/* Forward only (no dropout), each sequence from zero state, in chunks with
 * the state carried (so memory stays bounded whatever the sequence length);
 * the result equals stepping each sequence frame by frame (up to float
 * rounding: GEMM here, GEMV there).  Sequences may
 * be empty.  class_weights (NULL: all 1) weight the loss only.
 * confusion: NULL, or [n_classes x n_classes] counts (row = target,
 * column = prediction) added to; stats cover this call alone.
 * EARSHOT_ERR_INVALID: a target >= n_outputs, a non-finite feature, a
 * negative or non-finite class weight.  Allocates its own buffers. */
EARSHOT_API earshot_status earshot_evaluate (const earshot_net *net,
    const earshot_sequence *seqs, size_t n_seqs,
    const float *class_weights, uint64_t *confusion,
    earshot_train_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* EARSHOT_TRAIN_H */
