/* earshot_private.h — helpers shared by the core's modules; not installed. */
#ifndef EARSHOT_PRIVATE_H
#define EARSHOT_PRIVATE_H

#include "earshot.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define EARSHOT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define EARSHOT_INTERNAL __attribute__((visibility("hidden")))
#else
#define EARSHOT_PRINTF(f, a)
#define EARSHOT_INTERNAL
#endif

/* Writes a formatted message to err (if err and err_size) and returns status.
 * Lets a failure path read `return earshot_fail (err, n, EARSHOT_ERR_X, ...)`. */
EARSHOT_INTERNAL earshot_status earshot_fail (char *err, size_t err_size,
    earshot_status status, const char *fmt, ...) EARSHOT_PRINTF (4, 5);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of n bytes, continuing
 * from crc (start with 0). */
EARSHOT_INTERNAL uint32_t earshot_crc32 (uint32_t crc, const void *data,
    size_t n);

/* Offers FFTW the front end's shipped plans (features.c: wisdom for 256,
 * 512, 1,024 and 2,048-point transforms); true if FFTW took it.  The front
 * end does this itself before each new plan; bench/fft calls it after
 * fftwf_forget_wisdom(). */
EARSHOT_INTERNAL bool earshot_fft_import_wisdom (void);

/* ---- little-endian encoding and whole-file I/O (io.c) ----------------- */

static inline uint32_t
earshot_get_u32 (const unsigned char *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
      | (uint32_t) p[3] << 24;
}

static inline uint64_t
earshot_get_u64 (const unsigned char *p)
{
  return (uint64_t) earshot_get_u32 (p) | (uint64_t) earshot_get_u32 (p + 4)
      << 32;
}

static inline float
earshot_get_f32 (const unsigned char *p)
{
  uint32_t u = earshot_get_u32 (p);
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* A growable output buffer.  `failed` latches the first allocation failure,
 * so writers need not check every put; check it (or the status of
 * earshot_buf_finish) once at the end.  Start from { 0 }; free data. */
typedef struct {
  unsigned char *data;
  size_t len, cap;
  bool failed;
} earshot_buf;

/* Appends n bytes and returns where they go, or NULL once failed. */
EARSHOT_INTERNAL unsigned char *earshot_buf_reserve (earshot_buf *b, size_t n);
EARSHOT_INTERNAL void earshot_buf_put (earshot_buf *b, const void *src,
    size_t n);
EARSHOT_INTERNAL void earshot_buf_put_u16 (earshot_buf *b, uint16_t v);
EARSHOT_INTERNAL void earshot_buf_put_u32 (earshot_buf *b, uint32_t v);
EARSHOT_INTERNAL void earshot_buf_put_u64 (earshot_buf *b, uint64_t v);
EARSHOT_INTERNAL void earshot_buf_put_f32s (earshot_buf *b, const float *v,
    size_t n);

/* Writes size bytes to path through a temporary file beside it, fsync, then
 * rename over path (and fsync of the folder), so that a crash or a full disk
 * never leaves a half-written file where a good one was.  On failure nothing
 * is left behind and err names the file. */
EARSHOT_INTERNAL earshot_status earshot_write_file_atomic (const char *path,
    const void *data, size_t size, char *err, size_t err_size);

/* Reads a whole regular file of at most max_size bytes into a malloc'd
 * buffer (*data, *size; free it).  The size is checked before allocating. */
EARSHOT_INTERNAL earshot_status earshot_read_file (const char *path,
    size_t max_size, unsigned char **data, size_t *size, char *err,
    size_t err_size);

#endif
