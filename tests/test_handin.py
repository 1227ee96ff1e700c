"""autograder/grading/handin.py: what gets graded from a folder, a .py, a notebook or a zip."""
from __future__ import annotations

import json
import os
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from autograder import config
from autograder.grading import handin
from autograder.grading.handin import NotebookError, graded_cell, read_regular, resolve

ROOT = Path(__file__).resolve().parent.parent
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
    assert code.source == f"# %matplotlib inline\n{CODE}".encode()
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
