"""Optimizers of a user's own, as the harness takes them: an arm named
`package.module:function` (see docs/compare_your_optimizer.md)."""
