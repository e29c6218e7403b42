"""Smoke test of the language model's step benchmark: what it measures."""

from benchmarks.tools.speed import lm_step_speed


def test_the_step_benchmark_times_every_arm_and_counts_flops(capsys):
  lm_step_speed.main([
    '--rounds', '1', '--steps', '2',
    '--config', 'benchmarks/shakespeare/configs/gpt_tiny.py',
  ])  # fmt: skip
  rows = [
    line for line in capsys.readouterr().out.splitlines()
    if line.startswith('| `')
  ]  # fmt: skip
  assert [row.split('`')[1] for row in rows] == [
    'adamw', 'adamw_plp', 'adamw_lookahead', 'schedule_free_adamw',
  ]  # fmt: skip
  assert rows[0].split('|')[4].strip() == '1.000'  # adamw is its own base


def test_the_flop_estimate_is_six_n_plus_attention():
  config = lm_step_speed.load_config(
    'benchmarks/shakespeare/configs/gpt_cpu.py'
  )
  n = 805_376 - 64 * 128  # without the position embedding
  assert lm_step_speed.estimated_flops(config) == (
    (6 * n + 12 * 4 * 64 * 128) * 12 * 64
  )
