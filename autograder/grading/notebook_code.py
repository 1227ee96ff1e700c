"""Notebook submissions: the graded code cell of vae.ipynb becomes the module that is graded.

The notebook's model section has one editable code cell whose nbgrader metadata carries
`grade_id: vae-code` (config.NOTEBOOK_CODE_CELL). As released it imports the student's code
from vae.py. A student who prefers to work in the notebook replaces that import with the
definitions themselves (class VAE, loss_function, train, ...); the grader then grades that
cell exactly as it grades vae.py. A cell that is missing, doubled or retyped (turned into a
markdown or raw cell) is reported by its id.
"""
from __future__ import annotations

import re
from pathlib import Path

from autograder import config

DEFINES = re.compile(r"^(class VAE\b|def (loss_function|train)\b)", re.MULTILINE)


class NotebookError(ValueError):
    """The notebook cannot be graded; the message says which cell and why."""


def graded_cell(notebook: Path) -> str:
    """The source of the graded code cell (raises NotebookError naming what is wrong)."""
    import nbformat

    try:
        book = nbformat.read(notebook, as_version=4)
    except Exception as error:  # a hand-edited notebook can be broken in many ways
        raise NotebookError(f"{notebook.name} is not a readable notebook ({type(error).__name__}).") from None
    cell_id = config.NOTEBOOK_CODE_CELL
    cells = [cell for cell in book.cells if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == cell_id]
    if not cells:
        raise NotebookError(f"The graded cell '{cell_id}' (section 3, the cell that imports your model) is missing "
                            f"from {notebook.name}: restore it from the released notebook.")
    if len(cells) > 1:
        raise NotebookError(f"The graded cell '{cell_id}' appears {len(cells)} times in {notebook.name}: keep one.")
    if cells[0].cell_type != "code":
        raise NotebookError(f"The graded cell '{cell_id}' in {notebook.name} was retyped into a {cells[0].cell_type} "
                            "cell: change it back to a code cell.")
    return cells[0].source


def module_source(notebook: Path) -> str | None:
    """The module to grade from the notebook, or None when its graded cell defers to vae.py."""
    source = graded_cell(notebook)
    if not DEFINES.search(source):
        return None
    # IPython's magics and shell escapes are not Python: keep them visible, inert.
    lines = [f"# {line}" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return "\n".join(lines) + "\n"
