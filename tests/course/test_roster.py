"""The class roster (issue 19, section 2): GitHub Classroom's roster CSV, read exactly.

Examples pin each kind of bad row (left out, one problem line naming file and line, the rest
kept) and each kind of file that is no roster (RosterError). Hypothesis writes rosters the way a
spreadsheet might (columns shuffled, extra columns, BOM, CRLF, unicode names, quoted commas) and
checks they read back to the same students; and arbitrary bytes never crash the reader.
"""
from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.course import roster
from autograder.course.roster import RosterError, Student

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
HEADER = "identifier,github_username,github_id,name"


def write(folder: Path, text: str | bytes, name: str = "classroom_roster.csv") -> Path:
    """A roster file holding exactly `text`."""
    path = folder / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# --- Examples ------------------------------------------------------------------------------------


def test_reads_github_classrooms_export_with_an_unlinked_student(tmp_path):
    path = write(tmp_path, f"{HEADER}\nalice@uni.edu,Alice-1,101,Alice\nbob@uni.edu,,,Bob\n")
    read = roster.read(path)
    assert read.students == [Student("alice@uni.edu", "Alice-1"), Student("bob@uni.edu", "")]
    assert read.problems == []
    assert read.by_login() == {"alice-1": Student("alice@uni.edu", "Alice-1")}
    assert read.unlinked() == [Student("bob@uni.edu", "")]


def test_bom_crlf_quoted_commas_blank_lines_whitespace_and_shuffled_columns(tmp_path):
    text = ("\ufeff\r\n name , GitHub_Username ,extra, IDENTIFIER \r\n"
            "\"Doe, Jane\", janed ,x,\" Doe, Jane (42) \"\r\n\r\n,,,\r\n\"Li\nMei\",mei,,m1\r\n")
    read = roster.read(write(tmp_path, text))
    assert read.students == [Student("Doe, Jane (42)", "janed"), Student("m1", "mei")]
    assert read.problems == []


@pytest.mark.parametrize("row, expected", [
    (",carol,,", "empty identifier"),
    ("alice@uni.edu,carol,,", "duplicate identifier 'alice@uni.edu' (first on line 2)"),
    ("carol@uni.edu,ALICE,,", "duplicate github_username 'ALICE' of 'carol@uni.edu' (first on line 2"),
    ("carol@uni.edu,-carol,,", "github_username '-carol' of 'carol@uni.edu' is not a GitHub login"),
    ("carol@uni.edu,ca--rol,,", "is not a GitHub login"),
    ("carol@uni.edu,carol_c,,", "is not a GitHub login"),
    ("carol@uni.edu," + "c" * 40 + ",,", "is not a GitHub login"),
])
def test_a_bad_row_is_left_out_with_file_and_line_and_the_rest_is_kept(tmp_path, row, expected):
    path = write(tmp_path, f"{HEADER}\nalice@uni.edu,alice,,\n\n{row}\nbob@uni.edu,bob,,\n")
    read = roster.read(path)
    assert read.students == [Student("alice@uni.edu", "alice"), Student("bob@uni.edu", "bob")]
    [problem] = read.problems
    assert problem.startswith(f"{path}:4: ") and expected in problem
    assert problem.endswith(": row left out") and "\n" not in problem and "expected" in problem


def test_a_problem_names_the_line_a_multiline_row_starts_on(tmp_path):
    path = write(tmp_path, f"{HEADER}\n\"a\nb\",x,,\"two\nlines\"\n\"a\nb\",y,,\n")
    assert roster.read(path).problems[0].startswith(f"{path}:5: duplicate identifier")  # lines 2-4 hold the first row


def test_a_login_of_39_characters_is_accepted():
    assert roster.valid_login("a" * 39) and roster.valid_login("a-b-c") and roster.valid_login("7")
    assert not any(roster.valid_login(login) for login in ("a" * 40, "a-", "-a", "a--b", "a b", "é", ""))


