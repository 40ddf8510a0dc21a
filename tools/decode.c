/* decode.c — any audio file GStreamer can decode, to mono float samples.
 *
 *   uridecodebin uri=file://… ! audioconvert
 *       ! audio/x-raw,format=F32LE,layout=interleaved ! appsink sync=false
 *
 * then mixed down and resampled here exactly as the element `earshot`
 * does it, so that a model is trained on the samples it will be run on:
 * the mean of the channels (earshot_mix_down_f32), then, if the rate is
 * not the wanted one, earshot_resample.h's filter where it applies (down
 * from 22.05, 32, 44.1, 48, 96 kHz ...) and otherwise a GstAudioConverter
 * with the element's settings, its end flushed the element's way.  A
 * stream that changes rate or channels is converted part by part.
 *
 * The appsink's new-sample callback appends to the current part in the
 * streaming thread; the calling thread waits on the bus for EOS or an
 * error, so a decoding error can never leave it blocked.
 */
#include "earshot-tool.h"

#include "earshot_resample.h"

#include <gst/app/gstappsink.h>
#include <gst/audio/audio.h>
#include <gst/gst.h>

typedef struct {
  guint rate;                   /* wanted */
  GArray *out;                  /* float, mono at `rate`: the parts done */
  GArray *part;                 /* float, interleaved: the current part */
  gint part_rate, part_channels;  /* its format; 0: none yet */
  gboolean failed;              /* a part could not be converted */
  es_audio_link link;           /* audioconvert, where the decoder links */
} decode_ctx;                   /* written by the streaming thread only,
                                   read after the pipeline stopped */

/* n samples of mono F32 at `in_rate` to ctx->rate, appended to ctx->out:
 * ceil (n * rate / in_rate) of them, as the element makes them. */
static gboolean
resample_part (decode_ctx *ctx, const float *x, gsize n, gint in_rate)
{
  guint64 want = gst_util_uint64_scale_int_ceil (n, (gint) ctx->rate,
      in_rate);
  guint start = ctx->out->len;

  if ((guint) in_rate == ctx->rate) {
    g_array_append_vals (ctx->out, x, n);
    return TRUE;
  }
  if (earshot_resampler_supports ((unsigned) in_rate, ctx->rate)) {
    earshot_resampler *r;
    if (earshot_resampler_new ((unsigned) in_rate, ctx->rate, &r)
        != EARSHOT_OK)
      return FALSE;
    gsize lat = earshot_resampler_latency (r);
    float *zeros = g_new0 (float, lat);
    g_array_set_size (ctx->out, start + earshot_resampler_max_out (r, n)
        + earshot_resampler_max_out (r, lat));
    float *y = &g_array_index (ctx->out, float, start);
    gsize made = earshot_resampler_process (r, x, n, y);
    made += earshot_resampler_process (r, zeros, lat, y + made);
    g_free (zeros);
    earshot_resampler_free (r);
    g_array_set_size (ctx->out, start + (guint) MIN (made, want));
    return TRUE;
  }

  /* The element's converter (F32 mono, no dither), its tail brought out
   * with latency + 1 zeros (GStreamer 1.22's resampler holds back one
   * sample more than it says when upsampling). */
  GstAudioInfo in, out;
  gst_audio_info_set_format (&in, GST_AUDIO_FORMAT_F32, in_rate, 1, NULL);
  gst_audio_info_set_format (&out, GST_AUDIO_FORMAT_F32, (gint) ctx->rate, 1,
      NULL);
  GstAudioConverter *conv = gst_audio_converter_new
      (GST_AUDIO_CONVERTER_FLAG_NONE, &in, &out,
      gst_structure_new ("EsDecodeConverter",
          GST_AUDIO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_AUDIO_DITHER_METHOD,
          GST_AUDIO_DITHER_NONE,
          GST_AUDIO_CONVERTER_OPT_NOISE_SHAPING_METHOD,
          GST_TYPE_AUDIO_NOISE_SHAPING_METHOD, GST_AUDIO_NOISE_SHAPING_NONE,
          NULL));
  if (conv == NULL)
    return FALSE;
  gsize tail = gst_audio_converter_get_max_latency (conv) + 1;
  float *zeros = g_new0 (float, tail);
  gsize n_main = gst_audio_converter_get_out_frames (conv, n);
  g_array_set_size (ctx->out, start + n_main);
  gpointer in_planes[1] = { (gpointer) x };
  gpointer out_planes[1] = { &g_array_index (ctx->out, float, start) };
  gboolean ok = gst_audio_converter_samples (conv,
      GST_AUDIO_CONVERTER_FLAG_NONE, in_planes, n, out_planes, n_main);
  /* what the zeros bring out depends on what the converter holds now */
  gsize n_tail = gst_audio_converter_get_out_frames (conv, tail);
  g_array_set_size (ctx->out, start + n_main + n_tail);
  in_planes[0] = zeros;
  out_planes[0] = &g_array_index (ctx->out, float, start + n_main);
  ok = ok && gst_audio_converter_samples (conv,
      GST_AUDIO_CONVERTER_FLAG_NONE, in_planes, tail, out_planes, n_tail);
  g_free (zeros);
  gst_audio_converter_free (conv);
  g_array_set_size (ctx->out, start + (guint) MIN (n_main + n_tail, want));
  return ok;
}

