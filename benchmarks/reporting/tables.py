"""Markdown and text tables of summarised results."""

import tabulate


def pct(stats, sign=False):
  return (
    f'{100 * stats["mean"]:{"+" if sign else ""}.2f} ± {100 * stats["std"]:.2f}'
  )


def p_value(stats):
  """p to 3 decimals, or '< 0.001' where 3 decimals would round it to 0."""
  p = stats['paired_t_test_p']
  if p is None:
    return 'n/a'
  return '< 0.001' if p < 0.0005 else f'{p:.3f}'


def signed(text):
  """Numbers with a typeset minus, as the reports write them."""
  return text.replace('-', '\u2212')


def per_seed(stats):
  return ', '.join(f'{100 * d:+.2f}' for d in stats['per_seed'])


def markdown(rows, headers):
  """A GitHub markdown table of `rows`, every cell as written."""
  return tabulate.tabulate(
    rows, headers, tablefmt='github', disable_numparse=True
  )


def compact_markdown(rows, headers):
  """A markdown table of `rows` without padding: for a page that shows its
  source too (the README), where padding wraps each row into several."""
  separator = ['---'] * len(headers)
  return '\n'.join(markdown_row(r) for r in [headers, separator, *rows])


def markdown_row(cells):
  """One row of a markdown table."""
  return '| ' + ' | '.join(str(cell) for cell in cells) + ' |'
