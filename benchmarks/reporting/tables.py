"""Markdown and text tables of summarised results."""

import tabulate

from benchmarks.harness import summary


def format_table(results):
  """The side-by-side table of the errors (in %), one column per kind."""

  def aligned(stats):  # a spread needs two seeds
    if stats.get('n', 2) < 2:
      return f'{100 * stats["mean"]:6.2f}'
    return f'{100 * stats["mean"]:6.2f} ± {100 * stats["std"]:4.2f}'

  entries = results['summary']
  kinds = [
    k
    for k in summary.KINDS
    if any(f'{k}_top1_error' in v for v in entries.values())
  ]
  titles = [f'{kind} {m}' for m in ('top-1', 'top-5') for kind in kinds]
  header = f'{"arm":22s} ' + ' '.join(f'{t:>15s}' for t in titles)
  header += f' {"images/s":>9s}'
  lines = [header, '-' * len(header)]
  for name, entry in entries.items():
    cells = [aligned(entry[f'{k}_{m}']) for m in summary.METRICS for k in kinds]
    rate = entry.get('images_per_second')
    rate = f'{rate["mean"]:9.0f}' if rate else ''
    lines.append(
      f'{name:22s} ' + ' '.join(f'{c:>15s}' for c in cells) + f' {rate}'
    )
  seeds = max((len(v.get('seeds', [])) for v in entries.values()), default=0)
  lines.append(
    f'errors in %, mean ± std over {seeds} seeds'
    if seeds > 1
    else 'errors in %, one seed: no spread to show (set config.seeds for more)'
  )
  if 'selected' in kinds:
    lines.append(
      'selected: test errors at the epoch of lowest validation top-1 error'
    )
  return '\n'.join(lines)


def format_loss_table(results):
  """The language model's side-by-side table: final losses in nats/char."""
  seeds = max(len(e['seeds']) for e in results['summary'].values())
  rows = []
  for name, entry in results['summary'].items():
    sign = '+' if ' - ' in name else ''
    cells = [
      f'{entry[m]["mean"]:{sign}.4f}'
      + (f' ± {entry[m]["std"]:.4f}' if seeds > 1 else '')
      for m in ('final_val_loss', 'final_test_loss')
    ]
    rate = entry.get('tokens_per_second')
    rows.append([name, *cells, f'{rate["mean"]:.0f}' if rate else ''])
  spread = (
    f'mean ± std over {seeds} seeds' if seeds > 1
    else 'one seed: no spread to show (set config.seeds for more)'
  )  # fmt: skip
  return (
    tabulate.tabulate(
      rows, ['arm', 'validation loss', 'test loss', 'tokens/s'],
      disable_numparse=True,
    )
    + f'\nnats per character at the end, {spread} (a difference: paired by '
    'seed), on every window of each split'
  )  # fmt: skip


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


def difference_cells(difference, kinds, with_seeds):
  """Each kind and metric's paired difference and its p, as table cells.

  `with_seeds(kind, metric)`: whether the cell lists the per-seed values.
  """
  cells = []
  for kind in kinds:
    for metric in summary.METRICS:
      stats = difference[f'{kind}_{metric}']
      shown = pct(stats, sign=True)
      if with_seeds(kind, metric):
        shown += f' ({per_seed(stats)})'
      cells += [shown, p_value(stats)]
  return cells


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


def arm_table(blocks, kinds):
  """Per block and arm: test errors of `kinds` (and the selected epoch)."""
  titles = [f'{kind} {m}' for kind in kinds for m in ('top-1', 'top-5')]
  selected = 'selected' in kinds
  titles += ['selected epoch'] if selected else []
  lines = [
    markdown_row(['block', 'arm', 'seeds', *titles]),
    '| --- | --- | --- |' + ' --- |' * len(titles),
  ]
  for block, results in blocks.items():
    for arm in results['config']['arms']:
      entry = results['summary'].get(arm)
      if not entry:
        continue
      cells = [
        pct(entry[f'{kind}_{metric}'])
        for kind in kinds
        for metric in summary.METRICS
      ]
      if selected:
        epoch = entry['selected_epoch']
        per = ', '.join(map(str, epoch['per_seed']))
        cells.append(f'{epoch["mean"]:.1f} ({per})')
      lines.append(markdown_row([block, arm, len(entry['seeds']), *cells]))
  return '\n'.join(lines)


def difference_header(leading_titles, kinds, unit):
  """Header lines of a table of `difference_row`s; top-1 lists per `unit`."""
  titles = list(leading_titles)
  for kind in kinds:
    titles += [f'Δ {kind} top-1 (per {unit})', 'p', f'Δ {kind} top-5', 'p']
  return [
    markdown_row(titles),
    '|' + ' --- |' * len(titles),
  ]


def difference_row(leading_cells, difference, kinds):
  """One table row: `leading_cells`, then each kind's differences and p."""
  cells = [*leading_cells] + difference_cells(
    difference, kinds, lambda _, metric: metric == 'top1_error'
  )
  return markdown_row(cells)


def difference_table(blocks, kinds):
  """Arm minus control, paired by seed, with two-sided paired t-tests."""
  lines = difference_header(('block', 'arm − control', 'seeds'), kinds, 'seed')
  for block, results in blocks.items():
    # The summary's pairs, in the order its task compared them.
    for key, difference in results['summary'].items():
      if ' - ' in key:
        arm, control = key.split(' - ')
        lines.append(
          difference_row(
            (block, f'{arm} − {control}', len(difference['seeds'])),
            difference,
            kinds,
          )
        )
  return '\n'.join(lines)
