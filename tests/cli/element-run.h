/* element-run.h — one file through the element, for the CLI test programs
 * (frame-accuracy, decode-check). */
#ifndef EARSHOT_TESTS_ELEMENT_RUN_H
#define EARSHOT_TESTS_ELEMENT_RUN_H

#include <gst/gst.h>

/* Called with the structure of every `earshot` frame message. */
typedef void (*element_run_frame_fn) (const GstStructure * s, gpointer data);

/* Runs `file` through filesrc ! decodebin ! audioconvert ! earshot
 * model=MODEL message-interval=0 post-messages=true ! fakesink and hands
 * each per-frame bus message to on_frame, in order.  TRUE at EOS, with the
 * stream's duration in *duration_ns (if not NULL; -1 when the pipeline
 * cannot say); FALSE with *error set when the pipeline cannot be built or
 * posts an error. */
gboolean element_run (const char *file, const char *model,
    element_run_frame_fn on_frame, gpointer data, gint64 * duration_ns,
    GError ** error);

#endif
