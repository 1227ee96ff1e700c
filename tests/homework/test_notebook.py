"""The guided notebook: the solution runs end to end; the student version hides every answer.

solutions/vae.ipynb is the nbgrader source; assignment/vae.ipynb is what
`make assignment` (autograder/authoring/notebook.py, nbgrader's generate_assignment) makes of it.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import config
from autograder.authoring.markers import (
    BEGIN, END, NOTEBOOK_TEXT_STUB, MarkerError, find_leaks, has_markers, readable_text, solution_regions,
)
from autograder.authoring.notebook import generate_notebook
from autograder.paths import ASSIGNMENT, SOLUTIONS

SOLUTION_NOTEBOOK = SOLUTIONS / "vae.ipynb"
STUDENT_NOTEBOOK = ASSIGNMENT / "vae.ipynb"
QUICK_ENV = "VAE_NOTEBOOK_QUICK"
KERNEL = "python3"  # the kernelspec ipykernel installs into .venv; it runs .venv's python
CELL_TIMEOUT_S = 180
# The lecture's questions, in the lecture's order (vae.py's docstrings number them the same).
QUESTION_IDS = [f"q{number}-answer" for number in range(1, 7)]


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def answer_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """Manually graded answers: nbgrader cells that are both solution and grade cells."""
    return [c for c in nb.cells if nbgrader_meta(c).get("solution") and nbgrader_meta(c).get("grade")]


def run_notebook(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    NotebookClient(nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


@pytest.fixture(scope="module")
def fresh_generation(generated_assignment: Path) -> Path:
    """assignment/vae.ipynb made afresh from solutions/vae.ipynb (with the rest of assignment/)."""
    return generated_assignment / "vae.ipynb"


# --- The solution notebook runs ------------------------------------------------------------

def test_notebook_kernel_runs_this_virtual_environment(tmp_path: Path) -> None:
    nb = new_notebook(cells=[new_code_cell("import sys; print(sys.prefix)")])
    run_notebook(nb, tmp_path)
    printed = nb.cells[0].outputs[0]["text"].strip()
    assert printed == sys.prefix, (
        f"the {KERNEL!r} kernel runs the Python in {printed}, not this one ({sys.prefix}); "
        f"run the tests with .venv/bin/python (`make test`) after `make setup`"
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_solution_notebook_runs_in_quick_mode_and_draws_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(QUICK_ENV, "1")  # the kernel inherits this process's environment
    # One thread: on CPU cores shared with other jobs, two OpenMP threads can run 10x slower.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = run_notebook(read(SOLUTION_NOTEBOOK), SOLUTIONS)  # a CellExecutionError names the cell
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "quick run: 1 epoch(s) on 2,000 training images" in printed, (
        f"{QUICK_ENV}=1 should make a one-epoch run on 2,000 images; the notebook printed:\n"
        + printed[:500]
    )
    assert "epoch  1: train loss" in printed, "the training cell should print each epoch's losses"
    figures = [c.get("id") for c in nb.cells if c.cell_type == "code"
               for o in c.outputs if "image/png" in o.get("data", {})]
    # the digit, a batch, loss curves, reconstructions, prior samples, the bonus's digit grid
    assert len(figures) >= 6, f"expected at least 6 figures, got {len(figures)}: {figures}"
    assert {"plot-losses", "plot-reconstructions", "plot-samples", "bonus-generate"} <= set(figures)


# --- The released notebook runs to the end ---------------------------------------------------

# The cells that draw what the model learned: in quick mode each must say that a quick run draws
# blurs, not digits (the notebook's text promises digits of the full run).
PICTURE_CELLS = ("plot-reconstructions", "plot-samples")
BONUS_CODE_CELLS = ("bonus-train", "bonus-generate")


def printed_by(nb: nbformat.NotebookNode, cell_id: str) -> str:
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    return "".join(o.get("text", "") for o in cell.outputs)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_released_notebook_runs_to_the_last_cell_with_the_five_functions_done(
        tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run All on assignment/vae.ipynb, beside the reference's vae.py, bonus left as released."""
    folder = tmp_path / "assignment"
    folder.mkdir()
    shutil.copyfile(STUDENT_NOTEBOOK, folder / "vae.ipynb")
    shutil.copyfile(ASSIGNMENT / "common.py", folder / "common.py")
    shutil.copyfile(SOLUTIONS / "vae.py", folder / "vae.py")  # the five functions done
    (tmp_path / "data").symlink_to(root / "data")  # common.py finds data/ beside assignment/
    monkeypatch.setenv(QUICK_ENV, "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = run_notebook(read(folder / "vae.ipynb"), folder)  # a CellExecutionError names the cell
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "Run All stopped before the last cell"
    for cell_id in BONUS_CODE_CELLS:
        printed = printed_by(nb, cell_id)
        assert "not written yet" in printed and "skipped" in printed, (
            f"the unfinished bonus cell {cell_id!r} should say it is skipped; it printed {printed!r}"
        )
    assert "CVAE." in printed_by(nb, "bonus-train"), "the skip should name the unfinished method"
    for cell_id in PICTURE_CELLS:
        assert "blurs, not digits" in printed_by(nb, cell_id), (
            f"in quick mode, cell {cell_id!r} should say that a quick run draws blurs, not digits"
        )


# --- The student notebook ------------------------------------------------------------------

def test_student_notebook_has_no_solution_markers() -> None:
    assert not has_markers(STUDENT_NOTEBOOK.read_text(encoding="utf-8")), (
        f"{STUDENT_NOTEBOOK} still contains solution markers: run `make assignment`"
    )


def test_student_notebook_has_no_solution_text() -> None:
    regions = [region for region in solution_regions() if region.source.name == SOLUTION_NOTEBOOK.name]
    assert regions and all(region.secret_lines for region in regions), "every answer should hide something"
    leaks = [(region.function, line) for region, line in find_leaks(readable_text(STUDENT_NOTEBOOK), regions)]
    assert not leaks, f"solution lines left in {STUDENT_NOTEBOOK}: {leaks[:3]}"
    assert "652,824" not in STUDENT_NOTEBOOK.read_text(encoding="utf-8")  # Question 2's answer


def test_student_notebook_has_no_outputs() -> None:
    for cell in read(STUDENT_NOTEBOOK).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {cell.id!r} has outputs"


def test_six_answer_cells_keep_their_points_in_lecture_order() -> None:
    solution, student = answer_cells(read(SOLUTION_NOTEBOOK)), answer_cells(read(STUDENT_NOTEBOOK))
    assert [c.id for c in solution] == QUESTION_IDS, "the solution should ask Questions 1-6 in order"
    assert [c.id for c in student] == QUESTION_IDS, "the student notebook lost or reordered answer cells"
    for source, released in zip(solution, student):
        points = nbgrader_meta(source).get("points", 0)
        assert points > 0, f"answer cell {source.id!r} carries no points"
        assert nbgrader_meta(released)["points"] == points, f"{released.id!r} changed its points"
        assert released.cell_type == "markdown" and NOTEBOOK_TEXT_STUB in released.source, (
            f"answer cell {released.id!r} should be a markdown cell showing {NOTEBOOK_TEXT_STUB!r}"
        )


def test_graded_code_cell_is_released_as_the_import_of_vae_py() -> None:
    cells = [c for c in read(STUDENT_NOTEBOOK).cells
             if nbgrader_meta(c).get("grade_id") == config.NOTEBOOK_CODE_CELL]
    assert len(cells) == 1, f"expected one cell {config.NOTEBOOK_CODE_CELL!r}, found {len(cells)}"
    cell = cells[0]
    assert cell.cell_type == "code" and cell.metadata.get("editable", True), "it must stay editable code"
    assert "from vae import VAE, loss_function, train, evaluate" in cell.source, (
        "as released, the graded cell imports the student's code from vae.py"
    )


@pytest.mark.slow
def test_student_notebook_equals_a_fresh_generation(fresh_generation: Path) -> None:
    assert STUDENT_NOTEBOOK.read_bytes() == fresh_generation.read_bytes(), (
        f"{STUDENT_NOTEBOOK} is not what solutions/vae.ipynb generates now: run `make assignment`"
    )


@pytest.mark.slow
def test_generation_is_deterministic_and_leaves_only_the_notebook(fresh_generation: Path, tmp_path: Path) -> None:
    again = tmp_path / "vae.ipynb"
    generate_notebook(SOLUTION_NOTEBOOK, again)
    assert again.read_bytes() == fresh_generation.read_bytes(), "two generations of one source differ"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vae.ipynb"]
    for folder in (SOLUTIONS, ASSIGNMENT, SOLUTIONS.parent, Path.cwd()):
        assert not (folder / "gradebook.db").exists(), f"nbgrader left a database in {folder}"


# --- Malformed markers are errors, not silent passes ----------------------------------------

def solution_notebook_with(source: str, cell_type: str = "code") -> nbformat.NotebookNode:
    make = new_code_cell if cell_type == "code" else new_markdown_cell
    cell = make(source, id="answer")
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": "answer", "locked": False,
                                 "schema_version": 3, "solution": True, "task": False}
    nb = new_notebook(cells=[cell], metadata={"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"}})
    return nb


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (f"x = 1\n{BEGIN}\ny = 2\n", "never closed"),
        (f"{BEGIN}\n{BEGIN}\ny = 2\n{END}\n{END}\n", "nested"),
        (f"y = 2\n{END}\n", "without"),
        (f"y = 2  {BEGIN}\n{END}\n", "stand alone"),
    ],
    ids=["unclosed", "nested", "stray-end", "not-alone"],
)
def test_malformed_markers_are_an_error(tmp_path: Path, source: str, message: str) -> None:
    src = tmp_path / "broken.ipynb"
    nbformat.write(solution_notebook_with(source), src)
    with pytest.raises(MarkerError, match=message):
        generate_notebook(src, tmp_path / "out" / "broken.ipynb")
    assert not (tmp_path / "out").exists(), "a failed generation must write nothing"


def test_marker_outside_a_solution_cell_is_an_error(tmp_path: Path) -> None:
    nb = solution_notebook_with(f"{BEGIN}\nanswer\n{END}", cell_type="markdown")
    del nb.cells[0].metadata["nbgrader"]
    src = tmp_path / "unmarked.ipynb"
    nbformat.write(nb, src)
    with pytest.raises(MarkerError, match="not an nbgrader solution cell"):
        generate_notebook(src, tmp_path / "unmarked-out.ipynb")


def test_solution_notebook_is_stored_without_outputs() -> None:
    for cell in read(SOLUTION_NOTEBOOK).cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"solutions/vae.ipynb: clear the outputs of cell {cell.id!r}"
