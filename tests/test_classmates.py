"""One student never costs another points: CPU shares and privacy between gradings (issue 16, section 6).

A hog that stays inside every limit (a few dozen small spinning processes, each in its own
session, alive for the whole of its grading) is graded beside the reference with `grade_all`;
the reference must keep every point in about the time it takes alone. The sandbox's control
group has the cpu controller for that (autograder/sandbox/cgroups.py).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from autograder import config
from autograder.deploy.grade_all import discover, grade_all
from autograder.paths import ROOT
from autograder.sandbox import cgroups

SPINNERS = 40  # processes the hog starts: far under the task cap, each a few MB
# The hog's import sleeps this long (under config.IMPORT_TIMEOUT_S), its spinners spinning: longer
# than the reference's whole grading beside it.
HOG_IMPORT_S = 45
HOG = f'''
import os, time

for _ in range({SPINNERS}):
    if os.fork() == 0:
        os.setsid()  # its own session: out of the grader's process group
        end = time.monotonic() + 180
        while time.monotonic() < end:
            pass
        os._exit(0)
time.sleep({HOG_IMPORT_S})
'''


def _hand_in(folder: Path, student: str, text: str) -> None:
    (folder / student).mkdir(parents=True)
    (folder / student / "vae.py").write_text(text)


@pytest.mark.slow
@pytest.mark.skipif(not cgroups.cpu_shared(), reason="needs root and a writable cgroup cpu controller")
def test_a_submission_spinning_many_processes_costs_its_classmates_no_points_and_little_time(tmp_path):
    """The reference is timed beside an honest classmate and beside the hog (two jobs each: one
    core each where the machine is idle). Without a CPU share of its own, the hog's spinners
    would take 40 of every 41 time slices from it for as long as they spin."""
    reference = (ROOT / "solutions" / "vae.py").read_text()
    _hand_in(tmp_path / "honest", "reference", reference)
    _hand_in(tmp_path / "honest", "classmate", reference)
    _hand_in(tmp_path / "hog", "reference", reference)
    _hand_in(tmp_path / "hog", "hog", (ROOT / "assignment" / "vae.py").read_text() + HOG)  # its stubs fail fast
    out = ROOT / "build" / f"test-classmates-{os.getpid()}"
    maximum = sum(points for points, _ in config.RUBRIC.values())
    try:
        honest, hog = ({o.student: o for o in grade_all(discover(tmp_path / name), out / name, jobs=2)}
                       for name in ("honest", "hog"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"the reference beside an honest classmate: {honest['reference'].seconds:.1f} s, beside the hog: "
          f"{hog['reference'].seconds:.1f} s (the hog: {hog['hog'].seconds:.1f} s)")
    assert honest["reference"].results["score"] == hog["reference"].results["score"] == maximum
    assert hog["hog"].seconds > hog["reference"].seconds, "the hog must spin during the whole grading"
    assert hog["reference"].seconds < 1.5 * honest["reference"].seconds
