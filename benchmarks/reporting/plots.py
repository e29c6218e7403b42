"""What every figure uses: readable text sizes, the Agg backend, a mean and
its range over seeds, saving."""

import functools
import math

import numpy as np

# Text sizes for a figure shown at a page's column width (about 700 px on
# GitHub and the docs site): the figures are 640-1,000 px wide, so this text
# shows at 8-10 px or more.
READABLE = {
  'font.size': 11,
  'axes.titlesize': 11,
  'axes.labelsize': 11,
  'xtick.labelsize': 10,
  'ytick.labelsize': 10,
  'legend.fontsize': 9.5,
  'figure.titlesize': 12,
}
# Two panels side by side, and one panel, in inches (at 110 dpi).
TWO_PANELS = (9, 3.8)
ONE_PANEL = (6.4, 4)


def readable(draw):
  """`draw`, with its figures' text at READABLE's sizes (only within it)."""

  @functools.wraps(draw)
  def draw_readably(*args, **kwargs):
    import matplotlib

    with matplotlib.rc_context(READABLE):
      return draw(*args, **kwargs)

  return draw_readably


def pyplot():
  """matplotlib.pyplot drawing to files (the Agg backend).

  Imported when drawing, not at the top: selecting the Agg backend on import
  would take a notebook's inline backend away.
  """
  import matplotlib

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt

  return plt


def save(figure, path, dpi):
  """Lays `figure` out, saves it at `path`, closes it; returns `path`."""
  figure.tight_layout()
  figure.savefig(path, dpi=dpi)
  pyplot().close(figure)
  return path


def finite_points_and_range(axis, points, label):
  """Draws `points` ((x, its values over seeds)) as `mean_and_range` does,
  with a marker at each x, leaving out each x with no values or a
  non-finite one (a diverged run); nothing where none are left."""
  finite = [(x, v) for x, v in points if v and all(map(math.isfinite, v))]
  if finite:
    xs, values = zip(*finite, strict=True)
    mean_and_range(axis, xs, values, 'o-', label=label)


def one_panel_saved(figure, axis, path, **settings):
  """`axis` set to `settings` and `gridded`, `figure` saved at `path` at
  100 dpi (a compact one-panel figure); returns `path`."""
  axis.set(**settings)
  gridded(axis)
  return save(figure, path, dpi=100)


def gridded(axis):
  """`axis` with a light grid, and its legend where it has labelled lines
  (none where, say, every run diverged)."""
  axis.grid(alpha=0.3)
  if axis.get_legend_handles_labels()[0]:
    axis.legend()
  return axis


def mean_and_range(axis, x, points, fmt='-', label=None):
  """Draws the mean over seeds at each x and shades the seeds' range there
  (`points`: each x's values, one a seed); returns the mean's line."""
  (line,) = axis.plot(x, [np.mean(p) for p in points], fmt, label=label)
  axis.fill_between(
    x, [np.min(p) for p in points], [np.max(p) for p in points],
    color=line.get_color(), alpha=0.2,
  )  # fmt: skip
  return line


def over_seeds(results):
  """What a curve shows of the runs' seeds: their mean and range, or one."""
  seeds = max(map(len, results['runs'].values()), default=0)
  return f'mean and range over {seeds} seeds' if seeds > 1 else 'one seed'
