"""Gradescope: the autograder zip, its setup.sh and run_autograder (what is graded: test_handin.py)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from autograder import config
from autograder.deploy.gradescope import build_zip
from autograder.paths import ROOT
from tests.notebook_mixtures import MIXTURES, hand_in


FAKE_GRADE = '''\
"""A stand-in for autograder.grading.grade: records what it was given; FAKE_GRADE=crash fails."""
import argparse, json, os, sys
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--submission", type=Path)
parser.add_argument("--results", type=Path)
parser.add_argument("--sandbox-uid", type=int)
args = parser.parse_args()
if os.environ.get("FAKE_GRADE") == "crash":
    sys.exit("grader error: planted failure")
sub = args.submission
seen = sub.read_text() if sub.is_file() else sorted(os.listdir(sub))
args.results.write_text(json.dumps({"score": 3.0, "output": "graded by the fake", "extra_data": {
    "submission": str(sub), "seen": seen}, "tests": [{"name": "t", "score": 3.0, "max_score": 5.0}]}))
'''


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    build_zip(out)
    return out


def write(path: Path, text: str = "x = 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- The zip ---------------------------------------------------------------------------------------


def test_zip_has_both_entry_points_at_its_root_and_executable(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        for name in ("setup.sh", "run_autograder"):
            mode = archive.getinfo(name).external_attr >> 16
            assert mode & 0o111, f"{name} must be executable in the zip (mode {oct(mode)})"


# What grading an upload needs, written out here (not read from gradescope.py) so that a file the zip
# should not carry fails this test: the entry points, the grader, the reference and what `make setup` reads.
NEEDED = re.compile(r"""(setup\.sh|run_autograder|Makefile|setup\.mk|requirements\.txt
    |autograder/(__init__|config|paths|cleanup|files|deploy/__init__|deploy/gradescope)\.py
    |autograder/(grading|sandbox|hidden)/\w+\.py|autograder/hidden/pytest\.ini
    |solutions/(vae|common|graded)\.py|data/SHA256SUMS|data/MNIST/raw/[\w-]+-ubyte\.gz)""", re.X)


def test_zip_carries_the_grader_the_reference_and_the_packed_data(autograder_zip):
    names = set(zipfile.ZipFile(autograder_zip).namelist())
    for needed in ("autograder/__init__.py", "autograder/config.py", "autograder/deploy/gradescope.py",
                   "autograder/grading/grade.py", "autograder/hidden/pytest.ini", "autograder/sandbox/worker.py",
                   "solutions/vae.py", "solutions/common.py", "requirements.txt", "Makefile", "setup.mk",
                   "data/SHA256SUMS", "data/MNIST/raw/train-images-idx3-ubyte.gz"):
        assert needed in names


def test_zip_carries_only_what_grading_needs(autograder_zip):
    names = zipfile.ZipFile(autograder_zip).namelist()
    assert [n for n in names if not NEEDED.fullmatch(n)] == []
    assert not [n for n in names if n.endswith((".ipynb", "-ubyte")) or "__pycache__" in n or n.startswith(
        ("solutions/test_public", "autograder/course/instructor_files/", "autograder/deploy/release",
         "autograder/authoring/", "autograder/evidence/", "tests/", ".venv/", "build/", "assignment/", ".git/"))]


@pytest.mark.slow
def test_every_module_in_the_zip_imports_from_the_zip_alone(autograder_zip, tmp_path):
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(tmp_path)
        modules = [n[:-3].replace("/", ".") for n in archive.namelist()
                   if n.startswith("autograder/") and n.endswith(".py")]
    check = ("import importlib, sys\n"
             f"for name in {modules!r}:\n"
             "    module = importlib.import_module(name.removesuffix('.__init__'))\n"
             f"    assert module.__file__.startswith({str(tmp_path)!r}), module.__file__\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(modules) > 20


def test_zip_is_the_same_bytes_when_built_twice(autograder_zip, tmp_path):
    build_zip(tmp_path / "again.zip")
    assert (tmp_path / "again.zip").read_bytes() == autograder_zip.read_bytes()


# --- setup.sh -------------------------------------------------------------------------------------


def fake_bin(folder: Path, tools: dict[str, str]) -> str:
    """A PATH holding only bash and the given fake commands (each logs its arguments)."""
    folder.mkdir()
    os.symlink(shutil.which("bash"), folder / "bash")
    for name, body in tools.items():
        write(folder / name, f"#!{shutil.which('bash')}\necho \"${{0##*/}} $*\" >> \"$LOG\"\n{body}\n").chmod(0o755)
    return str(folder)


def run_setup(tmp_path: Path, tools: dict[str, str]) -> list[str]:
    log = tmp_path / "log"
    log.touch()
    script = shutil.copy(ROOT / "autograder" / "deploy" / "gradescope_files" / "setup.sh", tmp_path / "setup.sh")
    run = subprocess.run([shutil.which("bash"), script], env={"PATH": fake_bin(tmp_path / "bin", tools),
                         "LOG": str(log)}, capture_output=True, text=True, cwd="/")
    assert run.returncode == 0, run.stdout + run.stderr
    return log.read_text().splitlines()


def test_setup_sh_uses_python_311_and_make_setup_when_the_image_has_them(tmp_path):
    log = run_setup(tmp_path, {"python3.11": "exit 0", "make": "exit 0", "apt-get": "exit 0"})
    assert [line for line in log if not line.startswith("python3.11")] == ["make setup PYTHON=python3.11"]


def test_setup_sh_installs_what_the_image_lacks(tmp_path):
    # No python3.11 to be had (apt-get fails for it), python3 without venv, no make: each
    # `apt-get install` of the fake "installs" by leaving a mark that the fakes look for.
    apt = """case "$*" in
        *python3.11*) exit 100 ;;
        *python3-venv*) : > "$LOG.venv" ;;
        *make*) cp "${0%/*}/make.later" "${0%/*}/make" ;;
    esac"""
    python3 = 'case "$*" in *ensurepip*) test -e "$LOG.venv" ;; esac'
    log = run_setup(tmp_path, {"python3": python3, "apt-get": apt, "cp": f"{shutil.which('cp')} -p \"$@\"",
                               "make.later": "exit 0"})
    installs = [line.split()[-1] for line in log if line.startswith("apt-get install")]
    assert installs == ["python3.11-venv", "python3-venv", "make"]
    assert log[-1] == "make setup PYTHON=python3"


def test_run_autograder_and_setup_sh_are_valid_bash():
    for script in ("setup.sh", "run_autograder"):
        run = subprocess.run(["bash", "-n", str(ROOT / "autograder" / "deploy" / "gradescope_files" / script)],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr


# --- run_autograder against a folder laid out like /autograder ---------------------------------------


def place_venv(source: Path, real: bool) -> None:
    """source/.venv: this repository's environment, as a link, or as a real folder of hard links.

    The real folder costs two seconds; the sandbox needs it, since it mounts the environment's
    resolved folder and a link would point outside it.
    """
    venv = ROOT / ".venv" if (ROOT / ".venv").exists() else Path(sys.prefix)
    if real and subprocess.run(["cp", "-al", str(venv), str(source / ".venv")], capture_output=True).returncode == 0:
        return
    shutil.rmtree(source / ".venv", ignore_errors=True)
    os.symlink(venv, source / ".venv")


@pytest.fixture
def autograder_root(autograder_zip, request):
    """source/ (the zip, with this repository's .venv), submission/, results/: as Gradescope lays them.

    Made under build/ with mode 755: not in pytest's private tmp folder, which the sandbox user
    cannot enter, nor under /tmp, which the sandbox replaces with its own; so the grader's
    Python is as reachable as in Gradescope's container.
    """
    (ROOT / "build").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="autograder-", dir=ROOT / "build"))
    root.chmod(0o755)
    source = root / "source"
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(source)
    place_venv(source, real=request.node.get_closest_marker("slow") is not None)
    shutil.copy(source / "run_autograder", root / "run_autograder")  # where Gradescope puts it
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_autograder(root: Path, **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    run = subprocess.run([str(root / "run_autograder")], env={**os.environ, "AUTOGRADER_ROOT": str(root), **env},
                         capture_output=True, text=True, timeout=900)
    results = root / "results" / "results.json"
    return run, json.loads(results.read_text()) if results.exists() else {}


def fake_grader(root: Path) -> None:
    write(root / "source" / "autograder" / "grading" / "grade.py", FAKE_GRADE)


def test_run_autograder_hands_the_upload_itself_to_the_grader(autograder_root):
    fake_grader(autograder_root)
    write(autograder_root / "submission" / "hw" / "assignment" / "vae.py", "# my work\n")
    write(autograder_root / "submission" / "hw" / "assignment" / "vae.ipynb", "{}")
    run, results = run_autograder(autograder_root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert results["score"] == 3.0 and results["extra_data"]["seen"] == ["hw"]
    assert Path(results["extra_data"]["submission"]) == autograder_root / "submission", \
        "the grader resolves the upload itself, as make grade and grade-all do (autograder/grading/handin.py)"


@pytest.mark.parametrize("files, words", [
    (["model.py", "notes.txt"], "No vae.py was found in what you handed in; it held model.py, notes.txt"),
    (["a/vae.py", "b/vae.py"], "Hand in exactly one"),
])
@pytest.mark.slow
def test_run_autograder_explains_an_upload_with_nothing_to_grade(autograder_root, files, words):
    for name in files:
        write(autograder_root / "submission" / name)
    run, results = run_autograder(autograder_root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert results["score"] == 0.0 and [t["tags"] for t in results["tests"]] == [[tag] for tag in config.RUBRIC]
    assert all(words in t["output"] for t in results["tests"])
    assert "submission" not in results["tests"][0]["output"], "the note names the files, not the grader's folders"


def test_run_autograder_leaves_a_results_file_when_the_grader_fails(autograder_root):
    fake_grader(autograder_root)
    write(autograder_root / "submission" / "vae.py")
    run, results = run_autograder(autograder_root, FAKE_GRADE="crash")
    assert run.returncode != 0 and "planted failure" in run.stderr
    assert results["score"] == 0.0 and "autograder itself failed" in results["output"]
    assert [t["tags"] for t in results["tests"]] == [[tag] for tag in config.RUBRIC], "every rubric line, at 0"


@pytest.mark.slow
@pytest.mark.parametrize("upload, expect_full_marks", [
    ("solutions/vae.py", True), ("assignment/vae.py", False),
    ("imports_another_file", True),  # a notebook mixture (tests/notebook_mixtures.py), graded as it runs
])
def test_run_autograder_gives_the_reference_full_marks_and_the_stubs_almost_none(
        autograder_root, upload, expect_full_marks):
    unpack = subprocess.run([str(autograder_root / "source" / ".venv" / "bin" / "python"), "solutions/common.py"],
                            cwd=autograder_root / "source", capture_output=True, text=True)
    assert unpack.returncode == 0, unpack.stderr
    if upload in MIXTURES:
        hand_in(autograder_root / "submission", upload)
    else:
        shutil.copy(ROOT / upload, autograder_root / "submission" / "vae.py")
    run, results = run_autograder(autograder_root)
    assert (f"cell '{config.NOTEBOOK_CODE_CELL}'" in results["output"]) == (upload in MIXTURES), \
        "Gradescope shows what was graded"
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    maximum = sum(t["max_score"] for t in results["tests"])
    assert maximum > 0
    if expect_full_marks:
        assert results["score"] == maximum, [(t["name"], t["output"][:200]) for t in results["tests"]
                                             if t["score"] < t["max_score"]]
    else:
        assert results["score"] <= 0.1 * maximum
