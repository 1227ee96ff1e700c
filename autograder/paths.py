"""Where things are in this repository (every module reads them from here)."""
import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
ASSIGNMENT = ROOT / "assignment"
AUTOGRADER = ROOT / "autograder"
HIDDEN_GRADERS = AUTOGRADER / "hidden"
SANDBOX = AUTOGRADER / "sandbox"
DEPLOY = AUTOGRADER / "deploy"
DATA = ROOT / "data"
BUILD = ROOT / "build"
# Where each command writes by default (the Makefile states the same defaults for its targets).
GRADE_RESULTS = BUILD / "grade" / "results.json"  # make grade
GRADE_ALL_OUT = BUILD / "grade-all"  # make grade-all, make similarity, the hand-graded points' gradebook
GRADE_CLASS_OUT = BUILD / "grade-class"  # make grade-class
RELEASE_OUT = BUILD / "release"  # make release
AUTOGRADER_ZIP = BUILD / "autograder.zip"  # make autograder-zip
CALIBRATION_REPORT = ROOT / "docs" / "calibration.md"  # make calibrate
# This repository's test submissions: the corpus (one edit each of the reference) and the ports.
CORPUS_FILE = ROOT / "tests" / "submissions" / "corpus.toml"
THIRDPARTY = ROOT / "tests" / "submissions" / "thirdparty"
# What the homework is made of, in solutions/ and assignment/: these files, never these folders
# (caches, training outputs, MNIST), wherever they sit.
HOMEWORK_SUFFIXES = frozenset({".py", ".ipynb", ".md"})
SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".ipynb_checkpoints", "results", "data"})


def homework_files(folder: Path, suffixes: frozenset[str] = HOMEWORK_SUFFIXES) -> list[Path]:
    """The files of `folder` (solutions/ or assignment/) with these suffixes, relative, sorted,
    none of them under one of SKIP_DIRS."""
    return sorted(
        path.relative_to(folder) for path in folder.rglob("*")
        if path.is_file() and path.suffix in suffixes and SKIP_DIRS.isdisjoint(path.relative_to(folder).parts)
    )


@functools.cache
def homework_module(name: str) -> ModuleType:
    """solutions/<name>.py, a helper the students have too (graded.py: what is graded), as a module."""
    spec = importlib.util.spec_from_file_location(f"homework_{name}", SOLUTIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
