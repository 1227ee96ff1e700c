"""Deadlines that cannot be gamed, extensions and a late policy, on the grade-class route
(autograder/course/policy.py, autograder/course/classroom.py); what students see before the
deadline is tests/course/test_deadline_visibility.py.

GitHub and the class are fakes (tests/classroom_fakes.py): each push is recorded in the fake's
activity list at a time the test chooses, and the run's clock (classroom.now) is set by the test.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from autograder.course.class_report import load_class
from autograder.cleanup import remove_tree
from autograder.course import policy
from autograder.course.policy import Lateness, PolicyError, Terms

from classroom_fakes import (DEADLINE, PREFIX, UTC, Class,  # noqa: F401
                             fake_grader,  # a fixture
                             policy_file)

EXAMPLES = settings(max_examples=150, deadline=None)


# --- End to end, against the fake GitHub ---------------------------------------------------------


def test_a_back_dated_commit_pushed_after_the_deadline_is_late_not_on_time(tmp_path, fake_grader, monkeypatch):
    with Class(tmp_path, monkeypatch, ("alice",)) as c:
        on_time = c.push("alice", 50, DEADLINE - timedelta(hours=1))
        # Its own dates say December 1st; GitHub received it two hours after the deadline.
        late = c.push("alice", 80, DEADLINE + timedelta(hours=2), dated="2026-12-01T10:00:00+00:00")
        assert c.run(DEADLINE + timedelta(hours=3), "--policy", str(policy_file(tmp_path))) == 0
        assert c.statuses("alice") == [(late, "failure", "Points 72/100 (80 less 10%: 1 day late)")]
        row = c.gradebook()["alice"]
        assert (row["commit"], row["days_late"], row["penalty"], row["points_before"], row["points_after"]) == \
            (late, "1", "0.1", "80", "72")
        assert row["arrival"] == "pushed" and row["arrived_at"] == (DEADLINE + timedelta(hours=2)).isoformat()
        assert "1 started day late" in c.comments("alice")[0]

        # Without a late policy nothing after the deadline counts: the commit pushed in time is graded.
        c.out = tmp_path / "out-strict"
        assert c.run(DEADLINE + timedelta(hours=3), "--policy", str(policy_file(tmp_path, late=False))) == 0
        assert c.statuses("alice")[-1] == (on_time, "failure", "Points 50/100")
        assert f"newest commit {late[:12]} arrived after the last day" in c.report()


def test_an_extension_moves_the_deadline_and_the_last_day_for_its_student_only(tmp_path, fake_grader, monkeypatch):
    with Class(tmp_path, monkeypatch, ("bob", "eve")) as c:
        bob = c.push("bob", 60, DEADLINE + timedelta(days=1, hours=1))
        eve = c.push("eve", 60, DEADLINE + timedelta(days=1, hours=1))
        rules = str(policy_file(tmp_path, extensions="Bob = 2"))  # logins ignore case
        assert c.run(DEADLINE + timedelta(days=1, hours=2), "--policy", rules) == 0
        assert c.statuses("bob") == [(bob, "failure", "Points 60/100")]
        assert c.statuses("eve") == [(eve, "failure", "Points 48/100 (60 less 20%: 2 days late)")]
        assert c.gradebook()["bob"]["deadline"] == (DEADLINE + timedelta(days=2)).isoformat()
        assert c.gradebook()["bob"]["days_late"] == "0" and c.gradebook()["eve"]["days_late"] == "2"

        # After eve's last day, before bob's (moved by the same two days): it counts for bob alone.
        bob_late = c.push("bob", 90, DEADLINE + timedelta(days=4, hours=1))
        c.push("eve", 90, DEADLINE + timedelta(days=4, hours=1))
        assert c.run(DEADLINE + timedelta(days=9), "--policy", rules) == 0
        assert c.statuses("bob")[-1] == (bob_late, "failure", "Points 63/100 (90 less 30%: 3 days late)")
        assert c.statuses("eve") == [(eve, "failure", "Points 48/100 (60 less 20%: 2 days late)")]


def test_a_moved_deadline_recomputes_every_penalty_and_leaves_none_stale(tmp_path, fake_grader, monkeypatch):
    with Class(tmp_path, monkeypatch, ("alice",)) as c:
        first = c.push("alice", 50, DEADLINE - timedelta(days=1))
        second = c.push("alice", 80, DEADLINE + timedelta(hours=30))
        after = DEADLINE + timedelta(days=5)
        assert c.run(after, "--policy", str(policy_file(tmp_path))) == 0
        assert c.statuses("alice") == [(second, "failure", "Points 64/100 (80 less 20%: 2 days late)")]
        assert len(fake_grader()) == 1
        book = c.gradebook()["alice"]  # the total of record is the status's, penalty taken (the LMS export reads it)
        assert (book["total"], book["points_before"], book["points_after"]) == ("64.0", "80", "64")
        assert [s.total for s in load_class(c.out / "gradebook.csv")] == [64.0], "the class report's score too"

        # The instructor moves the deadline two days later: no penalty left, nothing graded again.
        moved = policy_file(tmp_path, deadline="2026-12-22T23:59:00+01:00")
        assert c.run(after, "--policy", str(moved)) == 0
        assert c.statuses("alice")[-1] == (second, "failure", "Points 80/100")
        assert len(fake_grader()) == 1, "a commit graded before is not graded again"
        assert c.gradebook()["alice"]["days_late"] == "0" and c.gradebook()["alice"]["points_after"] == "80"
        assert "late" not in c.comments("alice")[-1].split("Arrived")[1]

        # The same policy again: nothing changes, nothing is posted. OUT/batch/ (what `make similarity`
        # compares) gets each graded commit's files back even when it was not graded this run.
        posted = len(c.fake.statuses[(f"{PREFIX}alice", second)]), len(c.fake.comments)
        graded_files = c.out / "batch" / "alice" / "assignment" / "vae.py"
        remove_tree(c.out / "batch")
        assert c.run(after, "--policy", str(moved)) == 0
        assert (len(c.fake.statuses[(f"{PREFIX}alice", second)]), len(c.fake.comments)) == posted
        assert "graded before" in c.report()
        assert graded_files.read_text() == "SCORE 80\n"

        # Back to the strict deadline without late work: the older commit is chosen and graded now.
        assert c.run(after, "--policy", str(policy_file(tmp_path, late=False))) == 0
        assert c.statuses("alice")[-1] == (first, "failure", "Points 50/100")
        assert len(fake_grader()) == 2
        assert graded_files.read_text() == "SCORE 50\n"

        # Deadline before the first commit: nothing counts, and no files are left to compare.
        assert c.run(after, "--policy", str(policy_file(tmp_path, deadline="2026-12-01T00:00:00Z", late=False))) == 0
        assert not (c.out / "batch" / "alice").exists()


def test_nothing_after_the_last_day_counts(tmp_path, fake_grader, monkeypatch):
    with Class(tmp_path, monkeypatch, ("dan", "fay")) as c:
        late = c.push("dan", 40, DEADLINE + timedelta(days=2))
        too_late = c.push("dan", 100, DEADLINE + timedelta(days=3, hours=2))
        c.push("fay", 100, DEADLINE + timedelta(days=3, hours=2))
        assert c.run(DEADLINE + timedelta(days=9), "--policy", str(policy_file(tmp_path))) == 0
        assert c.statuses("dan") == [(late, "failure", "Points 32/100 (40 less 20%: 2 days late)")]
        assert not c.statuses("fay") and not c.comments("fay")
        assert "nothing counted" in c.report() and f"newest commit {too_late[:12]}" in c.report()
        assert "fay" not in c.gradebook() and len(fake_grader()) == 1


def test_a_malformed_extension_or_an_unreachable_repository_costs_its_student_alone(tmp_path, fake_grader, monkeypatch,
                                                                             capsys):
    with Class(tmp_path, monkeypatch, ("alice", "carol", "dan", "zed")) as c:  # zed's repository: unreachable
        for student in ("alice", "carol", "dan"):
            c.push(student, 15, DEADLINE - timedelta(hours=1))
        rules = policy_file(tmp_path, extensions='carol = 2026-12-22 23:59\ndan = "soon"')
        assert c.run(DEADLINE + timedelta(hours=1), "--policy", str(rules)) == 1
        err = capsys.readouterr().err
        assert f"{rules}, line 6: extension for 'carol': expected a new deadline with its UTC offset" in err
        assert f"{rules}, line 7: extension for 'dan': expected a new deadline" in err and "'soon'" in err
        assert [d for _, _, d in c.statuses("alice")] == ["Points 15/100"]
        assert not c.statuses("carol") and not c.statuses("dan")
        assert c.report().count("| `policy problem` |") == 2 and "alice" in c.gradebook()
        assert "| `fetch failed` |" in c.report() and "git clone failed" in c.report()


def test_a_broken_policy_file_stops_before_anything_is_graded(tmp_path, fake_grader, monkeypatch, capsys):
    with Class(tmp_path, monkeypatch, ("alice",)) as c:
        c.push("alice", 15, DEADLINE - timedelta(hours=1))
        bad = tmp_path / "bad.toml"
        bad.write_text("deadline = 2026-12-20T23:59:00\n")
        assert c.run(DEADLINE, "--policy", str(bad)) == 2
        assert f"{bad}, line 1: deadline: expected a time with its UTC offset" in capsys.readouterr().err
        assert not fake_grader() and not c.statuses("alice")


# --- The policy file ----------------------------------------------------------------------------------


def test_the_policy_file_reads_deadline_late_policy_and_extensions():
    rules = policy.parse("deadline = 2026-12-20T23:59:00+01:00\n[late]\npenalty_per_day = 0.25\n"
                         "last_day = 2026-12-22T23:59:00+01:00\n[extensions]\n"
                         "alice = 2026-12-21T12:00:00Z\nbob = 1.5\n")
    assert rules.terms("ALICE") == Terms(datetime(2026, 12, 21, 12, tzinfo=UTC),
                                         datetime(2026, 12, 23, 12, tzinfo=UTC), 0.25)
    assert rules.terms("bob").deadline == DEADLINE + timedelta(days=1.5)
    assert rules.terms("zed") == Terms(DEADLINE, DEADLINE + timedelta(days=2), 0.25)
    strict = policy.parse("deadline = 2026-12-20T22:59:00Z\n")
    assert strict.terms("zed") == Terms(DEADLINE, DEADLINE, 0.0)


@pytest.mark.parametrize("text, message", [
    ("deadline = 2026-12-20T23:59:00\n", "policy.toml, line 1: deadline: expected a time with its UTC offset"),
    ("deadline = 2026-12-20\n", "policy.toml, line 1: deadline: expected a time with its UTC offset"),
    ("", "policy.toml: no deadline"),
    ("deadline = 2026-12-20T23:59:00Z\ndeadlin = 1\n", "policy.toml, line 2: unknown key 'deadlin'"),
    ("deadline = 2026-12-20T23:59:00Z\n[late]\npenalty_per_day = 0.1\nlast_day = 2026-12-19T00:00:00Z\n",
     "policy.toml, line 4: last_day 2026-12-19T00:00:00+00:00 is before the deadline"),
    ("deadline = 2026-12-20T23:59:00Z\n[late]\npenalty_per_day = 10\nlast_day = 2026-12-29T00:00:00Z\n",
     "policy.toml, line 3: penalty_per_day: expected a fraction of the points from 0 to 1"),
    ("deadline = 2026-12-20T23:59:00Z\n[late]\nlast_day = 2026-12-29T00:00:00Z\n", "[late] needs penalty_per_day"),
    ("deadline = 2026-12-20T23:59:00Z\n[late]\npenalty = 1\n", "policy.toml, line 3: unknown key 'penalty' in [late]"),
    ("deadline = = 2\n", "policy.toml: not TOML"),
])
def test_a_policy_file_problem_is_one_line_naming_the_file_the_line_and_what_was_expected(text, message):
    with pytest.raises(PolicyError) as error:
        policy.parse(text)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("value, expected", [
    ("2026-12-22T23:59:00", "expected a new deadline with its UTC offset"),
    ("0", "expected a number of extra days above 0"),
    ("-2", "expected a number of extra days above 0"),
    ("true", "expected a new deadline"),
    ("2026-12-01T00:00:00Z", "is before the term's deadline"),
    ("2026-12-22 23:59", "which is not a TOML value"),
    ("[1, 2]", "expected a new deadline"),
])
def test_a_malformed_extension_is_its_students_problem_and_the_rest_applies(value, expected):
    rules = policy.parse(f"deadline = 2026-12-20T23:59:00+01:00\n[extensions]\nann = 2\ncarl = {value}\n")
    assert rules.terms("ann").deadline == DEADLINE + timedelta(days=2) and not rules.terms("ann").problem
    assert rules.terms("carl").problem.startswith("policy.toml, line 4: extension for 'carl': ")
    assert expected in rules.terms("carl").problem


def test_a_policy_file_that_cannot_be_read_says_so(tmp_path):
    with pytest.raises(PolicyError, match="cannot be read"):
        policy.load(tmp_path / "missing.toml")


# Generated policy files: any TOML document, from well-formed to nonsense, is a policy or one clear problem.

_MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
_AWARE = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2049, 1, 1),
                      timezones=st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-7))]))
_BAD = st.one_of(
    _MOMENTS.map(lambda d: d.isoformat()),  # a local time: no offset
    _MOMENTS.map(lambda d: d.date().isoformat()),
    st.integers(-1000, 1000).map(str), st.floats(allow_nan=True).map(repr),
    st.booleans().map(lambda b: str(b).lower()), st.text(max_size=20).map(json.dumps),
    st.sampled_from(["[1, 2]", "{}", "2026-12-22 23:59", "soon", "", "= 3"]),
)


def _mostly(good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Three times in four well-formed, so that valid policies (and valid extensions) are generated
    as often as problems (one_of flattens nested choices: it would pick _BAD's many branches)."""
    return st.integers(0, 3).flatmap(lambda i: good if i else _BAD)