/* The current part mixed down and resampled into ctx->out. */
static void
finish_part (decode_ctx *ctx)
{
  gsize n = ctx->part_channels > 0 ? ctx->part->len / ctx->part_channels : 0;
  if (n > 0) {
    const float *x = (const float *) ctx->part->data;
    float *mono = NULL;
    if (ctx->part_channels > 1) {
      mono = g_new (float, n);
      earshot_mix_down_f32 (x, n, (unsigned) ctx->part_channels, mono);
      x = mono;
    }
    if (!resample_part (ctx, x, n, ctx->part_rate))
      ctx->failed = TRUE;
    g_free (mono);
  }
  g_array_set_size (ctx->part, 0);
}

static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer user)
{
  decode_ctx *ctx = user;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  if (sample == NULL)
    return GST_FLOW_EOS;

  GstAudioInfo info;
  GstCaps *caps = gst_sample_get_caps (sample);
  if (caps == NULL || !gst_audio_info_from_caps (&info, caps)) {
    gst_sample_unref (sample);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (GST_AUDIO_INFO_RATE (&info) != ctx->part_rate
      || GST_AUDIO_INFO_CHANNELS (&info) != ctx->part_channels) {
    finish_part (ctx);
    ctx->part_rate = GST_AUDIO_INFO_RATE (&info);
    ctx->part_channels = GST_AUDIO_INFO_CHANNELS (&info);
  }
  GstBuffer *buf = gst_sample_get_buffer (sample);
  GstMapInfo map;
  if (buf != NULL && gst_buffer_map (buf, &map, GST_MAP_READ)) {
    g_array_append_vals (ctx->part, map.data, map.size / sizeof (float));
    gst_buffer_unmap (buf, &map);
  }
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static void
on_pad_added (GstElement *dec, GstPad *pad, gpointer user)
{
  es_audio_link *link = user;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  const GstStructure *s = gst_caps_get_size (caps) > 0
      ? gst_caps_get_structure (caps, 0) : NULL;
  gboolean audio = s != NULL
      && g_str_has_prefix (gst_structure_get_name (s), "audio/");
  gst_caps_unref (caps);
  if (!audio)
    return;

  /* The first audio stream wins; others stay unlinked. */
  GstPad *sinkpad = gst_element_get_static_pad (link->convert, "sink");
  if (!gst_pad_is_linked (sinkpad)
      && gst_pad_link (pad, sinkpad) == GST_PAD_LINK_OK)
    link->linked = TRUE;
  gst_object_unref (sinkpad);
}

static void
on_no_more_pads (GstElement *dec, gpointer user)
{
  es_audio_link *link = user;
  if (link->linked)
    return;
  /* Nothing to decode: say so instead of the generic "not linked". */
  GError *e = g_error_new_literal (GST_STREAM_ERROR,
      GST_STREAM_ERROR_WRONG_TYPE, "the file has no audio stream");
  gst_element_post_message (dec, gst_message_new_error (GST_OBJECT (dec), e,
          NULL));
  g_error_free (e);
}

void
es_audio_link_connect (GstElement *dec, es_audio_link *link)
{
  g_signal_connect (dec, "pad-added", G_CALLBACK (on_pad_added), link);
  g_signal_connect (dec, "no-more-pads", G_CALLBACK (on_no_more_pads), link);
}

gboolean
es_decode_file (const char *path, guint rate, float **samples,
    gsize *n_samples, GError **error)
{
  GError *e = NULL;
  char *uri = gst_filename_to_uri (path, &e);
  if (uri == NULL) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE, "cannot decode %s: %s",
        path, e->message);
    g_error_free (e);
    return FALSE;
  }

  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("uridecodebin", NULL);
  GstElement *conv = gst_element_factory_make ("audioconvert", NULL);
  GstElement *filter = gst_element_factory_make ("capsfilter", NULL);
  GstElement *sink = gst_element_factory_make ("appsink", NULL);
  if (pipe == NULL || src == NULL || conv == NULL || filter == NULL
      || sink == NULL) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE,
        "cannot decode %s: a GStreamer element is missing (uridecodebin, "
        "audioconvert, capsfilter and appsink are needed: install "
        "gstreamer1.0-plugins-base)", path);
    g_free (uri);
    GstElement *all[] = { pipe, src, conv, filter, sink };
    for (gsize i = 0; i < G_N_ELEMENTS (all); i++)
      if (all[i] != NULL)
        gst_object_unref (gst_object_ref_sink (all[i]));
    return FALSE;
  }

  decode_ctx ctx = {
    .rate = rate,
    .out = g_array_new (FALSE, FALSE, sizeof (float)),
    .part = g_array_new (FALSE, FALSE, sizeof (float)),
    .link = { .convert = conv },
  };
  /* F32 at the file's own rate and channels: mix-down and resampling are
   * ours (see the top) */
  GstCaps *caps = gst_caps_new_simple ("audio/x-raw",
      "format", G_TYPE_STRING, "F32LE", "layout", G_TYPE_STRING,
      "interleaved", NULL);
  g_object_set (filter, "caps", caps, NULL);
  gst_caps_unref (caps);
  g_object_set (src, "uri", uri, NULL);
  g_object_set (sink, "sync", FALSE, NULL);
  GstAppSinkCallbacks cb = { .new_sample = on_new_sample };
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, &ctx, NULL);
  es_audio_link_connect (src, &ctx.link);

  gst_bin_add_many (GST_BIN (pipe), src, conv, filter, sink, NULL);
  gboolean ok = gst_element_link_many (conv, filter, sink, NULL);
  GstMessage *msg = NULL;
  if (ok) {
    gst_element_set_state (pipe, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus (pipe);
    msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    gst_object_unref (bus);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  /* the last part is converted only now, after EOS */
  if (ok && msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
    finish_part (&ctx);

  if (!ok) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE,
        "cannot decode %s: cannot link the decoding pipeline", path);
  } else if (msg == NULL || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *ge = NULL;
    if (msg != NULL)
      gst_message_parse_error (msg, &ge, NULL);
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE, "cannot decode %s: %s",
        path, ge ? ge->message : "the pipeline stopped");
    g_clear_error (&ge);
    ok = FALSE;
  } else if (ctx.failed) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE,
        "cannot decode %s: cannot resample its audio to %u Hz", path, rate);
    ok = FALSE;
  } else if (ctx.out->len == 0) {
    g_set_error (error, ES_ERROR, ES_ERROR_DECODE,
        "cannot decode %s: it holds no audio samples", path);
    ok = FALSE;
  }
  if (msg != NULL)
    gst_message_unref (msg);
  gst_object_unref (pipe);
  g_free (uri);

  g_array_free (ctx.part, TRUE);
  if (!ok) {
    g_array_free (ctx.out, TRUE);
    return FALSE;
  }
  *n_samples = ctx.out->len;
  *samples = (float *) g_array_free (ctx.out, FALSE);
  return TRUE;
}
