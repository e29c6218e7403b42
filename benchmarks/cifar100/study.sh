#!/usr/bin/env bash
# Runs the jobs of the CIFAR-100 study (benchmarks/results/cifar100/REPORT.md)
# one after another, each into WORKROOT/JOB; rerun it to resume after a stop.
# With JOB names, runs only those (e.g. to run two queues side by side).
#
#   bash benchmarks/cifar100/study.sh WORKROOT [JOB...]
#   python -m benchmarks.cifar100.study_report WORKROOT
set -euo pipefail
root=${1:?usage: study.sh WORKROOT [JOB...]}
shift
only=" $* "
config=benchmarks/cifar100/configs/study.py

run() {
  local name=$1
  shift
  if [[ $only != "  " && $only != *" $name "* ]]; then
    return
  fi
  echo "== $name ($(date -u +%FT%TZ))"
  python -m benchmarks.cifar100.main --workdir="$root/$name" "$@"
}

run VGG16 --config="$config:VGG16"
run GoogLeNet --config="$config:GoogLeNet"
run ResNet18 --config="$config:ResNet18"

# Ablations on ResNet18, 2 seeds; their baseline is the sgd arm of ResNet18.
ablation=(--config="$config:ResNet18" --config.seeds='(0, 1)')
run ResNet18_step_size_0.5 "${ablation[@]}" --config.arms='("plp",)' \
  --config.plp.step_size=0.5
run ResNet18_step_size_2 "${ablation[@]}" --config.arms='("plp",)' \
  --config.plp.step_size=2.0
run ResNet18_every_6 "${ablation[@]}" --config.arms='("plp",)' \
  --config.plp.every=6
run ResNet18_start_after_warmup "${ablation[@]}" --config.arms='("plp",)' \
  --config.plp.start_epoch=0.2
run ResNet18_adamw "${ablation[@]}" --config.arms='("adamw", "adamw_plp")'
