"""Run the public checks (`test_public.py`) in many folders, one pytest run each, in this one process.

Importing torch once instead of once per folder makes a corpus run take seconds, not minutes.
Usage: python tests/public_checks_runner.py RESULTS.json FOLDER...; each FOLDER holds a
`vae.py` (or a notebook), `test_public.py`, `checking.py` and `graded.py`. RESULTS.json maps each folder to {test name: failure text or
null}. tests/homework/test_public_checks.py calls it.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest


class Outcomes:
    """Each test's failure text (None when it passed), by test name."""

    def __init__(self) -> None:
        self.by_name: dict[str, str | None] = {}

    def pytest_runtest_logreport(self, report) -> None:
        name = report.nodeid.split("::")[-1]
        if report.failed:
            self.by_name[name] = report.longreprtext
        else:
            self.by_name.setdefault(name, None)


def run(folder: Path) -> dict[str, str | None]:
    for name in ("vae", "test_public", "graded"):  # the previous folder's modules
        sys.modules.pop(name, None)
    outcomes = Outcomes()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "test_public.py"],
                           plugins=[outcomes])
    finally:
        os.chdir(cwd)
    if not outcomes.by_name:
        outcomes.by_name["<collection>"] = f"no test ran (pytest exit {int(code)})"
    return outcomes.by_name


def main() -> None:
    results, *folders = sys.argv[1:]
    Path(results).write_text(json.dumps({folder: run(Path(folder)) for folder in folders}, indent=1))


if __name__ == "__main__":
    main()
