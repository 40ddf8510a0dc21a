/* earshot_features.h — streaming log-mel front end.
 *
 * Usage:
 *
 *   earshot_features_config cfg = earshot_features_default_config ();
 *   earshot_features *fe;
 *   if (earshot_features_new (&cfg, NULL, NULL, &fe, err, sizeof err) != EARSHOT_OK)
 *     die (err);
 *   float frame[40];
 *   while (n > 0) {
 *     size_t used = earshot_features_push (fe, x, n);   // takes what fits
 *     x += used; n -= used;
 *     while (earshot_features_pull (fe, frame))         // every complete frame
 *       use (frame);
 *   }
 *   earshot_features_flush (fe);                         // end of stream
 *   while (earshot_features_pull (fe, frame))
 *     use (frame);
 *   earshot_features_free (fe);
 *
 * Framing (the convention of the whole project): frame t is computed from the
 * window of samples [t*hop, t*hop + win_length) and describes the hop interval
 * [t*hop, (t+1)*hop).  It is complete once sample t*hop + win_length - 1 has
 * been pushed, so the algorithmic latency is win_length - hop_length samples.
 * earshot_features_flush() zero-pads the end so that every hop interval that
 * received at least one sample gets its frame: after N samples and a flush,
 * exactly ceil(N / hop_length) frames have been produced.
 *
 * Per frame: x[i] * window[i] (periodic Hann by default) zero-padded to n_fft;
 * FFTW real FFT; power |X[k]|^2 (unscaled); mel filterbank; natural log of
 * max(power, log_floor); then (v - mean[m]) / std[m] when normalisation is
 * given.  The output of one frame is n_mels floats.
 *
 * Mel filterbank: triangles on FFT-bin frequencies between n_mels + 2 points
 * equally spaced on the mel scale from fmin to fmax.
 *   EARSHOT_MEL_SLANEY: Slaney's Auditory Toolbox scale (linear below 1 kHz,
 *     logarithmic above) and area-normalised triangles (2 / bandwidth), as
 *     librosa's default `htk=False, norm='slaney'`.
 *   EARSHOT_MEL_HTK: 2595 log10(1 + f/700), triangles with unit peak.
 *
 * The result is a pure function of the samples: splitting the same audio into
 * pushes of any sizes gives bit-identical frames.
 *
 * Thread safety: a features object is used by one thread at a time.  Creating
 * and freeing them is safe from any thread (FFTW planning is serialised by a
 * global mutex inside the library).  No allocation, lock or I/O happens in
 * push, pull or flush.
 */
#ifndef EARSHOT_FEATURES_H
#define EARSHOT_FEATURES_H

#include "earshot.h"
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  EARSHOT_WINDOW_HANN = 0,    /* periodic Hann: 0.5 - 0.5 cos(2 pi i / N) */
  EARSHOT_WINDOW_HAMMING = 1, /* periodic Hamming: 0.54 - 0.46 cos(2 pi i / N) */
  EARSHOT_WINDOW_RECT = 2,
} earshot_window;

typedef enum {
  EARSHOT_MEL_SLANEY = 0,
  EARSHOT_MEL_HTK = 1,
} earshot_mel_scale;

typedef struct {
  uint32_t sample_rate;        /* Hz, 1000 .. 384000 */
  uint32_t win_length;         /* samples per analysis window, >= 16 */
  uint32_t hop_length;         /* samples between frames, 1 .. win_length */
  uint32_t n_fft;              /* FFT size, >= win_length, <= 65536 */
  uint32_t n_mels;             /* mel bands, 1 .. 512 */
  float fmin;                  /* Hz, >= 0 */
  float fmax;                  /* Hz, fmin < fmax <= sample_rate / 2 */
  earshot_window window;
  earshot_mel_scale mel_scale;
  float log_floor;             /* > 0: mel power is clamped to this before log */
} earshot_features_config;

typedef struct earshot_features earshot_features;

/* 16 kHz, 25 ms window (400), 10 ms hop (160), n_fft 512, 40 Slaney mel bands
 * from 0 to 8000 Hz, Hann window, log floor 1e-10. */
EARSHOT_API earshot_features_config earshot_features_default_config (void);

