"""`make lms-export`: the class gradebook as a CSV that Canvas's or Moodle's gradebook imports.

    python -m autograder.course.lms --gradebook G --roster R --out FILE
        [--format canvas|moodle] [--assignment NAME] [--assignment-id ID] [--key sis-user-id|sis-login-id]

The grades come from the gradebook that `make grade-all` or `make grade-class` writes
(autograder/course/grade_all.py): its `student` column is the student's GitHub login, its
`total` the points of record: the autograded points, plus the hand-graded ones once
`make manual-merge` has added them (autograder/course/manual.py; its `total_status` says
whether every question is graded). The school's name for each student comes from the class
roster (autograder/course/roster.py: GitHub Classroom's `identifier`), matched on the login
without case. Nothing is added up here: the gradebook's total is the one number exported.

- canvas: Canvas's gradebook CSV: `Student, ID, SIS User ID, SIS Login ID, Section`, then one
  column for the assignment, headed `NAME (ID)` when `--assignment-id` names an existing
  Canvas assignment (without it Canvas creates a new one on import), and a `Points Possible`
  row first, as Canvas's own export has. The roster's identifier goes into the SIS column that
  `--key` names (Canvas matches students on it) and into `Student`, for the person checking
  the import's preview.
- moodle: Moodle's "Import grades from CSV file": an `identifier` column, then one column named
  for the assignment; on import, map the first to the user field the identifiers are
  (email address, ID number or username) and the second to the grade item.

Every student on the roster gets a row, in the roster's order; one without a grade (no
repository graded, or no GitHub account linked yet) gets an empty cell, never 0, and is listed
on stdout. A gradebook row whose login is not on the roster is listed and not exported; so is
a bad roster row (roster.read's problems). Identifiers are student text: a cell that a
spreadsheet would read as a formula (starting with =, +, -, @, a tab or a carriage return:
OWASP's CSV injection rule) gets a leading apostrophe (gradebook.safe_cell, as the gradebook).
"""
from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder import files
from autograder.course import gradebook, manual, roster as class_roster
from autograder.course.grade_all import DEFAULT_OUT
from autograder.course.gradebook import safe_cell
from autograder.grading import results, student_text

FORMATS = ("canvas", "moodle")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_KEYS = {"sis-user-id": "SIS User ID", "sis-login-id": "SIS Login ID"}
POINTS_POSSIBLE = "    Points Possible"  # the Student cell of the second row of Canvas's export, as it writes it
MOODLE_KEY = "identifier"
DEFAULT_ASSIGNMENT = "VAE homework"
GRADEBOOK = DEFAULT_OUT / gradebook.FILE
SHOWN_CHARS = 60


class ExportError(ValueError):
    """A gradebook that cannot be read at all (the message names the file and what was expected)."""


@dataclass(frozen=True)
class Grade:
    """One gradebook row: the student's points of record and what a person should know of them."""

    login: str
    total: float
    note: str = ""  # an incomplete total, or the grader's error: listed, still exported


@dataclass
class Export:
    """The CSV's rows and what the instructor must hear about before importing them."""

    rows: list[list[object]]
    ungraded: list[class_roster.Student] = field(default_factory=list)  # on the roster, no grade: empty cell
    not_on_roster: list[str] = field(default_factory=list)  # gradebook logins left out
    notes: list[str] = field(default_factory=list)  # one line each: problems and totals to check


def read_gradebook(path: Path) -> tuple[dict[str, Grade], list[str]]:
    """The gradebook's grades by lower-cased login, and one line per row left out (file, line, why)."""
    try:
        book = gradebook.read(path)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ExportError(f"{path}: cannot be read ({error}): expected the gradebook.csv that make grade-all "
                          "writes") from None
    missing = [name for name in (gradebook.STUDENT, gradebook.TOTAL) if name not in book.header]
    if missing:
        raise ExportError(f"{path}: no column {', '.join(map(repr, missing))}: expected the gradebook.csv "
                          f"that make grade-all or make grade-class writes")
    grades, problems = {}, []
    for row in book.rows:
        where = f"{path}:{row.line}"
        login, total = row.student.strip(), row.total
        if total is None:
            problems.append(f"{where}: total {student_text.line(row[gradebook.TOTAL], SHOWN_CHARS)!r} of "
                            f"{student_text.line(login, SHOWN_CHARS)!r} is not a number: row left out")
        elif login.lower() in grades:
            problems.append(f"{where}: {student_text.line(login, SHOWN_CHARS)!r} graded twice: "
                            "the first row is kept")
        elif login:
            grades[login.lower()] = Grade(login, total, _note(row))
    return grades, problems


