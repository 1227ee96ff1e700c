"""What gets graded: the one resolver from what a student handed in to the code to grade.

`make grade`, Gradescope and `make grade-all` all call resolve() with what the student handed
in: a folder (an upload, a cloned repository, nbgrader's submitted/<student>/<assignment>/), a
.py file, a notebook (any name) or a .zip of any of these. It returns the source to grade (or
None) and a note for the student. The rules, in order:

1. A .py handed in directly is graded, whatever its name.
2. In a folder, vae.py is the shallowest regular file of that name (two at the same depth are
   ambiguous: nothing is graded, and the note names them). Its notebook is the one beside it:
   vae.ipynb, or the only notebook there. Without a vae.py, the shallowest notebook is taken
   (vae.ipynb first; two others at the same depth are ambiguous). Without either, a lone .zip
   at the top is opened. Folders that archivers and editors add (`__MACOSX`, `.git`, caches,
   any hidden folder) are never searched.
3. A notebook whose graded cell (nbgrader grade_id config.NOTEBOOK_CODE_CELL) holds code of its
   own is graded as the notebook runs it (solutions/graded.py, which students have too: vae.py
   if the notebook imports it, the earlier cells' imports the cell uses, then the cell); a cell
   that only imports vae.py defers to it; a missing, doubled, retyped or unreadable cell is named
   in the note, and vae.py is graded if there is one. So is a cell whose code is larger than a
   vae.py may be or holds text that is not valid Unicode: what runs is exactly what was read.
4. A .zip is unpacked safely into a scratch folder (no absolute paths or `..`, links skipped,
   config's count, size and depth caps) and resolved as a folder; a name it marks as UTF-8
   that is not is named in the note.

Reading is careful: links are never followed (a link could point at the reference solution),
only regular files are read, and each kind of file has a size cap in autograder/config.py; a
file over its cap is refused with a message that says so, never cut. Whatever the hand-in holds,
resolve() returns a Code whose note is valid Unicode (a file name's bytes that are not UTF-8
shown as \xff): it never raises. Standard library, the results format, cleanup.py and graded.py only.
"""
from __future__ import annotations

import ast
import dataclasses
import io
import os
import stat
import tempfile
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from autograder import config
from autograder.cleanup import remove_tree
from autograder.grading.results import valid_text
from autograder.paths import homework_module
from autograder.sandbox.client import SANDBOX_MODULES

SUBMISSION_NAME = "vae.py"
NOTEBOOK_NAME = "vae.ipynb"
IGNORED_DIRS = frozenset({"__MACOSX", "__pycache__", "venv", "node_modules"})  # and every hidden folder
UNREADABLE = "the grader could not read it"  # the backstop's words (tests look for them)
HINT = ("Hand in assignment/vae.py (the file itself, or a folder or zip holding it), or your notebook "
        f"with your code in its cell '{config.NOTEBOOK_CODE_CELL}'.")


@dataclass(frozen=True)
class Code:
    """What resolve() found: the module to grade, a note for the student, the files it read."""

    source: bytes | None  # the module to grade as vae.py; None when there is nothing to grade
    note: str  # where the code came from, or why nothing is graded ("" for a plain vae.py)
    files: tuple[Path, ...] = ()  # what was read (grade-all compares their times with a grade's)
    modules: tuple[tuple[str, bytes], ...] = ()  # other .py files of the hand-in that the code imports


class HandInError(ValueError):
    """Nothing can be graded; the message says why, for the student."""


class NotebookError(ValueError):
    """The notebook's graded cell cannot be graded; the message says which cell and why."""


# --- Careful reading -----------------------------------------------------------------------------


def read_regular(path: Path, limit: int, what: str) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes (HandInError if not).

    A link is never followed (O_NOFOLLOW) and nothing but a regular file is read: a FIFO or a
    device would hang or never end (O_NONBLOCK keeps even the open from waiting).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        kind = "a symbolic link, which the grader does not follow" if os.path.islink(path) else error.strerror
        raise HandInError(f"{what} could not be read ({kind}).") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise HandInError(f"{what} is not a regular file, so the grader does not read it.")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise HandInError(f"{what} is {max(info.st_size, len(data)):,} bytes; the grader reads files up to "
                          f"{limit:,} bytes and did not cut it. Hand in your code alone, without data pasted "
                          "into it.")
    return data


