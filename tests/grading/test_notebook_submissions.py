"""Notebook submissions: the graded cell 'vae-code' of vae.ipynb becomes the module graded."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import gc
import tempfile
import threading
import types

import nbformat
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import config
from autograder.grading.handin import NotebookError, graded_cell, module_source, resolve
from autograder.course.grade_all import main as grade_all_main
from autograder.course.report import markdown
from autograder.grading.grade import table
from autograder.paths import ASSIGNMENT, ROOT, SOLUTIONS, homework_module
from tests.notebook_mixtures import MIXTURES, hand_in, notebook

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
    assert "from vae import" in graded_cell((ASSIGNMENT / "vae.ipynb").read_text())[0]


def test_code_written_in_the_graded_cell_becomes_the_module(tmp_path):
    folder = student_folder(tmp_path, notebook_with_code())
    code = resolve(folder)
    source, note = code.source.decode(), code.note
    assert "class VAE" in source and "# %matplotlib inline" in source
    assert CELL in note
    assert "NotImplementedError" not in source, "the cell imports nothing from vae.py, which is not run"
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


# --- Mixtures of vae.py and code in the cell (tests/notebook_mixtures.py) ---------------------------


def run_module(code) -> types.ModuleType:
    """Import the resolved code as the worker does (module `vae`, the hand-in's other files beside it)."""
    module = types.ModuleType("vae")
    with tempfile.TemporaryDirectory() as folder:
        for name, text in code.modules:
            (Path(folder) / f"{name}.py").write_bytes(text)
        sys.path.insert(0, folder)
        saved = dict(sys.modules)
        sys.modules["vae"] = module
        try:
            exec(compile(code.source, "vae.py", "exec"), vars(module))
        finally:
            sys.path.remove(folder)
            sys.modules.clear()
            sys.modules.update(saved)
    return module


def loss_inputs() -> float:
    torch.manual_seed(0)
    x, recon = torch.rand(3, 784), torch.rand(3, 784).clamp(0.01, 0.99)
    mu, logvar = torch.randn(3, 20), torch.randn(3, 20)
    return x, recon, mu, logvar


@pytest.mark.parametrize("name", MIXTURES)
def test_a_mixture_is_graded_as_the_notebook_runs_it(tmp_path, name):
    code = resolve(hand_in(tmp_path / name, name))
    assert code.source is not None, code.note
    assert f"cell '{CELL}'" in code.note and "Line numbers" in code.note
    module = run_module(code)
    solution = run_module(resolve(SOLUTIONS / "vae.py"))
    x, recon, mu, logvar = loss_inputs()
    assert torch.allclose(module.loss_function(recon, x, mu, logvar), solution.loss_function(recon, x, mu, logvar))
    cell, vae_py, files = MIXTURES[name]
    assert ("vae.py" in code.note.split(" + ")[0]) == ("from vae import" in cell), "vae.py runs when imported"
    assert {f"{m}.py" for m, _ in code.modules} == set(files)


def test_the_cells_definitions_replace_vae_pys_and_the_rest_come_from_it(tmp_path):
    module = run_module(resolve(hand_in(tmp_path, "imports_and_a_definition")))
    assert "print" in module.train.__code__.co_names, "the cell's train (it prints), not vae.py's stub"
    assert module.VAE().fc21.out_features == module.LATENT_DIM == 20, "VAE and the constants from vae.py"


def test_a_cell_that_imports_vae_py_without_one_names_the_missing_file(tmp_path):
    folder = tmp_path / "nb"
    folder.mkdir()
    (folder / "vae.ipynb").write_text(notebook("from vae import VAE\n\ndef train(model, loader, optimizer):\n"
                                               "    return 0.0\n"))
    code = resolve(folder)
    assert code.source is None and "no vae.py was handed in" in code.note


def test_the_hand_ins_other_files_never_replace_the_sandboxs_own(tmp_path):
    folder = hand_in(tmp_path / "nb", "imports_another_file")
    (folder / "common.py").write_text("raise SystemExit('a student common.py')\n")
    (folder / "losses.py").write_text("import common\nimport protocol\n" + (folder / "losses.py").read_text())
    code = resolve(folder)
    assert [m for m, _ in code.modules] == ["losses"]


@pytest.mark.slow
def test_make_check_checks_what_is_graded(tmp_path):
    """The public checks import graded.load(), which composes the same module as the graders."""
    folders = []
    for name in MIXTURES:
        folder = hand_in(tmp_path / name, name)
        for file in ("test_public.py", "checking.py", "graded.py", "common.py"):
            shutil.copyfile(SOLUTIONS / file, folder / file)
        folders.append(folder)
    out = tmp_path / "public.json"
    runner = ROOT / "tests" / "public_checks_runner.py"
    run = subprocess.run([sys.executable, str(runner), str(out), *map(str, folders)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    outcomes = json.loads(out.read_text())
    failed = {folder: {test: text[:200] for test, text in tests.items() if text} for folder, tests in outcomes.items()}
    assert not any(failed.values()), failed
    assert all(len(tests) >= 18 for tests in outcomes.values())
    printed = subprocess.run([sys.executable, str(folders[0] / "graded.py")], cwd=folders[0], capture_output=True,
                             text=True, timeout=60)
    assert f"cell '{CELL}'" in printed.stdout and "defines train" in printed.stdout, printed.stdout + printed.stderr


@pytest.mark.slow
def test_every_mixture_earns_full_marks_through_grade_all_with_the_note_in_the_report(tmp_path):
    for name in MIXTURES:
        hand_in(tmp_path / "class" / name, name)
    out = ROOT / "build" / "test-notebook-mixtures"  # the sandbox user can reach build/, unlike tmp_path
    shutil.rmtree(out, ignore_errors=True)
    assert grade_all_main([str(tmp_path / "class"), "--out", str(out), "--jobs", "2"]) == 0
    for name in MIXTURES:
        results = json.loads((out / name / "results.json").read_text())
        lost = [(t["name"], t["output"][:300]) for t in results["tests"] if t["score"] < t["max_score"]]
        assert results["score"] == pytest.approx(100), (name, lost)
        assert f"cell '{CELL}'" in results["output"]
        assert f"cell '{CELL}'" in table(results), "the table on stdout shows what was graded"
        assert f"cell '{CELL}'" in markdown(results), "so does the commit comment and the job summary"


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(blacklist_characters='"\\\n\r\x00', blacklist_categories=["Cs"])),
       magic=st.booleans())
def test_whatever_a_cell_holds_its_strings_reach_the_graded_module_unchanged(text, magic):
    """Form feeds, U+2028 and other characters that str.splitlines splits at stay inside their
    string; __future__ imports move to the top; a magic stays inert."""
    cell = ("%matplotlib inline\n" if magic else "") + f'from vae import VAE\nTEXT = "{text}"\n'
    rules = homework_module("graded")
    code = rules.compose(cell, ["import torch\n"], '"""vae.py"""\nfrom __future__ import annotations\nVAE = 1\n')
    module = types.ModuleType("vae")
    saved = sys.modules.get("vae")
    sys.modules["vae"] = module
    try:
        exec(compile(code.source, "vae.py", "exec"), vars(module))
    finally:
        sys.modules.pop("vae")
        if saved is not None:
            sys.modules["vae"] = saved
    assert module.TEXT == text and module.VAE == 1


class Finalized:
    """An object whose finalizer runs Python code: a garbage collection of these can switch threads."""

    def __del__(self) -> None:
        sum(range(50))


@pytest.mark.slow
def test_hand_ins_resolved_in_parallel_threads_are_all_read(tmp_path):
    """grade-all examines hand-ins in its job threads; CPython 3.11's ast.parse, run in two threads
    at once, can raise SystemError when a collection switches threads mid-parse (seen in a class)."""
    folders = [hand_in(tmp_path / name, name) for name in MIXTURES]
    notes: list[str] = []

    def work(folder: Path) -> None:
        for _ in range(60):
            ring = [Finalized() for _ in range(50)]
            for one, other in zip(ring, ring[1:] + ring[:1]):
                one.next = other  # a cycle: only the collector frees it
            del ring
            code = resolve(folder)
            if code.source is None:
                notes.append(code.note)

    threshold = gc.get_threshold()
    gc.set_threshold(50, 2, 2)
    try:
        threads = [threading.Thread(target=work, args=(folder,)) for folder in folders * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.set_threshold(*threshold)
    assert not notes, notes[:1]
