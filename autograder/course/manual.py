"""Hand-graded points: the notebook's questions, graded by a person, into the gradebook.

    python -m autograder.course.manual template [--gradebook G] [--out POINTS] [--force]
    python -m autograder.course.manual merge [--gradebook G] [--points POINTS]

The questions and their points live once, in the nbgrader metadata of the solution notebook
(solutions/vae.ipynb): each cell that nbgrader grades by hand (`grade` with `solution`, or a
`task`) is a question, its `grade_id` names it and its `points` are its maximum. Nothing else
holds those numbers.

1. `template` writes POINTS (default: manual.csv beside the gradebook), a CSV with one row per
   student of the gradebook and one column per question, headed `<grade_id> (max <points>)`,
   then a free `comment` column; every cell blank. It never overwrites a file (`--force` does).
2. A person fills in the points (a spreadsheet is fine: Excel's UTF-8 export with its BOM and
   CRLF, or its `;`-separated export with decimal commas, reads as well). A blank cell is a
   question not graded yet, never 0.
3. `merge` reads POINTS, checks every cell, and rewrites the gradebook with auto + manual =
   total per student (grade_all.merge_hand_points), then the class report beside it.
   `make grade-all` merges POINTS itself when it is there.

The check (`read`) is strict and never stops at a bad row: a student not in the gradebook, a
student's second row, a column that is no question (or whose maximum is not the notebook's), a
cell that is not a plain number (NaN, infinity, `1e3`, text), a negative number or one above the
question's maximum: each is a Problem naming the row and the column and saying what was
expected. A rejected row gives its student no hand-graded points at all (their gradebook row
says why); every other student keeps theirs.
"""
from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import gradebook as gradebook_format
from autograder.course.gradebook import COMPLETE, safe_cell
from autograder.grading import student_text
from autograder.paths import GRADE_ALL_OUT, SOLUTIONS

NOTEBOOK = SOLUTIONS / "vae.ipynb"
GRADEBOOK = GRADE_ALL_OUT / gradebook_format.FILE
POINTS_FILE = "manual.csv"  # the default, beside the gradebook
STUDENT, COMMENT = "student", "comment"  # the points file's other columns
POINTS_MAX_BYTES = 4 << 20  # a class of thousands with long comments fits many times over
SHOWN_CHARS = 40  # of a cell's text quoted in a problem
_HEADER = re.compile(r"\s*(?P<id>[^\s(]+)\s*(?:\(\s*max\s*(?P<max>[^)]*)\))?\s*")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")  # no exponent, no underscores, no words
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    """One hand-graded cell of the notebook: its nbgrader grade_id and its points (the maximum)."""

    grade_id: str
    points: float

    @property
    def header(self) -> str:
        """Its column in the points file and in the gradebook: `q1-answer (max 1)`."""
        return f"{self.grade_id} (max {self.points:g})"


@dataclass(frozen=True)
class Problem:
    """Something wrong in the points file: where (a row, a column, both, or the file) and what."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class Marks:
    """One student's hand-graded points, as the points file gives them."""

    points: dict[str, float] = field(default_factory=dict)  # grade_id -> points, the questions graded
    comment: str = ""
    problem: str = ""  # why the student's row was rejected (then `points` is empty)


@dataclass
class HandPoints:
    """What a points file says: each student's Marks (students of the gradebook only) and its problems."""

    marks: dict[str, Marks] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class PointsError(ValueError):
    """A cell that is not a number of points for its question (the message says what was expected)."""


# --- The questions ---------------------------------------------------------------------------------


@functools.cache
def questions(notebook: Path = NOTEBOOK) -> tuple[Question, ...]:
    """The notebook's hand-graded cells in their order: nbgrader grades by hand a cell marked
    `grade` and `solution` (a manually graded answer) or `task`; `points` is its maximum."""
    found = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("task") or (meta.get("grade") and meta.get("solution")):
            found.append(Question(meta["grade_id"], float(meta["points"])))
    return tuple(found)


def max_points(asked: Iterable[Question] | None = None) -> float:
    """The hand-graded points there are to earn."""
    return sum(q.points for q in (questions() if asked is None else asked))


def parse_header(text: str) -> tuple[str, str | None]:
    """A question column's header: (its grade_id, the maximum it states or None); ("", None) for
    a header that is no question's shape."""
    match = _HEADER.fullmatch(text or "")
    return (match["id"], match["max"]) if match else ("", None)


def parse_points(text: str, question: Question, decimal_comma: bool = False) -> float | None:
    """The points in one cell: None for a blank cell (not graded yet); a PointsError for anything
    but a plain number from 0 to the question's maximum."""
    value = (text or "").strip()
    if not value:
        return None
    if decimal_comma:
        value = value.replace(",", ".")
    expected = f"expected a number from 0 to {question.points:g}"
    if _NOT_FINITE.fullmatch(value):
        raise PointsError(f"{student_text.line(text, SHOWN_CHARS)!r} is not a finite number: {expected}")
    if not _NUMBER.fullmatch(value):
        raise PointsError(f"{student_text.line(text, SHOWN_CHARS)!r} is not a number: {expected} "
                          f"(a decimal point, no units, no formula)")
    points = float(value)
    if points < 0:
        raise PointsError(f"{points:g} is negative: {expected}")
    if points > question.points:
        raise PointsError(f"{points:g} is above the question's maximum: {expected}")
    return points + 0.0  # -0 as 0


