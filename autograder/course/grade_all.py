"""`make grade-all SUBMISSIONS=folder`: grade a whole class in parallel and write a gradebook.

    python -m autograder.course.grade_all SUBMISSIONS [--out build/grade-all] [--jobs N] [--force]

SUBMISSIONS holds one folder per student, in either layout:
- SUBMISSIONS/<student>/...: uploads or cloned repositories; what is graded is decided by
  autograder/grading/handin.py, as for `make grade` and Gradescope (`vae.py` at the top or
  nested, e.g. `assignment/vae.py`, a notebook beside it or alone, a zip);
- SUBMISSIONS/submitted/<student>/<assignment>/...: nbgrader's exchange layout
  (`--assignment NAME` picks one when there are several).
Each student's folder is read (handin.resolve) and graded inside that student's own job, by
its own `python -m autograder.grading.grade` process, `--jobs` at a time (one per core by
default): a hand-in that cannot be read is that student's 0, with the reason, never the
class's. As root, each job runs its submission as its own sandbox uid (SANDBOX_UID - slot),
so jobs running together cannot read each other's files. A grader process that fails or
hangs costs only that student's row (0 points and an error); the batch goes on. Results go to OUT/<student>/ (results.json, feedback.png, grade.log, and
provenance.json: what produced the grade, autograder/course/provenance.py) and the
gradebook to OUT/gradebook.csv (autograder/course/gradebook.py: its text cells cannot start a
spreadsheet formula). A second run skips every student whose results.json is newer than the
files graded, unless `--force`.
Then the hand-graded points of the notebook's questions join the gradebook (merge_hand_points:
auto + manual = total per student) from OUT/manual.csv, the file autograder/course/manual.py's
template writes and a person fills in (`--manual` reads another); until it is there, every
student's manual column is blank and their total says it is incomplete. Last, the class report
(autograder/course/class_report.py) goes beside the gradebook: OUT/report.md and its figures.
"""
from __future__ import annotations

import argparse
import os
import queue
import signal
import stat
import subprocess
from functools import partial
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autograder import config, files
from autograder.course import class_report, gradebook as gradebook_format, manual, provenance
from autograder.course.gradebook import (AUTO, MANUAL_COMMENT, MANUAL_PROBLEM, STUDENT, SUMMARY, TOTAL, safe_cell,
                                         write as write_gradebook)
from autograder.grading import handin, results as results_format, student_text
from autograder.paths import DEPLOY, GRADE_ALL_OUT, ROOT

DEFAULT_OUT = GRADE_ALL_OUT
WORKFLOW = Path(".github") / "workflows" / "autograde.yml"
WORKFLOW_TEMPLATE = DEPLOY / "release_files" / "autograde.yml"
# A backstop for a grader process that hangs: the grader enforces its own per-call limits,
# and may start the worker again after a crash, hence twice the import and training limits.
JOB_TIMEOUT_S = (2 * (config.IMPORT_TIMEOUT_S + config.TRAIN_TIMEOUT_S)
                 + len(config.RUBRIC) * config.CALL_TIMEOUT_S)

Command = Callable[[Path, Path, int | None], list[str]]  # (hand-in folder, results.json, uid) -> argv


class DiscoveryError(ValueError):
    """SUBMISSIONS is not laid out as expected."""


@dataclass(frozen=True)
class Submission:
    """What one student handed in."""

    student: str
    folder: Path  # what the student handed in, as the grader is given it
    files: tuple[Path, ...] = ()  # the files graded (handin.resolve, in examine); () when nothing is graded
    problem: str = ""  # why there is nothing to grade
    workflow: str = ""  # the CI workflow in a cloned repository: "", "unchanged" or "modified"
    examined: bool = False  # whether files, problem and workflow were read from the folder yet
    commit: str = ""  # the commit these files are (make grade-class), recorded with the grade

    @property
    def file(self) -> Path | None:
        """The first file graded (vae.py, or the notebook whose code is graded), if any."""
        return self.files[0] if self.files else None


@dataclass
class Outcome:
    """How grading one student went."""

    student: str
    status: str  # "graded", "skipped" (graded before), "failed"
    results: dict[str, Any] | None = None
    error: str = ""
    seconds: float = 0.0
    workflow: str = ""
    problem: str = ""  # why nothing was graded: the student's 0 (with `error` the same), not a grader failure
    provenance: dict[str, Any] = field(default_factory=dict)  # what produced the grade (provenance.py)


