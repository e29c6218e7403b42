"""PLP's benchmarks on CIFAR-100, by concern (tests/harness/layering_test.py
keeps each layer to importing the ones before it):

1. `cifar100`: the training harness; one config's runs, to results.json.
2. `reporting`: tables and figures read from results.json.
3. `main` (one config) and `studies` (sets of configs): the commands.
4. `speed`, `faults`, `device_check` and `paper_scale`: tools.
"""
