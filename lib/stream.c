/* stream.c — per-stream state over a shared, immutable model.
 *
 * A stream owns the only mutable things: the front end's sample buffer, the
 * recurrent state and the scratch of one network step.  All of it is
 * allocated in earshot_stream_new; process and flush only compute.
 */
#include "earshot_stream.h"
#include "earshot_private.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct earshot_stream {
  const earshot_model *model;   /* shared, read only; outlives the stream */
  const earshot_net *net;       /* the model's net */
  earshot_features *fe;         /* front end with the model's normalisation */
  uint32_t n_mels;
  uint32_t hop;
  size_t n_classes;
  float *state;                 /* [state_size] recurrent state */
  size_t state_size;
  float *scratch;               /* [scratch_size] for earshot_net_step */
  size_t scratch_size;
  float *frame;                 /* [n_mels] the frame being classified */
  /* Lookahead: the net's output at step k is frame k - lookahead's
   * posterior.  The features of the last lookahead + 1 steps are kept in a
   * ring so that a frame's features come out with its posteriors. */
  uint32_t lookahead;
  float *ring;                  /* [(lookahead + 1) x n_mels], or NULL */
  float *out;                   /* [n_classes] one step's output */
  uint64_t samples;             /* samples pushed since the last reset */
  uint64_t steps;               /* net steps since the last reset */
  uint64_t frames;              /* frames produced since the last reset */
  size_t consumed;              /* samples taken by the last process call */
  bool flushing;                /* flush started but not fully drained */
};

earshot_status
earshot_stream_new (const earshot_model *model, earshot_stream **out)
{
  const earshot_features_config *cfg = earshot_model_features_config (model);
  earshot_stream *s;
  earshot_status st;

  *out = NULL;
  s = calloc (1, sizeof *s);
  if (s == NULL)
    return EARSHOT_ERR_NOMEM;
  s->model = model;
  s->net = earshot_model_net (model);
  s->n_mels = cfg->n_mels;
  s->hop = cfg->hop_length;
  s->n_classes = earshot_model_n_labels (model);
  s->state_size = earshot_net_state_size (s->net);
  s->scratch_size = earshot_net_scratch_size (s->net);
  s->lookahead = earshot_model_lookahead (model);

  st = earshot_features_new (cfg, earshot_model_norm_mean (model),
      earshot_model_norm_std (model), &s->fe, NULL, 0);
  if (st != EARSHOT_OK) {
    earshot_stream_free (s);
    return st;
  }
  /* +1: malloc(0) may return NULL, and a net may have no recurrent state. */
  s->state = calloc (s->state_size + 1, sizeof (float));
  s->scratch = calloc (s->scratch_size + 1, sizeof (float));
  s->frame = calloc (s->n_mels, sizeof (float));
  s->out = calloc (s->n_classes, sizeof (float));
  if (s->lookahead > 0)
    s->ring = calloc ((size_t) (s->lookahead + 1) * s->n_mels,
        sizeof (float));
  if (s->state == NULL || s->scratch == NULL || s->frame == NULL
      || s->out == NULL || (s->lookahead > 0 && s->ring == NULL)) {
    earshot_stream_free (s);
    return EARSHOT_ERR_NOMEM;
  }
  *out = s;
  return EARSHOT_OK;
}

void
earshot_stream_free (earshot_stream *s)
{
  if (s == NULL)
    return;
  earshot_features_free (s->fe);
  free (s->state);
  free (s->scratch);
  free (s->frame);
  free (s->out);
  free (s->ring);
  free (s);
}

void
earshot_stream_reset (earshot_stream *s)
{
  earshot_features_reset (s->fe);
  memset (s->state, 0, s->state_size * sizeof (float));
  s->samples = 0;
  s->steps = 0;
  s->frames = 0;
  s->consumed = 0;
  s->flushing = false;
}

const earshot_model *
earshot_stream_model (const earshot_stream *s)
{
  return s->model;
}

size_t
earshot_stream_n_classes (const earshot_stream *s)
{
  return s->n_classes;
}

/* Frames that come out of `steps` net steps: all but the first lookahead. */
static uint64_t
frames_of_steps (const earshot_stream *s, uint64_t steps)
{
  return steps > s->lookahead ? steps - s->lookahead : 0;
}

size_t
earshot_stream_frames_for (const earshot_stream *s, size_t n)
{
  if (s->flushing)
    return 0;
  uint64_t steps = s->steps + earshot_features_frames_for (s->fe, n);
  return (size_t) (frames_of_steps (s, steps) - s->frames);
}

