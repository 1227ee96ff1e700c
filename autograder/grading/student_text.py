"""Student text in what the course writes: the one owner of how it is shown.

Text a student controls (an exception message, what the submission printed, a file, folder or
repository name, notebook text) reaches pages the course writes under its own name: the commit
comment and the commit status that `grade-class` posts, the CI job summary, the class reports,
Gradescope's results. There it shows as the student's text, never as the course's Markdown or
HTML: no link, image, emphasis, heading, table cell or mention of its own. Per place:

- `cell(text)` in a table, `literal(text)` in a line: a code span whose backtick fence is longer
  than any backtick run in the text. Nothing inside a code span is Markdown, HTML, an entity or
  an autolink (GFM links `www.`, `http://` and e-mail addresses even in plain text), and GitHub
  makes no @mention or issue link there. In a table each `|` is escaped: GFM splits the cells
  before it reads the code span, and takes `\\|` for a `|`. (The other recipe, a backslash before
  every punctuation character, loses to GFM's e-mail autolinks: `a\\@b\\.c` is still a link.)
- `block(text)`: several lines (what the grader says of a hand-in), a fenced code block whose
  fence is longer than any backtick run in the text.
- `line(text, limit)`: one line of plain text, for the commit status's description (GitHub
  shows it as text, at most 140 characters).
- `ours(text)`: the course's own Markdown (a cause's meaning) in a table cell: pipes escaped.
- `GRADESCOPE`: results.json's string formats: Gradescope shows every string as plain text
  (its other formats, html, simple_format, md and ansi, would let a student's markup through).

Each makes its text printable first: control characters (but a block's line breaks and tabs) as
spaces, lone surrogates (not characters, and not writable as UTF-8) as U+FFFD.
Standard library only: the CI report imports it before the grader's environment exists.
"""
from __future__ import annotations

import re

GRADESCOPE = {"output_format": "text", "test_output_format": "text", "test_name_format": "text"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # all but tab and line feed
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BACKTICKS = re.compile(r"`+")


def printable(text: object) -> str:
    """`text` with its line breaks as `\\n`, other control characters as spaces, no lone surrogate."""
    text = _SURROGATE.sub("\ufffd", str(text)).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(" ", text)


def line(text: object, limit: int | None = None) -> str:
    """One line of plain text: runs of white space as one space; longer than `limit`, cut with "…"."""
    flat = " ".join(printable(text).split())
    return flat if limit is None or len(flat) <= limit else flat[:limit - 1] + "…"


def _fence(text: str, shortest: int) -> str:
    return "`" * max(shortest, 1 + max((len(run) for run in _BACKTICKS.findall(text)), default=0))


def literal(text: object, limit: int | None = None) -> str:
    """`text` as a code span on one line ("" for no text): shown exactly, read as nothing else."""
    flat = line(text, limit)
    if not flat:
        return ""
    fence = _fence(flat, 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""  # one space each side is dropped
    return f"{fence}{pad}{flat}{pad}{fence}"


def _pipes_escaped(flat: str) -> str:
    """One line for a table cell: GFM splits a row at every `|` before it reads anything else, and
    reads `\\|` as `|` (in a code span too)."""
    return flat.replace("|", "\\|")


def cell(text: object, limit: int | None = None) -> str:
    """`literal(text)` in a table cell: its pipes escaped."""
    return literal(_pipes_escaped(line(text, limit)))


def block(text: object) -> str:
    """`text` as a fenced code block ("" for no text): every line shown exactly, no Markdown."""
    body = printable(text).strip("\n").rstrip()
    if not body.strip():
        return ""
    fence = _fence(body, 3)
    return f"{fence}\n{body}\n{fence}"


def ours(text: object) -> str:
    """The course's own Markdown in one table cell: one printable line (as `line`), pipes escaped."""
    return _pipes_escaped(line(text))
