/* earshot_private.h — helpers shared by the core's modules; not installed. */
#ifndef EARSHOT_PRIVATE_H
#define EARSHOT_PRIVATE_H

#include "earshot.h"

#include <stdarg.h>
#include <stddef.h>

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

#endif