_TIMES = _mostly(_AWARE.map(lambda d: d.isoformat()))
_EXTENSIONS = _mostly(st.one_of(st.integers(1, 366).map(str), st.floats(0.5, 30).map(repr),
                                st.datetimes(min_value=datetime(2049, 1, 2), max_value=datetime(2100, 1, 1),
                                             timezones=st.just(UTC)).map(lambda d: d.isoformat())))
_KEYS = st.integers(0, 3).flatmap(lambda i: st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,45}", fullmatch=True) if i
                                  else st.text(max_size=12).map(json.dumps))


@st.composite
def policy_documents(draw) -> str:
    lines = []
    if draw(st.integers(0, 9)):
        lines.append(f"deadline = {draw(_TIMES)}")
    if draw(st.booleans()):
        lines.append("[late]")
        values = {"penalty_per_day": _mostly(st.floats(0, 1).map(repr)),
                  "last_day": _mostly(st.just("2100-01-01T00:00:00Z")), "other": _BAD}
        for key in draw(st.lists(st.sampled_from(["penalty_per_day", "last_day"] * 4 + ["other"]), max_size=3,
                                 unique=True)):
            lines.append(f"{key} = {draw(values[key])}")
    if draw(st.booleans()):
        lines.append("[extensions]")
        lines += [f"{key} = {value}" for key, value in draw(st.lists(st.tuples(_KEYS, _EXTENSIONS), max_size=6))]
    return "\n".join(lines) + "\n"


