"""The gradebook's one owner (autograder/course/gradebook.py): what is written reads back as it was.

The round trip is a property: any outcomes (names, errors and workflows of any text, formula-like
ones and apostrophes included; any points) written and read back give the same cells, while no
written cell starts a spreadsheet formula.
"""
from __future__ import annotations

import csv
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import config
from autograder.course import gradebook
from autograder.course.grade_all import Outcome
from autograder.course.gradebook import FORMULA_START, safe_cell, unquoted
from autograder.grading import results

EXAMPLES = settings(max_examples=150, deadline=None)

# Text as results.bounded_text keeps it (no lone surrogate, not cut); formula-like and quoted text
# drawn often: the cases a spreadsheet, and the quote, are about.
plain = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
risky = st.builds(lambda quotes, start, rest: "'" * quotes + start + rest, st.integers(0, 3),
                  st.sampled_from([*FORMULA_START, "'", "", " ", '"', ","]), plain)
texts = st.one_of(plain, risky)
scores = st.dictionaries(st.sampled_from(list(config.RUBRIC)),
                         st.floats(0, 20, allow_nan=False).map(lambda x: round(x, 2)), max_size=len(config.RUBRIC))


def outcome(student: str, error: str, workflow: str, points: dict[str, float] | None) -> Outcome:
    """An outcome with one check per tag of `points` (None: no results, as a failed grading)."""
    graded = None if points is None else results.build(
        [results.entry(tag, "check", value, True) for tag, value in points.items()])
    return Outcome(student, "graded" if graded else "failed", graded, error=error, workflow=workflow)


@EXAMPLES
@given(people=st.lists(st.tuples(texts, texts, texts, st.none() | scores), max_size=6))
def test_any_outcomes_written_and_read_back_give_the_same_cells(tmp_path_factory, people):
    path = tmp_path_factory.mktemp("book") / gradebook.FILE
    outcomes = [outcome(*person) for person in people]
    gradebook.write(outcomes, path)
    with open(path, newline="", encoding="utf-8") as f:
        written = list(csv.reader(f))
    assert all(not cell.startswith(FORMULA_START) for row in written for cell in row), "a cell starts a formula"
    book = gradebook.read(path)
    assert book.header == gradebook.header() and len(book.rows) == len(outcomes)
    for row, source in zip(book.rows, outcomes):
        assert (row.student, row.error, row[gradebook.WORKFLOW]) == (source.student, source.error, source.workflow)
        assert row.total == (round(results.score(source.results), 2) if source.results else 0)
        for tag, points in results.tag_points(source.results).items():
            assert results.finite(row[tag]) == points


@given(texts)
def test_a_quoted_cell_never_starts_a_formula_and_unquotes_to_the_text(text):
    cell = safe_cell(text)
    assert not cell.startswith(FORMULA_START) and unquoted(cell) == text


def test_the_quote_is_added_only_before_formula_like_text_and_kept_apart_from_the_texts_own():
    assert safe_cell("=SUM(A1)") == "'=SUM(A1)" and safe_cell("'=SUM(A1)") == "''=SUM(A1)"
    assert safe_cell("alice") == "alice" and safe_cell("'alice") == "'alice" and safe_cell(3.5) == 3.5
    assert unquoted("'=SUM(A1)") == "=SUM(A1)" and unquoted("''=SUM(A1)") == "'=SUM(A1)"
    assert unquoted("'alice") == "'alice"  # not a quote safe_cell adds: the name's own apostrophe


def test_rows_read_typed_cells_missing_ones_blank_numbers_finite_or_none(tmp_path):
    path = tmp_path / gradebook.FILE
    path.write_text("\ufeffstudent,total,error,total_status\r\n'=x,12.5,'-boom\r\n\r\nbob,nan,,complete\r\n"
                    "carol,text\r\n", encoding="utf-8")
    book = gradebook.read(path)
    assert book.header == ["student", "total", "error", "total_status"]
    x, bob, carol = book.rows  # the BOM dropped, the blank line left out
    assert (x.student, x.total, x.error, x.status, x.line) == ("=x", 12.5, "-boom", "", 2)
    assert x.written == ("'=x", "12.5", "'-boom")
    assert bob.total is None and bob.status == gradebook.COMPLETE and carol.total is None and carol.problem == ""


def test_saving_a_gradebook_writes_every_cell_as_it_was_read(tmp_path):
    path = tmp_path / gradebook.FILE
    gradebook.write([outcome("=cmd()", "+1", "", {"kl": 15.0}), outcome("alice", "", "unchanged", None)], path)
    before = path.read_bytes()
    gradebook.read(path).save(tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_bytes() == before


def test_an_empty_file_is_a_gradebook_without_header_or_rows(tmp_path):
    (tmp_path / gradebook.FILE).write_text("")
    assert gradebook.read(tmp_path / gradebook.FILE) == gradebook.Gradebook([], [])
    assert math.isclose(results.RUBRIC_MAXIMUM, sum(points for points, _ in config.RUBRIC.values()))
