"""Evidence that the grader is right: the test corpus, the elbo calibration, the benchmark."""