def _walk(folder: Path) -> list[Path]:
    """The regular files under `folder`, links neither followed nor listed, at most HANDIN_MAX_FILES entries."""
    found, seen, pending = [], 0, [folder]
    while pending:
        try:
            entries = sorted(os.scandir(pending.pop()), key=lambda e: e.name)
        except OSError:
            continue  # an unreadable folder holds nothing we can grade
        for item in entries:
            seen += 1
            if seen > config.HANDIN_MAX_FILES:
                raise HandInError(f"What you handed in holds more than {config.HANDIN_MAX_FILES:,} files and "
                                  f"folders; the grader stopped looking. {HINT}")
            if item.is_dir(follow_symlinks=False):
                if item.name not in IGNORED_DIRS and not item.name.startswith("."):
                    pending.append(Path(item.path))
            elif item.is_file(follow_symlinks=False):
                found.append(Path(item.path))
    return found


def _depth(path: Path, folder: Path) -> int:
    return len(path.relative_to(folder).parts)


def _shallowest(paths: list[Path], folder: Path, preferred: str, what: str) -> Path | None:
    """The shallowest of `paths`: the one named `preferred` there, else the only one (HandInError if several)."""
    if not paths:
        return None
    depth = min(_depth(p, folder) for p in paths)
    best = [p for p in paths if _depth(p, folder) == depth]
    named = [p for p in best if p.name == preferred]
    if len(named) == 1 or len(best) == 1:
        return (named or best)[0]
    names = ", ".join(sorted(str(p.relative_to(folder)) for p in (named or best))[:10])
    raise HandInError(f"Nothing was graded: what you handed in holds {len(named or best)} {what} files at the same "
                      f"depth ({names}). Hand in exactly one.")


