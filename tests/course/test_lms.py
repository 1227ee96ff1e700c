"""Grades where the school keeps them (issue 19, section 6): the gradebook as Canvas's or Moodle's CSV.

The gradebook is written as make grade-all writes it and, where a test says so, merged with
hand-graded points by grade_all.merge_hand_points (auto + manual = total); the roster is GitHub
Classroom's CSV (tests/course/test_roster.py). Hypothesis writes identifiers of any text, formulas
included, and totals, and reads the export back.
"""
from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder import config
from autograder.course import lms, roster
from autograder.course.grade_all import merge_hand_points
from autograder.course.gradebook import FORMULA_START, unquoted
from autograder.course.manual import questions

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ROSTER = ("identifier,github_username,github_id,name\n"
          "s1001,alice,1,Alice\ns1002,BOB,2,Bob\ns1003,,,Carol\ns1004,dave,4,Dave\n")


def gradebook(folder: Path, auto: dict[str, object], extra: dict[str, str] | None = None) -> Path:
    """gradebook.csv as grade-all writes it: student, total (the autograded points), the rubric, error."""
    path = folder / "gradebook.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "total", *config.RUBRIC, "workflow", "flags", "causes", "error"])
        for name, total in auto.items():
            writer.writerow([name, total, *(0.0 for _ in config.RUBRIC), "", "", "", (extra or {}).get(name, "")])
    return path


def hand_points(gradebook_path: Path, points: dict[str, list[float]]) -> None:
    """Merge hand-graded points (one number per question, in the notebook's order) into the gradebook."""
    path = gradebook_path.with_name("manual.csv")
    lines = [",".join(["student", *(q.header for q in questions()), "comment"])]
    lines += [",".join([name, *map(str, marks), ""]) for name, marks in points.items()]
    path.write_text("\n".join(lines) + "\n")
    assert merge_hand_points(gradebook_path, path) == []


def export(tmp_path: Path, book: Path, roster_text: str = ROSTER, *options: str) -> tuple[int, list[list[str]], str]:
    """Run the CLI: (exit status, the CSV's rows, stdout)."""
    (tmp_path / "roster.csv").write_text(roster_text, encoding="utf-8")
    out = tmp_path / "lms.csv"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = lms.main(["--gradebook", str(book), "--roster", str(tmp_path / "roster.csv"), "--out", str(out),
                         *options])
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8"), newline=""))) if out.exists() else []
    return code, rows, stdout.getvalue()


def test_canvas_export_has_the_total_with_hand_graded_points_and_an_empty_cell_for_no_grade(tmp_path):
    book = gradebook(tmp_path, {"alice": 90.0, "bob": 40.5, "stranger": 70.0})
    first = questions()[0]
    hand_points(book, {"alice": [q.points for q in questions()], "bob": [first.points]})
    merged = {row["student"]: row for row in csv.DictReader(open(book, newline=""))}
    code, rows, out = export(tmp_path, book)
    assert code == 0
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "VAE homework"]
    assert rows[1] == ["    Points Possible", "", "", "", "", f"{float(merged['alice']['total_max']):g}"]
    alice_total = 90.0 + sum(q.points for q in questions())
    assert rows[2:] == [["s1001", "", "s1001", "", "", f"{alice_total:g}"],
                        ["s1002", "", "s1002", "", "", f"{40.5 + first.points:g}"],  # BOB on the roster is bob
                        ["s1003", "", "s1003", "", "", ""],  # no GitHub account linked
                        ["s1004", "", "s1004", "", "", ""]]  # nothing graded
    assert "no grade: s1003 (no GitHub account linked)" in out
    assert "no grade: s1004 (nothing graded for dave)" in out
    assert "not on the roster, not exported: stranger" in out and "stranger" not in str(rows)
    assert "check: s1002 (bob): incomplete: not graded yet" in out, "a partial total is exported and listed"


def test_without_hand_graded_points_the_total_is_the_autograded_points(tmp_path):
    code, rows, _ = export(tmp_path, gradebook(tmp_path, {"alice": 77.25}))
    assert code == 0 and rows[2][-1] == "77.25"


