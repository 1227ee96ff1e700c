"""Hand-graded points (issue 17, section 5): the notebook's questions reach the gradebook.

An instructor writes a blank points file (`manual template`), fills it in, and `manual merge`
(or `make grade-all`) adds the points to the gradebook: auto + manual = total per student. The
questions and their maxima are read from the solution notebook's nbgrader metadata, never
copied here. Every bad cell, row or column is a problem naming where it is; it costs only its
own student's hand-graded points. Hypothesis writes points files of any content.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import string
import sys
from pathlib import Path

import cmarkgfm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder import config
from autograder.course import class_report, manual
from autograder.course.grade_all import merge_hand_points
from autograder.course.manual import COMPLETE, questions
from autograder.paths import SOLUTIONS

AUTO = {"alice": 90.0, "bob": 42.5, "carol": 0.0}  # each student's autograded points
AUTO_MAX = sum(points for points, _ in config.RUBRIC.values())
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def gradebook(folder: Path, students: dict[str, float] = AUTO) -> Path:
    """A gradebook as grade-all writes it (autograded points only)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gradebook.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "total", *config.RUBRIC, "workflow", "flags", "causes", "error"])
        for name, total in students.items():
            writer.writerow([name, total, *(0.0 for _ in config.RUBRIC), "", "", "", ""])
    return path


