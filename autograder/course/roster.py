"""The class roster: GitHub Classroom's roster CSV, who is in the class and which login is whose.

GitHub Classroom exports a classroom's roster (Students, Download) as a CSV headed
`identifier,github_username,github_id,name`: `identifier` is the school's name for the student
(an e-mail, a student number: whatever the instructor typed in), `github_username` the GitHub
account the student linked to it, blank until they link one. `read(path)` reads that file:

- the columns in any order, their headers in any case; `identifier` and `github_username` are
  required, every other column (`github_id`, `name`, a spreadsheet's own) is ignored;
- a UTF-8 BOM (Excel's "CSV UTF-8"), CRLF line ends, quoted fields with commas or line breaks,
  blank lines and white space around a field are all fine.

A file that is no roster at all (no such file, not UTF-8 text, no header, a required column
missing) raises RosterError: nothing in it can be trusted. A bad row is not that: it is one line
in `Roster.problems` (file, line, what was wrong and what was expected) and is left out, and every
other student is kept, so that one typo costs one student, not the class. Bad rows: an empty
identifier, an identifier or a login (compared without case, as GitHub does) already on an
earlier row, a login GitHub would not accept.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from autograder.grading import student_text

IDENTIFIER, LOGIN = "identifier", "github_username"  # the two columns a roster must have
ROSTER_MAX_BYTES = 16 << 20  # tens of thousands of students fit many times over
SHOWN_CHARS = 60  # of a cell's text quoted in a problem
# GitHub's rule for a user name (its sign-up form): 1 to 39 characters, ASCII letters, digits and
# single hyphens, neither first nor last.
LOGIN_RULE = "1 to 39 letters, digits or single hyphens, not starting or ending with a hyphen"
_LOGIN = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}")


class RosterError(ValueError):
    """The file is not a roster at all (the message names the file and says what was expected)."""


@dataclass(frozen=True)
class Student:
    """One student on the roster: the school's identifier and the GitHub login ('' if not linked yet)."""

    identifier: str
    login: str


@dataclass
class Roster:
    """The students of a roster file, in its order, and one line per row that was left out."""

    students: list[Student] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def by_login(self) -> dict[str, Student]:
        """The linked students by lower-cased login (GitHub's logins ignore case: `Alice` is `alice`)."""
        return {student.login.lower(): student for student in self.students if student.login}

    def unlinked(self) -> list[Student]:
        """The students who have not linked a GitHub account yet (no repository can be theirs)."""
        return [student for student in self.students if not student.login]


def valid_login(login: str) -> bool:
    """Whether GitHub would accept `login` as a user name."""
    return _LOGIN.fullmatch(login) is not None


def read(path: Path | str) -> Roster:
    """The roster in `path`; a RosterError when the file is not a roster at all."""
    path = Path(path)
    rows = _rows(path)
    header_at, columns = _header(path, rows)
    roster = Roster()
    first_line: dict[str, int] = {}  # "id:<identifier>" or "login:<login>" -> the line it was first on
    for line, cells in rows[header_at + 1:]:
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue  # a blank line, or a spreadsheet's empty row
        identifier, login = (cells[columns[name]] if columns[name] < len(cells) else ""
                             for name in (IDENTIFIER, LOGIN))
        problem = _problem(identifier, login, first_line)
        if problem:
            roster.problems.append(f"{path}:{line}: {problem}: row left out")
            continue
        first_line[f"id:{identifier}"] = line
        if login:
            first_line[f"login:{login.lower()}"] = line
        roster.students.append(Student(identifier, login))
    return roster


def _problem(identifier: str, login: str, first_line: dict[str, int]) -> str:
    """What is wrong with one row ('' for nothing), given the lines that earlier rows took."""
    shown = {"identifier": student_text.line(identifier, SHOWN_CHARS), "login": student_text.line(login, SHOWN_CHARS)}
    if not identifier:
        return f"empty {IDENTIFIER} (login {shown['login']!r}): expected the student's identifier"
    if f"id:{identifier}" in first_line:
        return (f"duplicate {IDENTIFIER} {shown['identifier']!r} (first on line {first_line[f'id:{identifier}']}): "
                f"expected each student once")
    if login and not valid_login(login):
        return (f"{LOGIN} {shown['login']!r} of {shown['identifier']!r} is not a GitHub login: "
                f"expected {LOGIN_RULE}")
    if login and f"login:{login.lower()}" in first_line:
        return (f"duplicate {LOGIN} {shown['login']!r} of {shown['identifier']!r} "
                f"(first on line {first_line[f'login:{login.lower()}']}, logins ignore case): "
                f"expected each GitHub account linked to one student")
    return ""


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """The file's CSV rows, each with the line it starts on; a RosterError if it is not CSV text."""
    try:
        size = path.stat().st_size
        if size > ROSTER_MAX_BYTES:
            raise RosterError(f"{path}: is {size:,} bytes: expected a roster of at most {ROSTER_MAX_BYTES:,}")
        data = path.read_bytes()
    except OSError as error:
        raise RosterError(f"{path}: cannot be read ({error.strerror or error}): expected GitHub Classroom's "
                          f"roster CSV") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise RosterError(f"{path}:{line}: not UTF-8 text: expected a CSV file saved as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for cells in reader:
            rows.append((_start_line(reader.line_num, cells), cells))
    except csv.Error as error:
        raise RosterError(f"{path}:{reader.line_num}: not CSV ({error}): expected GitHub Classroom's roster CSV") from None
    return rows


def _start_line(end_line: int, cells: list[str]) -> int:
    """The line a row starts on: the csv reader gives the line it ends on, and a quoted field may
    hold line breaks."""
    return end_line - sum(cell.count("\n") + cell.count("\r") - cell.count("\r\n") for cell in cells)


def _header(path: Path, rows: list[tuple[int, list[str]]]) -> tuple[int, dict[str, int]]:
    """Where the header row is (the first that is not blank) and the position of each required column."""
    for at, (line, cells) in enumerate(rows):
        names = [cell.strip().lower() for cell in cells]
        if not any(names):
            continue
        columns = {}
        for name in (IDENTIFIER, LOGIN):
            if names.count(name) != 1:
                found = ", ".join(student_text.line(cell, SHOWN_CHARS) for cell in cells)
                how = "missing" if name not in names else "there twice"
                raise RosterError(f"{path}:{line}: column {name!r} {how} in the header ({found}): expected "
                                  f"GitHub Classroom's roster header, with {IDENTIFIER!r} and {LOGIN!r} once each")
            columns[name] = names.index(name)
        return at, columns
    raise RosterError(f"{path}: no header: expected GitHub Classroom's roster CSV, headed "
                      f"{IDENTIFIER},{LOGIN},github_id,name")