size_t
earshot_stream_frames_pending (const earshot_stream *s)
{
  /* After a flush every hop interval that saw a sample has its frame. */
  uint64_t total = (s->samples + s->hop - 1) / s->hop;
  return (size_t) (total - s->frames);
}

/* Runs the net on s->frame.  Stores frame i's posteriors (and features)
 * and returns true when the step completes a frame; with lookahead the
 * first steps after a reset complete none. */
static bool
step (earshot_stream *s, float *probs, float *features, size_t i)
{
  if (s->lookahead == 0) {
    earshot_net_step (s->net, s->frame, s->state, s->scratch,
        probs + i * s->n_classes);
    if (features != NULL)
      memcpy (features + i * s->n_mels, s->frame,
          s->n_mels * sizeof (float));
    s->steps++;
    s->frames++;
    return true;
  }
  size_t slots = (size_t) s->lookahead + 1;
  memcpy (s->ring + (size_t) (s->steps % slots) * s->n_mels, s->frame,
      s->n_mels * sizeof (float));
  earshot_net_step (s->net, s->frame, s->state, s->scratch, s->out);
  s->steps++;
  if (s->steps <= s->lookahead)
    return false;
  /* Output of step k = frame k - lookahead; its features are the ring's
   * oldest slot, the one the next step overwrites. */
  memcpy (probs + i * s->n_classes, s->out, s->n_classes * sizeof (float));
  if (features != NULL)
    memcpy (features + i * s->n_mels,
        s->ring + (size_t) (s->steps % slots) * s->n_mels,
        s->n_mels * sizeof (float));
  s->frames++;
  return true;
}

/* Whether the next step may run: it has room for its frame, or it is a
 * lookahead step that completes none. */
static bool
room (const earshot_stream *s, size_t frames, size_t max_frames)
{
  return frames < max_frames || s->steps < s->lookahead;
}

size_t
earshot_stream_process (earshot_stream *s, const float *samples, size_t n,
    float *probs, float *features, size_t max_frames)
{
  size_t frames = 0;
  size_t used = 0;

  assert (probs != NULL || max_frames == 0);
  if (s->flushing) {
    s->consumed = 0;
    return 0;
  }
  /* Pull every complete frame there is room for, push samples until the next
   * frame completes, repeat.  A complete frame with no room waits in the
   * front end for the next call. */
  for (;;) {
    if (room (s, frames, max_frames)
        && earshot_features_pull (s->fe, s->frame)) {
      frames += step (s, probs, features, frames);
      continue;
    }
    size_t took = used < n ? earshot_features_push (s->fe, samples + used,
        n - used) : 0;
    if (took == 0)
      break;
    used += took;
  }
  s->samples += used;
  s->consumed = used;
  return frames;
}

size_t
earshot_stream_samples_consumed (const earshot_stream *s)
{
  return s->consumed;
}

size_t
earshot_stream_flush (earshot_stream *s, float *probs, float *features,
    size_t max_frames)
{
  size_t frames = 0;

  if (!s->flushing) {
    earshot_features_flush (s->fe);
    s->flushing = true;
  }
  while (room (s, frames, max_frames)
      && earshot_features_pull (s->fe, s->frame))
    frames += step (s, probs, features, frames);
  /* With lookahead, the last frames need steps past the end of the audio:
   * the front end has nothing left to pull, so they get what it makes of
   * digital silence. */
  while (room (s, frames, max_frames)
      && earshot_stream_frames_pending (s) > 0) {
    earshot_features_silence (s->fe, s->frame);
    frames += step (s, probs, features, frames);
  }
  if (earshot_stream_frames_pending (s) == 0)
    earshot_stream_reset (s);
  return frames;
}

uint64_t
earshot_stream_frame_index (const earshot_stream *s)
{
  return s->frames;
}

size_t
earshot_stream_memory_size (const earshot_stream *s)
{
  const earshot_features_config *cfg = earshot_features_get_config (s->fe);
  /* Sample buffer, FFT input and output, mel frame, plus our own arrays. */
  size_t fe = cfg->win_length + cfg->n_fft + 2 * (cfg->n_fft / 2 + 1)
      + cfg->n_mels;
  size_t ring = s->lookahead > 0 ? (size_t) (s->lookahead + 1) * s->n_mels : 0;
  return sizeof *s + sizeof (float) * (fe + s->state_size + s->scratch_size
      + s->n_mels + s->n_classes + ring);
}