def points_file(folder: Path, rows: list[list[object]], header: list[str] | None = None,
                text: str | None = None, encoding: str = "utf-8") -> Path:
    """A points file: `header` (the template's by default) and `rows`, or exactly `text`."""
    path = folder / "manual.csv"
    if text is None:
        header = header or ["student", *(q.header for q in questions()), "comment"]
        lines = [",".join(header)] + [",".join(str(cell) for cell in row) for row in rows]
        text = "\n".join(lines) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def full(student: str, comment: str = "") -> list[object]:
    """A row giving `student` every question's maximum."""
    return [student, *(f"{q.points:g}" for q in questions()), comment]


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    """Rows as a spreadsheet exports them: cells quoted where needed, CRLF line ends."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue()


def read_book(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


# --- The questions and the template ----------------------------------------------------------------


def test_the_questions_are_the_notebooks_hand_graded_cells_with_their_nbgrader_points():
    cells = json.loads((SOLUTIONS / "vae.ipynb").read_text(encoding="utf-8"))["cells"]
    graded = [c["metadata"]["nbgrader"] for c in cells
              if c["metadata"].get("nbgrader", {}).get("grade") and c["metadata"]["nbgrader"].get("solution")]
    assert [(q.grade_id, q.points) for q in questions()] == [(m["grade_id"], m["points"]) for m in graded]
    assert len(questions()) == 6 and manual.max_points() == sum(m["points"] for m in graded)
    assert [q.header for q in questions()][:1] == [f"q1-answer (max {graded[0]['points']:g})"]


def test_the_template_has_a_blank_row_per_student_and_a_column_per_question_with_its_maximum(tmp_path):
    template = manual.write_template(gradebook(tmp_path), tmp_path / "manual.csv")
    with open(template, newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    assert header == ["student", *(f"{q.grade_id} (max {q.points:g})" for q in questions()), "comment"]
    assert rows == [[name, *([""] * len(questions())), ""] for name in AUTO]


def test_the_template_never_writes_over_points_entered_by_hand(tmp_path, capsys):
    book = gradebook(tmp_path)
    filled = points_file(tmp_path, [full("alice")])
    with pytest.raises(FileExistsError, match="--force"):
        manual.write_template(book, filled)
    assert manual.main(["template", "--gradebook", str(book)]) == 2 and "--force" in capsys.readouterr().err
    assert "alice,1," in filled.read_text()
    manual.write_template(book, filled, force=True)
    assert "alice,1," not in filled.read_text()


# --- Merging: the happy path ------------------------------------------------------------------------


def test_the_gradebook_total_is_auto_plus_manual_with_the_max_of_each(tmp_path):
    book = gradebook(tmp_path)
    problems = merge_hand_points(book, points_file(tmp_path, [full("alice", "clear answers"), full("bob")]))
    assert problems == []
    rows = read_book(book)
    hand_max = manual.max_points()
    assert list(rows["alice"])[:8] == ["student", "auto", "auto_max", "manual", "manual_max", "total", "total_max",
                                       "total_status"]
    for name in ("alice", "bob"):
        row = rows[name]
        assert float(row["auto"]) == AUTO[name] and float(row["manual"]) == hand_max
        assert float(row["total"]) == AUTO[name] + hand_max == float(row["auto"]) + float(row["manual"])
        assert (float(row["auto_max"]), float(row["manual_max"]), float(row["total_max"])) == \
            (AUTO_MAX, hand_max, AUTO_MAX + hand_max)
        assert row["total_status"] == COMPLETE
        assert [float(row[q.header]) for q in questions()] == [q.points for q in questions()]
    assert rows["alice"]["manual_comment"] == "clear answers"
    assert list(rows["alice"]).index(questions()[0].header) == list(rows["alice"]).index(list(config.RUBRIC)[-1]) + 1


def test_a_student_without_points_has_a_blank_manual_column_and_an_incomplete_total(tmp_path):
    book = gradebook(tmp_path)
    merge_hand_points(book, points_file(tmp_path, [full("alice")]))
    carol = read_book(book)["carol"]
    assert carol["manual"] == "" and carol["total_status"] == "incomplete: no hand-graded points yet"
    assert float(carol["total"]) == float(carol["auto"]) == AUTO["carol"]
    assert all(carol[q.header] == "" for q in questions())
    merge_hand_points(book, None)  # no points file yet: nobody has any
    assert {row["manual"] for row in read_book(book).values()} == {""}


def test_a_partly_graded_student_shows_the_points_so_far_and_what_is_missing(tmp_path):
    book = gradebook(tmp_path)
    first, second, *rest = questions()
    merge_hand_points(book, points_file(tmp_path, [["bob", f"{first.points:g}", "", *([""] * len(rest)), ""]]))
    bob = read_book(book)["bob"]
    assert float(bob["manual"]) == first.points and float(bob["total"]) == AUTO["bob"] + first.points
    assert bob["total_status"] == "incomplete: not graded yet: " + ", ".join(q.grade_id for q in (second, *rest))


def test_merging_again_replaces_the_earlier_merge(tmp_path):
    book = gradebook(tmp_path)
    merge_hand_points(book, points_file(tmp_path, [full("alice")]))
    header = list(read_book(book)["alice"])
    merge_hand_points(book, points_file(tmp_path, [["alice", "0.5", *([""] * (len(questions()) - 1)), ""]]))
    rows = read_book(book)
    assert list(rows["alice"]) == header and float(rows["alice"]["manual"]) == 0.5
    assert float(rows["alice"]["total"]) == AUTO["alice"] + 0.5 and float(rows["alice"]["auto"]) == AUTO["alice"]


# --- Validation: each problem named, the other students kept ------------------------------------------


def cells(**given: str) -> list[str]:
    """A row's question cells: the maximum, but `given` (grade_id with _ for -) as written."""
    return [given.get(q.grade_id.replace("-", "_"), f"{q.points:g}") for q in questions()]


Q2 = questions()[1]
BAD_CELLS = {
    "above the maximum": (f"{Q2.points + 0.5:g}", "above the question's maximum"),
    "negative": ("-1", "is negative"),
    "text": ("two", "is not a number"),
    "a percentage": ("50%", "is not a number"),
    "an exponent": ("1e0", "is not a number"),
    "python's underscores": ("1_0", "is not a number"),
    "NaN": ("nan", "is not a finite number"),
    "infinity": ("-Infinity", "is not a finite number"),
    "a formula": ("=1+1", "is not a number"),
}