def test_moodle_export_is_identifier_then_the_grade_item(tmp_path):
    code, rows, _ = export(tmp_path, gradebook(tmp_path, {"alice": 77.0}), ROSTER, "--format", "moodle",
                           "--assignment", "Homework 3")
    assert code == 0 and rows == [["identifier", "Homework 3"], ["s1001", "77"], ["s1002", ""], ["s1003", ""],
                                  ["s1004", ""]]


def test_canvas_assignment_id_and_login_id_key(tmp_path):
    code, rows, _ = export(tmp_path, gradebook(tmp_path, {"alice": 77.0}), ROSTER, "--assignment", "VAE",
                           "--assignment-id", "4242", "--key", "sis-login-id")
    assert rows[0][-1] == "VAE (4242)" and rows[2] == ["s1001", "", "", "s1001", "", "77"]


def test_a_graders_error_is_exported_as_the_gradebook_says_and_listed(tmp_path):
    book = gradebook(tmp_path, {"alice": 0}, extra={"alice": "the grader took longer than 900 s"})
    code, rows, out = export(tmp_path, book)
    assert rows[2][-1] == "0" and "check: s1001 (alice): the grader reported: the grader took longer" in out


def test_a_bad_total_costs_only_its_student(tmp_path):
    book = gradebook(tmp_path, {"alice": "n/a", "bob": 50})
    code, rows, out = export(tmp_path, book)
    assert code == 0 and rows[2][-1] == "" and rows[3][-1] == "50"
    assert f"check: {book}:2: total 'n/a' of 'alice' is not a number: row left out" in out


def test_bad_roster_rows_are_listed_and_the_rest_exported(tmp_path):
    code, rows, out = export(tmp_path, gradebook(tmp_path, {"alice": 60}), ROSTER + "s1001,zed,,\n,eve,,\n")
    assert code == 0 and [row[0] for row in rows[2:]] == ["s1001", "s1002", "s1003", "s1004"]
    assert f"{tmp_path / 'roster.csv'}:6: duplicate identifier" in out and ":7: empty identifier" in out


@pytest.mark.parametrize("gradebook_text, roster_text, expected", [
    ("name,points\nalice,3\n", ROSTER, "no column 'student', 'total'"),
    ("student,total\nalice,3\n", "login\nalice\n", "column 'identifier' missing"),
])
def test_a_file_that_is_no_gradebook_or_roster_stops_with_one_line(tmp_path, capsys, gradebook_text, roster_text,
                                                                   expected):
    book = tmp_path / "gradebook.csv"
    book.write_text(gradebook_text)
    code, rows, _ = export(tmp_path, book, roster_text)
    error = capsys.readouterr().err
    assert code == 2 and rows == [] and expected in error and error.count("\n") == 1


# --- Student text in a spreadsheet ------------------------------------------------------------------

identifiers = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=15).filter(
    lambda text: text.strip() == text and text)
formulas = st.builds(lambda start, rest: start + rest, st.sampled_from(["=", "+", "-", "@"]),
                     st.sampled_from(["1+1", "HYPERLINK(\"http://x\")", "cmd|' /C calc'!A0", ""]))


@EXAMPLES
@given(people=st.lists(st.tuples(st.one_of(identifiers, formulas), st.floats(0, 110).map(lambda x: round(x, 2))),
                       min_size=1, max_size=8, unique_by=lambda p: p[0]),
       fmt=st.sampled_from(lms.FORMATS))
def test_no_cell_starts_a_formula_and_identifiers_and_totals_read_back(tmp_path, people, fmt):
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["identifier", "github_username"])
    for number, (identifier, _) in enumerate(people):
        writer.writerow([identifier, f"user{number}"])
    book = gradebook(tmp_path, {f"user{number}": total for number, (_, total) in enumerate(people)})
    code, rows, _ = export(tmp_path, book, out.getvalue(), "--format", fmt)
    read = roster.read(tmp_path / "roster.csv")
    assert code == 0 and len(rows) == len(read.students) + (2 if fmt == "canvas" else 1)
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_START), cell
    exported = {unquoted(row[0]): row[-1] for row in rows[(2 if fmt == "canvas" else 1):]}  # as written, read back
    totals = dict(people)
    for student in read.students:
        assert float(exported[student.identifier]) == totals[student.identifier]
