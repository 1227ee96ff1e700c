"""Fixtures of the hidden graders. `sandbox` comes from the grading plugin (autograder/grading/plugin.py)."""
from __future__ import annotations

import functools
import os
import secrets
from typing import Callable

import pytest

from autograder.hidden.checks import make_ask, on_meta
from autograder.sandbox.client import Answer


@pytest.fixture(scope="session")
def ask(sandbox) -> Callable[..., Answer]:
    return make_ask(sandbox)


@pytest.fixture(scope="session")
def weights_seed() -> int:
    """Seeds the weights the grader loads into the submission's model: new for every grading, so
    no submission can prepare for them (VAE_GRADER_SEED=<n> repeats a grading exactly)."""
    return int(os.environ.get("VAE_GRADER_SEED") or secrets.randbits(31))


@pytest.fixture(scope="session")
def meta_runs(ask) -> Callable[[str], dict]:
    """meta_runs(function): that function's runs on the `meta` device, asked once per grading."""
    return functools.cache(lambda function: on_meta(ask, function))
