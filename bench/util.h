/* util.h — small helpers shared by the C benchmarks (step.c, train.c). */
#ifndef EARSHOT_BENCH_UTIL_H
#define EARSHOT_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on `clock` (CLOCK_MONOTONIC, or a CPU-time clock for --clock cpu). */
static inline double
bench_seconds (clockid_t clock)
{
  struct timespec ts;
  clock_gettime (clock, &ts);
  return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Uniform in [-1, 1) from a 64-bit LCG: the same numbers on every run. */
static inline float
bench_urand (uint64_t *state)
{
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return (float) ((*state >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

/* calloc that ends the program with "PROG: out of memory". */
static inline void *
bench_xcalloc (const char *prog, size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size ? size : 1);
  if (p == NULL) {
    fprintf (stderr, "%s: out of memory\n", prog);
    exit (1);
  }
  return p;
}

#endif