@pytest.mark.parametrize("content, expected", [
    (b"", "no header"),
    (b"\n\n \n", "no header"),
    (b"name,github_username\nAlice,alice\n", "column 'identifier' missing"),
    (b"identifier,name\nalice@uni.edu,Alice\n", "column 'github_username' missing"),
    (b"identifier,github_username,identifier\n", "column 'identifier' there twice"),
    (b"identifier,github_username\nJos\xe9,jose\n", ":2: not UTF-8"),
])
def test_a_file_that_is_no_roster_raises_one_clear_line(tmp_path, content, expected):
    path = write(tmp_path, content)
    with pytest.raises(RosterError) as raised:
        roster.read(path)
    assert str(path) in str(raised.value) and expected in str(raised.value)
    assert "\n" not in str(raised.value) and "expected" in str(raised.value)


def test_no_such_file_raises(tmp_path):
    with pytest.raises(RosterError, match="cannot be read"):
        roster.read(tmp_path / "missing.csv")


def test_problem_text_is_one_printable_line_even_for_a_hostile_login(tmp_path):
    path = write(tmp_path, f'{HEADER}\nx,"a\u2028\x1b[31m\nb",,\n')
    [problem] = roster.read(path).problems
    assert problem.isprintable()


# --- Generated rosters -----------------------------------------------------------------------------

# Logins GitHub accepts; identifiers and names of any printable text (a spreadsheet's
# trailing white space is tested above: here a field is what the student wrote).
logins = st.from_regex(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}", fullmatch=True)
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=20)
identifiers = texts.map(str.strip).filter(bool)


@st.composite
def classes(draw) -> list[tuple[Student, str]]:
    """Students with distinct identifiers and distinct logins (ignoring case), some unlinked, each with a name."""
    people = draw(st.lists(st.tuples(identifiers, st.one_of(st.just(""), logins), texts),
                           unique_by=(lambda p: p[0]), max_size=12))
    seen, result = set(), []
    for identifier, login, name in people:
        if login and login.lower() in seen:
            login = ""
        seen.add(login.lower())
        result.append((Student(identifier, login), name))
    return result


@EXAMPLES
@given(people=classes(), extra=st.lists(st.sampled_from(["section", "email", "Notes"]), unique=True),
       seed=st.integers(0, 2**16), bom=st.booleans(), crlf=st.booleans(), blank_lines=st.booleans())
def test_a_generated_roster_reads_back_to_the_same_students(tmp_path, people, extra, seed, bom, crlf, blank_lines):
    columns = ["identifier", "github_username", "github_id", "name", *extra]
    random.Random(seed).shuffle(columns)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(columns)
    for number, (student, name) in enumerate(people):
        values = {"identifier": student.identifier, "github_username": student.login,
                  "github_id": str(1000 + number) if student.login else "", "name": name}
        writer.writerow([values.get(column, "x, y") for column in columns])
        if blank_lines:
            out.write("\r\n" if crlf else "\n")
    read = roster.read(write(tmp_path, ("\ufeff" if bom else "") + out.getvalue()))
    assert read.problems == []
    assert read.students == [student for student, _ in people]
    assert read.unlinked() == [student for student, _ in people if not student.login]
    assert set(read.by_login()) == {student.login.lower() for student, _ in people if student.login}


@EXAMPLES
@given(content=st.one_of(st.binary(max_size=300),
                         st.text(max_size=300).map(lambda t: f"{HEADER}\n{t}".encode("utf-8", "surrogatepass"))))
def test_arbitrary_bytes_give_a_roster_or_a_roster_error(tmp_path, content):
    try:
        read = roster.read(write(tmp_path, content))
    except RosterError as error:
        assert str(error).startswith(str(tmp_path))
        return
    identifiers_seen = [student.identifier for student in read.students]
    assert len(identifiers_seen) == len(set(identifiers_seen)) and all(identifiers_seen)
    assert all(roster.valid_login(student.login) for student in read.students if student.login)
    assert all(problem.startswith(f"{tmp_path}") for problem in read.problems)
