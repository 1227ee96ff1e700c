"""`make grade-all`: find every student's submission, grade them in parallel, write a gradebook."""
from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

import autograder.course.grade_all as grade_all_module
from autograder import config
from autograder.course import provenance
from autograder.course.grade_all import (
    WORKFLOW_TEMPLATE, DiscoveryError, discover, examine, grade_all, main, sandbox_uid, workflow_state, write_gradebook,
)
from autograder.grading.results import tag_points
from autograder.paths import ROOT

from hand_ins import raw_zip

# Stands in for `python -m autograder.grading.grade`: what it does is written in the student's vae.py.
#   SCORE n -> results with n points on the kl tag;  CRASH -> exit 3;  SLEEP s -> sleep first;
#   FLAGS a,b -> integrity flags a and b in extra_data;  CAUSE c -> the failed elbo check's cause code.
# Every call appends "folder uid start end" to calls.log beside this script.
FAKE_GRADER = '''\
import json, sys, time
from pathlib import Path
folder, results, uid = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
start = time.time()
words = (folder / "vae.py").read_text().split()
if "SLEEP" in words:
    time.sleep(float(words[words.index("SLEEP") + 1]))
with open(Path(__file__).with_name("calls.log"), "a") as log:
    log.write(f"{folder} {uid} {start} {time.time()} {results}\\n")
if "CRASH" in words:
    print("grader error: planted crash")
    sys.exit(3)
score = float(words[words.index("SCORE") + 1]) if "SCORE" in words else 0.0
flags = words[words.index("FLAGS") + 1].split(",") if "FLAGS" in words else []
cause = words[words.index("CAUSE") + 1] if "CAUSE" in words else "unknown"
results.write_text(json.dumps({"score": score, "extra_data": {"integrity_flags": flags}, "tests": [
    {"name": "kl", "score": score, "max_score": 15, "tags": ["kl"], "status": "passed" if score >= 15 else "failed"},
    {"name": "elbo", "score": 0, "max_score": 15, "tags": ["elbo"], "status": "failed",
     "extra_data": {"cause": cause}}]}))
'''


@pytest.fixture
def fake(tmp_path):
    """A fake grader command and a reader for the calls it received."""
    script = tmp_path / "fake" / "grade.py"
    script.parent.mkdir()
    script.write_text(FAKE_GRADER)

    def command(folder: Path, results: Path, uid: int | None, threads: int | None = None) -> list[str]:
        return [sys.executable, str(script), str(folder), str(results), str(uid)]

    def calls() -> list[list[str]]:
        log = script.with_name("calls.log")
        return [line.split() for line in log.read_text().splitlines()] if log.exists() else []

    command.calls = calls
    return command


def hand_in(folder: Path, student: str, text: str, path: str = "vae.py") -> Path:
    file = folder / student / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    an_hour_ago = time.time() - 3600  # clearly older than any grade written by the test
    os.utime(file, (an_hour_ago, an_hour_ago))
    return file


def read_gradebook(path: Path) -> dict[str, dict[str, str]]:
    with open(path) as f:
        return {row["student"]: row for row in csv.DictReader(f)}


# --- Finding the submissions ---------------------------------------------------------------------


def test_discover_finds_one_submission_per_student_folder(tmp_path):
    hand_in(tmp_path, "alice", "SCORE 1")
    bob = hand_in(tmp_path, "bob", "SCORE 2", "assignment/vae.py")  # a cloned repository
    hand_in(tmp_path, "carol", "notes", "model.py")
    (tmp_path / ".DS_Store").mkdir()
    found = {s.student: examine(s) for s in discover(tmp_path)}
    assert sorted(found) == ["alice", "bob", "carol"]
    assert found["bob"].file == bob
    assert found["carol"].file is None and "it held model.py" in found["carol"].problem


def test_discover_reads_nbgrader_submitted_layout(tmp_path):
    alice = hand_in(tmp_path / "submitted" / "alice", "vae", "SCORE 1")
    hand_in(tmp_path / "submitted" / "bob", "other", "SCORE 1")
    with pytest.raises(DiscoveryError, match="several assignments \\(other, vae\\).*--assignment"):
        discover(tmp_path)
    found = {s.student: examine(s) for s in discover(tmp_path, assignment="vae")}
    assert found["alice"].file == alice
    assert found["bob"].file is None and "no submission of vae" in found["bob"].problem