@EXAMPLES
@given(policy_documents())
def test_any_generated_policy_file_is_a_policy_or_one_clear_problem(text):
    try:
        rules = policy.parse(text, "p.toml")
    except PolicyError as error:
        assert str(error).startswith("p.toml") and "\n" not in str(error)
        return
    assert rules.deadline.utcoffset() is not None
    assert not set(rules.extensions) & set(rules.problems), "a student has an extension or a problem, never both"
    for login, deadline in rules.extensions.items():
        assert deadline >= rules.deadline and rules.terms(login).deadline == deadline
    for login, problem in rules.problems.items():
        # The line is named where the key is written plainly (an escaped key, "\u001f", is not searched for).
        assert problem.startswith("p.toml") and "extension for" in problem and "\n" not in problem
        assert rules.terms(login).problem == problem


@EXAMPLES
@given(st.text(max_size=200))
def test_any_text_is_a_policy_or_one_clear_problem(text):
    try:
        policy.parse(text, "p.toml")
    except PolicyError as error:
        assert str(error).startswith("p.toml")


# --- Lateness ---------------------------------------------------------------------------------------

_TERMS = st.builds(lambda grace, p: Terms(DEADLINE, DEADLINE + timedelta(hours=grace), p),
                   st.integers(0, 24 * 30), st.floats(0, 1))
