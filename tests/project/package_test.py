"""The release: sdist and wheel build, pass twine's checks, and the wheel alone
installs into a fresh environment where the README's Quickstart runs."""

import pathlib
import re
import subprocess
import sys
import venv
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(*argv, cwd=ROOT):
  done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  return done.stdout


def quickstart():
  text = (ROOT / 'README.md').read_text()
  section = text[text.index('## Quickstart') :]
  return re.search(r'```python\n(.*?)```', section, re.S).group(1)


def documented_wheel_command():
  """The command the README says `make wheel` runs, as the Makefile has it."""
  readme = (ROOT / 'README.md').read_text()
  said = re.search(r'`make wheel` runs `([^`]+)`', readme).group(1)
  makefile = (ROOT / 'Makefile').read_text()
  recipe = re.search(r'^wheel:\n\t(.+)$', makefile, re.M).group(1)
  assert recipe.replace('$(PYTHON)', 'python3').replace(' --quiet', '') == said
  return said.split()


def test_the_wheel_alone_installs_and_runs_the_quickstart(tmp_path):
  dist = tmp_path / 'dist'
  run(sys.executable, '-m', 'build', '--sdist', '--outdir', dist)
  (sdist,) = dist.glob('*.tar.gz')
  _, *arguments = documented_wheel_command()
  arguments[arguments.index('--wheel-dir') + 1] = str(dist)
  run(sys.executable, *arguments)
  (wheel,) = dist.glob('*.whl')
  run(sys.executable, '-m', 'twine', 'check', '--strict', wheel, sdist)
  with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
    metadata = archive.read(next(n for n in names if n.endswith('METADATA')))
  assert not any(n.startswith(('benchmarks/', 'tests/')) for n in names)
  metadata = metadata.decode()
  for field in (
    'License-Expression: Apache-2.0', 'Classifier: Programming Language',
    'Project-URL: Repository, https://', 'Keywords:',
  ):  # fmt: skip
    assert field in metadata
  environment = tmp_path / 'fresh'
  venv.create(environment, with_pip=True)
  python = environment / 'bin' / 'python'
  run(python, '-m', 'pip', 'install', '--quiet', wheel)
  printed = run(python, '-c', quickstart(), cwd=tmp_path)
  assert printed.startswith('[')
  assert 'flax' not in run(python, '-m', 'pip', 'list')  # the library alone


def repository_url():
  text = (ROOT / 'pyproject.toml').read_text()
  return re.search(r'^Repository = "(.+)"$', text, re.M).group(1)


def readme_and_notebooks():
  """The texts a user reads off the repository (PyPI, Colab)."""
  notebooks = sorted((ROOT / 'notebooks').glob('*.ipynb'))
  return [(ROOT / 'README.md').read_text()] + [p.read_text() for p in notebooks]


def test_the_readmes_links_into_the_repository_are_relative():
  # They work in a clone, on any forge, and (made the site's) in the docs;
  # only the notebooks' Colab badges need the published repository.
  readme, *notebooks = readme_and_notebooks()
  links = re.findall(r'\]\(([^)]+)\)', readme)
  assert links and not [link for link in links if repository_url() in link]
  local = [link.split('#')[0] for link in links if '://' not in link]
  assert local and all((ROOT / path).exists() for path in local if path)
  for text in (readme, *notebooks):
    for url in re.findall(r'https://github\.com/[\w.-]+/[\w.-]+', text):
      assert url in (
        repository_url(),
        'https://github.com/google-deepmind/optax',
      )


def test_links_into_the_repository_name_files_it_has():
  # GitHub's and Colab's links alike: OWNER/NAME/blob/main/PATH.
  owner_name = repository_url().removeprefix('https://github.com/')
  link = re.escape(owner_name) + r'/(?:blob|tree)/main/([^)\s"#?\\]+)'
  paths = [
    path for text in readme_and_notebooks() for path in re.findall(link, text)
  ]
  assert paths
  missing = [path for path in paths if not (ROOT / path).exists()]
  assert not missing, f'links to files the repository lacks: {missing}'


def test_the_version_the_changelog_and_the_package_agree():
  import optax_plp

  version = optax_plp.__version__
  changelog = (ROOT / 'CHANGELOG.md').read_text()
  released = re.findall(
    r'^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d\d-\d\d)$', changelog, re.M
  )
  assert released, 'each release heading gives its date'
  latest = released[0][0]
  # Main carries the next version's development release, above the latest.
  assert re.fullmatch(r'\d+\.\d+\.\d+\.dev\d+', version)
  next_version = version.split('.dev')[0]
  as_tuple = lambda v: tuple(map(int, v.split('.')))  # noqa: E731
  assert as_tuple(next_version) > as_tuple(latest)
  assert f'`{version}`' in changelog.split('## [' + latest)[0]
  for heading in ['Unreleased', *(v for v, _ in released)]:
    assert re.search(rf'^\[{re.escape(heading)}\]: https://', changelog, re.M)


def test_the_readme_is_a_front_page():
  # Read in two minutes: the details live in the docs and the reports.
  assert len((ROOT / 'README.md').read_bytes()) <= 10_000