@pytest.mark.parametrize("case", list(BAD_CELLS))
def test_a_bad_cell_rejects_its_row_names_the_row_and_column_and_keeps_the_others(tmp_path, case):
    value, said = BAD_CELLS[case]
    book = gradebook(tmp_path)
    problems = merge_hand_points(book, points_file(tmp_path, [full("alice"), ["bob", *cells(q2_answer=value), ""]]))
    [problem] = problems
    assert problem.where == f"row 3, column {Q2.header}"
    assert said in problem.what and f"expected a number from 0 to {Q2.points:g}" in problem.what
    rows = read_book(book)
    assert rows["bob"]["manual"] == "" and rows["bob"]["total_status"].startswith("incomplete: hand-graded points rej")
    assert "row 3" in rows["bob"]["manual_problem"] and said in rows["bob"]["manual_problem"]
    assert rows["alice"]["total_status"] == COMPLETE and float(rows["alice"]["manual"]) == manual.max_points()


def test_a_student_not_in_the_gradebook_is_named_and_ignored(tmp_path):
    book = gradebook(tmp_path)
    problems = merge_hand_points(book, points_file(tmp_path, [full("alice"), full("mallory"), full("")]))
    assert [str(p) for p in problems] == [
        "row 3: student 'mallory' is not in the gradebook: expected a name of its student column",
        "row 4: no student named: expected a name of the gradebook"]
    assert "mallory" not in read_book(book) and read_book(book)["alice"]["total_status"] == COMPLETE


def test_a_students_second_row_rejects_both_and_names_them(tmp_path):
    book = gradebook(tmp_path)
    problems = merge_hand_points(book, points_file(tmp_path, [full("bob"), full("alice"), full("bob")]))
    assert [str(p) for p in problems] == [
        "row 4: student 'bob' has a second row (row 2 is the first): expected one row per student; "
        "both rows are ignored"]
    rows = read_book(book)
    assert rows["bob"]["manual"] == "" and "second row" in rows["bob"]["manual_problem"]
    assert rows["alice"]["total_status"] == COMPLETE


def test_an_unknown_or_doubled_question_column_is_named_and_its_question_left_ungraded(tmp_path):
    first, *rest = questions()
    header = ["student", "q7-answer (max 3)", first.header, first.header, *(q.header for q in rest), "comment"]
    book = gradebook(tmp_path)
    problems = merge_hand_points(book, points_file(tmp_path, [["alice", "1", "1", "1", *cells()[1:], ""]], header))
    said = [str(p) for p in problems]
    assert said[0].startswith("row 1, column 2 'q7-answer (max 3)': not a question: expected one of q1-answer (max")
    assert said[1] == f"row 1: 2 columns for {first.header}: expected one; no student has its points"
    alice = read_book(book)["alice"]
    assert alice[first.header] == "" and alice["total_status"] == f"incomplete: not graded yet: {first.grade_id}"
    assert float(alice["manual"]) == sum(q.points for q in rest)


def test_a_header_stating_another_maximum_than_the_notebook_is_refused(tmp_path):
    header = ["student", *(q.header for q in questions()), "comment"]
    header[2] = f"{Q2.grade_id} (max {Q2.points + 1:g})"
    problems = merge_hand_points(gradebook(tmp_path), points_file(tmp_path, [full("alice")], header))
    assert [p.where for p in problems] == [f"row 1, column 3 '{header[2]}'", "row 1"]
    assert f"the notebook gives {Q2.grade_id} {Q2.points:g} points" in problems[0].what