_OFFSETS = st.integers(-10**7, 10**7).map(lambda s: DEADLINE + timedelta(seconds=s))


@EXAMPLES
@given(_TERMS, _OFFSETS, _OFFSETS, st.floats(0, 100))
def test_the_penalty_grows_with_time_is_zero_before_the_deadline_and_never_below_zero(terms, a, b, points):
    early, later = sorted((a, b))
    assert policy.lateness(early, terms).fraction <= policy.lateness(later, terms).fraction
    assert policy.lateness(early, terms).days <= policy.lateness(later, terms).days
    left = policy.after_penalty(points, policy.lateness(later, terms))
    assert 0 <= left <= points
    if later <= terms.deadline:
        assert policy.lateness(later, terms) == Lateness() and left == points


def test_lateness_counts_started_days():
    terms = Terms(DEADLINE, DEADLINE + timedelta(days=5), 0.1)
    assert policy.lateness(DEADLINE, terms) == Lateness(0, 0.0)
    assert policy.lateness(DEADLINE + timedelta(seconds=1), terms) == Lateness(1, 0.1)
    assert policy.lateness(DEADLINE + timedelta(days=1), terms) == Lateness(1, 0.1)
    assert policy.lateness(DEADLINE + timedelta(days=1, seconds=1), terms).days == 2
    assert policy.lateness(DEADLINE + timedelta(days=40), terms).fraction == 1.0