# --- Finding the submissions ---------------------------------------------------------------------


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def workflow_state(folder: Path) -> str:
    """For a cloned student repository: is its CI workflow still the released one?

    Read carefully: no link is followed, only a regular file of at most WORKFLOW_MAX_BYTES is
    read; anything else there (a link, a FIFO, a device, a huge file) counts as "modified".
    """
    github, workflows = folder / WORKFLOW.parent.parent, folder / WORKFLOW.parent
    try:
        if not stat.S_ISDIR(os.lstat(github).st_mode):
            return "modified"
        if not stat.S_ISDIR(os.lstat(workflows).st_mode):
            return "modified"
    except FileNotFoundError:
        return ""
    except OSError:
        return "modified"
    try:
        with os.scandir(workflows) as entries:
            names = [entry.name for _, entry in zip(range(10), entries)]
    except OSError:
        return "modified"
    if names != [WORKFLOW.name]:
        return "modified"
    try:
        text = handin.read_regular(folder / WORKFLOW, config.WORKFLOW_MAX_BYTES, str(WORKFLOW))
    except handin.HandInError:
        return "modified"
    return "unchanged" if text == WORKFLOW_TEMPLATE.read_bytes() else "modified"


def examine(submission: Submission) -> Submission:
    """The submission with what its folder holds: the files graded, or why nothing can be; its
    workflow. Called inside the student's own job; whatever the folder holds, it does not raise."""
    if submission.examined or submission.problem:
        return submission
    code = handin.resolve(submission.folder)
    graded = code.source is not None
    return replace(submission, files=code.files if graded else (), problem="" if graded else code.note,
                   workflow=workflow_state(submission.folder), examined=True)


def discover(folder: Path, assignment: str | None = None) -> list[Submission]:
    """One Submission per student folder, in either layout (see the module docstring); what each
    holds is read later, in the student's own job (examine)."""
    if not folder.is_dir():
        raise DiscoveryError(f"{folder} is not a folder: pass the folder that holds one folder per student")
    submitted = folder / "submitted"
    if not submitted.is_dir():
        students = _subfolders(folder)
        if not students:
            raise DiscoveryError(f"{folder} holds no student folders: expected {folder}/<student>/vae.py "
                                 f"or nbgrader's {folder}/submitted/<student>/<assignment>/")
        return [Submission(s.name, s) for s in students]
    students = _subfolders(submitted)
    names = sorted({a.name for s in students for a in _subfolders(s)})
    if assignment is None:
        if len(names) > 1:
            raise DiscoveryError(f"{submitted} holds several assignments ({', '.join(names)}): "
                                 f"choose one with --assignment")
        assignment = names[0] if names else ""
    found = []
    for student in students:
        if (student / assignment).is_dir() and assignment:
            found.append(Submission(student.name, student / assignment))
        else:
            found.append(Submission(student.name, student, (), f"no submission of {assignment or 'any assignment'}"))
    return found


# --- Grading -------------------------------------------------------------------------------------------


def grade_command(folder: Path, results: Path, uid: int | None, threads: int | None = None) -> list[str]:
    """The grader's own CLI, in a process of its own, on what the student handed in (it resolves
    the code to grade as `make grade` and Gradescope do)."""
    command = [sys.executable, "-m", "autograder.grading.grade", f"--submission={folder}", f"--results={results}"]
    return (command + (["--sandbox-uid", str(uid)] if uid is not None else [])
            + (["--threads", str(threads)] if threads else []))


