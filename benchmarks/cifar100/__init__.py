"""The CIFAR-100 task: its data, models, optimizers, steps and configs."""
