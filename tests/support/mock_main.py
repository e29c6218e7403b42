"""`python -m benchmarks.main` on TFDS's mock CIFAR-100, for tests.

  python -m tests.support.mock_main \
      --config=benchmarks/cifar100/configs/tiny.py --workdir=DIR \
      [every other flag of main.py]

The same flags and code as main.py; only the data are TFDS's mock examples,
the same in every process.
"""

from absl import app

from benchmarks import main
from tests.conftest import mock_cifar

if __name__ == '__main__':
  with mock_cifar():  # the in-process tests' examples, to compare runs
    app.run(main.main, flags_parser=main.parse_flags)
