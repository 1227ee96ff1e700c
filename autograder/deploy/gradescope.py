"""Gradescope: build the autograder zip, and grade one upload inside Gradescope's container.

    python -m autograder.deploy.gradescope zip [--out build/autograder.zip]   # `make autograder-zip`
    python -m autograder.deploy.gradescope run [--root /autograder]           # what run_autograder does

The zip holds, at its root, Gradescope's two entry points (autograder/deploy/gradescope_files/:
`setup.sh` builds the image once, `run_autograder` runs per submission) and what grading an
upload needs, nothing more (GRADER_FOLDERS, GRADER_FILES, the packed MNIST): the grader, the
reference vae.py, what `make setup` reads. Never the solution notebook (model answers), the
public checks, the instructor's workflows and deploy tools, the authoring tools, the evidence
or this repository's tests.

`run` hands <root>/submission, the upload as the student made it, to `python -m
autograder.grading.grade`, which resolves it exactly as `make grade` and `grade-all` do
(autograder/grading/handin.py: vae.py at the top or nested, a notebook beside it or alone, a
zip) and writes <root>/results/results.json. When the upload holds nothing to grade, the
grader's results say so; when the grader itself fails, `run` still leaves a results.json (every
rubric line at 0 points) that tells the student what happened.

What students see, and when (autograder/config.py, both off by default; docs/course.md):

- HOLD_BACK_DETAILS_UNTIL_DEADLINE: every hidden check's entry gets Gradescope's
  `after_due_date` visibility, and the top-level output, which stays visible, states the score
  alone (Gradescope may hide the total while some entries are hidden: the output line is what
  the student is sure to see). A result in which no hidden check ran (nothing gradable handed
  in, the grader's own failure) reveals nothing about them and stays visible: the student must
  learn what went wrong.
- GRADED_ATTEMPTS_PER_DAY = n: Gradescope's submission_metadata.json lists the earlier
  submissions with their times and results. Those of the same UTC day as this one (its
  `created_at`, not the clock, so that a regrade decides the same; UTC because it is the one day
  every student shares, whatever Gradescope's course time zone) in which the hidden checks ran
  are the day's graded attempts; a grading the grader itself failed, an upload with nothing to
  grade, or one turned away by this limit costs none. The (n+1)-th upload of the day is not
  graded (the hidden graders never run, so it tells nothing new): its result keeps the score of
  the newest graded attempt, so that Gradescope, which counts the newest submission, does not
  lower the grade, and says when the next graded attempt opens (midnight UTC).

Extensions are Gradescope's own: a student's own due date, when the metadata carries one
(`users[].assignment.due_date`), is their deadline in what the output says.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from autograder import config
from autograder.grading import causes, results
from autograder.paths import AUTOGRADER_ZIP, DEPLOY, ROOT, SKIP_DIRS

ENTRY_POINTS = DEPLOY / "gradescope_files"
DEFAULT_ROOT = Path("/autograder")
# What the zip holds besides the entry points: what grading one upload needs, relative to the
# repository. Every file of these folders (caches left out) ...
GRADER_FOLDERS = ("autograder/grading", "autograder/hidden", "autograder/sandbox")
# ... these files (`make setup` reads the Makefile, setup.mk and requirements.txt, and unpacks and checks
# MNIST with solutions/common.py; handin.py reads solutions/graded.py; run_autograder calls this module) ...
GRADER_FILES = ("autograder/__init__.py", "autograder/config.py", "autograder/paths.py", "autograder/cleanup.py", "autograder/files.py",
                "autograder/deploy/__init__.py", "autograder/deploy/gradescope.py",
                "solutions/vae.py", "solutions/common.py", "solutions/graded.py", "requirements.txt", "Makefile",
                "setup.mk", "data/SHA256SUMS")
# ... and MNIST packed (setup.sh unpacks and verifies it: never the unpacked 50 MB).
PACKED_DATA = "data/MNIST/raw/*.gz"
GRADER = (sys.executable, "-m", "autograder.grading.grade")
GRADER_FAILED = ("The autograder itself failed on this submission (not a problem in your code that it could "
                 "name). Your instructor can see the log; try again later or tell them.")
METADATA = "submission_metadata.json"  # Gradescope's, beside submission/ and results/
HELD_BACK = "after_due_date"  # Gradescope's visibility: shown once the due date has passed
# Causes that say a check never ran on the student's code: a result made only of these tells
# nothing about the hidden checks (see hidden_checks_ran).
NOT_RUN_CAUSES = frozenset({causes.NOT_RUN, "handin.not_gradable"})
ATTEMPT_LIMITED = "attempt_limited"  # in extra_data of a result the daily limit turned away


def source_files(root: Path = ROOT) -> list[Path]:
    """The repository files the zip carries, relative to `root`."""
    files = [Path(name) for name in GRADER_FILES] + [p.relative_to(root) for p in root.glob(PACKED_DATA)]
    for folder in GRADER_FOLDERS:
        files += [p.relative_to(root) for p in (root / folder).rglob("*")
                  if p.is_file() and SKIP_DIRS.isdisjoint(p.relative_to(root / folder).parts)]
    return sorted(files)


def _add(archive: zipfile.ZipFile, source: Path, name: str, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # same bytes for the same files
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, source.read_bytes())


def build_zip(out: Path, root: Path = ROOT) -> list[str]:
    """Write the autograder zip to `out`; returns the names it holds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for script in ("setup.sh", "run_autograder"):
            _add(archive, ENTRY_POINTS / script, script, 0o755)
        for relative in source_files(root):
            _add(archive, root / relative, relative.as_posix(), 0o644)
        names = archive.namelist()
    partial.replace(out)
    return names


