"""Find the file to grade in what a student handed in (shared by Gradescope and `grade-all`).

A hand-in is a folder as the student uploaded it: `vae.py` at its top, or nested (a zipped
folder, a cloned repository with `assignment/vae.py`), or a notebook. The rules, in order:

1. the shallowest `vae.py` that is a regular file (not a link: a link could point at the
   reference); two at the same depth are ambiguous and rejected;
2. failing that, the shallowest `*.ipynb` (notebook grading is the grader's business);
3. failing that, nothing: the caller reports what it did find.

Folders that archivers and editors add (`__MACOSX`, `.git`, caches) are never searched.
"""
from __future__ import annotations

import os
from pathlib import Path

SUBMISSION_NAME = "vae.py"
IGNORED_DIRS = frozenset({"__MACOSX", ".git", "__pycache__", ".ipynb_checkpoints", ".venv", "venv"})


class AmbiguousSubmission(ValueError):
    """More than one candidate file at the same depth: the student must say which."""


def _candidates(folder: Path) -> list[Path]:
    """Regular files under `folder` (no links followed), skipping IGNORED_DIRS."""
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = Path(parent, name)
            if not path.is_symlink() and path.is_file():
                found.append(path)
    return found


def _shallowest(paths: list[Path], folder: Path, what: str) -> Path | None:
    if not paths:
        return None
    depth = min(len(p.relative_to(folder).parts) for p in paths)
    best = [p for p in paths if len(p.relative_to(folder).parts) == depth]
    if len(best) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in best)
        raise AmbiguousSubmission(f"found {len(best)} {what} files at the same depth ({names}): "
                                  f"hand in exactly one")
    return best[0]


def find_submission(folder: Path) -> Path | None:
    """The file to grade inside `folder` (see the module docstring), or None if there is none."""
    files = _candidates(folder)
    found = _shallowest([p for p in files if p.name == SUBMISSION_NAME], folder, SUBMISSION_NAME)
    if found is None:
        found = _shallowest([p for p in files if p.suffix == ".ipynb"], folder, "notebook")
    return found


def describe_contents(folder: Path, limit: int = 10) -> str:
    """A short list of what `folder` holds, for a message that says what was found instead."""
    names = [str(p.relative_to(folder)) for p in _candidates(folder)]
    if not names:
        return "nothing (an empty upload)"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