def test_a_file_without_a_student_column_or_empty_or_not_utf8_costs_no_student_a_crash(tmp_path):
    book = gradebook(tmp_path)
    [problem] = merge_hand_points(book, points_file(tmp_path, [], ["name", *(q.header for q in questions())]))[1:]
    assert str(problem) == "row 1: expected one column 'student' (the gradebook's student names)"
    [problem] = merge_hand_points(book, points_file(tmp_path, [], text=""))
    assert problem.where == "row 1" and "the file is empty" in problem.what
    [problem] = merge_hand_points(book, points_file(tmp_path, [], text="student\nalice\ncl\xe9o\n", encoding="latin-1"))
    assert problem.what == "line 3 is not UTF-8: save the file as UTF-8 (Excel: CSV UTF-8)"
    assert {row["manual"] for row in read_book(book).values()} == {""}


def test_a_row_longer_than_the_header_is_rejected(tmp_path):
    [problem] = merge_hand_points(gradebook(tmp_path), points_file(tmp_path, [[*full("alice"), "", "7"]]))
    assert problem.where == "row 2" and "expected at most" in problem.what


def test_excel_exports_read_as_well_bom_crlf_semicolons_and_decimal_commas(tmp_path):
    book = gradebook(tmp_path)
    header = ["student", *(q.header for q in questions()), "comment"]
    text = "\r\n".join([",".join(header), ",".join(full("alice")), ""])
    assert merge_hand_points(book, points_file(tmp_path, [], text="\ufeff" + text)) == []
    assert read_book(book)["alice"]["total_status"] == COMPLETE
    row = ["bob", "0,5", *(f"{q.points:g}" for q in questions()[1:]), "ok; fine"]
    text = csv_text([header, row], delimiter=";")  # Excel quotes a cell with a ;, and ends lines with CRLF
    assert merge_hand_points(book, points_file(tmp_path, [], text="\ufeff" + text)) == []
    bob = read_book(book)["bob"]
    assert float(bob[questions()[0].header]) == 0.5 and bob["manual_comment"] == "ok; fine"


def test_a_name_the_gradebook_quoted_as_a_formula_is_found_with_or_without_the_quote(tmp_path):
    book = gradebook(tmp_path, {"'=cmd()": 10.0, "'+x": 20.0})
    assert merge_hand_points(book, points_file(tmp_path, [full("=cmd()"), full("'+x")])) == []
    assert {row["total_status"] for row in read_book(book).values()} == {COMPLETE}


def test_text_a_person_typed_reaches_the_gradebook_as_text_not_a_formula(tmp_path):
    book = gradebook(tmp_path)
    merge_hand_points(book, points_file(tmp_path, [full("alice", "=HYPERLINK(x)"), ["bob", *cells(q2_answer="=1"), ""]]))
    rows = read_book(book)
    assert rows["alice"]["manual_comment"] == "'=HYPERLINK(x)" and rows["bob"]["manual_problem"].startswith("row 3")


# --- The command line and the class report -------------------------------------------------------------


def test_cli_template_then_merge_writes_the_gradebook_and_the_report(tmp_path, capsys):
    book = gradebook(tmp_path)
    assert manual.main(["template", "--gradebook", str(book)]) == 0
    assert "3 students" in capsys.readouterr().out and (tmp_path / "manual.csv").exists()
    points_file(tmp_path, [full("alice"), ["bob", *cells(q2_answer="x"), ""]])
    assert manual.main(["merge", "--gradebook", str(book)]) == 1  # a problem: said, and the rest merged
    captured = capsys.readouterr()
    assert f"row 3, column {Q2.header}: 'x' is not a number" in captured.err
    assert "1 of 3 students have all their hand-graded points" in captured.out
    assert "## Hand-graded questions" in (tmp_path / "report.md").read_text()
    assert manual.main(["merge", "--gradebook", str(tmp_path / "none.csv")]) == 2
    assert manual.main(["merge", "--gradebook", str(book), "--points", str(tmp_path / "none.csv")]) == 2


