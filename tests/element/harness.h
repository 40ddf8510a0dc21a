/* harness.h — the element tests' common set-up: an `earshot` element in a
 * GstHarness, posting to a bus of its own. */
#ifndef EARSHOT_TEST_HARNESS_H
#define EARSHOT_TEST_HARNESS_H

#include <gst/check/gstharness.h>

/* An earshot element with `model`, smoothing 1 and min-segment = min-gap = 0
 * (so segments follow the frames), then the "name", value, ..., NULL
 * properties; harnessed, posting to a new bus (*bus), caps set when caps is
 * not NULL.  Fails the test if the element is not found.  Free both with
 * free_harness(). */
GstHarness *new_harness (const gchar * model, const gchar * caps,
    GstBus ** bus, const gchar * first_prop, ...);

/* Tears down the harness and drops the bus (and the messages left on it). */
void free_harness (GstHarness * h, GstBus * bus);

#endif
