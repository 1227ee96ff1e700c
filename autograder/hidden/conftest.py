"""Fixtures of the hidden graders. `sandbox` comes from the grading plugin (autograder/grading/plugin.py)."""
from __future__ import annotations

from typing import Callable

import pytest

from autograder.hidden.checks import make_ask
from autograder.sandbox.client import Answer


@pytest.fixture(scope="session")
def ask(sandbox) -> Callable[..., Answer]:
    return make_ask(sandbox)
