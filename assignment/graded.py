"""What is graded: vae.py, or what your notebook runs when you write code in its cell 'vae-code'.

The notebook's cell 'vae-code' imports your code from vae.py. If you write code in that cell
instead (all of it, or one function), the graders grade what the notebook would run, as one file:

1. vae.py, if the notebook imports it (`from vae import ...` in that cell or in an earlier one);
2. the imports of earlier cells that the cell uses (`torch`, `nn`, `F`, ...);
3. the cell itself: what it defines replaces what vae.py defines under the same name, as it
   does when the notebook runs it.

A cell that only imports vae.py changes nothing: vae.py is graded as it is. `make check` checks
exactly what will be graded, and `python graded.py` says what that is. (Nothing here to fill in.)
"""
from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

GRADED_CELL = "vae-code"  # the nbgrader grade_id of the notebook's graded code cell
MODULE = "vae"  # the graded module's name: the notebook imports it, the graders import it


@dataclass(frozen=True)
class Graded:
    """The code to grade and, for the student, where each part of it came from."""

    source: str  # the module, as one file
    note: str  # "" when it is vae.py as it is
    uses_vae_py: bool  # whether vae.py is part of it


def lines_of(source: str) -> list[str]:
    """The lines Python sees: split at \\n, \\r\\n and \\r only (str.splitlines also splits at a form
    feed or U+2028, which may stand inside a string)."""
    return re.split(r"\r\n|\r|\n", source)


def inert_magics(source: str) -> str:
    """IPython's magics (`%...`) and shell escapes (`!...`) are not Python: keep them visible, inert."""
    return "\n".join(f"# {line}" if line.lstrip().startswith(("%", "!")) else line
                     for line in lines_of(source))


def _statements(source: str) -> list[ast.stmt] | None:
    try:
        return ast.parse(inert_magics(source)).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # grading shows it; an earlier cell is skipped
        return None


def _imports_vae(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module == MODULE and not node.level
    return isinstance(node, ast.Import) and any(alias.name.split(".")[0] == MODULE for alias in node.names)


def only_imports_vae(cell: str) -> bool:
    """Whether the cell holds nothing but imports of vae.py (the released cell, or an emptied one)."""
    body = _statements(cell)
    return body is not None and all(_imports_vae(node) for node in body)


def _used_names(tree: list[ast.stmt]) -> set[str]:
    return {node.id for stmt in tree for node in ast.walk(stmt) if isinstance(node, ast.Name)}


def _imports_used(earlier: list[str], used: set[str]) -> list[str]:
    """The import statements of earlier cells, cut down to the names in `used`, as lines of code."""
    lines = []
    for cell in earlier:
        for node in _statements(cell) or []:
            if isinstance(node, ast.Import):
                names = [a for a in node.names if (a.asname or a.name.split(".")[0]) in used]
                lines += [f"import {a.name}" + (f" as {a.asname}" if a.asname else "") for a in names]
            elif isinstance(node, ast.ImportFrom) and node.module != "__future__" and not node.level:
                names = [a for a in node.names if a.name != "*" and (a.asname or a.name) in used]
                if names:
                    aliases = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in names)
                    lines.append(f"from {node.module} import {aliases}")
    return list(dict.fromkeys(lines))


def _without_future(source: str) -> tuple[str, set[str]]:
    """`source` with its `from __future__ import` statements commented out, and their features."""
    body = _statements(source) or []
    lines, features = lines_of(source), set()
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            features |= {alias.name for alias in node.names}
            for index in range(node.lineno - 1, node.end_lineno):
                lines[index] = "# " + lines[index]
    return "\n".join(lines), features


