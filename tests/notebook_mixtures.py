"""Notebook hand-ins that mix vae.py and code in the graded cell 'vae-code', each correct as the
notebook runs it (solutions/graded.py): every one should earn full marks on every route.

Each mixture is built from the solution's own definitions, with the part the cell does not
supply stubbed out in vae.py (or wrong there), so that grading the wrong file loses points.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

from autograder import config
from autograder.evidence import corpus
from autograder.paths import ASSIGNMENT, SOLUTIONS

CELL = config.NOTEBOOK_CODE_CELL
IMPORTS = "from vae import VAE, loss_function, train, evaluate\nfrom vae import HIDDEN_DIM, INPUT_DIM, LATENT_DIM\n"


def without_markers(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if "### " not in line)


SOLUTION = without_markers((SOLUTIONS / "vae.py").read_text())
STUBS = (ASSIGNMENT / "vae.py").read_text()


def segment(source: str, name: str) -> str:
    """The source of the top-level definition `name` in `source`."""
    node = next(n for n in ast.parse(source).body if getattr(n, "name", None) == name)
    return ast.get_source_segment(source, node)


def with_stub(name: str, source: str = SOLUTION) -> str:
    """The solution with `name` replaced by the released stub (it raises NotImplementedError)."""
    return source.replace(segment(source, name), segment(STUBS, name))


def definitions(source: str = SOLUTION) -> str:
    """The solution's constants, classes and functions, without its imports and its main()."""
    keep = [n for n in ast.parse(source).body if not isinstance(n, (ast.Import, ast.ImportFrom, ast.If, ast.Expr))
            and getattr(n, "name", None) != "main"]
    return "\n\n".join(ast.get_source_segment(source, n) for n in keep) + "\n"


def notebook(cell: str) -> str:
    """The released notebook with `cell` as the source of its graded cell."""
    book = json.loads((ASSIGNMENT / "vae.ipynb").read_text())
    for item in book["cells"]:
        if item.get("metadata", {}).get("nbgrader", {}).get("grade_id") == CELL:
            item["source"] = cell
    return json.dumps(book, indent=1)


def progress_train() -> str:
    """The solution's train with a progress print of the student's own."""
    train = segment(SOLUTION, "train")
    body = train.index('"""', train.index('"""') + 3) + 3  # after the docstring
    return train[:body] + '\n    print("training one epoch", flush=True)' + train[body:]


# name -> (the graded cell, vae.py or None, other files of the hand-in)
MIXTURES: dict[str, tuple[str, str | None, dict[str, str]]] = {
    # The case: the released imports kept, one function of the student's own after them.
    "imports_and_a_definition": (IMPORTS + "\n\n" + progress_train(), with_stub("train"), {}),
    # Everything in the cell, which uses torch, nn and F as the notebook's first cell imported them.
    "relies_on_the_import_cell": (definitions(), None, {}),
    # A cell that imports another file of the hand-in; vae.py's own loss_function is a stub.
    "imports_another_file": ("from vae import VAE, train\nfrom losses import loss_function\n",
                             with_stub("loss_function"),
                             {"losses.py": "import torch\nfrom torch.nn import functional as F\n\nfrom vae import "
                                           "INPUT_DIM\n\n\n" + segment(SOLUTION, "loss_function") + "\n"}),
    # A notebook beside a different vae.py: the cell's loss_function replaces its wrong one.
    "beside_a_different_vae_py": ("from vae import VAE, train\n\n\n" + segment(SOLUTION, "loss_function") + "\n",
                                  corpus.source("buggy_kl_wrong_sign"), {}),
}


def hand_in(folder: Path, name: str) -> Path:
    """Write mixture `name` into `folder` (vae.ipynb, vae.py, the other files) and return it."""
    cell, vae_py, files = MIXTURES[name]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vae.ipynb").write_text(notebook(cell))
    if vae_py is not None:
        (folder / "vae.py").write_text(vae_py)
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder
