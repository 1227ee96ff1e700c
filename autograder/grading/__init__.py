"""Grading one submission: the CLI, the results format, the hand-in resolver, the pytest plugin, the reference."""
