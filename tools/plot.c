/* plot.c — learning curves as a plain SVG file, written by hand.
 *
 * Two panels side by side: cross-entropy loss (training, validation) and
 * frame accuracy (training, validation) with validation macro-F1, against
 * the epoch; axes with round ticks, a legend per panel, the best epoch
 * marked by a dashed line.  Any browser or image viewer opens it.
 */
#include "earshot-tool.h"

#include <math.h>
#include <string.h>

#define W 960
#define H 400
#define PANEL_W 400
#define PANEL_H 280
#define LEFT0 70                /* x of the first panel's plot area */
#define LEFT1 (LEFT0 + PANEL_W + 80)
#define TOP 60

typedef struct {
  double x0, x1, y0, y1;        /* data range */
  int left, top;                /* plot area origin, pixels */
} panel;

static double
px (const panel *p, double x)
{
  return p->left + (x - p->x0) / (p->x1 - p->x0) * PANEL_W;
}

static double
py (const panel *p, double y)
{
  return p->top + PANEL_H - (y - p->y0) / (p->y1 - p->y0) * PANEL_H;
}

double
es_plot_tick_step (double lo, double hi, int max_ticks)
{
  double span = hi - lo;
  if (!(span > 0))
    return 1;
  double raw = span / max_ticks;
  double mag = pow (10, floor (log10 (raw)));
  double r = raw / mag;
  return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

static void
axes (GString *s, const panel *p, const char *ylabel, gboolean percent)
{
  double xs = es_plot_tick_step (p->x0, p->x1, 8);
  if (xs < 1)
    xs = 1;
  double ys = es_plot_tick_step (p->y0, p->y1, 6);

  g_string_append_printf (s, "<rect x='%d' y='%d' width='%d' height='%d' "
      "fill='white' stroke='#444'/>\n", p->left, p->top, PANEL_W, PANEL_H);
  for (double x = ceil (p->x0 / xs) * xs; x <= p->x1 + 1e-9; x += xs) {
    double X = px (p, x);
    g_string_append_printf (s, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' "
        "stroke='#ddd'/>\n<text x='%.1f' y='%d' text-anchor='middle'>%g"
        "</text>\n", X, p->top, X, p->top + PANEL_H, X, p->top + PANEL_H
        + 18, x);
  }
  for (double y = ceil (p->y0 / ys - 1e-9) * ys; y <= p->y1 + 1e-9 * ys;
      y += ys) {
    double Y = py (p, y);
    if (percent)
      g_string_append_printf (s, "<line x1='%d' y1='%.1f' x2='%d' "
          "y2='%.1f' stroke='#ddd'/>\n<text x='%d' y='%.1f' "
          "text-anchor='end'>%g%%</text>\n", p->left, Y, p->left + PANEL_W,
          Y, p->left - 6, Y + 4, round (y * 1000) / 10);
    else
      g_string_append_printf (s, "<line x1='%d' y1='%.1f' x2='%d' "
          "y2='%.1f' stroke='#ddd'/>\n<text x='%d' y='%.1f' "
          "text-anchor='end'>%.3g</text>\n", p->left, Y, p->left + PANEL_W,
          Y, p->left - 6, Y + 4, fabs (y) < 1e-12 ? 0.0 : y);
  }
  g_string_append_printf (s, "<text x='%d' y='%d' text-anchor='middle'>"
      "epoch</text>\n", p->left + PANEL_W / 2, p->top + PANEL_H + 40);
  g_string_append_printf (s, "<text x='%d' y='%d' font-weight='bold'>%s"
      "</text>\n", p->left, p->top - 10, ylabel);
}

/* Offsets of a row's fields, so one function draws any series. */
static void
series (GString *s, const panel *p, const es_epoch_row *rows, gsize n,
    size_t field, const char *colour, gboolean dashed)
{
  gboolean open = FALSE;
  for (gsize i = 0; i < n; i++) {
    double v;
    memcpy (&v, (const char *) &rows[i] + field, sizeof v);
    if (!isfinite (v))
      continue;
    if (!open) {
      g_string_append_printf (s, "<polyline fill='none' stroke='%s' "
          "stroke-width='2'%s points='", colour,
          dashed ? " stroke-dasharray='6,4'" : "");
      open = TRUE;
    }
    g_string_append_printf (s, "%.1f,%.1f ", px (p, rows[i].epoch),
        py (p, v));
  }
  if (open)
    g_string_append (s, "'/>\n");
  if (n <= 60)
    for (gsize i = 0; i < n; i++) {
      double v;
      memcpy (&v, (const char *) &rows[i] + field, sizeof v);
      if (isfinite (v))
        g_string_append_printf (s, "<circle cx='%.1f' cy='%.1f' r='2.5' "
            "fill='%s'/>\n", px (p, rows[i].epoch), py (p, v), colour);
    }
}

static gboolean
has_values (const es_epoch_row *rows, gsize n, size_t field)
{
  for (gsize i = 0; i < n; i++) {
    double v;
    memcpy (&v, (const char *) &rows[i] + field, sizeof v);
    if (isfinite (v))
      return TRUE;
  }
  return FALSE;
}

static void
range (const es_epoch_row *rows, gsize n, const size_t *fields, int nf,
    double *lo, double *hi)
{
  *lo = INFINITY;
  *hi = -INFINITY;
  for (gsize i = 0; i < n; i++)
    for (int f = 0; f < nf; f++) {
      double v;
      memcpy (&v, (const char *) &rows[i] + fields[f], sizeof v);
      if (isfinite (v)) {
        *lo = MIN (*lo, v);
        *hi = MAX (*hi, v);
      }
    }
  if (!isfinite (*lo)) {
    *lo = 0;
    *hi = 1;
  }
}

/* A legend box in the top right (bottom right when `low`) corner of a
 * panel; the best epoch's dashed line gets an entry when best > 0. */
static void
legend (GString *s, const panel *p, const char *const *names,
    const char *const *colours, const gboolean *dashed, int n, guint best,
    gboolean low)
{
  int rows = n + (best > 0);
  int h = rows * 18 + 4;
  int x = p->left + PANEL_W - 168;
  int y = low ? p->top + PANEL_H - h - 6 + 14 : p->top + 14;
  g_string_append_printf (s, "<rect x='%d' y='%d' width='160' height='%d' "
      "fill='white' fill-opacity='0.85' stroke='#aaa'/>\n", x - 6, y - 10, h);
  for (int i = 0; i < n; i++, y += 18)
    g_string_append_printf (s, "<line x1='%d' y1='%d' x2='%d' y2='%d' "
        "stroke='%s' stroke-width='2'%s/>\n<text x='%d' y='%d'>%s</text>\n",
        x, y, x + 24, y, colours[i], dashed[i] ? " stroke-dasharray='6,4'"
        : "", x + 30, y + 4, names[i]);
  if (best > 0)
    g_string_append_printf (s, "<line x1='%d' y1='%d' x2='%d' y2='%d' "
        "stroke='#888' stroke-dasharray='3,3'/>\n<text x='%d' y='%d'>best "
        "epoch (%u)</text>\n", x, y, x + 24, y, x + 30, y + 4, best);
}

static void
best_marker (GString *s, const panel *p, guint best)
{
  if (best == 0)
    return;
  double X = px (p, best);
  g_string_append_printf (s, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' "
      "stroke='#888' stroke-dasharray='3,3'/>\n", X, p->top, X,
      p->top + PANEL_H);
}

gboolean
es_plot_svg (const char *path, const es_epoch_row *rows, gsize n,
    guint best_epoch, const char *title, GError **error)
{
  static const char *train_c = "#1f77b4", *valid_c = "#ff7f0e",
      *f1_c = "#2ca02c";
  GString *s = g_string_new (NULL);
  char *esc = g_markup_escape_text (title ? title : "", -1);
  double last = n > 0 ? rows[n - 1].epoch : 1;

  g_string_append_printf (s, "<?xml version='1.0' encoding='UTF-8'?>\n"
      "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
      "viewBox='0 0 %d %d' font-family='sans-serif' font-size='12'>\n"
      "<rect width='100%%' height='100%%' fill='#f8f8f8'/>\n"
      "<text x='%d' y='24' font-size='15' text-anchor='middle'>%s</text>\n",
      W, H, W, H, W / 2, esc);
  g_free (esc);

  /* loss */
  const size_t loss_f[] = { G_STRUCT_OFFSET (es_epoch_row, train_loss),
    G_STRUCT_OFFSET (es_epoch_row, valid_loss) };
  double lo, hi;
  range (rows, n, loss_f, 2, &lo, &hi);
  double step = es_plot_tick_step (0, hi, 6);
  panel pl = { 1, MAX (last, 2), 0, MAX (ceil (hi / step) * step, step),
    LEFT0, TOP };
  axes (s, &pl, "loss (cross-entropy per frame)", FALSE);
  best_marker (s, &pl, best_epoch);
  series (s, &pl, rows, n, loss_f[0], train_c, FALSE);
  series (s, &pl, rows, n, loss_f[1], valid_c, FALSE);
  gboolean has_valid = has_values (rows, n, loss_f[1]);
  {
    const char *names[] = { "training", "validation" };
    const char *colours[] = { train_c, valid_c };
    const gboolean dashed[] = { FALSE, FALSE };
    legend (s, &pl, names, colours, dashed, has_valid ? 2 : 1, best_epoch,
        FALSE);
  }

  /* accuracy and F1 */
  const size_t acc_f[] = { G_STRUCT_OFFSET (es_epoch_row, train_acc),
    G_STRUCT_OFFSET (es_epoch_row, valid_acc),
    G_STRUCT_OFFSET (es_epoch_row, valid_f1) };
  range (rows, n, acc_f, 3, &lo, &hi);
  step = es_plot_tick_step (lo, 1, 6);
  panel pa = { 1, MAX (last, 2), MIN (floor (lo / step) * step, 1 - step),
    1, LEFT1, TOP };
  axes (s, &pa, "frame accuracy, macro-F1", TRUE);
  best_marker (s, &pa, best_epoch);
  series (s, &pa, rows, n, acc_f[0], train_c, FALSE);
  series (s, &pa, rows, n, acc_f[1], valid_c, FALSE);
  series (s, &pa, rows, n, acc_f[2], f1_c, TRUE);
  {
    const char *names[] = { "training accuracy", "validation accuracy",
      "validation macro-F1" };
    const char *colours[] = { train_c, valid_c, f1_c };
    const gboolean dashed[] = { FALSE, FALSE, TRUE };
    legend (s, &pa, names, colours, dashed, has_valid ? 3 : 1, best_epoch,
        TRUE);
  }
  g_string_append (s, "</svg>\n");

  gboolean ok = es_write_file_atomic (path, s->str, s->len, error);
  g_string_free (s, TRUE);
  return ok;
}
