"""The README's Quickstart and the API page's examples run as written, with
the library alone."""

import contextlib
import io
import pathlib
import re

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / 'README.md'
API_PAGE = ROOT / 'docs' / 'api.md'


def test_the_quickstart_runs_and_predicts():
  text = README.read_text()
  quickstart = text[text.index('## Quickstart') :]
  code = re.search(r'```python\n(.*?)```', quickstart, re.S).group(1)
  printed = io.StringIO()
  with contextlib.redirect_stdout(printed):
    exec(compile(code, str(README), 'exec'), {})
  # It prints what its closing comment says it prints.
  said = re.search(r'\n# \[([^\]]*)\]:', code).group(1)
  got = printed.getvalue().strip().strip('[]')
  np.testing.assert_allclose(
    np.fromstring(got, sep=' '), np.fromstring(said, sep=' '), rtol=1e-6
  )


def test_the_injection_examples_run():
  text = API_PAGE.read_text()
  section = text[text.index('**Schedules and `inject_hyperparams`.**') :]
  code = re.search(r'```python\n(.*?)```', section, re.S).group(1)
  import jax.numpy as jnp
  import optax

  import optax_plp

  namespace = {'jnp': jnp, 'optax': optax, 'optax_plp': optax_plp}
  namespace['params'] = jnp.zeros(2)
  exec(compile(code, str(API_PAGE), 'exec'), namespace)
  state = namespace['tx'].init(namespace['params'])
  updates, _ = namespace['tx'].update(jnp.ones(2), state, namespace['params'])
  assert updates.shape == (2,)
