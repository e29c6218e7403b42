"""`python -m benchmarks.cifar100.main` on TFDS's mock CIFAR-100, for tests.

  python -m tests.mock_main --config=benchmarks/cifar100/configs/tiny.py \
      --workdir=DIR [every other flag of main.py]

The same flags and code as main.py; only the data are TFDS's mock examples,
the same in every process.
"""

from absl import app
import tensorflow_datasets as tfds

from benchmarks.cifar100 import main

MOCK_EXAMPLES = 40  # the in-process tests use the same, to compare runs

if __name__ == '__main__':
  with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES):
    app.run(main.main)
