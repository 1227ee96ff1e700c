"""autograder/grading/handin.py: what gets graded from a folder, a .py, a notebook or a zip."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from autograder import config
from autograder.grading import handin
from autograder.grading.handin import NotebookError, graded_cell, read_regular, resolve
from autograder.paths import ROOT

CELL = config.NOTEBOOK_CODE_CELL
CODE = "class VAE:\n    pass\n"


def write(path: Path, text: str | bytes = "x = 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def notebook(source: str = "from vae import VAE\n", metadata: object = None) -> str:
    """A minimal notebook whose graded cell holds `source` (or whose metadata is `metadata`)."""
    meta = {"nbgrader": {"grade_id": CELL}} if metadata is None else metadata
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# VAE"},
        {"cell_type": "code", "metadata": meta, "source": source.splitlines(keepends=True),
         "outputs": [], "execution_count": None}]})


# --- Folders ------------------------------------------------------------------------------------


def test_vae_py_at_the_top_wins_over_a_deeper_one(tmp_path):
    write(tmp_path / "vae.py", "top\n")
    write(tmp_path / "old" / "vae.py", "old\n")
    code = resolve(tmp_path)
    assert code.source == b"top\n" and code.note == "" and code.files == (tmp_path / "vae.py",)


def test_vae_py_nested_in_a_zipped_folder_is_found_and_archiver_folders_are_not_searched(tmp_path):
    write(tmp_path / "hw3" / "assignment" / "vae.py", "nested\n")
    write(tmp_path / "__MACOSX" / "vae.py", "junk\n")
    write(tmp_path / ".git" / "vae.py", "junk\n")
    assert resolve(tmp_path).source == b"nested\n"


def test_two_vae_py_at_the_same_depth_grade_nothing_and_are_named(tmp_path):
    write(tmp_path / "a" / "vae.py")
    write(tmp_path / "b" / "vae.py")
    code = resolve(tmp_path)
    assert code.source is None and "a/vae.py, b/vae.py" in code.note and "Hand in exactly one" in code.note


def test_a_link_is_never_followed(tmp_path):
    os.symlink(ROOT / "solutions" / "vae.py", tmp_path / "vae.py")
    code = resolve(tmp_path)
    assert code.source is None and "No vae.py was found" in code.note
    code = resolve(tmp_path / "vae.py")
    assert code.source is None and "symbolic link" in code.note


def test_an_upload_without_code_says_what_it_held(tmp_path):
    write(tmp_path / "model.py")
    write(tmp_path / "notes" / "readme.txt")
    code = resolve(tmp_path)
    assert code.source is None
    assert "No vae.py was found in what you handed in; it held model.py, notes/readme.txt." in code.note
    assert str(tmp_path) not in code.note, "the note names what was handed in, not the grader's folders"


def test_a_notebook_beside_vae_py_with_code_in_its_cell_is_graded(tmp_path):
    write(tmp_path / "hw" / "vae.py", "stub\n")
    write(tmp_path / "hw" / "vae.ipynb", notebook("%matplotlib inline\n" + CODE))
    code = resolve(tmp_path)
    assert code.source.endswith(f"# %matplotlib inline\n{CODE}".encode())
    assert b"stub" not in code.source, "the cell imports nothing from vae.py, which is not run"
    assert f"hw/vae.ipynb's cell '{CELL}'" in code.note


def test_a_notebook_that_imports_vae_py_defers_to_it(tmp_path):
    write(tmp_path / "vae.py", "mine\n")
    write(tmp_path / "vae.ipynb", notebook())
    code = resolve(tmp_path)
    assert code.source == b"mine\n" and code.note == ""
    assert set(code.files) == {tmp_path / "vae.py", tmp_path / "vae.ipynb"}


@pytest.mark.parametrize("name", ["vae.ipynb", "homework 3 (final).ipynb"])
def test_a_notebook_alone_is_graded_whatever_its_name(tmp_path, name):
    write(tmp_path / "upload" / name, notebook(CODE))
    for handed_in in (tmp_path / "upload", tmp_path / "upload" / name):
        code = resolve(handed_in)
        assert code.source == CODE.encode() and name in code.note


def test_a_notebook_that_imports_vae_py_without_one_says_so(tmp_path):
    write(tmp_path / "vae.ipynb", notebook())
    code = resolve(tmp_path)
    assert code.source is None and "imports vae.py, but no vae.py was handed in" in code.note


# --- Notebooks, damaged ---------------------------------------------------------------------------


@pytest.mark.parametrize("metadata", [{"nbgrader": None}, {"nbgrader": "x"}, "not a dict", None])
def test_malformed_cell_metadata_is_a_message_not_a_crash(tmp_path, metadata):
    text = notebook(CODE).replace(json.dumps({"nbgrader": {"grade_id": CELL}}), json.dumps(metadata))
    with pytest.raises(NotebookError, match=f"'{CELL}'.*is missing"):
        graded_cell(text)
    write(tmp_path / "vae.ipynb", text)
    assert "is missing" in resolve(tmp_path).note


@pytest.mark.parametrize("text, words", [
    ("{", "not a readable notebook"),
    (b"\xff\xfe", "not a readable notebook"),
    ("[" * 100_000 + "]" * 100_000, "not a readable notebook"),
    ('{"cells": 3}', "no list of cells"),
    (json.dumps({"cells": [{"cell_type": "code", "metadata": {"nbgrader": {"grade_id": CELL}}, "source": 7}]}),
     "no readable source"),
])
def test_an_unreadable_notebook_is_named_and_vae_py_is_graded_instead(tmp_path, text, words):
    write(tmp_path / "vae.ipynb", text)
    code = resolve(tmp_path)
    assert code.source is None and words in code.note
    write(tmp_path / "vae.py", "mine\n")
    code = resolve(tmp_path)
    assert code.source == b"mine\n" and words in code.note and "vae.py was graded instead" in code.note


# --- Careful reading ----------------------------------------------------------------------------------


def test_a_vae_py_over_the_size_cap_is_refused_with_a_message_never_cut(tmp_path):
    write(tmp_path / "vae.py", b"#" * (config.SUBMISSION_MAX_BYTES + 1))
    code = resolve(tmp_path)
    assert code.source is None
    assert f"{config.SUBMISSION_MAX_BYTES + 1:,} bytes" in code.note and "did not cut it" in code.note
    write(tmp_path / "vae.py", b"#" * config.SUBMISSION_MAX_BYTES)
    assert len(resolve(tmp_path).source) == config.SUBMISSION_MAX_BYTES


def test_a_fifo_is_not_read_and_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "vae.py")
    result: list = []
    reader = threading.Thread(target=lambda: result.append(resolve(tmp_path / "vae.py")), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert result, "reading a FIFO hung"
    assert result[0].source is None and "not a regular file" in result[0].note


def test_read_regular_refuses_links_devices_and_large_files(tmp_path):
    os.symlink("/dev/zero", tmp_path / "zero")
    with pytest.raises(handin.HandInError, match="symbolic link"):
        read_regular(tmp_path / "zero", 10, "zero")
    with pytest.raises(handin.HandInError, match="not a regular file"):
        read_regular(Path("/dev/zero"), 10, "zero")
    with pytest.raises(handin.HandInError, match="11 bytes"):
        read_regular(write(tmp_path / "big", b"x" * 11), 10, "big")


def test_a_folder_with_too_many_entries_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "HANDIN_MAX_FILES", 5)
    for i in range(6):
        write(tmp_path / f"f{i}.txt")
    write(tmp_path / "vae.py")
    assert "more than 5 files" in resolve(tmp_path).note


# --- Zips ---------------------------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, str | bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def test_a_zip_of_a_repository_is_graded_like_the_folder(tmp_path):
    archive = make_zip(tmp_path / "repo.zip", {"repo/README.md": "hi", "repo/assignment/vae.py": "mine\n",
                                               "repo/assignment/vae.ipynb": notebook()})
    code = resolve(archive)
    assert code.source == b"mine\n" and code.files == (archive,)
    folder = write(tmp_path / "upload" / "repo.zip", archive.read_bytes()).parent
    assert resolve(folder).source == b"mine\n", "a lone zip in an upload folder is opened too"


@pytest.mark.parametrize("name", ["../vae.py", "/tmp/vae.py", "a/../../vae.py", "C:/vae.py"])
def test_a_zip_with_a_path_outside_itself_is_not_opened(tmp_path, name):
    code = resolve(make_zip(tmp_path / "evil.zip", {name: "x\n", "vae.py": "mine\n"}))
    assert code.source is None and "leads outside it" in code.note
    assert not (tmp_path / "vae.py").exists()


def test_a_link_in_a_zip_is_skipped(tmp_path):
    code = resolve(make_zip(tmp_path / "links.zip", {}, links={"vae.py": str(ROOT / "solutions" / "vae.py")}))
    assert code.source is None and "No vae.py was found" in code.note


def test_a_zip_that_unpacks_beyond_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "HANDIN_MAX_BYTES", 1000)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("vae.py", b"#" * 100_000)  # compresses to a few hundred bytes
    code = resolve(tmp_path / "bomb.zip")
    assert code.source is None and "unpacks to more than 1,000 bytes" in code.note


def test_a_broken_zip_is_named(tmp_path):
    code = resolve(write(tmp_path / "hw.zip", b"PK\x03\x04 not really"))
    assert code.source is None and "hw.zip could not be unpacked" in code.note


# --- make grade passes what was handed in as one path ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["x; touch F", "-x", "it's \"mine\" (v2)"])
def test_make_grade_passes_a_hand_in_with_odd_characters_as_one_path(tmp_path, name):
    handed_in = write(tmp_path / name / "model.py").parent
    results = tmp_path / "out dir" / "results.json"
    run = subprocess.run(["make", "-s", "-C", str(ROOT), "grade", f"SUBMISSION={handed_in}", f"RESULTS={results}"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert not (tmp_path / "F").exists() and not (ROOT / "F").exists(), "the name ran as a command"
    assert "it held model.py" in json.loads(results.read_text())["tests"][0]["output"]


# --- The same uploads, the same score, whichever way they are graded -----------------------------------

# Stands in for `python -m autograder.grading.grade` (as PY for make, the grader for Gradescope and
# grade-all): resolves what it is given, grades each distinct code once with the real grader,
# and hands out a copy of those results when the same code comes again.
CACHING_GRADER = '''\
#!{python}
import hashlib, shutil, subprocess, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from autograder.grading import handin
args = dict(arg.split("=", 1) for arg in sys.argv[3:])
assert sys.argv[1:3] == ["-m", "autograder.grading.grade"], sys.argv
code = handin.resolve(Path(args["--submission"]))
cached = Path({cache!r}) / hashlib.sha256(code.source or code.note.encode()).hexdigest() / "results.json"
if not cached.exists():
    with open(Path({cache!r}) / "gradings.log", "a") as log:
        log.write(args["--submission"] + "\\n")
    subprocess.run([sys.executable, "-m", "autograder.grading.grade", "--submission=" + args["--submission"],
                    "--results=" + str(cached)], cwd={root!r}, check=True)
Path(args["--results"]).parent.mkdir(parents=True, exist_ok=True)
shutil.copyfile(cached, args["--results"])
'''


def uploads(folder: Path) -> dict[str, Path]:
    """Four uploads whose code is the reference; three of them beside or around something else."""
    solution = "".join(line for line in (ROOT / "solutions" / "vae.py").read_text().splitlines(keepends=True)
                       if "### " not in line)
    reference = "\n".join(solution.splitlines()) + "\n"  # as a notebook's cell becomes a module
    stubs = (ROOT / "assignment" / "vae.py").read_text()
    released = (ROOT / "assignment" / "vae.ipynb").read_text()
    made = {
        "vae_py": {"vae.py": reference},
        "vae_py_and_notebook": {"vae.py": stubs, "vae.ipynb": notebook(reference)},
        "notebook_alone": {"Homework 3 - final.ipynb": notebook(reference)},
    }
    for name, files in made.items():
        for file, text in files.items():
            write(folder / name / file, text)
    make_zip(write(folder / "zip_of_repository" / "x").with_name("vae-alice.zip"), {
        "vae-alice/README.md": "# my homework\n", "vae-alice/assignment/vae.py": reference,
        "vae-alice/assignment/vae.ipynb": released, "vae-alice/assignment/common.py": "# helpers\n"})
    (folder / "zip_of_repository" / "x").unlink()
    return {name: folder / name for name in [*made, "zip_of_repository"]}


@pytest.mark.slow
def test_make_grade_gradescope_and_grade_all_give_the_same_uploads_the_same_score(tmp_path):
    from autograder.course import grade_all
    from autograder.deploy import gradescope

    cache = tmp_path / "cache"
    cache.mkdir()
    grader = write(tmp_path / "grader", CACHING_GRADER.format(python=sys.executable, root=str(ROOT),
                                                              cache=str(cache)))
    grader.chmod(0o755)
    handed_in = uploads(tmp_path / "uploads")
    scores: dict[tuple[str, str], float] = {}
    for name, upload in handed_in.items():
        results = tmp_path / "make" / name / "results.json"
        run = subprocess.run(["make", "-s", "-C", str(ROOT), "grade", f"PY={grader}", f"SUBMISSION={upload}",
                              f"RESULTS={results}"], capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        scores["make grade", name] = json.loads(results.read_text())["score"]
        root = tmp_path / "gradescope" / name
        shutil.copytree(upload, root / "submission")
        assert gradescope.run(root, grader=(str(grader), "-m", "autograder.grading.grade")) == 0
        scores["gradescope", name] = json.loads((root / "results" / "results.json").read_text())["score"]
        shutil.copytree(upload, tmp_path / "class" / name)
    command = lambda folder, results, uid: [str(grader), "-m", "autograder.grading.grade",  # noqa: E731
                                            f"--submission={folder}", f"--results={results}"]
    outcomes = grade_all.grade_all(grade_all.discover(tmp_path / "class"), tmp_path / "out", jobs=1, command=command)
    for outcome in outcomes:
        assert outcome.status == "graded", outcome.error
        scores["grade-all", outcome.student] = outcome.results["score"]
    assert len(scores) == 12
    full = sum(points for points, _ in config.RUBRIC.values())
    assert scores == dict.fromkeys(scores, pytest.approx(full)), scores
    assert len((cache / "gradings.log").read_text().splitlines()) == 1, "every upload resolves to the same code"
