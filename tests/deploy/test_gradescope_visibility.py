"""What students see on Gradescope, and when (issue 19, section 5).

Two settings of autograder/config.py: HOLD_BACK_DETAILS_UNTIL_DEADLINE (the hidden checks'
entries `after_due_date`, the score alone before it) and GRADED_ATTEMPTS_PER_DAY (the day's
graded attempts counted from Gradescope's submission_metadata.json; over the limit the grader
does not run). Hypothesis writes metadata of any shape (times in any offset, garbage, missing
fields, results of every kind) and checks the count against how each entry was generated. The
end-to-end tests run `gradescope.run` on a folder laid out like /autograder with a fake grader
(a script that writes results as the real one does, in well under a second).
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder import config
from autograder.deploy import gradescope
from autograder.grading import results
from autograder.paths import ROOT

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 5, 15, 30, tzinfo=UTC)
TAGS = list(config.RUBRIC)


def graded(score: float = 40.0) -> results.Results:
    """A result in which the hidden checks ran: one check passed, one failed for a mistake of the code."""
    return results.build([results.entry(TAGS[0], "passes", score, True),
                          results.entry(TAGS[1], "fails", 10.0, False, "your KL is averaged", cause="function.raised")])


KINDS = {  # each kind of earlier result, and whether it used one of the day's graded attempts
    "graded": (graded, True),
    "grader_failed": (lambda: results.zero_result(gradescope.GRADER_FAILED), False),
    "nothing_to_grade": (lambda: results.build(results.zero_tests("No vae.py", "handin.not_gradable")), False),
    "attempt_limited": (lambda: gradescope.attempt_limited(metadata([previous(NOW - dt.timedelta(hours=1))]), 1),
                        False),
    "garbage": (lambda: "not a result", False),
    "missing": (lambda: None, False),
}


def previous(time: dt.datetime | str | None, kind: str = "graded", score: object = 40.0) -> dict:
    """One entry of previous_submissions, as Gradescope writes it (a field None: left out)."""
    entry = {"submission_time": time.isoformat() if isinstance(time, dt.datetime) else time, "score": score,
             "results": KINDS[kind][0]()}
    return {key: value for key, value in entry.items() if value is not None}


def metadata(earlier: list[dict], now: dt.datetime = NOW, due: dt.datetime | None = None, **extra) -> dict:
    """submission_metadata.json of an upload made at `now`."""
    meta = {"id": 1, "created_at": now.isoformat(), "previous_submissions": earlier,
            "users": [{"email": "s@uni.edu", "id": 7, "name": "S"}], **extra}
    if due is not None:
        meta["assignment"] = {"due_date": due.isoformat(), "title": "VAE"}
    return meta


# --- Counting the day's graded attempts -----------------------------------------------------------


def test_only_earlier_gradings_of_the_same_utc_day_count():
    earlier = [previous(NOW - dt.timedelta(hours=2)),  # counts
               previous(NOW.replace(hour=0, minute=0)),  # counts: midnight UTC is today
               previous(NOW.replace(hour=0, minute=0) - dt.timedelta(seconds=1)),  # yesterday
               previous(NOW + dt.timedelta(minutes=5)),  # after this upload (a regrade sees it)
               previous(NOW - dt.timedelta(hours=1), "grader_failed"),
               previous(NOW - dt.timedelta(hours=1), "nothing_to_grade"),
               previous(NOW - dt.timedelta(hours=1), "attempt_limited")]
    assert len(gradescope.graded_attempts(metadata(earlier))) == 2


def test_the_day_is_utcs_whatever_the_offset_gradescope_writes():
    pacific = dt.timezone(dt.timedelta(hours=-8))
    # 16:00 on Dec 4 in California is 00:00 on Dec 5 in UTC: today; 15:59 is yesterday.
    earlier = [previous(dt.datetime(2026, 12, 4, 16, 0, tzinfo=pacific)),
               previous(dt.datetime(2026, 12, 4, 15, 59, tzinfo=pacific))]
    assert len(gradescope.graded_attempts(metadata(earlier))) == 1


times = st.datetimes(min_value=dt.datetime(2026, 12, 3), max_value=dt.datetime(2026, 12, 7),
                     timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=-7)),
                                                dt.timezone(dt.timedelta(hours=5, minutes=30))]))
garbage = st.one_of(st.none(), st.integers(), st.text(max_size=30), st.just("2026-13-40T99:00:00"))
scores = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none(), st.text(max_size=5), st.booleans())


@st.composite
def histories(draw) -> tuple[dict, int]:
    """Metadata with generated earlier submissions, and how many of them are today's graded attempts."""
    now = draw(times)
    expected, earlier = 0, []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(sorted(KINDS)))
        time = draw(st.one_of(times, garbage))
        entry = previous(time, kind, draw(scores))
        if draw(st.booleans()):  # a field missing
            entry.pop(draw(st.sampled_from(["submission_time", "score", "results"])), None)
        valid_time = isinstance(time, dt.datetime) and "submission_time" in entry
        if valid_time and "results" in entry and KINDS[kind][1] and time < now \
                and time.astimezone(UTC).date() == now.astimezone(UTC).date():
            expected += 1
        earlier.append(entry)
    meta = metadata(earlier, now)
    if draw(st.booleans()):
        meta.update(draw(st.dictionaries(st.sampled_from(["users", "assignment", "created_at"]), garbage)))
        if "created_at" in meta and not isinstance(meta["created_at"], str):
            return meta, -1  # no readable upload time: the clock decides, no count to check
    return meta, expected


