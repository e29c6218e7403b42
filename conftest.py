"""Test set-up shared by every test: four CPU devices for the sharding tests."""

import os

# Must be set before JAX is imported anywhere in the test session.
_FORCE_DEVICES = '--xla_force_host_platform_device_count=4'
os.environ['XLA_FLAGS'] = f'{os.environ.get("XLA_FLAGS", "")} {_FORCE_DEVICES}'
