"""Shared fixtures for this repository's own tests: where the repository is, which Python runs it."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from autograder.paths import ROOT


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root (the folder holding solutions/, assignment/, autograder/)."""
    return ROOT


@pytest.fixture(scope="session")
def python() -> str:
    """The virtual environment's interpreter (the one running these tests if there is none)."""
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


@pytest.fixture(scope="session")
def import_path() -> Callable[[Path, str], ModuleType]:
    """Import a file under a name of our choosing, without touching sys.modules.

    solutions/vae.py and assignment/vae.py are both module `vae`; importing each under its
    own name keeps them apart.
    """

    def load(path: Path, name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def generated_assignment(tmp_path_factory) -> Path:
    """assignment/ as `make assignment` writes it today, in a temporary folder (made once: nbgrader
    takes about 20 s, and both the drift tests and the notebook tests compare with it)."""
    from autograder.authoring.assign import generate
    from autograder.paths import SOLUTIONS

    target = tmp_path_factory.mktemp("generate") / "assignment"
    generate(SOLUTIONS, target)
    return target


MISBEHAVING_VAE = """
class VAE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(2, 2)

    def encode(self, x):
        mode = int(x.flatten()[0])
{branches}        return x * 2, x * 3
{methods}"""


@pytest.fixture(scope="session")
def misbehaving_vae() -> Callable[..., str]:
    """misbehaving_vae(prelude, branches, methods=""): the source of a tiny vae.py whose encode does
    what the first number of its input says (`branches`: its `if mode == ...:` lines) and otherwise
    answers (x * 2, x * 3); `prelude` holds the imports and helpers, `methods` more of the class."""
    return lambda prelude, branches, methods="": prelude + MISBEHAVING_VAE.format(branches=branches, methods=methods)


def pytest_configure(config: pytest.Config) -> None:
    """One cache of real gradings for the whole session (tests/gradings.py), made by the process
    that starts pytest and inherited by its xdist workers; each worker on cores of its own, so
    that the gradings it starts (one training thread per core they see) never oversubscribe."""
    import os
    import tempfile

    from gradings import CACHE_ENV

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="vae-test-gradings-")
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop(CACHE_ENV), ignore_errors=True))
        return
    cores, count = sorted(os.sched_getaffinity(0)), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    mine = cores[int(worker.removeprefix("gw")) % count::count] if count <= len(cores) else []
    if mine:
        os.sched_setaffinity(0, mine)