# --- What students see, and when --------------------------------------------------------------------


def read_metadata(path: Path) -> dict[str, Any]:
    """Gradescope's submission_metadata.json; {} when it is missing or not a JSON object (then no
    attempt is counted and the assignment's deadline is unknown: grading goes on)."""
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        print(f"run_autograder: {path} not read ({error}): no attempt limit, no deadline")
        return {}
    return metadata if isinstance(metadata, dict) else {}


def parse_time(value: object) -> dt.datetime | None:
    """An ISO 8601 time of the metadata in UTC (one without an offset taken as UTC); None for
    anything else."""
    if not isinstance(value, str):
        return None
    try:
        time = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return time.replace(tzinfo=time.tzinfo or dt.timezone.utc).astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        return None


def _field(value: object, *keys: str) -> object:
    """value[keys[0]][keys[1]]...; None where a level is missing or not an object."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def due_date(metadata: dict[str, Any]) -> dt.datetime | None:
    """The deadline of this submission: the latest of its students' own due dates (Gradescope's
    extensions, `users[].assignment.due_date`), else the assignment's."""
    users = metadata.get("users")
    own = [parse_time(_field(user, "assignment", "due_date")) for user in users] if isinstance(users, list) else []
    own = [time for time in own if time is not None]
    return max(own) if own else parse_time(_field(metadata, "assignment", "due_date"))


def submitted_at(metadata: dict[str, Any]) -> dt.datetime:
    """When this upload was made (`created_at`); the clock only when the metadata lacks it."""
    return parse_time(metadata.get("created_at")) or dt.datetime.now(dt.timezone.utc)


def hidden_checks_ran(result: object) -> bool:
    """Whether a result shows the hidden checks run on the student's code: some check passed or
    failed for a reason of the code. Not so for a grading the grader itself failed (every check
    `grader.not_run`: GRADER_FAILED), an upload with nothing to grade (`handin.not_gradable`), a
    result the attempt limit made, or anything that is not a result."""
    tests = result.get("tests") if isinstance(result, dict) else None
    if not isinstance(tests, list) or _field(result, "extra_data", ATTEMPT_LIMITED) is True:
        return False
    return any(isinstance(test, dict) and causes.cause_of(test) not in NOT_RUN_CAUSES for test in tests)


def graded_attempts(metadata: dict[str, Any]) -> list[tuple[dt.datetime, float | None]]:
    """This UTC day's graded attempts before this upload, oldest first: (time, score or None)."""
    now = submitted_at(metadata)
    previous = metadata.get("previous_submissions")
    found = []
    for submission in previous if isinstance(previous, list) else []:
        time = parse_time(_field(submission, "submission_time"))
        if time is None or time >= now or time.date() != now.date():
            continue
        if hidden_checks_ran(_field(submission, "results")):
            score = results.finite(_field(submission, "score"))
            found.append((time, score if score is not None else results.finite(_field(submission, "results", "score"))))
    return sorted(found, key=lambda attempt: attempt[0])


