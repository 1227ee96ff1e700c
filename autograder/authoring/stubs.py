"""Turn solution regions into student stubs.

A solution region is the lines between `### BEGIN SOLUTION` and `### END SOLUTION` (markers
included). Each becomes, at the marker's indentation:

    # YOUR CODE HERE
    raise NotImplementedError("VAE.encode is not implemented yet: ...")

naming the function (or method) that holds the region. Unclosed, nested or stray markers are
errors that name the file and line: a mistake in the solution must never ship answers.
"""
from __future__ import annotations

import re
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)")
_CLASS = re.compile(r"^(\s*)class\s+(\w+)")


class MarkerError(ValueError):
    """The solution's markers are malformed."""


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


def stub_source(text: str, filename: str = "<source>") -> str:
    """The student version of one Python source: each solution region replaced by a stub."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    begin_line: int | None = None
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker == BEGIN:
            if begin_line is not None:
                raise MarkerError(f"{filename}:{number}: nested {BEGIN} (the one on line {begin_line} is still open)")
            begin_line = number
            indent = line[: len(line) - len(line.lstrip())]
            ending = line[len(line.rstrip("\r\n")):] or "\n"
            name = enclosing_name(lines, number - 1, filename)
            out.append(f"{indent}# YOUR CODE HERE{ending}")
            out.append(
                f'{indent}raise NotImplementedError("{name} is not implemented yet: '
                f'write it, following its docstring"){ending}'
            )
        elif marker == END:
            if begin_line is None:
                raise MarkerError(f"{filename}:{number}: {END} without a {BEGIN} before it")
            begin_line = None
        elif BEGIN in line or END in line:
            raise MarkerError(f"{filename}:{number}: a marker must stand alone on its line")
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise MarkerError(f"{filename}:{begin_line}: {BEGIN} is never closed")
    return "".join(out)


def stub_file(source: Path, target: Path) -> None:
    target.write_text(stub_source(source.read_text(), filename=str(source)))
