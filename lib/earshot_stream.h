/* earshot_stream.h — one audio stream classified by a shared model.
 *
 *   earshot_stream *s;
 *   earshot_stream_new (model, &s);
 *   size_t cap = earshot_stream_frames_for (s, n);        // exact
 *   float *probs = malloc (cap * earshot_stream_n_classes (s) * sizeof *probs);
 *   size_t got = earshot_stream_process (s, x, n, probs, cap);
 *   ... at end of stream:
 *   got = earshot_stream_flush (s, probs, cap);
 *   earshot_stream_free (s);
 *
 * Samples are mono floats at the model's sample rate; resampling and
 * down-mixing are the caller's business (the element does them).  Frames
 * follow the project's convention (earshot_features.h): frame t describes
 * [t*hop, (t+1)*hop) of the stream since the last reset.  The recurrent state
 * is carried from frame to frame across calls; the output is a pure function
 * of the samples since the last reset, whatever the call sizes.
 *
 * Thread safety: a stream is used by one thread at a time; the model it
 * reads may be shared.  No allocation, lock or I/O in process or flush.
 */
#ifndef EARSHOT_STREAM_H
#define EARSHOT_STREAM_H

#include "earshot.h"
#include "earshot_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct earshot_stream earshot_stream;

/* Creates a stream over `model`, which must outlive it. */
EARSHOT_API earshot_status earshot_stream_new (const earshot_model *model,
    earshot_stream **out);

/* Frees; NULL is a no-op.  The model is not freed. */
EARSHOT_API void earshot_stream_free (earshot_stream *s);

/* Back to the state of a new stream: no samples, zero recurrent state,
 * frame counter 0. */
EARSHOT_API void earshot_stream_reset (earshot_stream *s);

EARSHOT_API const earshot_model *earshot_stream_model (const earshot_stream *s);
EARSHOT_API size_t earshot_stream_n_classes (const earshot_stream *s);

/* Exact number of frames earshot_stream_process (s, ., n, ...) will produce
 * next, and the number a flush would produce now. */
EARSHOT_API size_t earshot_stream_frames_for (const earshot_stream *s, size_t n);
EARSHOT_API size_t earshot_stream_frames_pending (const earshot_stream *s);

/* Feeds n samples.  Writes the class posteriors of each completed frame to
 * probs ([frames x n_classes], row per frame) and, if `features` is not NULL,
 * its normalised features ([frames x n_mels]).  At most max_frames frames are
 * written; with max_frames >= earshot_stream_frames_for (s, n) all samples
 * are consumed, otherwise processing stops at the frame limit and the
 * remaining samples are NOT consumed (the return value tells how many frames;
 * earshot_stream_samples_consumed the samples).  Returns the frame count. */
EARSHOT_API size_t earshot_stream_process (earshot_stream *s,
    const float *samples, size_t n, float *probs, float *features,
    size_t max_frames);

/* Samples taken by the last earshot_stream_process call. */
EARSHOT_API size_t earshot_stream_samples_consumed (const earshot_stream *s);

/* Ends the stream: emits the frames of the last partial hop intervals
 * (zero-padded), like process.  Then resets the stream. */
EARSHOT_API size_t earshot_stream_flush (earshot_stream *s, float *probs,
    float *features, size_t max_frames);

/* Index of the next frame to be produced (frames since the last reset). */
EARSHOT_API uint64_t earshot_stream_frame_index (const earshot_stream *s);

/* Approximate bytes of per-stream memory (front-end buffers, recurrent
 * state, scratch; not the shared model), for reporting. */
EARSHOT_API size_t earshot_stream_memory_size (const earshot_stream *s);

#ifdef __cplusplus
}
#endif

#endif /* EARSHOT_STREAM_H */
