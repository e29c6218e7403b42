"""The paper's own protocol at its own scale, for a GPU cluster.

`configs/paper.py` as it stands (ResNet18, VGG16 and GoogLeNet at full width,
100 epochs, 20% of the training split held out, the cyclic rate between
0.001 and 0.002; arms `sgd`, `plp`, `sgd_matched`, `demon`; seeds 0-9), in
bfloat16 with compiled epochs: 30 runs, each training the four arms of one
network and seed. Not run on this project's CPU machines; a cluster submits
it as one job array (`benchmarks/README.md` shows the submission):

  python -m benchmarks.studies run paper_full /shared/plp --executor=slurm \
      --partition=gpu --gpus_per_task=1 --cpus_per_task=8 --mem=64G \
      --time_min=1440 --array_parallelism=8
"""

from benchmarks.cifar100.configs import paper
from benchmarks.studies import Study
from benchmarks.studies import sections

MODELS = ('ResNet18', 'VGG16', 'GoogLeNet')


def base_config():
  config = paper.get_config()
  config.width = 1.0
  config.compute_dtype = 'bfloat16'
  config.trajectory_probes = 0  # probes would split the compiled epochs
  config.progress = False
  return config


STUDY = Study(
  name='paper_full',
  base_config=base_config,
  jobs={model: {'model': model} for model in MODELS},
  sections=(sections.arms, sections.differences),
)
