"""The harness every task shares: arms side by side on paired seeds,
checkpoints and resume, results.json, the workdir lock, one-line errors."""
