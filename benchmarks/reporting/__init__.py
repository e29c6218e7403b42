"""What is read from results.json: Markdown tables and figures."""
