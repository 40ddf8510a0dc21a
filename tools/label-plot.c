/* label-plot.c — a labelled file as a plain SVG picture, written by hand
 * (like plot.c): three panels over one time axis,
 *
 *   waveform   the min/max envelope of the audio (when collected)
 *   segments   one lane per class with the element's segments
 *   posteriors every class's frame probability, averaged per pixel column
 *
 * with the class colours shared by the lanes and the curves.
 */
#include "earshot-tool.h"

#include <gst/gst.h>
#include <math.h>
#include <string.h>

#define W 1100
#define LEFT 120                /* plot area x; class names to its left */
#define PW (W - LEFT - 24)      /* plot area width */
#define WAVE_H 110
#define LANE_H 20
#define PROB_H 170
#define GAP 16

static const char *const palette[] = {
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};

static const char *
colour (int k)
{
  return palette[k % (int) G_N_ELEMENTS (palette)];
}

typedef struct {
  double t1;                    /* time range [0, t1] */
} axis;

static double
xpos (const axis *a, double t)
{
  return LEFT + t / a->t1 * PW;
}

static char *
time_label (double t, double span)
{
  if (span >= 120) {
    long s = lround (t);
    return g_strdup_printf ("%ld:%02ld", s / 60, s % 60);
  }
  return g_strdup_printf ("%g", t);
}

/* Vertical grid lines and tick labels under the last panel. */
/* Tick step: round seconds, or round minutes once labels are m:ss. */
static double
time_step (double span)
{
  static const double minutes[] = { 10, 15, 30, 60, 120, 300, 600, 900,
    1800, 3600, 7200, 14400, 28800 };
  if (span < 120)
    return es_plot_tick_step (0, span, 10);
  for (gsize i = 0; i < G_N_ELEMENTS (minutes); i++)
    if (span / minutes[i] <= 10)
      return minutes[i];
  return es_plot_tick_step (0, span, 10);
}

static void
time_axis (GString *s, const axis *a, int top, int bottom)
{
  double step = time_step (a->t1);
  for (double t = 0; t <= a->t1 + 1e-9 * step; t += step) {
    double X = xpos (a, t);
    char *lab = time_label (t, a->t1);
    /* drawn last, so faint enough not to hide the data */
    g_string_append_printf (s, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' "
        "stroke='#000' stroke-opacity='0.12'/>\n<text x='%.1f' y='%d' "
        "text-anchor='middle'>%s"
        "</text>\n", X, top, X, bottom, X, bottom + 16, lab);
    g_free (lab);
  }
  g_string_append_printf (s, "<text x='%d' y='%d' text-anchor='middle'>"
      "time (%s)</text>\n", LEFT + PW / 2, bottom + 36,
      a->t1 >= 120 ? "min:s" : "s");
}

/* The panel's box, and its title left of it, halfway down (clear of the
 * tick labels at its top and bottom). */
static void
panel_frame (GString *s, int top, int h, const char *title)
{
  g_string_append_printf (s, "<rect x='%d' y='%d' width='%d' height='%d' "
      "fill='white' stroke='#444'/>\n", LEFT, top, PW, h);
  if (title)
    g_string_append_printf (s, "<text x='%d' y='%d' text-anchor='end' "
        "font-weight='bold'>%s</text>\n", LEFT - 36, top + h / 2 + 4, title);
}

static void
waveform (GString *s, const es_labelling *l, const axis *a, int top)
{
  float peak = 1e-3f;
  for (gsize i = 0; i < l->n_env; i++)
    peak = MAX (peak, MAX (fabsf (l->env_min[i]), fabsf (l->env_max[i])));
  double mid = top + WAVE_H / 2.0, half = WAVE_H / 2.0 - 4;

  panel_frame (s, top, WAVE_H, "waveform");
  g_string_append_printf (s, "<text x='%d' y='%d' text-anchor='end' "
      "fill='#666' font-size='11'>peak %.1f dBFS</text>\n", LEFT - 8,
      top + WAVE_H - 4, 20 * log10 (peak));
  GString *hi = g_string_new (NULL), *lo = g_string_new (NULL);
  GArray *lows = g_array_new (FALSE, FALSE, sizeof (double) * 2);
  for (int x = 0; x < PW; x++) {
    double t0 = a->t1 * x / PW, t1 = a->t1 * (x + 1) / PW;
    double f0 = (t0 - l->env_start) / l->env_block;
    double f1 = (t1 - l->env_start) / l->env_block;
    if (f1 <= 0 || f0 >= (double) l->n_env)
      continue;
    gsize i0 = f0 > 0 ? (gsize) f0 : 0;
    gsize i1 = MIN ((gsize) ceil (f1), l->n_env);
    if (i1 <= i0)
      i1 = i0 + 1;
    float mn = l->env_min[i0], mx = l->env_max[i0];
    for (gsize i = i0 + 1; i < i1; i++) {
      mn = MIN (mn, l->env_min[i]);
      mx = MAX (mx, l->env_max[i]);
    }
    double X = LEFT + x + 0.5;
    g_string_append_printf (hi, "%.1f,%.1f ", X, mid - mx / peak * half);
    double p[2] = { X, mid - mn / peak * half };
    g_array_append_val (lows, p);
  }
  for (guint i = lows->len; i-- > 0;) {
    const double *p = (const double *) lows->data + 2 * i;
    g_string_append_printf (lo, "%.1f,%.1f ", p[0], p[1]);
  }
  if (lows->len > 0)
    g_string_append_printf (s, "<polygon fill='#4a6fa5' stroke='#4a6fa5' "
        "stroke-width='0.5' points='%s%s'/>\n", hi->str, lo->str);
  g_string_append_printf (s, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' "
      "stroke='#aaa'/>\n", LEFT, mid, LEFT + PW, mid);
  g_array_free (lows, TRUE);
  g_string_free (hi, TRUE);
  g_string_free (lo, TRUE);
}