@EXAMPLES
@given(history=histories(), limit=st.one_of(st.none(), st.integers(1, 5)))
def test_any_metadata_is_counted_right_and_never_crashes(history, limit):
    meta, expected = history
    attempts = gradescope.graded_attempts(meta)
    if expected >= 0 and gradescope.parse_time(meta.get("created_at")) is not None:
        assert len(attempts) == expected
    refused = gradescope.attempt_limited(meta, limit)
    assert (refused is not None) == (limit is not None and len(attempts) >= limit)
    if refused is not None:
        json.loads(results.to_json(refused))  # strict JSON whatever the scores were
        assert refused["tests"] == [] and "Not graded" in refused["output"]
        assert refused["score"] == (attempts[-1][1] if attempts[-1][1] is not None else 0.0)
    gradescope.due_date(meta)


@EXAMPLES
@given(content=st.one_of(st.binary(max_size=200), st.just(b"[" * 100_000 + b"]" * 100_000), st.recursive(
    st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
        ["previous_submissions", "submission_time", "results", "score", "tests", "created_at", "users",
         "assignment", "due_date"]), inner, max_size=4)), max_leaves=20).map(lambda v: json.dumps(v).encode())))
def test_a_metadata_file_of_any_content_never_crashes(tmp_path, content):
    path = tmp_path / "submission_metadata.json"
    path.write_bytes(content)
    meta = gradescope.read_metadata(path)
    gradescope.attempt_limited(meta, 1)
    gradescope.due_date(meta)


# --- The limit -------------------------------------------------------------------------------------


def test_over_the_limit_keeps_the_newest_graded_score_and_says_when_the_next_attempt_opens():
    earlier = [previous(NOW - dt.timedelta(hours=1), score=55.5), previous(NOW - dt.timedelta(hours=3), score=12.0),
               previous(NOW - dt.timedelta(hours=2), score=30.0),  # Gradescope's order is not the newest last
               previous(NOW - dt.timedelta(minutes=10), "grader_failed", score=0.0)]
    assert gradescope.attempt_limited(metadata(earlier), 4) is None
    refused = gradescope.attempt_limited(metadata(earlier), 3)
    assert refused["score"] == 55.5
    assert "2026-12-06 00:00 UTC" in refused["output"] and "3 graded attempts" in refused["output"]
    assert not gradescope.hidden_checks_ran(refused), "a refused upload costs no attempt"


def test_without_a_readable_score_the_refusal_gives_0_and_says_how_to_keep_the_earlier_one():
    earlier = [{"submission_time": (NOW - dt.timedelta(hours=1)).isoformat(), "score": "n/a",
                "results": {**graded(), "score": None}}]
    refused = gradescope.attempt_limited(metadata(earlier), 1)
    assert refused["score"] == 0.0 and "Submission History" in refused["output"]


def test_the_score_falls_back_to_the_earlier_results_own_score():
    earlier = [{"submission_time": (NOW - dt.timedelta(hours=1)).isoformat(), "results": graded(33.0)}]
    assert gradescope.attempt_limited(metadata(earlier), 1)["score"] == 33.0


def test_no_limit_never_refuses():
    earlier = [previous(NOW - dt.timedelta(minutes=m)) for m in range(1, 50)]
    assert gradescope.attempt_limited(metadata(earlier), None) is None


# --- Holding back the details ---------------------------------------------------------------------


def test_held_back_details_show_after_the_deadline_and_the_score_now():
    due = NOW + dt.timedelta(days=2)
    held = gradescope.hold_back(graded(40.0), due, NOW)
    assert [test["visibility"] for test in held["tests"]] == ["after_due_date"] * 2
    assert held["visibility"] == "visible" and held["score"] == 40.0
    assert held["output"].startswith("Score: 40 / 50.") and "2026-12-07 15:30 UTC" in held["output"]
    assert "averaged" not in held["output"]


@pytest.mark.parametrize("make", [lambda: results.zero_result(gradescope.GRADER_FAILED),
                                  lambda: results.build(results.zero_tests("No vae.py was found", "handin.not_gradable"))])
def test_a_result_where_no_hidden_check_ran_stays_visible(make):
    shown = gradescope.hold_back(make(), NOW + dt.timedelta(days=1), NOW)
    assert {test["visibility"] for test in shown["tests"]} == {"visible"}
    assert not shown["output"].startswith("Score:")


def test_after_the_deadline_nothing_is_held_back():
    shown = gradescope.hold_back(graded(), NOW - dt.timedelta(seconds=1), NOW)
    assert {test["visibility"] for test in shown["tests"]} == {"visible"}


