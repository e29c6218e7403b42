"""Tools beside the run path: the accelerator's data copy and checks, the
paper-scale study, fault soaks and speed measurements."""