def describe(files: list[Path], folder: Path, limit: int = 10) -> str:
    """A short list of the files found, for a message that says what was handed in instead."""
    names = sorted(str(p.relative_to(folder)) for p in files)
    if not names:
        return "nothing (an empty upload)"
    shown = ", ".join(name[:100] for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# --- Notebooks: solutions/graded.py (the students' copy says the same) owns the rules -------------------

RULES = homework_module("graded")


def graded_cell(text: bytes | str, name: str = NOTEBOOK_NAME) -> tuple[str, list[str]]:
    """The notebook's graded cell and the code cells before it (NotebookError naming what is wrong)."""
    try:
        return RULES.code_cells(text, name)
    except ValueError as error:
        raise NotebookError(str(error)) from None


def module_source(text: bytes | str, name: str = NOTEBOOK_NAME, vae_py: str | None = None) -> Any:
    """What the notebook runs (graded.Graded: one module, a note saying what it is made of, whether
    vae.py is part of it); None when its graded cell only imports vae.py (graded as it is)."""
    cell, earlier = graded_cell(text, name)
    if RULES.only_imports_vae(cell):
        return None
    try:
        return RULES.compose(cell, earlier, vae_py, name)
    except ValueError as error:
        raise NotebookError(str(error)) from None


# --- Resolving -------------------------------------------------------------------------------------------


def _encoded(source: str, name: str) -> bytes:
    """The graded cell's code as the bytes that run (NotebookError if they cannot be, whole)."""
    cell = f"The graded cell '{config.NOTEBOOK_CODE_CELL}' of {name}"
    try:
        code = source.encode()
    except UnicodeEncodeError as error:
        raise NotebookError(f"{cell} holds text that is not valid Unicode (a lone surrogate, "
                            f"\\u{ord(source[error.start]):04x}, at character {error.start:,}): save the notebook "
                            "again with Jupyter.") from None
    if len(code) > config.SUBMISSION_MAX_BYTES:
        raise NotebookError(f"{cell} holds {len(code):,} bytes of code; the grader runs code of up to "
                            f"{config.SUBMISSION_MAX_BYTES:,} bytes and did not cut it. Keep your code alone in "
                            "that cell, without data pasted into it.")
    return code


def _imported(source: bytes) -> set[str]:
    """The top-level names of the modules `source` imports, anywhere in it (none if it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()  # grading shows the error
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def with_modules(code: Code, folder: Path) -> Code:
    """`code` with the .py files beside it in `folder` that it imports, and those they import: a
    notebook imports them from its folder, and so does the grader's sandbox. The sandbox's own
    modules (the grader's copy of common.py, say) are never replaced by a file of the hand-in."""
    modules, size, pending = {}, len(code.source), [code.source]
    while pending:
        for name in sorted(_imported(pending.pop()) - set(modules) - SANDBOX_MODULES):
            path = folder / f"{name}.py"
            if not name.isidentifier() or not path.is_file() or path.is_symlink():
                continue  # a library, or nothing the hand-in holds
            modules[name] = read_regular(path, config.SUBMISSION_MAX_BYTES, path.name)
            size += len(modules[name])
            if size > config.SUBMISSION_MAX_BYTES:
                raise HandInError(f"The code graded and the files it imports ({', '.join(f'{m}.py' for m in modules)}) "
                                  f"hold more than {config.SUBMISSION_MAX_BYTES:,} bytes together; the grader did not "
                                  "cut them. Hand in your code alone, without data pasted into it.")
            pending.append(modules[name])
    files = tuple(folder / f"{name}.py" for name in modules)
    note = " ".join(filter(None, [code.note, f"Graded with the files it imports: {', '.join(f.name for f in files)}."
                                  if files else ""]))
    return dataclasses.replace(code, note=note, files=code.files + files, modules=tuple(modules.items()))


def _python(path: Path, name: str, note: str = "", also: tuple[Path, ...] = ()) -> Code:
    code = Code(read_regular(path, config.SUBMISSION_MAX_BYTES, name), note, (path, *also))
    return with_modules(code, path.parent)


def _vae_py_text(vae_py: Path | None, name: str) -> str | None:
    """vae.py's text, for a notebook that imports it (HandInError if it cannot be read as code)."""
    if vae_py is None:
        return None
    try:
        return read_regular(vae_py, config.SUBMISSION_MAX_BYTES, name).decode()
    except UnicodeDecodeError:
        raise HandInError(f"{name} is not valid UTF-8 text, so the notebook's code cannot run over it: save it "
                          "again as UTF-8.") from None


def _notebook(notebook: Path, name: str, vae_py: Path | None, vae_py_name: str) -> Code:
    """What the notebook runs (solutions/graded.py), or vae.py's code when the notebook only imports
    it or cannot be graded."""
    try:
        text = read_regular(notebook, config.NOTEBOOK_MAX_BYTES, name)
        composed = module_source(text, name, _vae_py_text(vae_py, vae_py_name))
        code = None if composed is None else _encoded(composed.source, name)
    except (NotebookError, HandInError) as error:
        if vae_py is None:
            raise HandInError(str(error)) from None
        return _python(vae_py, vae_py_name, f"{error} {vae_py_name} was graded instead.", (notebook,))
    if composed is None:
        if vae_py is None:
            raise HandInError(f"The graded cell '{config.NOTEBOOK_CODE_CELL}' of {name} imports vae.py, but no vae.py "
                              "was handed in beside it: hand in vae.py too, or write your code in that cell.")
        return _python(vae_py, vae_py_name, also=(notebook,))
    read = (notebook, vae_py) if composed.uses_vae_py else (notebook,)
    return with_modules(Code(code, composed.note, read), notebook.parent)


def _folder(folder: Path, zips: bool = True) -> Code:
    files = _walk(folder)
    vae_py = _shallowest([f for f in files if f.name == SUBMISSION_NAME], folder, SUBMISSION_NAME, SUBMISSION_NAME)
    notebooks = [f for f in files if f.suffix.lower() == ".ipynb"]
    if vae_py is not None:
        beside = [f for f in notebooks if f.parent == vae_py.parent]
        named = [f for f in beside if f.name == NOTEBOOK_NAME]
        notebook = (named or beside)[0] if len(named or beside) == 1 else None
    else:
        notebook = _shallowest(notebooks, folder, NOTEBOOK_NAME, "notebook")
    vae_py_name = str(vae_py.relative_to(folder)) if vae_py else SUBMISSION_NAME
    if notebook is not None:
        return _notebook(notebook, str(notebook.relative_to(folder)), vae_py, vae_py_name)
    if vae_py is not None:
        return _python(vae_py, vae_py_name)
    archives = [f for f in files if f.parent == folder and f.suffix.lower() == ".zip"]
    if zips and len(archives) == 1:
        return _zip(archives[0], archives[0].name)
    raise HandInError(f"No vae.py was found in what you handed in; it held {describe(files, folder)}. {HINT}")


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """A zip member's path as folder names, or None if it could land outside the folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return None
    return tuple(part for part in path.parts if part not in ("", "."))


def _unpack(archive: zipfile.ZipFile, into: Path, name: str) -> None:
    """Unpack `archive`'s regular files and folders into `into`, within config's caps."""
    members = archive.infolist()
    if len(members) > config.HANDIN_MAX_FILES:
        raise HandInError(f"{name} holds {len(members):,} entries; the grader opens zips of up to "
                          f"{config.HANDIN_MAX_FILES:,}. {HINT}")
    budget = config.HANDIN_MAX_BYTES
    for member in members:
        parts = _safe_parts(member.filename)
        if parts is None:
            raise HandInError(f"{name} holds a path that leads outside it ({member.filename[:100]!r}), so it was "
                              f"not opened. {HINT}")
        if len(parts) > config.HANDIN_MAX_DEPTH:
            raise HandInError(f"{name} holds a path {len(parts):,} folders deep ({member.filename[:100]!r}...); the "
                              f"grader opens zips up to {config.HANDIN_MAX_DEPTH} deep. {HINT}")
        kind = stat.S_IFMT(member.external_attr >> 16)  # 0 when the zip holds no Unix file type
        if not parts or kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            continue  # links and other special entries are never unpacked
        target = into.joinpath(*parts)
        if member.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source, open(target, "xb") as sink:
            while chunk := source.read(min(1 << 20, budget + 1)):
                budget -= len(chunk)
                if budget < 0:
                    raise HandInError(f"{name} unpacks to more than {config.HANDIN_MAX_BYTES:,} bytes; the grader "
                                      f"did not open it. {HINT}")
                sink.write(chunk)


def _zip(path: Path, name: str) -> Code:
    data = read_regular(path, config.HANDIN_MAX_BYTES, name)
    scratch = tempfile.mkdtemp(prefix="vae-handin-")
    try:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                _unpack(archive, Path(scratch), name)
        except UnicodeDecodeError:
            raise HandInError(f"{name} marks a file name as UTF-8 that is not valid UTF-8, so it was not opened: "
                              f"make the zip again with another tool. {HINT}") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as error:
            reason = getattr(error, "strerror", None) or type(error).__name__
            raise HandInError(f"{name} could not be unpacked ({reason}): make the zip again. {HINT}") from None
        code = _folder(Path(scratch), zips=False)  # no zip inside a zip
    finally:
        remove_tree(Path(scratch))
    return Code(code.source, code.note, (path,), code.modules)


def _resolve(handin: Path) -> Code:
    name = handin.name or str(handin)
    try:
        info = os.lstat(handin)
    except OSError:
        raise HandInError(f"Nothing was handed in: {name} does not exist.") from None
    if stat.S_ISLNK(info.st_mode):
        raise HandInError(f"{name} is a symbolic link, which the grader does not follow: hand in the file itself.")
    if stat.S_ISDIR(info.st_mode):
        return _folder(handin)
    suffix = handin.suffix.lower()
    if suffix == ".zip":
        return _zip(handin, name)
    if suffix == ".ipynb":
        beside = handin.parent / SUBMISSION_NAME
        return _notebook(handin, name, beside if beside.is_file() and not beside.is_symlink() else None,
                         SUBMISSION_NAME)
    if suffix == ".py":
        return _python(handin, name)
    raise HandInError(f"{name} is not something the grader reads (a .py file, a notebook, a zip or a folder). {HINT}")


# CPython 3.11's ast.parse is not thread-safe: two threads parsing at once (grade-all examines
# hand-ins in its job threads) can fail with "SystemError: AST constructor recursion depth
# mismatch" when a garbage collection switches threads mid-parse. One resolve at a time.
_PARSING = threading.Lock()


def resolve(handin: Path) -> Code:
    """The code to grade in what the student handed in, and a note for them (see the module docstring).

    It never raises: a hand-in that cannot be read is graded 0 with a note that says why (the last
    clause is a backstop for what the rules above missed; tests/grading/test_robust_handin.py finds none).
    """
    try:
        with _PARSING:
            code = _resolve(handin)
    except HandInError as error:
        code = Code(None, str(error))
    except Exception as error:  # noqa: BLE001 - whatever the hand-in holds, grading goes on
        code = Code(None, f"What you handed in could not be read ({UNREADABLE}: {type(error).__name__}). {HINT}")
    return dataclasses.replace(code, note=valid_text(code.note))
