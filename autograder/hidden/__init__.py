"""The hidden graders: pytest checks run in the trusted process against the sandboxed submission."""
