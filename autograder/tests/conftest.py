"""Fixtures of the hidden graders. `sandbox` comes from the grading plugin (autograder/plugin.py)."""
from __future__ import annotations

from typing import Callable

import pytest

from autograder.checks import make_ask
from autograder.sandbox import Answer


@pytest.fixture(scope="session")
def ask(sandbox) -> Callable[..., Answer]:
    return make_ask(sandbox)
