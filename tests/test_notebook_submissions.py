"""Notebook submissions: the graded cell 'vae-code' of vae.ipynb becomes the module graded."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import config
from autograder.grading.handin import NotebookError, graded_cell, module_source, resolve
from autograder.paths import ASSIGNMENT, ROOT, SOLUTIONS

CELL = config.NOTEBOOK_CODE_CELL


def released_notebook() -> nbformat.NotebookNode:
    return nbformat.read(ASSIGNMENT / "vae.ipynb", as_version=4)


def the_cell(book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return next(c for c in book.cells if c.metadata.get("nbgrader", {}).get("grade_id") == CELL)


def student_folder(tmp_path: Path, book: nbformat.NotebookNode, vae_py: Path | None = ASSIGNMENT / "vae.py") -> Path:
    """nbgrader's layout: submitted/<student>/<assignment>/ with the notebook (and vae.py)."""
    folder = tmp_path / "submitted" / "alice" / "vae"
    folder.mkdir(parents=True)
    nbformat.write(book, folder / "vae.ipynb")
    if vae_py is not None:
        shutil.copyfile(vae_py, folder / "vae.py")
    return folder


def notebook_with_code() -> nbformat.NotebookNode:
    """The released notebook, its graded cell replaced by a full implementation."""
    book = released_notebook()
    solution = "".join(line for line in (SOLUTIONS / "vae.py").read_text().splitlines(keepends=True)
                       if "### " not in line)
    the_cell(book).source = "%matplotlib inline\n" + solution
    return book


def test_the_released_notebook_defers_to_vae_py():
    assert module_source((ASSIGNMENT / "vae.ipynb").read_text()) is None
    assert "from vae import" in graded_cell((ASSIGNMENT / "vae.ipynb").read_text())


def test_code_written_in_the_graded_cell_becomes_the_module(tmp_path):
    folder = student_folder(tmp_path, notebook_with_code())
    code = resolve(folder)
    source, note = code.source.decode(), code.note
    assert "class VAE" in source and "# %matplotlib inline" in source
    assert CELL in note
    compile(source, "vae.py", "exec")


@pytest.mark.parametrize("damage, words", [
    ("missing", "is missing"),
    ("doubled", "appears 2 times"),
    ("retyped", "retyped into a markdown cell"),
])
def test_a_damaged_graded_cell_is_named_and_vae_py_is_graded_instead(tmp_path, damage, words):
    book = released_notebook()
    cell = the_cell(book)
    if damage == "missing":
        book.cells.remove(cell)
    elif damage == "doubled":
        book.cells.append(nbformat.from_dict(json.loads(json.dumps(cell))))
    else:
        book.cells[book.cells.index(cell)] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    with pytest.raises(NotebookError, match=rf"'{CELL}'.*{words}|{words}"):
        graded_cell((student_folder(tmp_path / "a", book) / "vae.ipynb").read_text())
    code = resolve(student_folder(tmp_path / "b", book))
    assert code.source == (ASSIGNMENT / "vae.py").read_bytes()
    assert words in code.note and "vae.py was graded instead" in code.note
    code = resolve(student_folder(tmp_path / "c", book, vae_py=None))
    assert code.source is None and words in code.note


@pytest.mark.slow
def test_a_notebook_only_student_is_graded_like_vae_py(tmp_path):
    folder = student_folder(tmp_path, notebook_with_code())  # vae.py there is still the stub
    results = tmp_path / "results.json"
    run = subprocess.run([sys.executable, "-m", "autograder.grading.grade", "--submission", str(folder), "--results",
                          str(results)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    graded = json.loads(results.read_text())
    assert graded["score"] == pytest.approx(100), [t["output"] for t in graded["tests"] if t["status"] != "passed"]
    assert CELL in graded["output"]
