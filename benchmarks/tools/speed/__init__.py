"""Speed measured side by side in one process: PLP, the models, lanes."""