def _note(row: gradebook.Row) -> str:
    """What a person should check before importing this row's total ("" when nothing)."""
    status, error = row.status.strip(), row.error.strip()
    if error:
        return f"the grader reported: {student_text.line(error, SHOWN_CHARS)}"
    return status if status and status != gradebook.COMPLETE else ""


def points_possible() -> float:
    """The homework's points: the rubric's (config.RUBRIC) and the hand-graded questions' (their
    nbgrader metadata), as merge_hand_points's total_max."""
    return results.RUBRIC_MAXIMUM + manual.max_points()


def export(grades: dict[str, Grade], roster: class_roster.Roster, fmt: str = "canvas",
           assignment: str = DEFAULT_ASSIGNMENT, assignment_id: str = "", key: str = "sis-user-id") -> Export:
    """The rows of the LMS's CSV: one per roster student, in its order, with the gradebook's total."""
    column = f"{assignment} ({assignment_id})" if assignment_id else assignment
    if fmt == "canvas":
        rows: list[list[object]] = [[*CANVAS_COLUMNS, safe_cell(column)]]
        rows.append([POINTS_POSSIBLE, "", "", "", "", f"{points_possible():g}"])
    else:
        rows = [[MOODLE_KEY, safe_cell(column)]]
    result = Export(rows, notes=list(roster.problems))
    linked = roster.by_login()
    for student in roster.students:
        grade = grades.get(student.login.lower()) if student.login else None
        points = f"{grade.total:g}" if grade else ""
        if grade is None:
            result.ungraded.append(student)
        elif grade.note:
            result.notes.append(f"{student_text.line(student.identifier, SHOWN_CHARS)} "
                                f"({grade.login}): {grade.note}")
        identifier = safe_cell(student.identifier)
        if fmt == "canvas":
            ids = {name: identifier if name == CANVAS_KEYS[key] else "" for name in CANVAS_COLUMNS[1:]}
            rows.append([identifier, *ids.values(), points])
        else:
            rows.append([identifier, points])
    result.not_on_roster = sorted(grade.login for login, grade in grades.items() if login not in linked)
    return result


def write(rows: list[list[object]], out: Path) -> None:
    """Write the CSV atomically: UTF-8, no BOM (both importers read plain UTF-8)."""
    files.write_rows(out, rows)


def report(result: Export, out: Path, fmt: str) -> list[str]:
    """What the instructor reads on stdout: the file, then every student to look at, one line each."""
    graded = len(result.rows) - (2 if fmt == "canvas" else 1) - len(result.ungraded)
    lines = [f"lms-export: wrote {out} ({fmt}): {graded} students with a grade, {len(result.ungraded)} "
             f"without (an empty cell, not 0)"]
    lines += [f"lms-export: no grade: {student_text.line(s.identifier, SHOWN_CHARS)} "
              f"({'no GitHub account linked' if not s.login else f'nothing graded for {s.login}'})"
              for s in result.ungraded]
    lines += [f"lms-export: not on the roster, not exported: {student_text.line(login, SHOWN_CHARS)}"
              for login in result.not_on_roster]
    lines += [f"lms-export: check: {student_text.line(note)}" for note in result.notes]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gradebook", type=Path, default=GRADEBOOK, help="gradebook.csv (make grade-all)")
    parser.add_argument("--roster", type=Path, required=True, help="GitHub Classroom's roster CSV")
    parser.add_argument("--out", type=Path, required=True, help="the CSV to import")
    parser.add_argument("--format", choices=FORMATS, default="canvas")
    parser.add_argument("--assignment", default=DEFAULT_ASSIGNMENT, help="the grade column's name")
    parser.add_argument("--assignment-id", default="", help="Canvas: the existing assignment's id")
    parser.add_argument("--key", choices=sorted(CANVAS_KEYS), default="sis-user-id",
                        help="Canvas: the SIS column the roster's identifiers are")
    args = parser.parse_args(argv)
    try:
        roster = class_roster.read(args.roster)
        grades, problems = read_gradebook(args.gradebook)
    except (class_roster.RosterError, ExportError) as error:
        print(f"lms-export: {student_text.line(error)}", file=sys.stderr)
        return 2
    result = export(grades, roster, args.format, args.assignment, args.assignment_id, args.key)
    result.notes[:0] = problems
    write(result.rows, args.out)
    print("\n".join(report(result, args.out, args.format)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