def compose(cell: str, earlier: list[str], vae_py: str | None, notebook: str = "vae.ipynb") -> Graded:
    """What the notebook runs, as one module (ValueError when it imports a vae.py that is missing)."""
    cell = inert_magics(cell)
    tree = _statements(cell) or []
    own = {(a.asname or a.name).split(".")[0] for node in tree if isinstance(node, (ast.Import, ast.ImportFrom))
           for a in node.names}
    imports = _imports_used(earlier, _used_names(tree) - own)  # what the cell does not import itself
    uses_vae_py = any(_imports_vae(node) for node in tree) or any(f"from {MODULE} import" in line for line in imports)
    if uses_vae_py and vae_py is None:
        raise ValueError(f"The cell '{GRADED_CELL}' of {notebook} imports vae.py, but no vae.py was handed in beside "
                         "it: hand in vae.py too, or write all your code in that cell.")
    parts = [("vae.py", vae_py)] if uses_vae_py else []
    parts += [(f"the imports of {notebook}'s earlier cells", "\n".join(imports))] if imports else []
    parts.append((f"{notebook}'s cell '{GRADED_CELL}'", cell))
    defined = [node.name for node in tree if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    if len(parts) == 1:  # the cell alone: graded as it is, its line numbers its own
        source = cell if cell.endswith("\n") else cell + "\n"
        return Graded(source, f"Graded: {parts[0][0]}, which replaces vae.py" + (
            f" (it defines {', '.join(defined)})." if defined else "."), False)
    features, texts = set(), []
    for name, text in parts:
        text, found = _without_future(text)
        features |= found
        texts.append((name, text))
    lines = [f"from __future__ import {', '.join(sorted(features))}"] if features else []
    where = []
    for name, text in texts:
        lines.append(f"# ---- {name}")
        start = len(lines) + 1
        lines += lines_of(text)
        where.append(f"{name} from line {start}")
    replaces = f" (it defines {', '.join(defined)}{', replacing vae.py' if uses_vae_py else ''})" if defined else ""
    note = (f"Graded: what {notebook} runs, {' + '.join(name for name, _ in texts)}{replaces}. Line numbers in "
            f"error messages count in that one file: {'; '.join(where)}.")
    return Graded("\n".join(lines) + "\n", note, uses_vae_py)


def code_cells(notebook_text: str | bytes, name: str = "vae.ipynb") -> tuple[str, list[str]]:
    """The graded cell's source and the sources of the code cells before it (ValueError naming
    what is wrong when the notebook has not exactly one graded code cell with readable source)."""
    try:
        book = json.loads(notebook_text)
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, nested beyond reason
        raise ValueError(f"{name} is not a readable notebook ({type(error).__name__}).") from None
    cells = book.get("cells") if isinstance(book, dict) else None
    if not isinstance(cells, list):
        raise ValueError(f"{name} is not a notebook in Jupyter's format 4 (it has no list of cells): save it again "
                         "with Jupyter.")
    found = [index for index, cell in enumerate(cells) if _grade_id(cell) == GRADED_CELL]
    if not found:
        raise ValueError(f"The graded cell '{GRADED_CELL}' (section 3, the cell that imports your model) is missing "
                         f"from {name}: restore it from the released notebook.")
    if len(found) > 1:
        raise ValueError(f"The graded cell '{GRADED_CELL}' appears {len(found)} times in {name}: keep one.")
    cell_type, source = cells[found[0]].get("cell_type"), _source(cells[found[0]])
    if cell_type != "code":
        raise ValueError(f"The graded cell '{GRADED_CELL}' in {name} was retyped into a {str(cell_type)[:20]} cell: "
                         "change it back to a code cell.")
    if source is None:
        raise ValueError(f"The graded cell '{GRADED_CELL}' in {name} has no readable source: save the notebook "
                         "again with Jupyter.")
    earlier = [_source(cell) for cell in cells[: found[0]]
               if isinstance(cell, dict) and cell.get("cell_type") == "code"]
    return source, [text for text in earlier if text]


def _grade_id(cell: object) -> object:
    """The cell's nbgrader grade_id, or None however its metadata is malformed."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None


def _source(cell: dict) -> str | None:
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)  # the notebook format may split a cell's source into lines
    return source if isinstance(source, str) else None


def graded(folder: Path) -> Graded:
    """What the graders grade in `folder` (vae.py and vae.ipynb, as handed in)."""
    vae_py, notebook = folder / "vae.py", folder / "vae.ipynb"
    text = vae_py.read_text() if vae_py.is_file() else None
    if notebook.is_file():
        cell, earlier = code_cells(notebook.read_text())
        if not only_imports_vae(cell):
            return compose(cell, earlier, text)
    if text is None:
        raise ValueError(f"there is no vae.py in {folder}")
    return Graded(text, "", True)


def load(folder: Path = Path(__file__).resolve().parent) -> object:
    """Import what the graders grade in `folder` as the module `vae` (the public checks use it)."""
    code = graded(folder)
    sys.path.insert(0, str(folder))  # vae.py, or the other files of yours that the code imports
    if not code.note:
        return importlib.import_module(MODULE)
    spec = importlib.util.spec_from_loader(MODULE, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(folder / "vae.ipynb")
    sys.modules[MODULE] = module  # the cell's `from vae import ...` finds vae.py's names defined above it
    exec(compile(code.source, f"{folder / 'vae.ipynb'} (graded: {GRADED_CELL})", "exec"), vars(module))
    return module


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    note = graded(folder).note or f"Graded: vae.py as it is (the notebook's cell '{GRADED_CELL}' only imports it)."
    print(f"{note} The checks below check exactly that.")
