/* fuzz.h — what every fuzz target shares: libFuzzer's entry point, the
 * check that aborts on a broken promise, and a sentinel for out-parameters. */
#ifndef EARSHOT_FUZZ_H
#define EARSHOT_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Aborts (a crash libFuzzer reports, with its input) when cond is false. */
#define FUZZ_CHECK(cond) \
  do { \
    if (!(cond)) { \
      fprintf (stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, \
          #cond); \
      abort (); \
    } \
  } while (0)

/* Where an out-parameter points before a call, to see it is always set. */
static char sentinel;

#endif
