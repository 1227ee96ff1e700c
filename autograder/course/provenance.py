"""What produced a grade: the commit graded, the graders' version and the environment's lock.

Each grading writes `provenance.json` beside its `results.json` (grade_all.grade_one), and the
gradebook carries the graders and the environment as columns (COLUMNS; `make grade-class`'s
gradebook has the commit graded in its `commit` column), so that an old grade can be explained
("which graders gave bob 12?") and reproduced (check out that graders' commit, install that
environment, grade that commit):

- `commit`: the student's commit graded (`make grade-class`); blank for a folder graded by
  `make grade-all`, where no commit exists;
- `graders`: `git:<sha>` of this checkout when autograder/ and solutions/ are as committed;
  `git:<sha>+tree:<hash>` when they differ from the commit (the hash says what ran);
  `tree:<hash>` when this is not a git checkout (an unpacked zip): the sha256 of every file under
  autograder/ and solutions/, their paths included, caches and training outputs left out;
- `environment`: `packages:<hash>`, the sha256 of the installed distributions as `name==version`
  lines (sorted, lower-cased) and the Python version, of the Python that runs the grader: what
  was installed, not what requirements.txt asked for (a cached .venv can lag behind it). The
  list itself is in `provenance.json` (`packages`), so a hash can be turned back into an
  environment.
"""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from autograder.paths import ROOT, SKIP_DIRS

FILE = "provenance.json"
COLUMNS = ("graders", "environment")  # the gradebook's provenance columns (classroom.py adds `commit`)
GRADER_FOLDERS = ("autograder", "solutions")  # what decides a grade besides the environment


def tree_hash(root: Path = ROOT) -> str:
    """sha256 of the files under GRADER_FOLDERS (relative path and bytes of each); caches and
    training outputs (paths.SKIP_DIRS) left out."""
    digest = hashlib.sha256()
    for folder in GRADER_FOLDERS:
        for file in sorted((root / folder).rglob("*")):
            if file.is_file() and not file.is_symlink() and file.suffix != ".pyc" \
                    and SKIP_DIRS.isdisjoint(file.relative_to(root).parts):
                digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _git(root: Path, *args: str) -> str | None:
    """git's output in `root`, or None when it is no checkout (or git is missing). safe.directory:
    the workflow runs the grader as root in a folder the runner's user owns."""
    try:
        run = subprocess.run(["git", "-c", "safe.directory=*", "-C", str(root), *args],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return run.stdout.strip() if run.returncode == 0 else None


def graders_version(root: Path = ROOT) -> str:
    """`git:<sha>`, `git:<sha>+tree:<hash>` (changed since that commit) or `tree:<hash>`."""
    sha = _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    if not sha:
        return f"tree:{tree_hash(root)}"
    changed = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *GRADER_FOLDERS)
    return f"git:{sha}" if changed == "" else f"git:{sha}+tree:{tree_hash(root)}"


def packages() -> list[str]:
    """The running Python and its installed distributions, `name==version`, sorted."""
    found = {f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in metadata.distributions()}
    return [f"python=={platform.python_version()}", *sorted(found)]


def environment_lock(listed: list[str] | None = None) -> str:
    """`packages:<hash>` of `listed` (default: this environment's packages())."""
    text = "\n".join(packages() if listed is None else listed)
    return f"packages:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


@lru_cache(maxsize=1)
def current() -> dict[str, Any]:
    """This run's graders and environment (computed once: every grading of a run shares them)."""
    listed = packages()
    return {"graders": graders_version(), "environment": environment_lock(listed), "packages": listed}


def write(folder: Path, commit: str = "") -> dict[str, Any]:
    """Record in `folder` what is about to produce its results.json; returns the record."""
    record = {"commit": commit, **current()}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FILE).write_text(json.dumps(record, indent=1) + "\n")
    return record


def read(folder: Path) -> dict[str, Any]:
    """The record `write` left in `folder`; {} when there is none or it cannot be read."""
    try:
        record = json.loads((folder / FILE).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def columns(record: dict[str, Any]) -> list[str]:
    """The gradebook's COLUMNS cells of a record (blank where unknown)."""
    return [str(record.get(name, "")) for name in COLUMNS]