def is_graded(submission: Submission, results: Path) -> bool:
    """Whether `results` already holds this submission's grade (written after the files graded)."""
    if not submission.files or not results.exists():
        return False
    if results.stat().st_mtime <= max(os.lstat(file).st_mtime for file in submission.files):
        return False
    try:
        results_format.load(results)
    except (results_format.ResultsError, OSError):
        return False
    return True


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def grade_one(submission: Submission, out: Path, uid: int | None, timeout: float,
              command: Command = grade_command) -> Outcome:
    """Grade one submission in a grader process; any failure becomes the Outcome's error."""
    start = time.perf_counter()
    folder = out / submission.student
    folder.mkdir(parents=True, exist_ok=True)
    results, log = folder / "results.json", folder / "grade.log"
    results.unlink(missing_ok=True)  # a failure must not leave an older grade in place
    outcome = Outcome(submission.student, "failed", workflow=submission.workflow,
                      provenance=provenance.write(folder, submission.commit))
    if not submission.files:
        outcome.error = outcome.problem = results_format.bounded_text(submission.problem)
        log.write_text(outcome.problem + "\n")
        return outcome
    with open(log, "wb") as sink, tempfile.TemporaryDirectory(prefix="vae-handin-") as private:
        try:
            copy = private_copy(submission, Path(private))
        except handin.HandInError as error:  # changed since it was found (a file became a link, say)
            outcome.error = str(error)
            log.write_text(outcome.error + "\n")
            return outcome
        process = subprocess.Popen(command(copy, results, uid), stdout=sink, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the grader and everything it started
            process.wait()
            code = None
    outcome.seconds = time.perf_counter() - start
    if code is None:
        outcome.error = f"the grader took longer than {timeout:.0f} s and was stopped (see grade.log)"
    elif code != 0:
        outcome.error = f"the grader failed with exit status {code}: {_last_line(log)}"
    elif not results.exists():
        outcome.error = "the grader finished without writing results.json (see grade.log)"
    else:
        try:
            outcome.results, outcome.status = results_format.load(results), "graded"
        except results_format.ResultsError as error:
            outcome.error = f"results.json {error}"
    return outcome


def private_copy(submission: Submission, into: Path) -> Path:
    """The files graded of `submission` (read carefully: handin.read_regular), copied at their
    places under `into`, a folder only the grader can read. Each grading is given its copy: the
    grader's command line, which every process may read, then names no classmate's hand-in."""
    copy = into / "handin"
    for file in submission.files:
        target = copy / (file.relative_to(submission.folder) if file.is_relative_to(submission.folder) else file.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(handin.read_regular(file, config.HANDIN_MAX_BYTES, file.name))
    return copy


def sandbox_uid(slot: int) -> int | None:
    """The uid that runs slot's submissions: distinct per slot, and only when grading as root."""
    return config.SANDBOX_UID - slot if os.geteuid() == 0 else None


def grade_all(submissions: list[Submission], out: Path, jobs: int | None = None, force: bool = False,
              timeout: float = JOB_TIMEOUT_S, command: Command | None = None) -> list[Outcome]:
    """Grade what is not graded yet (everything with `force`), `jobs` at a time."""
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, jobs or os.cpu_count() or 1)
    # The cores are shared out: oversubscribed training threads slow every job down tenfold.
    command = command or partial(grade_command, threads=max(1, (os.cpu_count() or 1) // jobs))
    outcomes = []
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(jobs):
        slots.put(slot)

    def run(submission: Submission) -> Outcome:
        try:
            return job(submission)
        except Exception as error:  # noqa: BLE001 - a backstop: one student's job never stops the class
            return Outcome(submission.student, "failed", error=f"the grader failed on this student's job "
                                                              f"({type(error).__name__}: {error})"[:300])

    def job(submission: Submission) -> Outcome:
        submission = examine(submission)  # here, in the student's own job
        results = out / submission.student / "results.json"
        if not force and is_graded(submission, results):
            return Outcome(submission.student, "skipped", results_format.load(results), workflow=submission.workflow,
                           provenance=provenance.read(results.parent))
        slot = slots.get()  # never two running jobs with the same sandbox uid
        try:
            return grade_one(submission, out, sandbox_uid(slot), timeout, command)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=jobs) as pool, \
            tqdm(total=len(submissions), unit="submission", desc="grading", disable=None) as bar:
        futures = [pool.submit(run, s) for s in submissions]
        for done, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            outcomes.append(outcome)
            bar.update()
            score = (f"{results_format.score(outcome.results):g} points" if outcome.results
                     else f"error: {outcome.error}")
            bar.write(f"[{done}/{len(submissions)}] {outcome.student}: {score} ({outcome.seconds:.0f} s)",
                      file=sys.stderr)
    return sorted(outcomes, key=lambda o: o.student)


# --- The hand-graded points ---------------------------------------------------------------------------


def _hand_columns(name: str) -> bool:
    """A gradebook column that merge_hand_points writes (and writes anew on each merge)."""
    ids = {q.grade_id for q in manual.questions()}
    return name in SUMMARY or name in (MANUAL_COMMENT, MANUAL_PROBLEM) or manual.parse_header(name)[0] in ids


def merge_hand_points(gradebook: Path, points: Path | None) -> list[manual.Problem]:
    """Rewrite `gradebook` with the hand-graded points of `points` (manual.read; None: none yet)
    and return the problems found in it.

    After `student`: auto, auto_max, manual (the hand-graded points entered: blank when none,
    never 0), manual_max, total (auto + manual), total_max, total_status (`complete`, or
    `incomplete: ...` saying what is missing: a total to read with it); one column per question
    after the rubric tags' (blank: not graded yet); manual_comment; at the end manual_problem
    (why the student's row of `points` was rejected). Merging again replaces what an earlier
    merge wrote; the other columns stay as they are."""
    book = gradebook_format.read(gradebook)
    header = book.header
    auto = header.index(AUTO) if AUTO in header else header.index(TOTAL)
    kept = [i for i, name in enumerate(header) if i != auto and name != STUDENT and not _hand_columns(name)]
    tags = max((n for n, i in enumerate(kept, 1) if header[i] in config.RUBRIC), default=0)
    asked = manual.questions()
    hand = manual.read(points, [row.student for row in book.rows]) if points is not None else manual.HandPoints()
    auto_max, manual_max = results_format.RUBRIC_MAXIMUM, manual.max_points()
    merged = [[STUDENT, *SUMMARY, *(header[i] for i in kept[:tags]), *(q.header for q in asked),
               MANUAL_COMMENT, *(header[i] for i in kept[tags:]), MANUAL_PROBLEM]]
    for number, row in enumerate(book.rows, start=2):
        points_auto = results_format.finite(row[header[auto]])
        if points_auto is None:
            raise ValueError(f"{gradebook}, row {number}: the autograded points {header[auto]!r} are not a number: "
                             "expected the gradebook make grade-all wrote")
        marks = hand.marks.get(row.student)
        earned = sum(marks.points.values()) if marks and marks.points else None
        summary = [round(points_auto, 2), auto_max, "" if earned is None else round(earned, 2), manual_max,
                   round(points_auto + (earned or 0), 2), auto_max + manual_max, manual.status(marks, asked)]
        graded = [marks.points.get(q.grade_id, "") if marks else "" for q in asked]
        comment, problem = (safe_cell(results_format.bounded_text(text)) if text else ""
                            for text in ((marks.comment, marks.problem) if marks else ("", "")))
        cells = [row.written[i] if i < len(row.written) else "" for i in kept]
        merged.append([row.written[0], *summary, *cells[:tags], *graded, comment, *cells[tags:], problem])
    files.write_rows(gradebook, merged)
    return hand.problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="the folder of student folders")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where results and gradebook.csv go")
    parser.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: one per core)")
    parser.add_argument("--force", action="store_true", help="grade again what was graded before")
    parser.add_argument("--assignment", help="nbgrader layout: which assignment folder to grade")
    parser.add_argument("--timeout", type=float, default=JOB_TIMEOUT_S, help="seconds before a grader is stopped")
    parser.add_argument("--manual", type=Path, help=f"hand-graded points (default: OUT/{manual.POINTS_FILE} if there)")
    args = parser.parse_args(argv)
    try:
        submissions = discover(args.submissions, args.assignment)
    except DiscoveryError as error:
        print(f"grade-all: {error}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    outcomes = grade_all(submissions, args.out, args.jobs, args.force, args.timeout)
    elapsed = time.perf_counter() - start
    write_gradebook(outcomes, args.out / "gradebook.csv")
    points = args.manual or args.out / manual.POINTS_FILE
    for problem in merge_hand_points(args.out / "gradebook.csv", points if points.is_file() else None):
        print(f"grade-all: {points}, {student_text.line(problem)}", file=sys.stderr)
    counts = {status: sum(o.status == status for o in outcomes) for status in ("graded", "skipped", "failed")}
    rate = f", {60 * counts['graded'] / elapsed:.1f} submissions per minute" if counts["graded"] else ""
    print(f"grade-all: {len(outcomes)} students: {counts['graded']} graded, {counts['skipped']} skipped "
          f"(graded before), {counts['failed']} with an error, in {elapsed:.0f} s{rate}")
    print(f"grade-all: gradebook {args.out / 'gradebook.csv'}; each student's results in {args.out}/<student>/")
    print(f"grade-all: hand-graded points from {points if points.is_file() else 'nowhere yet'}: "
          f"{manual.summary(args.out / 'gradebook.csv')} (make manual-template, docs/course.md section 6)")
    compared = None if args.assignment else args.submissions  # the similar-code review reads grade-all's layout
    print(f"grade-all: class report {class_report.write_report(args.out / 'gradebook.csv', compared)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
