"""One student never costs another points: CPU shares and privacy between gradings (issue 16, section 6).

A hog that stays inside every limit (a few dozen small spinning processes, each in its own
session, alive for the whole of its grading) is graded beside the reference with `grade_all`;
the reference must keep every point in about the time it takes alone. The sandbox's control
group has the cpu controller for that (autograder/sandbox/cgroups.py).

Privacy: each grading is given a copy of its hand-in that only the grader can read, and in uid
mode the worker has a /proc of its own, so a submission finds no classmate's hand-in named on
a command line (the class folders here are outside the checkout, as a course's are).
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from autograder import config
from autograder.course.grade_all import discover, examine, grade_all, private_copy
from autograder.paths import ROOT
from autograder.sandbox import cgroups, isolation
from autograder.sandbox.client import Sandbox
from autograder.sandbox.limits import Limits, before_exec

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
@pytest.mark.serial
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


# --- Privacy between gradings ----------------------------------------------------------------------

SECRET = "alice's answers"


@pytest.fixture
def class_folder():
    """A world-readable class folder outside the checkout, holding alice's hand-in."""
    folder = Path(tempfile.mkdtemp(prefix="vae-class-"))
    try:
        folder.chmod(0o755)
        _hand_in(folder, "alice", f"# {SECRET}\n")
        (folder / "alice").chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder)


def test_each_grading_is_given_a_copy_of_its_hand_in_only_the_grader_can_read(class_folder, tmp_path):
    submission = examine(discover(class_folder)[0])  # what the student's own job reads
    copy = private_copy(submission, tmp_path)
    assert (copy / "vae.py").read_text() == f"# {SECRET}\n"
    assert class_folder not in copy.parents
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) & 0o077 == 0 or tmp_path.owner() == "root"


def test_grade_all_names_only_the_private_copy_on_the_graders_command_line(class_folder, tmp_path):
    given = []

    def command(folder: Path, results: Path, uid: int | None) -> list[str]:
        given.append((folder, stat.S_IMODE(folder.parent.stat().st_mode), (folder / "vae.py").read_text()))
        return [sys.executable, "-c", "pass"]

    grade_all(discover(class_folder), tmp_path / "out", jobs=1, command=command)
    [(folder, mode, text)] = given
    assert class_folder not in folder.parents and "alice" not in str(folder)
    assert mode == 0o700 and text == f"# {SECRET}\n"
    assert not folder.exists(), "the copy is removed after grading"


def _reads_from_command_lines(prefix: list[str], user: int | None) -> str:
    """What a process started as the uid-mode worker is (`prefix`, then `user` set before exec)
    reads from the files named on other processes' command lines."""
    probe = ["/bin/sh", "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\0' '\\n' < $f; done 2>/dev/null "
             "| grep '/vae.py$' | while read -r path; do cat \"$path\"; done"]
    return subprocess.run(prefix + probe, preexec_fn=before_exec(Limits(), own_uid=True, user=user),
                          capture_output=True, text=True, timeout=60).stdout


@pytest.mark.skipif(not isolation.private_proc_works(), reason="needs root, util-linux unshare and PID namespaces")
def test_in_uid_mode_the_worker_reads_no_hand_in_named_on_a_command_line(class_folder, tmp_path, monkeypatch):
    """A classmate's grader names its hand-in on its command line. The uid-mode worker as it was
    started before (the uid set before exec, the host's /proc) finds and reads it; as the Sandbox
    starts it now (its own PID namespace and /proc), it finds nothing."""
    classmate = subprocess.Popen(["/bin/sh", "-c", "sleep 60", "grade", str(class_folder / "alice" / "vae.py")])
    monkeypatch.setattr(isolation, "isolation_mode", lambda: "uid")
    (tmp_path / "vae.py").write_text("")
    box = Sandbox((tmp_path / "vae.py").read_bytes(), threads=1)
    try:
        assert SECRET in _reads_from_command_lines([], box.uid), "the probe must find the hand-in the old way"
        command, _ = box._command()
        prefix = command[:command.index(sys.executable)]
        assert box.private_proc and prefix
        assert _reads_from_command_lines(prefix, None) == ""
    finally:
        box.close()
        classmate.kill()
        classmate.wait()


LEAKS = '''
import glob

def _named_hand_ins() -> str:
    found = ""
    for name in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            words = open(name, "rb").read().split(b"\\0")
        except OSError:
            continue
        for word in words:
            if word.endswith(b"/vae.py") and not word.startswith((b"/sandbox", b"/tmp/vae-sandbox-")):
                try:
                    found += open(word, errors="replace").read()
                except OSError:
                    pass
    return found
'''
LEAK_BRANCHES = """        if mode == 1:
            return x * 0 + len(_named_hand_ins()), x * 3
"""


def _sandbox_uid_can_run_python() -> bool:
    return subprocess.run(isolation.drop_privileges(config.SANDBOX_UID) + [sys.executable, "-c", "pass"],
                          capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not isolation.private_proc_works() or not _sandbox_uid_can_run_python(),
                    reason="needs root, util-linux unshare, PID namespaces and a Python the sandbox uid may run")
def test_a_uid_mode_submission_finds_no_classmates_hand_in(class_folder, tmp_path, monkeypatch, misbehaving_vae):
    classmate = subprocess.Popen(["/bin/sh", "-c", "sleep 60", "grade", str(class_folder / "alice" / "vae.py")])
    monkeypatch.setattr(isolation, "isolation_mode", lambda: "uid")
    tmp_path.chmod(0o755)
    (tmp_path / "vae.py").write_text(misbehaving_vae("import torch\n" + LEAKS, LEAK_BRANCHES))
    box = Sandbox((tmp_path / "vae.py").read_bytes(), threads=1, limits=Limits(import_timeout_s=120, call_timeout_s=20))
    try:
        answer = box.call("encode", {"seed": 0}, {"x": torch.ones(1, 2)}, function="VAE.encode")
        assert answer.ok and answer.tensors["mu"].tolist() == [[0.0, 0.0]], "it read a classmate's hand-in"
    finally:
        box.close()
        classmate.kill()
        classmate.wait()