def next_day(now: dt.datetime) -> str:
    """When the next graded attempt opens: the next midnight UTC, as the student reads it."""
    try:
        return f"{dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time()):%Y-%m-%d %H:%M} UTC"
    except OverflowError:
        return "tomorrow (UTC)"


def attempt_limited(metadata: dict[str, Any], limit: int | None) -> results.Results | None:
    """The result of an upload over the day's limit of graded attempts (None: grade it). It keeps
    the newest graded attempt's score (Gradescope counts the newest submission: a 0 would lower the
    grade); without a readable score, 0 and a line saying how to keep the earlier one."""
    if limit is None:
        return None
    attempts = graded_attempts(metadata)
    if len(attempts) < limit:
        return None
    now = submitted_at(metadata)
    plural = "s" if limit != 1 else ""
    message = (f"Not graded: you have used today's {limit} graded attempt{plural} (the day is UTC's). "
               f"The next graded attempt opens at {next_day(now)}. The public checks (`make check`) "
               f"stay unlimited.")
    score = attempts[-1][1]
    if score is None:
        score = 0.0
        message += (" Your last graded attempt's score could not be read, so this upload shows 0: "
                    "activate that submission in your Submission History to keep its score.")
    else:
        message += f" This upload keeps the score of your last graded attempt: {score:g}."
    refused = results.build([], output=message, extra={ATTEMPT_LIMITED: True, "graded_attempts_today": len(attempts)})
    refused["score"] = score
    return refused


def hold_back(result: results.Results, deadline: dt.datetime | None, now: dt.datetime) -> results.Results:
    """`result` with its hidden checks' details shown after the deadline and the score alone
    before it; unchanged when no hidden check ran or the deadline has passed."""
    if not hidden_checks_ran(result) or (deadline is not None and now >= deadline):
        return result
    when = f" ({deadline:%Y-%m-%d %H:%M} UTC)" if deadline else ""
    for test in result["tests"]:
        test["visibility"] = HELD_BACK
    score_line = (f"Score: {results.score(result):g} / {results.maximum(result):g}. The hidden checks' "
                  f"details show after the deadline{when}; until then, the score alone.")
    result["output"] = "\n\n".join(filter(None, [score_line, result.get("output", "")]))
    return result


def run(root: Path = DEFAULT_ROOT, grader: tuple[str, ...] = GRADER) -> int:
    """Grade <root>/submission into <root>/results/results.json; the grader's exit status.

    Over the day's limit of graded attempts, the grader does not run (attempt_limited)."""
    upload, path = root / "submission", root / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    metadata = read_metadata(root / METADATA)
    refused = attempt_limited(metadata, config.GRADED_ATTEMPTS_PER_DAY)
    if refused is not None:
        print(f"run_autograder: not graded, {refused['extra_data']['graded_attempts_today']} graded attempts "
              f"today already (GRADED_ATTEMPTS_PER_DAY = {config.GRADED_ATTEMPTS_PER_DAY})")
        results.write(refused, path)
        return 0
    print(f"run_autograder: grading {upload}")
    grading = subprocess.run([*grader, f"--submission={upload}", f"--results={path}"], cwd=ROOT)
    if grading.returncode != 0 or not path.exists():
        results.write(results.zero_result(GRADER_FAILED, output=GRADER_FAILED), path)
        return grading.returncode or 1
    if config.HOLD_BACK_DETAILS_UNTIL_DEADLINE:
        try:
            graded = results.load(path)
        except results.ResultsError:  # fail closed: details that cannot be held back are not shown
            results.write(results.zero_result(GRADER_FAILED, output=GRADER_FAILED), path)
            return 1
        results.write(hold_back(graded, due_date(metadata), submitted_at(metadata)), path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    zip_command = commands.add_parser("zip", help="write the autograder zip to upload to Gradescope")
    zip_command.add_argument("--out", type=Path, default=AUTOGRADER_ZIP)
    run_command = commands.add_parser("run", help="grade one upload (run_autograder calls this)")
    run_command.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="Gradescope's /autograder")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.root)
    names = build_zip(args.out)
    print(f"autograder-zip: wrote {args.out} ({len(names)} files, {args.out.stat().st_size / 1e6:.1f} MB): "
          f"upload it under Configure Autograder (docs/course.md, 'Gradescope')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
