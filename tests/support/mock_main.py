"""`python -m benchmarks.main` on TFDS's mock CIFAR-100, for tests.

  python -m tests.support.mock_main \
      --config=benchmarks/cifar100/configs/tiny.py --workdir=DIR \
      [every other flag of main.py]

The same flags and code as main.py; only the data are TFDS's mock examples,
the same in every process: read from their compact copy where the tests
point OPTAX_PLP_CIFAR100 at it (`tests.conftest.process_data`), which spares
each process TensorFlow's start.
"""

from absl import app

from benchmarks import main
from tests.conftest import process_data

if __name__ == '__main__':
  with process_data():  # the in-process tests' examples, to compare runs
    app.run(main.main, flags_parser=main.parse_flags)