# --- Arrivals and the ledger -----------------------------------------------------------------------------


def test_a_commit_arrives_with_the_first_push_that_holds_it_else_at_its_first_sighting():
    parents = {"c3": ["c3", "c2", "c1"], "c2": ["c2", "c1"], "gone": []}
    t = [DEADLINE + timedelta(hours=h) for h in range(4)]
    pushes = [(t[2], "c3"), (t[1], "c2"), (t[3], "gone")]
    arrived = policy.arrivals(pushes, lambda head: parents[head], {"c4": t[0].isoformat(), "c2": t[0].isoformat()})
    assert arrived == {"c1": (t[1], policy.PUSHED), "c2": (t[1], policy.PUSHED), "c3": (t[2], policy.PUSHED),
                       "c4": (t[0], policy.SIGHTED)}
    terms = Terms(DEADLINE, t[1], 0.1)
    assert policy.choose(["c3", "c2", "c1"], arrived, terms) == "c2", "the newer of two that arrived together"
    assert policy.choose(["c3", "c2", "c1"], arrived, None) == "c3"
    assert policy.choose(["c3"], arrived, Terms(DEADLINE, DEADLINE, 0)) is None


def test_ledgers_merge_by_union_with_the_earliest_sighting_winning(tmp_path):
    early, late = DEADLINE.isoformat(), (DEADLINE + timedelta(hours=1)).isoformat()
    merged = policy.merge_ledgers({"r": {"a": late, "b": early}}, {"r": {"a": early}, "s": {"c": late}})
    assert merged == {"r": {"a": early, "b": early}, "s": {"c": late}}
    policy.save_ledger(tmp_path / policy.LEDGER, merged)
    assert policy.load_ledger(tmp_path / policy.LEDGER) == merged
    (tmp_path / policy.LEDGER).write_text("{not json")
    with pytest.raises(PolicyError, match="ledger of first sightings is damaged"):
        policy.load_ledger(tmp_path / policy.LEDGER)

