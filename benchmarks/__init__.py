"""PLP's benchmarks, by concern (tests/harness/layering_test.py keeps each
layer to importing the ones before it):

1. `harness`: one config's arms and seeds, for any task, to results.json.
2. `cifar100` and `shakespeare`: the tasks (data, models, training, configs);
   `tasks` picks one by a config's `task` field.
3. `reporting`: tables and figures read from results.json.
4. `main` (one config) and `studies` (sets of configs): the commands.
5. `tools`: the accelerator's data copy and checks, the paper-scale study,
   fault soaks and speed measurements.
"""
