"""A regrade of the class, shown before it is posted: per student, old and new points and which
checks changed.

`make grade-class ... REGRADE=1` (classroom.py `--regrade`) grades each newest commit again with
the current graders, posts nothing, and writes OUT/regrade.md and OUT/regrade.csv from `rows`;
`make grade-class-post` then posts the plan (only the grades whose status changes).

Where the old grade comes from: the record classroom.py keeps of each commit's grading
(OUT/graded/<student>/<sha>.json: its results and provenance, autograder/course/provenance.py),
so the old points of each check are known. Where that record is gone (a fresh runner: the
scheduled workflow starts from an empty OUT unless it keeps OUT), the old total comes from the
commit's posted `autograder` status (`Points X/Y`) and the checks that changed are unknown: the
row says so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import files
from autograder.course.gradebook import safe_cell
from autograder.grading import results as results_format, student_text

MARKDOWN, CSV = "regrade.md", "regrade.csv"
FROM_HISTORY, FROM_STATUS, NOT_BEFORE = "kept record", "posted status", "not graded before"
CSV_HEADER = ("student", "repo", "sha", "old_points", "new_points", "changed_checks", "old_from",
              "old_graders", "new_graders")
_POINTS = re.compile(r"Points (\d+(?:\.\d+)?)/")


@dataclass
class Row:
    """One student's regrade."""

    student: str
    repo: str
    sha: str
    old: float | None  # None: no earlier grade of this commit known
    new: float | None  # None: the grader failed this time
    changes: list[str] = field(default_factory=list)  # "name: old → new", per check
    old_from: str = NOT_BEFORE
    old_graders: str = ""
    new_graders: str = ""


def checks(results: dict[str, Any] | None) -> dict[str, float]:
    """Points per check name (a name twice: summed, so no check hides another)."""
    found: dict[str, float] = {}
    for test in (results or {}).get("tests", []):
        name = str(test.get("name", ""))
        found[name] = found.get(name, 0.0) + results_format.check_score(test)
    return found


def number(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2):g}"


def changed_checks(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """`name: old → new` for each check whose points differ (`-` where a check is absent)."""
    before, after = checks(old), checks(new)
    return [f"{name}: {number(before.get(name)) or '-'} → {number(after.get(name)) or '-'}"
            for name in sorted(before.keys() | after.keys()) if before.get(name) != after.get(name)]


def points_of_status(description: str) -> float | None:
    """The points a posted `Points X/Y` status gave, or None."""
    found = _POINTS.match(description or "")
    return float(found.group(1)) if found else None


def row(student: str, repo: str, sha: str, record: dict[str, Any] | None, status: str,
        new: dict[str, Any] | None, new_graders: str) -> Row:
    """The regrade of one commit: `record` is its earlier grading as classroom.py kept it
    ({"results", "provenance", ...}; results None: a 0 for a hand-in without vae.py) or None,
    `status` the description of its posted status ('' if none), `new` this grading's results
    (None: the grader failed)."""
    result = Row(student, repo, sha, None, results_format.score(new) if new else None, new_graders=new_graders)
    if record is not None:
        before = record.get("results")
        result.old, result.old_from = (results_format.score(before) if before else 0.0), FROM_HISTORY
        result.old_graders = str((record.get("provenance") or {}).get("graders", ""))
        result.changes = changed_checks(before, new)
    elif points_of_status(status) is not None:
        result.old, result.old_from = points_of_status(status), FROM_STATUS
        result.changes = ["unknown: only the posted total is known"] if result.old != result.new else []
    return result


def write(rows: list[Row], out: Path) -> str:
    """OUT/regrade.md and OUT/regrade.csv; returns the markdown. Student text is shown as text."""
    changed = [r for r in rows if r.old != r.new or r.changes]
    lines = ["## Regrade (nothing posted yet)", "",
             f"{len(changed)} of {len(rows)} grades change; `make grade-class-post` posts them.", "",
             "| Student | Repository | Commit | Old | New | Checks changed | Old grade from |",
             "|---|---|---|---:|---:|---|---|"]
    for r in rows:
        cells = (r.student, r.repo, r.sha[:12], number(r.old), number(r.new), "; ".join(r.changes), r.old_from)
        lines.append("| " + " | ".join(student_text.cell(c) for c in cells) + " |")
    text = "\n".join(lines) + "\n"
    files.write_text(out / MARKDOWN, text)
    files.write_rows(out / CSV, [list(CSV_HEADER)] + [
        [safe_cell(c) for c in (r.student, r.repo, r.sha, number(r.old), number(r.new), "; ".join(r.changes),
                                r.old_from, r.old_graders, r.new_graders)] for r in rows])
    return text