static void
lanes (GString *s, const es_labelling *l, const char *const *labels,
    const axis *a, int top)
{
  int h = (int) l->n_classes * LANE_H;
  panel_frame (s, top, h, NULL);
  for (guint k = 0; k < l->n_classes; k++) {
    int y = top + (int) k * LANE_H;
    char *name = g_markup_escape_text (labels[k], -1);
    g_string_append_printf (s, "<text x='%d' y='%d' text-anchor='end' "
        "fill='%s' font-weight='bold'>%s</text>\n", LEFT - 8, y + 14,
        colour ((int) k), name);
    g_free (name);
    if (k > 0)
      g_string_append_printf (s, "<line x1='%d' y1='%d' x2='%d' y2='%d' "
          "stroke='#eee'/>\n", LEFT, y, LEFT + PW, y);
  }
  for (gsize i = 0; i < l->n_segments; i++) {
    const es_segment *g = &l->segments[i];
    double x0 = xpos (a, g->start), x1 = xpos (a, MIN (g->end, a->t1));
    char *name = g_markup_escape_text (labels[g->cls], -1);
    /* the title is the tooltip a browser shows */
    g_string_append_printf (s, "<rect x='%.1f' y='%d' width='%.1f' "
        "height='%d' fill='%s' fill-opacity='0.85'><title>%s %.3f-%.3f s "
        "(%.2f)</title></rect>\n", x0, top + g->cls * LANE_H + 3,
        MAX (x1 - x0, 1.0), LANE_H - 6, colour (g->cls), name, g->start,
        g->end, g->confidence);
    g_free (name);
  }
}

static void
posteriors (GString *s, const es_labelling *l, const axis *a, int top)
{
  guint nk = l->n_classes;
  double *sum = g_new0 (double, (gsize) PW * nk);
  guint *count = g_new0 (guint, PW);

  panel_frame (s, top, PROB_H, "probability");
  for (int i = 0; i <= 4; i++) {
    double y = top + PROB_H - i / 4.0 * PROB_H;
    g_string_append_printf (s, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' "
        "stroke='#eee'/>\n<text x='%d' y='%.1f' text-anchor='end' "
        "fill='#666'>%g</text>\n", LEFT, y, LEFT + PW, y, LEFT - 8, y + 4,
        i / 4.0);
  }
  for (gsize t = 0; t < l->n_frames; t++) {
    double c = ((double) l->start_ns[t] + l->duration_ns[t] / 2.0)
        / GST_SECOND;
    int x = (int) floor (c / a->t1 * PW);
    if (x < 0 || x >= PW)
      continue;
    count[x]++;
    for (guint k = 0; k < nk; k++)
      sum[(gsize) x * nk + k] += l->probs[t * nk + k];
  }
  for (guint k = 0; k < nk; k++) {
    g_string_append_printf (s, "<polyline fill='none' stroke='%s' "
        "stroke-width='1.5' points='", colour ((int) k));
    for (int x = 0; x < PW; x++)
      if (count[x])
        g_string_append_printf (s, "%.1f,%.1f ", LEFT + x + 0.5,
            top + PROB_H - sum[(gsize) x * nk + k] / count[x] * PROB_H);
    g_string_append (s, "'/>\n");
  }
  g_free (sum);
  g_free (count);
}

gboolean
es_plot_labelling_svg (const char *path, const es_labelling *l,
    const char *const *labels, const char *title, GError **error)
{
  axis a = { l->duration };
  if (l->n_frames > 0) {
    gsize last = l->n_frames - 1;
    a.t1 = MAX (a.t1, (double) (l->start_ns[last] + l->duration_ns[last])
        / GST_SECOND);
  }
  if (!(a.t1 > 0))
    a.t1 = 1;

  int top = 44;
  int wave_top = top;
  if (l->n_env > 0)
    top += WAVE_H + GAP;
  int lanes_top = top;
  top += (int) l->n_classes * LANE_H + GAP;
  int prob_top = top;
  top += PROB_H;
  int height = top + 50;

  GString *s = g_string_new (NULL);
  char *esc = g_markup_escape_text (title ? title : "", -1);
  g_string_append_printf (s, "<?xml version='1.0' encoding='UTF-8'?>\n"
      "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
      "viewBox='0 0 %d %d' font-family='sans-serif' font-size='12'>\n"
      "<rect width='100%%' height='100%%' fill='#f8f8f8'/>\n"
      "<text x='%d' y='26' font-size='15' text-anchor='middle'>%s</text>\n",
      W, height, W, height, W / 2, esc);
  g_free (esc);
  if (l->n_env > 0)
    waveform (s, l, &a, wave_top);
  lanes (s, l, labels, &a, lanes_top);
  posteriors (s, l, &a, prob_top);
  time_axis (s, &a, l->n_env > 0 ? wave_top : lanes_top, top);
  g_string_append (s, "</svg>\n");

  gboolean ok = es_write_file_atomic (path, s->str, s->len, error);
  g_string_free (s, TRUE);
  return ok;
}
