/* decode.h — the benchmarks' input: any file GStreamer decodes, as mono
 * 32-bit float samples at a given rate. */
#ifndef EARSHOT_BENCH_DECODE_H
#define EARSHOT_BENCH_DECODE_H

#include <stddef.h>

/* Decodes `path` (filesrc ! decodebin ! audioconvert ! audioresample) to
 * F32 mono at `rate` Hz.  Returns the samples (g_free them) and their count
 * in *n; NULL on failure or with fewer than `min_samples`, with the reason
 * in *error (g_free it).  Needs gst_init. */
float *bench_decode (const char *path, int rate, size_t min_samples,
    size_t *n, char **error);

#endif
