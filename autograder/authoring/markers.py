"""The solution markers: the one module that knows them.

A solution region is the lines between `### BEGIN SOLUTION` and `### END SOLUTION` (markers
included), in a Python file of solutions/ or in a cell of its notebook. This module owns

- the markers and the stub text (`BEGIN`, `END`, `stub_message`, the notebook's stubs);
- reading them: `regions_in` a Python source, `check_notebook` for a notebook's cells. Unclosed,
  nested or stray markers, or one that shares its line, are a `MarkerError` naming file:line
  (or the cell): a mistake in the solution must never ship answers;
- the student version of a Python file (`stub_source`): each region becomes, at the marker's
  indentation,

      # YOUR CODE HERE
      raise NotImplementedError("VAE.encode is not implemented yet: write it, following its docstring")

  naming the function (or method) that holds it (notebooks go through nbgrader: notebook.py);
- the secrets: `solution_regions` gives each region's lines that must never leave the
  instructor's side, and `find_leaks` is the one check for them, used by the release audit and
  by every test that looks for leaks.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from autograder.paths import SOLUTIONS, homework_files

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
# What nbgrader itself looks for, anywhere in a line: a line that holds these words is a marker.
MARKER_WORDS = (BEGIN.lstrip("# "), END.lstrip("# "))
STUB_COMMENT = "# YOUR CODE HERE"
NOTEBOOK_CODE_STUB = f"{STUB_COMMENT}\nraise NotImplementedError()"  # nbgrader's code_stub
NOTEBOOK_TEXT_STUB = "YOUR ANSWER HERE"  # nbgrader's text_stub, for written answers
MIN_SECRET_CHARS = 8  # shorter solution lines (`)`, `pass`) say nothing
# Solution lines that the instructor decided students may see (e.g. an API call that the
# notebook's prose teaches). Empty: every solution line is a secret.
ALLOWED_IN_RELEASE: frozenset[str] = frozenset()

_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)")
_CLASS = re.compile(r"^(\s*)class\s+(\w+)")


class MarkerError(ValueError):
    """The solution's markers are malformed."""


@dataclass(frozen=True)
class Region:
    """One solution region: where it is and the lines of it that must stay secret."""

    source: Path  # as solution_regions was given it, e.g. solutions/vae.py
    function: str  # the function holding it (VAE.encode), or a notebook cell ("cell 14 (id 'q1-answer')")
    secret_lines: tuple[str, ...]


def stub_message(name: str) -> str:
    """What the stub of function `name` raises: the student's first hint."""
    return f"{name} is not implemented yet: write it, following its docstring"


def has_markers(text: str) -> bool:
    """Whether `text` holds marker words anywhere (a student file never should)."""
    return any(words in text for words in MARKER_WORDS)


# --- Reading the markers ---------------------------------------------------------------------


def _spans(lines: list[str], at: Callable[[int], str]) -> list[tuple[int, int]]:
    """(index of BEGIN, index of END) of each region of `lines`; `at(line number)` names a line."""
    spans: list[tuple[int, int]] = []
    begin: int | None = None
    for index, line in enumerate(lines):
        marker = line.strip()
        if marker == BEGIN:
            if begin is not None:
                raise MarkerError(f"{at(index + 1)}: nested {BEGIN} (the one on line {begin + 1} is still open)")
            begin = index
        elif marker == END:
            if begin is None:
                raise MarkerError(f"{at(index + 1)}: {END} without a {BEGIN} before it")
            spans.append((begin, index))
            begin = None
        elif has_markers(line):
            raise MarkerError(f"{at(index + 1)}: a marker must stand alone on its line "
                              f"(exactly {BEGIN!r} or {END!r})")
    if begin is not None:
        raise MarkerError(f"{at(begin + 1)}: {BEGIN} is never closed")
    return spans


def enclosing_name(lines: list[str], index: int, filename: str = "<source>") -> str:
    """Qualified name (`Class.method` or `function`) of the def that holds lines[index]."""
    indent = len(lines[index]) - len(lines[index].lstrip())
    names: list[str] = []
    for line in reversed(lines[:index]):
        match = _DEF.match(line) or _CLASS.match(line)
        if match and len(match.group(1)) < indent:
            names.append(match.group(2))
            indent = len(match.group(1))
    if not names:
        raise MarkerError(f"{filename}:{index + 1}: a solution region must sit inside a function")
    return ".".join(reversed(names))


def regions_in(text: str, filename: str = "<source>") -> list[tuple[str, int, int]]:
    """(function, index of BEGIN, index of END) of each region of a Python source."""
    lines = text.splitlines(keepends=True)
    return [(enclosing_name(lines, begin, filename), begin, end)
            for begin, end in _spans(lines, lambda number: f"{filename}:{number}")]


def cells(notebook: dict) -> list[tuple[str, str]]:
    """(label, source text) of each cell of a notebook: a cell's markers pair up within it."""
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        source = cell.get("source", "")
        found.append((f"cell {index} (id {cell.get('id', '?')!r})",
                      "".join(source) if isinstance(source, list) else source))
    return found


