/* check.h — the whole unit-test framework: a failed CHECK prints where and
 * why and marks the test failed; the test's main returns check_finish(). */
#ifndef EARSHOT_TEST_CHECK_H
#define EARSHOT_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failures;
static int check_count;

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    check_count++;                                                           \
    if (!(cond)) {                                                           \
      check_failures++;                                                      \
      fprintf (stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__,      \
          #cond);                                                            \
      fprintf (stderr, __VA_ARGS__);                                         \
      fputc ('\n', stderr);                                                  \
    }                                                                        \
  } while (0)

/* |a - b| <= tol, and neither is NaN. */
#define CHECK_NEAR(a, b, tol, what)                                          \
  CHECK (fabs ((double) (a) - (double) (b)) <= (tol), "%s: %.9g vs %.9g "    \
      "(tolerance %g)", (what), (double) (a), (double) (b), (double) (tol))

static inline int
check_finish (const char *name)
{
  printf ("%s: %d checks, %d failed\n", name, check_count, check_failures);
  return check_failures ? 1 : 0;
}

#endif
