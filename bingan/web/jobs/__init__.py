"""Background jobs on the web: progress (JSON and a self-refreshing fragment) and the result file."""