def test_the_class_report_totals_auto_plus_manual_and_gives_each_questions_mean(tmp_path):
    book = gradebook(tmp_path)
    q1 = questions()[0]
    merge_hand_points(book, points_file(tmp_path, [full("alice"), ["bob", "0", *cells()[1:], ""]]))
    students = {s.name: s for s in class_report.load_class(book)}
    assert students["alice"].hand == {q.grade_id: q.points for q in questions()}
    # The gradebook's total is the points of record (auto + manual; a late penalty is in it too),
    # whether or not results.json is beside it (it is not, here).
    assert students["alice"].total == AUTO["alice"] + manual.max_points()
    assert students["carol"].total == AUTO["carol"]
    assert class_report.full_marks(list(students.values())) == AUTO_MAX + manual.max_points()
    means = class_report.question_means(list(students.values()))
    assert means[q1] == (2, q1.points / 2) and means[Q2] == (2, Q2.points)
    report = class_report.markdown(list(students.values()))
    assert f"| {q1.grade_id} | {q1.points:g} | 2 | {q1.points / 2:g} | 50% |" in report
    assert "1 of 3 have all of them" not in report and "2 of 3 have all of them" in report


def test_a_rejected_row_is_listed_to_look_at_as_text_not_markdown(tmp_path):
    hostile = "eve|<img src=x onerror=alert(1)>*_[link](javascript:x)"
    book = gradebook(tmp_path, {hostile: 5.0, "alice": 10.0})
    merge_hand_points(book, points_file(tmp_path, [], text=csv_text([["student", *(q.header for q in questions())],
                                                                     [hostile, *cells(q2_answer="<b>9</b>")]])))
    students = class_report.load_class(book)
    report = class_report.markdown(students)
    html = cmarkgfm.github_flavored_markdown_to_html(report, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)
    assert "<b>" not in html and not re.search(r"<[^>]*onerror", html) and "<a " not in html
    row = next(r for r in html.split("<tr>") if "hand-graded points: " in r)
    assert row.count("<td") == 3 and "&lt;b&gt;9&lt;/b&gt;" in row




@pytest.mark.slow
def test_nbgraders_formgrader_scores_export_as_a_points_file_merge_reads(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    from autograder.course.nbgrader_export import PointsExport

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # its alembic
    first, *rest = questions()
    with Gradebook(f"sqlite:///{tmp_path}/gradebook.db") as database:
        database.add_assignment("vae")
        database.add_notebook("vae", "vae")
        for question in questions():
            database.add_grade_cell(question.grade_id, "vae", "vae", max_score=question.points, cell_type="markdown")
            database.add_solution_cell(question.grade_id, "vae", "vae")
        for student in AUTO:
            database.add_student(student)
        for student in ("alice", "bob"):  # carol handed nothing in
            database.add_submission("vae", student)
        for question in questions():
            grade = database.find_grade(question.grade_id, "vae", "vae", "alice")
            grade.manual_score, grade.needs_manual_grade = question.points, False
        grade = database.find_grade(first.grade_id, "vae", "vae", "bob")  # bob: only the first question graded
        grade.manual_score, grade.needs_manual_grade = 0.5, False
        database.find_comment(first.grade_id, "vae", "vae", "bob").manual_comment = "784 = 28 x 28, yes"
        database.db.commit()
        PointsExport(to=str(tmp_path / "manual.csv")).export(database)
    book = gradebook(tmp_path)
    assert merge_hand_points(book, tmp_path / "manual.csv") == []
    rows = read_book(book)
    assert rows["alice"]["total_status"] == COMPLETE and float(rows["alice"]["manual"]) == manual.max_points()
    assert float(rows["bob"]["manual"]) == 0.5 and rows["bob"]["total_status"].endswith(
        ", ".join(q.grade_id for q in rest))
    assert rows["bob"]["manual_comment"] == f"{first.grade_id}: 784 = 28 x 28, yes"
    assert rows["carol"]["manual"] == "" and rows["carol"]["total_status"] == "incomplete: no hand-graded points yet"


# --- Any points file at all ---------------------------------------------------------------------------


TEMPLATE = ["student", *(q.header for q in questions()), "comment"]
CELL = st.one_of(
    st.sampled_from(["", "0", "1", "2", "0.5", "1.5", "2.5", "-0", "-1", "nan", "inf", "1e3", "1,5", " 1 ", "x",
                     "student", "comment", "q1-answer (max 1)", '"', "\ufeff", "\r", "=1"]),
    st.text(string.printable, max_size=6),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=8),
)
HEADER_CELL = st.one_of(st.sampled_from(["student", "comment", "", "q9-answer", *TEMPLATE,
                                         *(q.grade_id for q in questions())]), st.text(max_size=10))