def check_notebook(notebook: dict, filename: str = "<notebook>") -> list[list[tuple[int, int]]]:
    """The spans of each cell's regions; MarkerError unless the markers are well formed and
    every region is in an nbgrader solution cell.

    nbgrader already rejects unclosed and nested regions; it silently drops a stray END and
    matches the marker words anywhere in a line. Checking first gives one clear message.
    """
    found = []
    for (label, text), cell in zip(cells(notebook), notebook.get("cells", [])):
        where = f"{filename}, {label}"
        spans = _spans(text.splitlines(), lambda number: f"{where}, line {number}")
        if spans and not cell.get("metadata", {}).get("nbgrader", {}).get("solution", False):
            raise MarkerError(f"{where}: a solution region in a cell that is not an nbgrader "
                              f"solution cell (set metadata.nbgrader.solution to true)")
        found.append(spans)
    return found


# --- The student version ---------------------------------------------------------------------


def stub_source(text: str, filename: str = "<source>") -> str:
    """The student version of one Python source: each solution region replaced by a stub."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    start = 0
    for name, begin, end in regions_in(text, filename):
        marker = lines[begin]
        indent = marker[: len(marker) - len(marker.lstrip())]
        ending = marker[len(marker.rstrip("\r\n")):] or "\n"
        out += lines[start:begin]
        out.append(f"{indent}{STUB_COMMENT}{ending}")
        out.append(f'{indent}raise NotImplementedError("{stub_message(name)}"){ending}')
        start = end + 1
    return "".join(out + lines[start:])


def stub_file(source: Path, target: Path) -> None:
    target.write_text(stub_source(source.read_text(), filename=str(source)))


def without_markers(text: str) -> str:
    """A solution as a student who wrote every region would hand it in: the marker lines removed."""
    return "".join(line for line in text.splitlines(keepends=True) if line.strip() not in (BEGIN, END))


# --- The secrets, and the one leak check ----------------------------------------------------


def _split(text: str, spans: list[tuple[int, int]]) -> tuple[list[str], list[list[str]]]:
    """(lines outside the regions, the stripped lines inside each region), markers dropped."""
    lines = text.splitlines()
    inside = {index for begin, end in spans for index in range(begin, end + 1)}
    return ([line for index, line in enumerate(lines) if index not in inside],
            [[line.strip() for line in lines[begin + 1:end]] for begin, end in spans])


def _read(path: Path) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(the lines of a solution file outside its regions, (where, lines) of each region)."""
    text = path.read_text()
    if path.suffix != ".ipynb":
        found = regions_in(text, str(path))
        outside, bodies = _split(text, [(begin, end) for _, begin, end in found])
        return outside, [(name, body) for (name, _, _), body in zip(found, bodies)]
    notebook = json.loads(text)
    outside, regions = [], []
    for (label, body), spans in zip(cells(notebook), check_notebook(notebook, str(path))):
        public, bodies = _split(body, spans)
        outside += public
        regions += [(label, lines) for lines in bodies]
    return outside, regions


def solution_regions(solutions: Path = SOLUTIONS) -> list[Region]:
    """Every solution region in `solutions`, with the lines of it that must not ship.

    A line of a Python region (the graded code) is secret unless its own file shows the same
    text outside the regions: the stub keeps `x = x.to(device)` of `evaluate` or a formula in a
    docstring anyway. Another file showing it is a leak: a notebook cell that spells out
    `train`'s loop gives `train` away. A line of a notebook region (a written answer, bonus
    code) is secret unless any solution file shows it outside the regions (a bonus model may
    repeat a public line of vae.py). Lines shorter than MIN_SECRET_CHARS or in
    ALLOWED_IN_RELEASE are never secret. A line with a trailing comment contributes its code
    part too.
    """
    read = {solutions / relative: _read(solutions / relative)
            for relative in homework_files(solutions, frozenset({".py", ".ipynb"}))}
    public = {path: "\n".join(outside) for path, (outside, _) in read.items()}
    everywhere = "\n".join(public.values())
    regions = []
    for path, (_, found) in read.items():
        shown = public[path] if path.suffix == ".py" else everywhere
        for where, body in found:
            secret = [piece for line in body for piece in (line, line.split("  #")[0].strip())
                      if len(piece) >= MIN_SECRET_CHARS and piece not in shown
                      and piece not in ALLOWED_IN_RELEASE]
            regions.append(Region(path.relative_to(solutions.parent), where, tuple(dict.fromkeys(secret))))
    return regions


def readable_text(path: Path) -> str:
    """A file's text as a leak check reads it: a notebook's cells are added joined, so that its
    code reads as plain lines (its JSON escapes quotes and newlines)."""
    text = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        text += "\n" + "\n".join(body for _, body in cells(json.loads(text)))
    return text


def find_leaks(text: str, regions: Iterable[Region]) -> list[tuple[Region, str]]:
    """(region, secret line) for each secret line of `regions` that `text` holds anywhere."""
    return [(region, line) for region in regions for line in region.secret_lines if line in text]
