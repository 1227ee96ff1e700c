"""Deploying the homework: the student release, Gradescope, grading a class, the CI report."""
