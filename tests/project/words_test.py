"""What the documents say where a finding was decided by documenting it:
each sentence a reader needs is there, in the place they would look."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def read(path):
  return ' '.join((ROOT / path).read_text().split())  # lines joined


def test_the_api_page_states_the_known_limitations():
  api = read('docs/api.md')
  limits = api.split('**Known limitations.**')[1]
  assert "does not converge on Rosenbrock's function" in limits
  assert 'count differently in the two history modes' in limits
  assert 'the outside change is part of the slope' in limits


def test_the_transformer_report_says_what_its_intervals_allow():
  report = read('benchmarks/results/shakespeare/adamw_peers/REPORT.md')
  assert 'excludes any gain, at 95% confidence and at this scale' in report
  assert 'Power is a planning figure' in report
  assert 'cost 0.0114 nats per character, 95% CI [+0.0043, +0.0185]' in report
  assert '0.86-0.90 at every rate of the sweep, 0.863 at 3.2e-2' in report
  assert '0.80-0.86 for SGD, less straight' in report
  assert 'rules out any gain' not in report


def test_the_shakespeare_setting_is_credited_as_nanogpt_gives_it():
  readme = read('benchmarks/shakespeare/README.md')
  assert 'which is the GPU setting: 6 layers, width 384' in readme
  assert 'not like for like, in five ways' in readme
  assert 'a few plays' not in readme
  config = read('benchmarks/shakespeare/configs/gpt_cpu.py')
  assert "As karpathy/nanoGPT's README sets it for a laptop" in config


def test_the_readme_bounds_the_transformer_result():
  readme = read('README.md')
  assert 'On one small transformer (0.8M parameters, 2,000 steps)' in readme


def test_no_code_comment_dates_a_decision():
  # When a thing was decided lives in the REPORTs and the commits; a code
  # comment says why.
  import re
  import tokenize

  dated = re.compile(r'\b20\d\d-\d\d-\d\d\b')
  found = []
  for folder in ('optax_plp', 'benchmarks', 'tests'):
    for path in sorted((ROOT / folder).rglob('*.py')):
      with tokenize.open(path) as file:
        for token in tokenize.generate_tokens(file.readline):
          if token.type == tokenize.COMMENT and dated.search(token.string):
            found.append(f'{path.relative_to(ROOT)}:{token.start[0]}')
  assert not found, found
