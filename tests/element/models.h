/* models.h — small models built in code for the element tests and the
 * example test: no training, weights set by hand or from a seed. */
#ifndef EARSHOT_TEST_MODELS_H
#define EARSHOT_TEST_MODELS_H

#include "earshot_model.h"

/* Builds a model and writes it to `path`.  Returns 0, or -1 after printing
 * why to stderr. */

/* 16 kHz, 25 ms window, 10 ms hop, 40 mel bands to 8 kHz (the default
 * front end); a GRU of 8 units from `seed`; classes silence, speech, music.
 * Its outputs are arbitrary but depend on the whole past: it proves the
 * carried state. */
int test_model_write_rnn (const char *path, uint64_t seed);

/* The same with a lookahead of `lookahead` frames (format version 2). */
int test_model_write_rnn_lookahead (const char *path, uint64_t seed,
    uint32_t lookahead);

/* A "tone" detector: 16 kHz, rectangular window = hop = 160 samples (so a
 * frame sees exactly its own 10 ms), 16 mel bands to 4 kHz (usable from
 * 8 kHz input), one dense softmax layer: class "tone" when the band around
 * 1 kHz holds energy, "silence" otherwise.  Fires when a 1 kHz tone of
 * amplitude 0.5 covers more than a few samples of a frame. */
int test_model_write_tone (const char *path);

/* A model that listens only to 5-8 kHz (fmin 5000 Hz, 8 mel bands, a GRU
 * from a seed): input at 8 kHz holds none of that, and is refused. */
int test_model_write_high (const char *path);

#define TEST_TONE_HZ 1000.0

#endif
