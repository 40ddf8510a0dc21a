/* earshot.h — common definitions for libearshot, the plain-C core of Earshot.
 *
 * libearshot turns audio into log-mel frames (earshot_features), runs a
 * recurrent network over them (earshot_net), bundles both in an immutable
 * model (earshot_model) and keeps per-stream state over a shared model
 * (earshot_stream).  It depends on libc, libm, FFTW3f and CBLAS only.
 *
 * Errors: every function that can fail at run time returns an
 * earshot_status; objects come back through an out-parameter.  Functions
 * that can say more than the status take an optional message buffer
 * (`char *err, size_t err_size`; NULL/0 is allowed) that receives one
 * readable, NUL-terminated line.  Programmer errors (NULL where an object
 * is required, an index out of range) are assertions.
 *
 * Thread safety: immutable objects (a loaded model, a configured net) may be
 * shared by any number of threads; a stream or a features object is used by
 * one thread at a time.
 */
#ifndef EARSHOT_H
#define EARSHOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EARSHOT_BUILDING) && defined(__GNUC__)
#define EARSHOT_API __attribute__((visibility("default")))
#else
#define EARSHOT_API
#endif

typedef enum {
  EARSHOT_OK = 0,
  EARSHOT_ERR_NOMEM,       /* an allocation failed */
  EARSHOT_ERR_IO,          /* open/read/write/rename failed; see errno text */
  EARSHOT_ERR_FORMAT,      /* malformed, truncated or inconsistent data */
  EARSHOT_ERR_VERSION,     /* a file format version this build cannot read */
  EARSHOT_ERR_CHECKSUM,    /* stored checksum does not match the contents */
  EARSHOT_ERR_INVALID,     /* an argument or configuration is out of range */
  EARSHOT_ERR_UNSUPPORTED, /* valid, but not supported by this build */
} earshot_status;

/* A short, static, English description of a status ("out of memory"). */
EARSHOT_API const char *earshot_status_str (earshot_status status);

/* Version of the library, e.g. "0.1.0". */
EARSHOT_API const char *earshot_version (void);

#ifdef __cplusplus
}
#endif

#endif /* EARSHOT_H */