def test_discover_explains_a_folder_without_student_folders(tmp_path):
    (tmp_path / "vae.py").write_text("")
    with pytest.raises(DiscoveryError, match="<student>/vae.py"):
        discover(tmp_path)


def test_discover_takes_the_notebook_beside_vae_py_as_make_grade_does(tmp_path):
    hand_in(tmp_path, "dan", "stub", "assignment/vae.py")
    notebook = hand_in(tmp_path, "dan", json.dumps({"cells": [{"cell_type": "code", "source": "class VAE: pass",
                       "metadata": {"nbgrader": {"grade_id": config.NOTEBOOK_CODE_CELL}}}]}), "assignment/vae.ipynb")
    [dan] = map(examine, discover(tmp_path))
    assert dan.files == (notebook,) and dan.folder == tmp_path / "dan", "the grader is given the student's folder"


def test_workflow_state_flags_a_changed_or_added_workflow(tmp_path):
    repo = tmp_path / "repo"
    assert workflow_state(repo) == ""
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    shutil.copy(WORKFLOW_TEMPLATE, workflows / "autograde.yml")
    assert workflow_state(repo) == "unchanged"
    (workflows / "spoof.yml").write_text("name: Autograding Tests\n")
    assert workflow_state(repo) == "modified"
    (workflows / "spoof.yml").unlink()
    with open(workflows / "autograde.yml", "a") as f:
        f.write("# edited\n")
    assert workflow_state(repo) == "modified"


