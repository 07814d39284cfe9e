"""Stemdeck worker: tasks, strategy execution, models, encoding and analysis."""
