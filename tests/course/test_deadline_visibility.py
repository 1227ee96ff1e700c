"""What students see, and when, on the grade-class route: the checks' details held back until the
deadline (config.HOLD_BACK_DETAILS_UNTIL_DEADLINE), graded attempts per day
(config.GRADED_ATTEMPTS_PER_DAY), and arrival times from the grader's first sightings where
GitHub's record of pushes is unavailable (autograder/course/classroom.py, policy.py).

GitHub and the class are fakes (tests/classroom_fakes.py); the run's clock is set by the test.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from autograder import config
from autograder.course import policy

from classroom_fakes import (DEADLINE, FAKE_GRADER, PREFIX, UTC, Class,  # noqa: F401
                             fake_grader,  # a fixture
                             policy_file)


def test_without_githubs_record_the_first_sighting_decides_never_the_commit_date(tmp_path, fake_grader, monkeypatch):
    with Class(tmp_path, monkeypatch, ("gus",)) as c:
        c.fake.activity_down = True
        rules = str(policy_file(tmp_path, late=False))
        seen_early = c.push("gus", 30, DEADLINE)  # the recorded push time is never read
        assert c.run(DEADLINE - timedelta(hours=2), "--policy", rules) == 0
        c.push("gus", 90, DEADLINE, dated="2026-12-01T00:00:00+00:00")  # back-dated, first seen after the deadline
        assert c.run(DEADLINE + timedelta(minutes=30), "--policy", rules) == 0
        assert [(sha, d) for sha, _, d in c.statuses("gus")] == [(seen_early, "Points 30/100")]
        assert "first sightings" in c.report()
        assert c.gradebook()["gus"]["arrival"] == "first seen"
        ledger = policy.load_ledger(c.out / policy.LEDGER)
        assert ledger[f"{PREFIX}gus"][seen_early] == (DEADLINE - timedelta(hours=2)).isoformat()


def test_details_are_held_back_until_the_deadline_then_posted_once(tmp_path, fake_grader, monkeypatch):
    monkeypatch.setattr(config, "HOLD_BACK_DETAILS_UNTIL_DEADLINE", True)
    with Class(tmp_path, monkeypatch, ("hal",)) as c:
        sha = c.push("hal", 15, DEADLINE - timedelta(days=1))
        rules = str(policy_file(tmp_path))
        assert c.run(DEADLINE - timedelta(hours=5), "--policy", rules) == 0
        [held] = c.comments("hal")
        assert "**Points 15/100**" in held and "| Check |" not in held and "the KL term" not in held
        assert "held back until your deadline, 2026-12-20 22:59 UTC" in held
        assert c.run(DEADLINE - timedelta(hours=1), "--policy", rules) == 0
        assert len(c.comments("hal")) == 1, "nothing new before the deadline"
        assert c.run(DEADLINE + timedelta(minutes=5), "--policy", rules) == 0
        assert len(c.comments("hal")) == 2 and "the KL term" in c.comments("hal")[1]
        assert c.statuses("hal") == [(sha, "failure", "Points 15/100")], "the status was right already"
        assert c.run(DEADLINE + timedelta(hours=1), "--policy", rules) == 0
        assert len(c.comments("hal")) == 2, "the held-back details are posted once"
        assert len(fake_grader()) == 1


def test_without_hold_back_the_table_is_posted_before_the_deadline(tmp_path, fake_grader, monkeypatch):
    with Class(tmp_path, monkeypatch, ("ida",)) as c:
        c.push("ida", 15, DEADLINE - timedelta(days=1))
        assert c.run(DEADLINE - timedelta(hours=5), "--policy", str(policy_file(tmp_path))) == 0
        assert "the KL term" in c.comments("ida")[0]


def test_graded_attempts_per_day_hold_the_next_commit_and_a_grader_failure_costs_none(tmp_path, fake_grader,
                                                                                       monkeypatch):
    monkeypatch.setattr(config, "GRADED_ATTEMPTS_PER_DAY", 1)
    script = tmp_path / "fake" / "grade.py"
    day = datetime(2026, 12, 10, 9, tzinfo=UTC)
    with Class(tmp_path, monkeypatch, ("jo",)) as c:
        nothing = c.push("jo", None, day - timedelta(hours=1))  # no vae.py: nothing to grade, no attempt spent
        assert c.run(day - timedelta(minutes=30)) == 0
        assert c.statuses("jo")[0][:2] == (nothing, "failure") and "No vae.py" in c.statuses("jo")[0][2]
        first = c.push("jo", 10, day)
        script.write_text("import sys; sys.exit(3)\n")  # the grader itself fails: no attempt spent
        assert c.run(day + timedelta(hours=1)) == 1
        script.write_text(FAKE_GRADER)
        assert c.run(day + timedelta(hours=2)) == 0
        assert [(s, st) for s, st, _ in c.statuses("jo")][1:] == [(first, "error"), (first, "failure")]

        second = c.push("jo", 20, day + timedelta(hours=3))
        assert c.run(day + timedelta(hours=4)) == 0
        assert c.statuses("jo")[-1] == (second, "pending", "Not graded yet: 1 graded attempt a day, all used today; "
                                                           "graded after 2026-12-11 00:00 UTC")
        assert c.run(day + timedelta(hours=5)) == 0
        assert len(c.statuses("jo")) == 4, "the held status is posted once"
        assert len(fake_grader()) == 1, "no grading of `second` today (the grader ran for `first` alone)"

        assert c.run(day + timedelta(hours=16)) == 0  # the next UTC day
        assert c.statuses("jo")[-1] == (second, "failure", "Points 20/100")
        assert "attempts used" not in c.report() and len(fake_grader()) == 2