@pytest.mark.parametrize("planted", ["fifo", "link to the released file", "linked folder"])
def test_workflow_state_reads_workflows_carefully(tmp_path, planted):
    """A link is never followed (even to the released file) and a FIFO never hangs the batch."""
    workflows = tmp_path / "repo" / ".github" / "workflows"
    workflows.mkdir(parents=True)
    released = Path(shutil.copy(WORKFLOW_TEMPLATE, tmp_path / "autograde.yml"))
    if planted == "fifo":
        os.mkfifo(workflows / "autograde.yml")
    elif planted == "link to the released file":
        os.symlink(released, workflows / "autograde.yml")
    else:
        (tmp_path / "linked").mkdir()
        released.rename(tmp_path / "linked" / "autograde.yml")  # a folder holding the released file alone
        workflows.rmdir()
        os.symlink(tmp_path / "linked", workflows)
    state: list[str] = []
    reader = threading.Thread(target=lambda: state.append(workflow_state(tmp_path / "repo")), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert state == ["modified"]


# --- Grading -------------------------------------------------------------------------------------------


def test_grade_all_writes_each_students_results_and_a_gradebook_row(tmp_path, fake):
    hand_in(tmp_path / "in", "alice", "SCORE 15")
    hand_in(tmp_path / "in", "bob", "SCORE 7.5")
    out = tmp_path / "out"
    outcomes = grade_all(discover(tmp_path / "in"), out, jobs=2, command=fake)
    write_gradebook(outcomes, out / "gradebook.csv")
    book = read_gradebook(out / "gradebook.csv")
    assert list(book["alice"]) == ["student", "total", *config.RUBRIC, "workflow", "flags", "causes", "error",
                                  *provenance.COLUMNS]
    assert (book["alice"]["total"], book["alice"]["kl"], book["alice"]["elbo"]) == ("15.0", "15.0", "0.0")
    assert (book["bob"]["total"], book["bob"]["error"]) == ("7.5", "")
    assert json.loads((out / "bob" / "results.json").read_text())["score"] == 7.5


def test_the_gradebook_shows_integrity_flags_beside_unchanged_points(tmp_path, fake):
    hand_in(tmp_path / "in", "alice", "SCORE 15 FLAGS native_code,worker.ops_touched")
    hand_in(tmp_path / "in", "bob", "SCORE 15")
    outcomes = grade_all(discover(tmp_path / "in"), tmp_path / "out", jobs=2, command=fake)
    write_gradebook(outcomes, tmp_path / "gradebook.csv")
    book = read_gradebook(tmp_path / "gradebook.csv")
    assert book["alice"]["flags"] == "native_code;worker.ops_touched" and book["bob"]["flags"] == ""
    assert book["alice"]["total"] == book["bob"]["total"] == "15.0"


def test_the_gradebook_lists_each_students_distinct_cause_codes_sorted(tmp_path, fake):
    hand_in(tmp_path / "in", "alice", "SCORE 7 CAUSE grader.internal")  # kl and elbo failed
    hand_in(tmp_path / "in", "bob", "SCORE 15 CAUSE grader.not_run")  # only elbo failed
    hand_in(tmp_path / "in", "carol", "nothing to grade", "model.py")  # no results at all
    outcomes = grade_all(discover(tmp_path / "in"), tmp_path / "out", jobs=2, command=fake)
    write_gradebook(outcomes, tmp_path / "gradebook.csv")
    book = read_gradebook(tmp_path / "gradebook.csv")
    assert book["alice"]["causes"] == "grader.internal;unknown"  # kl's entry names no cause: unknown
    assert book["bob"]["causes"] == "grader.not_run" and book["carol"]["causes"] == ""


@pytest.mark.slow
def test_a_crashing_or_hanging_grader_costs_only_its_own_row(tmp_path, fake):
    for student, text in {"alice": "SCORE 15", "crash": "CRASH", "hang": "SLEEP 60", "zed": "SCORE 1"}.items():
        hand_in(tmp_path / "in", student, text)
    start = time.perf_counter()
    outcomes = {o.student: o for o in grade_all(discover(tmp_path / "in"), tmp_path / "out", jobs=2,
                                                timeout=4, command=fake)}
    assert time.perf_counter() - start < 30, "the hanging grader should have been stopped at its timeout"
    assert outcomes["alice"].status == outcomes["zed"].status == "graded"
    assert outcomes["crash"].status == "failed" and "exit status 3: grader error: planted crash" in outcomes["crash"].error
    assert outcomes["hang"].status == "failed" and "longer than 4 s" in outcomes["hang"].error
    write_gradebook(list(outcomes.values()), tmp_path / "gradebook.csv")
    assert read_gradebook(tmp_path / "gradebook.csv")["hang"]["total"] == "0"


def test_a_student_without_a_file_gets_zero_and_the_reason(tmp_path, fake):
    hand_in(tmp_path / "in", "carol", "notes", "model.py")
    [outcome] = grade_all(discover(tmp_path / "in"), tmp_path / "out", command=fake)
    assert outcome.status == "failed" and "No vae.py was found" in outcome.error and fake.calls() == []


def test_hand_ins_that_cannot_be_read_cost_only_their_own_rows(tmp_path, fake):

    hand_in(tmp_path / "in", "alice", "SCORE 15")
    (tmp_path / "in" / "mallory").mkdir()  # a name marked UTF-8 that is not
    (tmp_path / "in" / "mallory" / "hand-in.zip").write_bytes(raw_zip([(b"vae.py", 0x800, 0, b"SCORE 15"),
                                                                     (b"\xff.txt", 0x800, 0, b"")]))
    (tmp_path / "in" / "deep").mkdir()  # deeper than PATH_MAX and the recursion limit
    (tmp_path / "in" / "deep" / "d.zip").write_bytes(raw_zip([(b"vae.py", 0, 0, b"SCORE 15"),
                                                             (b"a/" * 3000 + b"f", 0, 0, b"")]))
    hand_in(tmp_path / "in", os.fsdecode(b"\xe9mile-latin1"), "notes", os.fsdecode(b"notes\xff.txt"))
    outcomes = {o.student: o for o in grade_all(discover(tmp_path / "in"), tmp_path / "out", command=fake)}
    assert outcomes["alice"].status == "graded" and outcomes["alice"].results["score"] == 15
    assert "not valid UTF-8" in outcomes["mallory"].problem and "3,001 folders deep" in outcomes["deep"].problem
    assert [Path(c[-1]).parent.name for c in fake.calls()] == ["alice"]  # (c[0]: the private copy)
    write_gradebook(list(outcomes.values()), tmp_path / "gradebook.csv")
    rows = read_gradebook(tmp_path / "gradebook.csv")  # valid UTF-8: read strictly
    assert rows["\\xe9mile-latin1"]["total"] == "0" and "notes\\xff.txt" in rows["\\xe9mile-latin1"]["error"]
    assert rows["mallory"]["total"] == "0" and "not valid UTF-8" in rows["mallory"]["error"]


def test_a_job_that_fails_unexpectedly_costs_only_its_own_row(tmp_path, fake, monkeypatch):
    hand_in(tmp_path / "in", "alice", "SCORE 15")
    hand_in(tmp_path / "in", "bob", "SCORE 15")
    resolve = grade_all_module.handin.resolve

    def fails_for_bob(folder: Path):
        if folder.name == "bob":
            raise OSError("planted")
        return resolve(folder)

    monkeypatch.setattr(grade_all_module.handin, "resolve", fails_for_bob)
    submissions = discover(tmp_path / "in")  # reads nothing a student handed in
    outcomes = {o.student: o for o in grade_all(submissions, tmp_path / "out", command=fake)}
    assert outcomes["alice"].status == "graded"
    assert outcomes["bob"].status == "failed" and "OSError: planted" in outcomes["bob"].error


def test_a_second_run_grades_only_what_changed_unless_forced(tmp_path, fake):
    alice = hand_in(tmp_path / "in", "alice", "SCORE 15")
    hand_in(tmp_path / "in", "bob", "SCORE 1")
    out = tmp_path / "out"
    grade_all(discover(tmp_path / "in"), out, command=fake)
    assert len(fake.calls()) == 2
    again = grade_all(discover(tmp_path / "in"), out, command=fake)
    assert len(fake.calls()) == 2 and {o.status for o in again} == {"skipped"}
    assert [o.results["score"] for o in again] == [15, 1], "skipped students keep their grade in the gradebook"
    later = time.time() + 5
    os.utime(alice, (later, later))  # alice handed in again
    grade_all(discover(tmp_path / "in"), out, command=fake)
    assert [Path(c[-1]).parent.name for c in fake.calls()[2:]] == ["alice"]  # (results.json of) alice only
    grade_all(discover(tmp_path / "in"), out, force=True, command=fake)
    assert len(fake.calls()) == 5


def test_a_failed_grade_is_tried_again_on_the_next_run(tmp_path, fake):
    bob = hand_in(tmp_path / "in", "bob", "CRASH")
    grade_all(discover(tmp_path / "in"), tmp_path / "out", command=fake)
    bob.write_text("SCORE 2")
    os.utime(bob, (1, 1))  # older than anything written since: only a missing results.json can trigger this
    [outcome] = grade_all(discover(tmp_path / "in"), tmp_path / "out", command=fake)
    assert outcome.status == "graded" and outcome.results["score"] == 2


def test_jobs_run_together_and_never_share_a_sandbox_uid(tmp_path, fake, monkeypatch):
    monkeypatch.setattr(grade_all_module, "sandbox_uid", lambda slot: 60000 - slot)
    for student in "abcdef":
        hand_in(tmp_path / "in", student, "SLEEP 0.5 SCORE 1")
    grade_all(discover(tmp_path / "in"), tmp_path / "out", jobs=3, command=fake)
    calls = [(int(uid), float(start), float(end)) for _, uid, start, end, _ in fake.calls()]
    assert {uid for uid, _, _ in calls} <= {60000, 59999, 59998}
    overlapping = [(a, b) for i, a in enumerate(calls) for b in calls[i + 1:] if a[1] < b[2] and b[1] < a[2]]
    assert overlapping, "with 3 jobs some gradings should overlap in time"
    assert all(a[0] != b[0] for a, b in overlapping), "two gradings at once used the same sandbox uid"


def test_sandbox_uids_count_down_from_the_configured_one_only_as_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert [sandbox_uid(slot) for slot in range(3)] == [config.SANDBOX_UID - s for s in range(3)]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert sandbox_uid(0) is None


def test_tag_points_sum_the_scores_of_each_rubric_tag():
    results = {"tests": [{"score": 5, "tags": ["kl"]}, {"score": 2.5, "tags": ["kl"]},
                         {"score": 1, "tags": ["not-a-tag"]}]}
    points = tag_points(results)
    assert points["kl"] == 7.5 and sum(points.values()) == 7.5 and list(points) == list(config.RUBRIC)


def test_gradebook_cells_cannot_start_a_spreadsheet_formula(tmp_path):
    outcomes = [grade_all_module.Outcome(name, "failed", error=error) for name, error in
                [("=HYPERLINK(\"http://x\")", "+1"), ("-2", "@SUM(A1)"), ("\tcmd", "-x"), ("alice", "no vae.py")]]
    write_gradebook(outcomes, tmp_path / "gradebook.csv")
    book = read_gradebook(tmp_path / "gradebook.csv")
    assert set(book) == {"'=HYPERLINK(\"http://x\")", "'-2", "'\tcmd", "alice"}
    assert [row["error"] for row in book.values()] == ["'+1", "'@SUM(A1)", "'-x", "no vae.py"]
    assert book["alice"]["total"] == "0"


def test_cli_reports_counts_and_throughput_and_rejects_a_bad_folder(tmp_path, fake, monkeypatch, capsys):
    monkeypatch.setattr(grade_all_module, "grade_command", fake)
    hand_in(tmp_path / "in", "alice", "SCORE 15")
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "1 students: 1 graded, 0 skipped" in printed and "submissions per minute" in printed
    assert (tmp_path / "out" / "gradebook.csv").exists()
    assert main([str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_cli_adds_the_hand_graded_points_of_manual_csv_beside_the_gradebook(tmp_path, fake, monkeypatch, capsys):
    from autograder.course import manual

    monkeypatch.setattr(grade_all_module, "grade_command", fake)
    hand_in(tmp_path / "in", "alice", "SCORE 15")
    hand_in(tmp_path / "in", "bob", "SCORE 5")
    out = tmp_path / "out"
    assert main([str(tmp_path / "in"), "--out", str(out), "--jobs", "1"]) == 0  # no points yet: blank, incomplete
    assert "0 of 2 students have all their hand-graded points" in capsys.readouterr().out
    book = read_gradebook(out / "gradebook.csv")
    assert (book["alice"]["auto"], book["alice"]["manual"], book["alice"]["total"]) == ("15.0", "", "15.0")
    assert book["alice"]["total_status"] == "incomplete: no hand-graded points yet"
    manual.write_template(out / "gradebook.csv", out / manual.POINTS_FILE)
    lines = (out / manual.POINTS_FILE).read_text().splitlines()
    given = ",".join(f"{q.points:g}" for q in manual.questions())
    (out / manual.POINTS_FILE).write_text("\n".join([lines[0], f"alice,{given},", "mallory,1,,,,,,"]) + "\n")
    assert main([str(tmp_path / "in"), "--out", str(out), "--jobs", "1"]) == 0  # graded before: only merged
    captured = capsys.readouterr()
    assert "row 3: student 'mallory' is not in the gradebook" in captured.err
    book = read_gradebook(out / "gradebook.csv")
    assert float(book["alice"]["total"]) == 15 + manual.max_points() and book["alice"]["total_status"] == "complete"
    assert book["bob"]["manual"] == "" and float(book["bob"]["total"]) == 5.0
    assert "## Hand-graded questions" in (out / "report.md").read_text()


# --- With the real grader ------------------------------------------------------------------------------


@pytest.mark.slow
def test_grade_all_grades_the_reference_the_stubs_and_a_syntax_error(tmp_path):
    submissions = tmp_path / "class"
    hand_in(submissions, "reference", (ROOT / "solutions" / "vae.py").read_text())
    hand_in(submissions, "stubs", (ROOT / "assignment" / "vae.py").read_text())
    hand_in(submissions, "syntax", "def encode(self x):\n    return\n")
    out = ROOT / "build" / f"test-grade-all-{os.getpid()}"  # reachable by the sandbox user, unlike tmp_path
    try:
        outcomes = {o.student: o for o in grade_all(discover(submissions), out)}
        assert {o.status for o in outcomes.values()} == {"graded"}, {s: o.error for s, o in outcomes.items()}
        maximum = sum(points for points, _ in config.RUBRIC.values())
        assert outcomes["reference"].results["score"] == maximum
        assert outcomes["stubs"].results["score"] <= 0.1 * maximum
        assert outcomes["syntax"].results["score"] == 0
        assert (out / "reference" / "results.json").exists()
    finally:
        shutil.rmtree(out, ignore_errors=True)
