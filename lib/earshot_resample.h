/* earshot_resample.h — the front end's input: channels mixed down to mono,
 * and a streaming downsampler.
 *
 * Usage:
 *
 *   earshot_resampler *r;
 *   if (!earshot_resampler_supports (44100, 16000)) ... use another;
 *   if (earshot_resampler_new (44100, 16000, &r) != EARSHOT_OK) die ();
 *   float *y = malloc (earshot_resampler_max_out (r, n) * sizeof *y);
 *   size_t m = earshot_resampler_process (r, x, n, y);   // m outputs ready
 *   ...
 *   // end of stream: earshot_resampler_latency (r) zeros more bring out
 *   // the rest, ceil (N * out_rate / in_rate) outputs in all for N inputs
 *   earshot_resampler_free (r);
 *
 * It lowers the rate of mono float audio by a rational factor
 * out_rate / in_rate = L / M (in lowest terms) with a polyphase FIR filter:
 * a Kaiser-windowed sinc (beta EARSHOT_RESAMPLER_BETA) cut at
 * EARSHOT_RESAMPLER_CUTOFF times the output's Nyquist frequency, reaching
 * EARSHOT_RESAMPLER_HALF_TAPS output-rate periods to each side; each of the
 * L phases is normalised to unit gain at DC.  The filter is a table of
 * L x taps floats (taps = 2 x ceil (16 M / L), rounded up to 16): 61,440
 * bytes from 44.1 or 22.05 kHz (L = 160 or 320), 384 from 48 kHz, built
 * once per pair of rates and shared by every resampler in the process
 * that uses them (thread-safe); each resampler adds its state, about
 * 4.5 KiB from 44.1 kHz.  Output sample j is the
 * filtered input at time j / out_rate exactly (input sample 0 is time 0;
 * audio before it is silence), so outputs are aligned with the input, and
 * it is complete once the input reaches earshot_resampler_latency() samples
 * past that time.  Outputs do not depend on how the input is split into
 * calls.  Results may differ between machines in the last bits (the dot
 * products are built for AVX2 and AVX-512 where available), never between
 * runs on one machine.
 *
 * Why not GstAudioConverter: from 44.1 kHz mono it costs about 38,700
 * instructions per 10 ms of output (GStreamer 1.22, callgrind), more than
 * the whole classifier; this costs about 11,600 (the AVX2 build under
 * callgrind, 44.1 kHz Vorbis through the element), with a flatter passband
 * (see tests/test_resample.c).  The mix-down of stereo costs about 1,350
 * per 10 ms there, the converter's matrix mix about 22,000.  The element
 * still uses the converter for what this does not do (upsampling, planar
 * input, ratios whose filter table would be large).
 */
#ifndef EARSHOT_RESAMPLE_H
#define EARSHOT_RESAMPLE_H

#include "earshot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Mixes n interleaved frames of `channels` channels down to their mean,
 * into out[n]: each output is the sum, in channel order, of each channel
 * times 1 / channels (in float; S16 read as x / 32768).  The element and
 * `earshot train`'s decoding both mix down with these, so they agree. */
EARSHOT_API void earshot_mix_down_f32 (const float *x, size_t n,
    unsigned channels, float *out);
EARSHOT_API void earshot_mix_down_s16 (const int16_t *x, size_t n,
    unsigned channels, float *out);

/* Filter parameters (see above).  Changing them changes every output at
 * rates other than the model's. */
#define EARSHOT_RESAMPLER_CUTOFF 0.94
#define EARSHOT_RESAMPLER_BETA 7.0
#define EARSHOT_RESAMPLER_HALF_TAPS 16
/* The largest L (output phases) supported: the filter table holds L rows. */
#define EARSHOT_RESAMPLER_MAX_PHASES 640u

typedef struct earshot_resampler earshot_resampler;

/* Whether earshot_resampler_new() accepts these rates: 0 < out_rate <
 * in_rate and at most EARSHOT_RESAMPLER_MAX_PHASES output phases (16 kHz
 * from 22.05, 24, 32, 44.1, 48, 88.2, 96, 176.4 and 192 kHz, among
 * others). */
EARSHOT_API bool earshot_resampler_supports (unsigned in_rate,
    unsigned out_rate);

/* A resampler at the start of a stream; EARSHOT_ERR_INVALID for rates
 * earshot_resampler_supports() refuses, EARSHOT_ERR_NOMEM. */
EARSHOT_API earshot_status earshot_resampler_new (unsigned in_rate,
    unsigned out_rate, earshot_resampler **out);

EARSHOT_API void earshot_resampler_free (earshot_resampler *r);

/* Back to the start of a stream (as new). */
EARSHOT_API void earshot_resampler_reset (earshot_resampler *r);

/* Input samples past an output's time that it needs: the zeros to push at
 * the end of a stream. */
EARSHOT_API size_t earshot_resampler_latency (const earshot_resampler *r);

/* Most outputs earshot_resampler_process() can give for n inputs. */
EARSHOT_API size_t earshot_resampler_max_out (const earshot_resampler *r,
    size_t n);

/* Takes all n samples of x; writes the outputs now complete to y (room for
 * earshot_resampler_max_out (r, n)) and returns how many. */
EARSHOT_API size_t earshot_resampler_process (earshot_resampler *r,
    const float *x, size_t n, float *y);

#ifdef __cplusplus
}
#endif

#endif /* EARSHOT_RESAMPLE_H */
