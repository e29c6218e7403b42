"""The README's Quickstart runs as written, with the library alone."""

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / 'README.md'


def test_the_quickstart_runs_and_predicts():
  text = README.read_text()
  quickstart = text[text.index('## Quickstart') :]
  code = re.search(r'```python\n(.*?)```', quickstart, re.S).group(1)
  printed = io.StringIO()
  with contextlib.redirect_stdout(printed):
    exec(compile(code, str(README), 'exec'), {})
  assert printed.getvalue().startswith('[')  # it printed the parameters
