"""A grading starts the worker before the grader imports torch (autograder/grading/grade.py).

Both import torch (about 2 s of CPU each): launched first, the worker imports it while the grader
does, instead of after it. A module-level import that pulls torch into grade.py costs every
grading that time in wall clock (measured: the stubs' grading went from 4.0 s to 5.6 s).
"""
from __future__ import annotations

import subprocess
import sys

from autograder.paths import ROOT


def test_importing_the_grader_does_not_import_torch():
    check = "import sys, autograder.grading.grade; print(sorted(m for m in ('torch', 'pytest') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", "grade.py imports torch or pytest before the worker is launched"
