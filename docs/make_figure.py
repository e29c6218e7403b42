"""Draws docs/_static/plp_cycle.png: one PLP cycle on a 2-D path.

python docs/make_figure.py
"""

import pathlib

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent / '_static' / 'plp_cycle.png'


def main():
  h = np.array([[0.0, 0.0], [1.0, 0.55], [2.0, 0.8], [3.0, 0.9]])
  m12, m23 = (h[1] + h[2]) / 2, (h[2] + h[3]) / 2
  jump = m23 + (m23 - m12)
  figure, axis = plt.subplots(figsize=(6, 3.2))
  axis.plot(
    h[:, 0], h[:, 1], 'o-', color='C0', label='base optimizer: h0, h1, h2, h3'
  )
  axis.plot(
    *np.array([m12, m23]).T, 's--', color='C2', label='midpoints m12, m23'
  )
  axis.annotate('', jump, h[2], arrowprops={'arrowstyle': '->', 'color': 'C3'})
  axis.plot(
    *jump, '*', color='C3', markersize=14, label='PLP: m23 + (m23 - m12)'
  )
  for name, point in zip(('h1', 'h2', 'h3'), h[1:], strict=True):
    axis.annotate(name, point, textcoords='offset points', xytext=(4, -12))
  axis.set(xticks=[], yticks=[], title='One cycle of three steps, k = 1')
  axis.legend(fontsize=8, loc='lower right')
  figure.tight_layout()
  figure.savefig(OUT, dpi=120)


if __name__ == '__main__':
  main()
