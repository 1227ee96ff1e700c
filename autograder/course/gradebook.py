"""The gradebook (gradebook.csv): its one owner, for the modules that write it and every reader.

One row per student: `student`, `total` (the points of record), one column per rubric tag (the
points earned), `workflow` (a cloned repository's CI workflow: "", unchanged or modified),
`flags` (integrity flags for a person to look at) and `causes` (the cause codes of the failed
checks, autograder/grading/causes.py), each `;`-separated, `error` (why there is no grade), then
what produced the grade (provenance.COLUMNS) and the columns a writer adds (grade-class's late
policy, classroom.POLICY_COLUMNS). grade_all.merge_hand_points then adds the hand-graded points'
columns (SUMMARY after `student`, one per question, MANUAL_COMMENT, MANUAL_PROBLEM at the end).

A cell that a spreadsheet would read as a formula (text starting with =, +, -, @, a tab or a
carriage return: OWASP's CSV injection rule) is written with a leading apostrophe (safe_cell),
which every reader here takes off again (unquoted): a text written comes back as it was, one that
starts with apostrophes before a formula's first character included. Numbers are read with
results.finite: a cell edited into NaN or text is no number, never a crash.
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograder import config, files
from autograder.course import provenance
from autograder.grading import results as results_format

if TYPE_CHECKING:  # grade_all imports this module
    from autograder.course.grade_all import Outcome

FILE = "gradebook.csv"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula
QUOTE = "'"  # a spreadsheet shows a cell starting with it as text, without it
SEPARATOR = ";"  # between the flags, between the cause codes
STUDENT, TOTAL, WORKFLOW, FLAGS, CAUSES, ERROR = "student", "total", "workflow", "flags", "causes", "error"
# The columns grade_all.merge_hand_points adds, in this order, after `student` (autograder/course/manual.py):
# the autograded points and their maximum, the hand-graded ones, the total of both, and whether it is complete.
AUTO, AUTO_MAX, MANUAL, MANUAL_MAX, TOTAL_MAX, STATUS = (
    "auto", "auto_max", "manual", "manual_max", "total_max", "total_status")
SUMMARY = (AUTO, AUTO_MAX, MANUAL, MANUAL_MAX, TOTAL, TOTAL_MAX, STATUS)
MANUAL_COMMENT, MANUAL_PROBLEM = "manual_comment", "manual_problem"
COMPLETE = "complete"  # the STATUS of a total with every hand-graded question's points


def header(columns: Iterable[str] = ()) -> list[str]:
    """The columns write() writes, `columns` (a writer's own) last."""
    return [STUDENT, TOTAL, *config.RUBRIC, WORKFLOW, FLAGS, CAUSES, ERROR, *provenance.COLUMNS, *columns]


# --- Cells ------------------------------------------------------------------------------------------


def _formula_like(text: str) -> bool:
    """Whether `text`, its leading apostrophes aside, starts as a formula: safe_cell quotes it then,
    so that unquoted can tell a quote it added from an apostrophe of the text."""
    return text.lstrip(QUOTE).startswith(FORMULA_START)


def safe_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading '."""
    return f"{QUOTE}{value}" if isinstance(value, str) and _formula_like(value) else value


def unquoted(cell: str) -> str:
    """A cell as it was before safe_cell: the leading ' it added taken off."""
    return cell[1:] if cell.startswith(QUOTE) and _formula_like(cell[1:]) else cell


# --- Writing ----------------------------------------------------------------------------------------


def cells(outcome: Outcome, total: float, more: Iterable[object] = ()) -> list[object]:
    """One outcome's row as written: its total of record, the points per tag, then the rest; every
    text bounded (results.bounded_text) and safe for a spreadsheet."""
    results = outcome.results
    row = (outcome.student, total, *results_format.tag_points(results).values(), outcome.workflow,
           SEPARATOR.join(results_format.integrity_flags(results)), SEPARATOR.join(results_format.cause_codes(results)),
           outcome.error, *provenance.columns(outcome.provenance), *more)
    return [safe_cell(results_format.bounded_text(cell) if isinstance(cell, str) else cell) for cell in row]


def write(outcomes: Iterable[Outcome], path: Path, columns: tuple[str, ...] = (),
          of_record: Callable[[Outcome, float], tuple[float, list[object]]] | None = None) -> None:
    """Write the gradebook of `outcomes` at `path`, whole or not at all. `columns` and `of_record`
    (grade-class's late policy): more columns, and for each outcome and its points the total of
    record (after a late penalty) and those columns' cells."""
    rows: list[list[object]] = [header(columns)]
    for outcome in outcomes:
        total = round(results_format.score(outcome.results), 2) if outcome.results else 0
        total, more = of_record(outcome, total) if of_record else (total, [])
        rows.append(cells(outcome, total, more))
    files.write_rows(path, rows)


# --- Reading ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One student's row: its cells as written (`written`, in the header's order) and, by column,
    as they were before safe_cell (`cells`; a missing cell reads "")."""

    line: int  # the file's line the row ends on (csv's line_num), for messages
    written: tuple[str, ...]
    cells: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, column: str) -> str:
        return self.cells.get(column, "")

    @property
    def student(self) -> str:
        return self[STUDENT]

    @property
    def total(self) -> float | None:
        """The points of record; None when the cell is no finite number."""
        return results_format.finite(self[TOTAL])

    @property
    def error(self) -> str:
        return self[ERROR]

    @property
    def status(self) -> str:
        """Whether the total holds every hand-graded point (COMPLETE), or what it lacks; "" before
        merge_hand_points."""
        return self[STATUS]

    @property
    def problem(self) -> str:
        """Why the student's row of hand-graded points was rejected ("" when it was not)."""
        return self[MANUAL_PROBLEM]


@dataclass
class Gradebook:
    """A gradebook as read: its header and its rows (blank lines left out)."""

    header: list[str]
    rows: list[Row]

    def save(self, path: Path) -> None:
        """Write it back at `path`, whole or not at all: every cell as it was read."""
        files.write_rows(path, [self.header, *(list(row.written) for row in self.rows)])


def read(path: Path) -> Gradebook:
    """The gradebook at `path` (UTF-8, a BOM dropped); an empty file has no header and no rows.
    OSError, UnicodeDecodeError and csv.Error propagate: each reader says what they mean to it."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        head = next(reader, [])
        rows = [Row(reader.line_num, tuple(cells), {name: unquoted(cell) for name, cell in zip(head, cells)})
                for cells in reader if cells]
    return Gradebook(head, rows)


def rows(path: Path) -> list[Row]:
    """The rows of the gradebook at `path`."""
    return read(path).rows