def status(marks: Marks | None, asked: Iterable[Question] | None = None) -> str:
    """COMPLETE when every question has its points, else what is missing (the gradebook's total_status)."""
    if marks is None:
        return "incomplete: no hand-graded points yet"
    if marks.problem:
        return "incomplete: hand-graded points rejected (see manual_problem)"
    missing = [q.grade_id for q in (questions() if asked is None else asked) if q.grade_id not in marks.points]
    return f"incomplete: not graded yet: {', '.join(missing)}" if missing else COMPLETE


# --- Reading a points file ----------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """The file's text (UTF-8, a BOM dropped); a PointsError naming the line of a byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise PointsError(f"line {line} is not UTF-8: save the file as UTF-8 (Excel: CSV UTF-8)") from None


def _student_lookup(students: Iterable[str]) -> dict[str, str]:
    """How a points file may name each gradebook student: as they are, and, for a name the
    gradebook quoted with a leading ' (it looked like a formula), as the gradebook writes it."""
    lookup = {name: name for name in students}
    for name in list(lookup):
        lookup.setdefault(str(safe_cell(name)), name)
    return lookup


def read(path: Path, students: Iterable[str], asked: tuple[Question, ...] | None = None) -> HandPoints:
    """The hand-graded points of `path` for the gradebook's `students`; every problem found, none
    raised (a file that cannot be read at all is one problem, and no student has points)."""
    asked = questions() if asked is None else asked
    try:
        data = path.read_bytes()
        if len(data) > POINTS_MAX_BYTES:
            raise PointsError(f"is {len(data):,} bytes: expected at most {POINTS_MAX_BYTES:,}")
        text = _decode(data)
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except (OSError, PointsError, csv.Error) as error:
        return HandPoints(problems=[Problem(str(path), str(error))])
    return _read_rows(rows, _student_lookup(students), asked, decimal_comma=_delimiter(text) == ";")


def _delimiter(text: str) -> str:
    """`,`; `;` for a file whose header has semicolons and no comma (Excel's export in many locales)."""
    header = text.split("\n", 1)[0]
    return ";" if ";" in header and "," not in header else ","


def _columns(header: list[str], asked: tuple[Question, ...]) -> tuple[dict[int, Question], int | None,
                                                                          int | None, list[Problem]]:
    """From the header row: column -> question, the student and comment columns, the problems."""
    by_id = {q.grade_id: q for q in asked}
    names = [cell.strip() for cell in header]
    problems, found = [], {}
    for index, name in enumerate(names):
        where = f"row 1, column {index + 1} {student_text.line(name, SHOWN_CHARS)!r}"
        if name in (STUDENT, COMMENT, ""):
            if names.count(name) > 1 and name:
                problems.append(Problem(where, f"a second {name!r} column: expected one"))
            continue
        grade_id, stated = parse_header(name)
        question = by_id.get(grade_id)
        if question is None:
            problems.append(Problem(where, f"not a question: expected one of "
                                           f"{', '.join(q.header for q in asked)}, {STUDENT!r} or {COMMENT!r}"))
        elif stated is not None and _stated_max(stated) != question.points:
            problems.append(Problem(where, f"states a maximum of {stated.strip()!r}, but the notebook gives "
                                           f"{question.grade_id} {question.points:g} points: write "
                                           f"{question.header!r} (or make a new template) and check its points"))
        else:
            found[index] = question
    for question in asked:
        count = list(found.values()).count(question)
        if count != 1:
            problems.append(Problem("row 1", f"{count} columns for {question.header}: expected one; "
                                             "no student has its points"))
    student = names.index(STUDENT) if names.count(STUDENT) == 1 else None
    comment = names.index(COMMENT) if names.count(COMMENT) == 1 else None
    if student is None:
        problems.append(Problem("row 1", f"expected one column {STUDENT!r} (the gradebook's student names)"))
    single = [q for q in asked if list(found.values()).count(q) == 1]
    return {i: q for i, q in found.items() if q in single}, student, comment, problems