HEADER = st.one_of(  # mostly the template's, some with a cell changed, some anything at all
    st.just(TEMPLATE), st.just(TEMPLATE),
    st.tuples(st.integers(1, len(TEMPLATE) - 1), HEADER_CELL).map(lambda c: [*TEMPLATE[:c[0]], c[1], *TEMPLATE[c[0] + 1:]]),
    st.lists(HEADER_CELL, max_size=10))
NAME = st.one_of(st.sampled_from(list(AUTO)), st.sampled_from(list(AUTO)), st.sampled_from(["mallory", ""]), CELL)
ROW = st.one_of(  # mostly points a person might type, some anything at all
    st.tuples(NAME, st.lists(st.sampled_from(["", "0", "0.5", "1", " 1 ", ".5", "1.50", "2"]),
                             min_size=len(questions()), max_size=len(questions())), st.sampled_from(["", "ok"])),
    st.tuples(NAME, st.lists(st.one_of(st.sampled_from(["", "0", "1", "2", "0.5"]), CELL), max_size=9), st.just("")),
).map(lambda row: [row[0], *row[1], *([row[2]] if row[2] else [])])


@EXAMPLES
@given(header=HEADER, rows=st.lists(ROW, max_size=8),
       separator=st.sampled_from([",", ";"]), newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(),
       raw=st.binary(max_size=200), is_raw=st.sampled_from([False, False, False, True]))
def test_any_points_file_never_crashes_nor_gives_more_than_the_maximum_or_points_not_in_it(
        tmp_path_factory, header, rows, separator, newline, bom, raw, is_raw):
    folder = tmp_path_factory.mktemp("class")
    book = gradebook(folder)
    lines = [separator.join(cells) for cells in [header, *rows]]
    data = raw if is_raw else (("\ufeff" if bom else "") + newline.join(lines)).encode("utf-8", "replace")
    (folder / "manual.csv").write_bytes(data)
    problems = merge_hand_points(book, folder / "manual.csv")
    assert all(isinstance(p, manual.Problem) and p.where and p.what for p in problems)
    text = data.decode("utf-8", "replace")
    written = {float(number.replace(",", ".")) for number in  # each number in the file, decimal commas too
               re.findall(r"\d+(?:\.\d+)?|\.\d+", text) + re.findall(r"\d+,\d+", text)}
    for name, row in read_book(book).items():
        assert float(row["auto"]) == AUTO[name]
        assert float(row["total"]) <= float(row["total_max"]) == AUTO_MAX + manual.max_points()
        hand = manual.gradebook_points(row)
        assert sum(hand.values()) <= manual.max_points()
        assert (row["manual"] == "") == (not hand)
        if hand:
            assert math.isclose(float(row["manual"]), sum(hand.values()))
            assert math.isclose(float(row["total"]), AUTO[name] + sum(hand.values()))
        for question in questions():
            value = row[question.header]
            assert value == "" or (0 <= float(value) <= question.points)
            assert value == "" or float(value) in written, f"{value} is not in the file"
        assert row["total_status"] == COMPLETE or row["total_status"].startswith("incomplete: ")
    assert class_report.markdown(class_report.load_class(book))