/* Checks a configuration: ranges above, and that no mel band is empty (every
 * triangle covers at least one FFT bin).  EARSHOT_ERR_INVALID with a message
 * naming the field otherwise. */
EARSHOT_API earshot_status earshot_features_config_check (
    const earshot_features_config *cfg, char *err, size_t err_size);

/* Creates a front end.  `mean` and `std` (n_mels floats each) give the
 * per-band normalisation and are copied; both NULL means none (raw log-mel).
 * Every std must be > 0.  *out receives the object, or NULL on failure. */
EARSHOT_API earshot_status earshot_features_new (
    const earshot_features_config *cfg, const float *mean, const float *std,
    earshot_features **out, char *err, size_t err_size);

/* Frees; NULL is a no-op. */
EARSHOT_API void earshot_features_free (earshot_features *fe);

/* Forgets all pushed samples: the next sample pushed is sample 0. */
EARSHOT_API void earshot_features_reset (earshot_features *fe);

/* The configuration the object was made with. */
EARSHOT_API const earshot_features_config *earshot_features_get_config (
    const earshot_features *fe);

/* Samples are clamped to +-this (60 dB above full scale) on the way in. */
#define EARSHOT_FEATURES_MAX_SAMPLE 1000.0f

/* Appends up to n mono samples (nominal range [-1, 1]) and returns how many
 * were taken.  It takes samples only until a frame is complete; pull that
 * frame, then push the rest.  Returns 0 while a complete frame waits.
 * NaN and infinite samples are taken as 0 and the others clamped to
 * +-EARSHOT_FEATURES_MAX_SAMPLE, so every frame is finite whatever the
 * input. */
EARSHOT_API size_t earshot_features_push (earshot_features *fe,
    const float *samples, size_t n);

/* The sum of the squares of x[n] as earshot_features_push() takes them
 * (NaN and Inf as 0, the others clamped to +-EARSHOT_FEATURES_MAX_SAMPLE),
 * in double: for a level meter beside the features.  Summed in eight
 * interleaved partial sums, so it may differ from the sum in index order
 * in the last bits. */
EARSHOT_API double earshot_features_sum_squares (const float *x, size_t n);

/* If a frame is complete, writes its n_mels values to `frame` and returns
 * true; otherwise returns false and leaves `frame` untouched. */
EARSHOT_API bool earshot_features_pull (earshot_features *fe, float *frame);

/* Writes the frame an all-zero window gives (every band at the log floor,
 * normalised): what the front end makes of digital silence.  Used to pad
 * the end of a stream for a model with lookahead. */
EARSHOT_API void earshot_features_silence (const earshot_features *fe,
    float *frame);

/* Ends the stream: the frames of the last, partial hop intervals become
 * available to pull (zero-padded).  Pull until false, then reset before
 * pushing a new stream.  Pushing after flush without reset is an error
 * (the push takes nothing). */
EARSHOT_API void earshot_features_flush (earshot_features *fe);

/* Number of frames that pushing n more samples (and pulling everything)
 * would produce, given what has been pushed so far. */
EARSHOT_API size_t earshot_features_frames_for (const earshot_features *fe,
    size_t n);

/* Number of frames produced since the last reset (pulled so far). */
EARSHOT_API uint64_t earshot_features_frame_count (const earshot_features *fe);

/* Centre frequency in Hz of mel band m (0 <= m < n_mels) of a configuration:
 * the peak of its triangle. */
EARSHOT_API double earshot_features_band_center (
    const earshot_features_config *cfg, uint32_t m);

/* Hz <-> mel on the configured scale. */
EARSHOT_API double earshot_hz_to_mel (double hz, earshot_mel_scale scale);
EARSHOT_API double earshot_mel_to_hz (double mel, earshot_mel_scale scale);

/* The filterbank weight of FFT bin k (0 <= k <= n_fft/2) in band m, as the
 * front end applies it.  For tests and tools; not for per-frame use. */
EARSHOT_API float earshot_features_filter_weight (const earshot_features *fe,
    uint32_t m, uint32_t k);

/* The window coefficient i (0 <= i < win_length). */
EARSHOT_API float earshot_features_window_coef (const earshot_features *fe,
    uint32_t i);

#ifdef __cplusplus
}
#endif

#endif /* EARSHOT_FEATURES_H */