def _stated_max(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _read_rows(rows: list[list[str]], lookup: dict[str, str], asked: tuple[Question, ...],
               decimal_comma: bool) -> HandPoints:
    if not rows:
        return HandPoints(problems=[Problem("row 1", f"the file is empty: expected a header {STUDENT!r}, "
                                                     f"{', '.join(q.header for q in asked)}")])
    columns, student_column, comment_column, problems = _columns(rows[0], asked)
    hand = HandPoints(problems=problems)
    if student_column is None:
        return hand
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank row (spreadsheets leave some at the end)
        named = row[student_column].strip() if student_column < len(row) else ""
        student = lookup.get(named)
        where = f"row {number}"
        if student is None:
            hand.problems.append(Problem(where, f"student {student_text.line(named, SHOWN_CHARS)!r} is not in "
                                                "the gradebook: expected a name of its student column"
                                 if named else "no student named: expected a name of the gradebook"))
            continue
        if student in first_row:
            problem = f"student {student_text.line(student, SHOWN_CHARS)!r} has a second row (row {first_row[student]} is the first): " \
                      "expected one row per student; both rows are ignored"
            hand.problems.append(Problem(where, problem))
            hand.marks[student] = Marks(problem=f"row {number}: " + problem)
            continue
        first_row[student] = number
        hand.marks[student] = _marks(row, number, columns, comment_column, len(rows[0]), decimal_comma, hand.problems)
    return hand


def _marks(row: list[str], number: int, columns: dict[int, Question], comment_column: int | None, width: int,
           decimal_comma: bool, problems: list[Problem]) -> Marks:
    """One student's row: its Marks, or Marks with the first problem when any cell is wrong."""
    found = []
    if len(row) > width and any(cell.strip() for cell in row[width:]):
        found.append(Problem(f"row {number}", f"{len(row)} cells: expected at most {width}, one per header"))
    marks = Marks(comment=row[comment_column] if comment_column is not None and comment_column < len(row) else "")
    for index, question in columns.items():
        try:
            points = parse_points(row[index] if index < len(row) else "", question, decimal_comma)
        except PointsError as error:
            found.append(Problem(f"row {number}, column {question.header}", str(error)))
            continue
        if points is not None:
            marks.points[question.grade_id] = points
    if found:
        problems.extend(found)
        return Marks(problem="; ".join(map(str, found)) + " (the whole row is ignored)")
    return marks


def gradebook_points(row: Mapping[str, str], asked: tuple[Question, ...] | None = None) -> dict[str, float]:
    """A gradebook row's hand-graded points (grade_id -> points), as merge_hand_points wrote them;
    a cell edited into something that is not points for its question is left out."""
    found = {}
    for question in questions() if asked is None else asked:
        try:
            points = parse_points(row.get(question.header) or "", question)
        except PointsError:
            continue
        if points is not None:
            found[question.grade_id] = points
    return found


# --- The template --------------------------------------------------------------------------------


def gradebook_students(gradebook: Path) -> list[str]:
    """The students of a gradebook."""
    return [row.student for row in gradebook_format.rows(gradebook)]


def write_template(gradebook: Path, out: Path, force: bool = False) -> Path:
    """A blank points file for the gradebook's students; FileExistsError for an existing `out`
    (points a person entered) unless `force`."""
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists (it may hold points entered by hand): fill it in, or pass --force "
                              "to write a blank one over it")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([STUDENT, *(q.header for q in questions()), COMMENT])
        for student in gradebook_students(gradebook):
            writer.writerow([safe_cell(student), *("" for _ in questions()), ""])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    template = commands.add_parser("template", help="write a blank points file for the gradebook's students")
    merge = commands.add_parser("merge", help="add the points file's points to the gradebook and the report")
    for command in (template, merge):
        command.add_argument("--gradebook", type=Path, default=GRADEBOOK, help="grade-all's gradebook.csv")
    template.add_argument("--out", type=Path, help=f"the points file (default: {POINTS_FILE} beside the gradebook)")
    template.add_argument("--force", action="store_true", help="write over an existing points file")
    merge.add_argument("--points", type=Path, help=f"the points file (default: {POINTS_FILE} beside the gradebook)")
    args = parser.parse_args(argv)
    if not args.gradebook.is_file():
        print(f"manual: {args.gradebook} is not a file: run make grade-all first (it writes the gradebook)",
              file=sys.stderr)
        return 2
    points = (args.out if args.command == "template" else args.points) or args.gradebook.with_name(POINTS_FILE)
    if args.command == "template":
        try:
            write_template(args.gradebook, points, args.force)
        except FileExistsError as error:
            print(f"manual: {error}", file=sys.stderr)
            return 2
        print(f"manual: {points}: {len(gradebook_students(args.gradebook))} students, questions "
              f"{', '.join(q.header for q in questions())}; fill it in, then make manual-merge")
        return 0
    if not points.is_file():
        print(f"manual: {points} is not a file: make manual-template writes one to fill in", file=sys.stderr)
        return 2
    from autograder.course import class_report, grade_all  # grade_all imports this module

    try:
        problems = grade_all.merge_hand_points(args.gradebook, points)
    except (ValueError, OSError, csv.Error) as error:
        print(f"manual: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"manual: {points}, {student_text.line(problem)}", file=sys.stderr)
    print(f"manual: {summary(args.gradebook)}; class report {class_report.write_report(args.gradebook)}")
    return 1 if problems else 0


def summary(gradebook: Path) -> str:
    """One line on a merged gradebook: how many students have all their hand-graded points."""
    states = [row.status for row in gradebook_format.rows(gradebook)]
    done = sum(state == COMPLETE for state in states)
    return f"{gradebook}: {done} of {len(states)} students have all their hand-graded points"


if __name__ == "__main__":
    sys.exit(main())