def test_a_students_own_due_date_is_their_deadline():
    meta = metadata([], due=NOW, users=[{"id": 7, "assignment": {"due_date": "2026-12-09T23:59:00-05:00"}},
                                        {"id": 8, "assignment": {"due_date": None}}])
    assert gradescope.due_date(meta) == dt.datetime(2026, 12, 10, 4, 59, tzinfo=UTC)
    assert gradescope.due_date(metadata([], due=NOW)) == NOW


# --- run_autograder's run, with a fake grader ------------------------------------------------------

FAKE_GRADER = '''\
"""A stand-in for autograder.grading.grade: writes results as it does, and marks that it ran."""
import argparse, os, sys
from pathlib import Path
from autograder.grading import results
parser = argparse.ArgumentParser()
parser.add_argument("--submission", type=Path)
parser.add_argument("--results", type=Path)
args = parser.parse_args()
(args.results.parent / "grader-ran").touch()
if os.environ.get("FAKE_GRADE") == "crash":
    sys.exit("grader error: planted failure")
results.write(results.build([results.entry("%s", "passes", 40.0, True),
                             results.entry("%s", "fails", 10.0, False, "SECRET DETAIL", cause="function.raised")]),
              args.results)
''' % (TAGS[0], TAGS[1])


@pytest.fixture
def root(tmp_path) -> Path:
    """A folder laid out like /autograder: submission/ and a fake grader."""
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "vae.py").write_text("x = 1\n")
    (tmp_path / "fake_grade.py").write_text(FAKE_GRADER)
    return tmp_path


def grade(root: Path, meta: dict | None, monkeypatch, limit: int | None = None, hold: bool = False,
          crash: bool = False) -> tuple[int, dict, bool]:
    """gradescope.run with the settings given: (exit status, results.json, whether the grader ran)."""
    monkeypatch.setattr(config, "GRADED_ATTEMPTS_PER_DAY", limit)
    monkeypatch.setattr(config, "HOLD_BACK_DETAILS_UNTIL_DEADLINE", hold)
    monkeypatch.setenv("FAKE_GRADE", "crash" if crash else "")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the fake imports the results module, as the grader does
    if meta is not None:
        (root / gradescope.METADATA).write_text(json.dumps(meta))
    (root / "results" / "grader-ran").unlink(missing_ok=True)
    code = gradescope.run(root, grader=(sys.executable, str(root / "fake_grade.py")))
    output = json.loads((root / "results" / "results.json").read_text())
    return code, output, (root / "results" / "grader-ran").exists()


def test_run_over_the_limit_does_not_run_the_grader(root, monkeypatch):
    earlier = [previous(NOW - dt.timedelta(hours=1), score=44.0)]
    code, output, ran = grade(root, metadata(earlier), monkeypatch, limit=1)
    assert code == 0 and not ran and output["score"] == 44.0 and "SECRET" not in json.dumps(output)
    code, output, ran = grade(root, metadata(earlier), monkeypatch, limit=2)
    assert code == 0 and ran and output["score"] == 40.0


def test_a_grader_failure_costs_no_attempt_end_to_end(root, monkeypatch):
    code, failed, ran = grade(root, metadata([]), monkeypatch, limit=1, crash=True)
    assert code != 0 and ran and "autograder itself failed" in failed["output"]
    earlier = [{"submission_time": (NOW - dt.timedelta(minutes=5)).isoformat(), "score": 0.0, "results": failed}]
    code, output, ran = grade(root, metadata(earlier), monkeypatch, limit=1)
    assert ran and output["score"] == 40.0, "the failed grading was not counted"
    earlier.append({"submission_time": (NOW - dt.timedelta(minutes=2)).isoformat(), "score": 40.0, "results": output})
    code, output, ran = grade(root, metadata(earlier), monkeypatch, limit=1)
    assert not ran and output["score"] == 40.0, "the good grading was"


def test_run_with_hold_back_hides_the_details_until_the_deadline(root, monkeypatch):
    code, output, ran = grade(root, metadata([], due=NOW + dt.timedelta(days=1)), monkeypatch, hold=True)
    assert code == 0 and ran
    assert {test["visibility"] for test in output["tests"]} == {"after_due_date"}
    assert output["visibility"] == "visible" and output["output"].startswith("Score: 40 / 50.")
    code, output, _ = grade(root, metadata([], due=NOW + dt.timedelta(days=1)), monkeypatch, hold=False)
    assert {test["visibility"] for test in output["tests"]} == {"visible"}, "off by default: nothing held back"


def test_run_without_metadata_grades_as_before(root, monkeypatch):
    code, output, ran = grade(root, None, monkeypatch, limit=1, hold=True)
    assert code == 0 and ran and output["score"] == 40.0
    assert {test["visibility"] for test in output["tests"]} == {"after_due_date"}, "no deadline known: held back"


def test_the_settings_are_off_by_default():
    assert config.HOLD_BACK_DETAILS_UNTIL_DEADLINE is False and config.GRADED_ATTEMPTS_PER_DAY is None
