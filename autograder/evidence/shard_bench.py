"""How fast one shard grades, and how many shards a class needs (docs/course.md, "A class bigger
than one machine").

    python -m autograder.evidence.shard_bench [--copies 12] [--jobs N] [--setup-minutes 4]

Grades `--copies` student folders (the reference and a few corpus variants in turn: correct,
buggy, a stub-like failure, so that early exits and full trainings both count) with grade_all's
parallel grading on this machine's cores, as one shard of grade-class-sharded.yml grades, and
prints the submissions per minute, the seconds per submission, and the load average before and
after (on a shared machine the rate is only as good as the load was low). From the rate it
prints, for classes of 300, 3,000 and 30,000 students whose every newest commit is new (the
worst run: the one after the deadline), the shards needed to grade within one scheduled slot,
and the wall time under each plan's limit on concurrent jobs. Runners are assumed to be as fast
as this machine (GitHub's standard Linux runner for private repositories has 2 cores).
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

from autograder.course.grade_all import discover, grade_all
from autograder.evidence import corpus

CLASSES = (300, 3_000, 30_000)
SLOT_MINUTES = 30  # grade-class-sharded.yml's schedule: every 30 minutes
# A job's set-up before it grades: check out, set up Python, restore the cached .venv, `make setup`
# twice. An estimate (not measured here: it needs GitHub's runners), to replace with a run's log.
SETUP_MINUTES = 4.0
MATRIX_LIMIT = 256  # jobs in one matrix (docs.github.com/en/actions/reference/limits)
# Concurrent jobs on GitHub-hosted standard Linux runners, per plan (same page).
CONCURRENT_JOBS = {"Free": 20, "Team": 60, "Enterprise": 500}
# Each graded student costs two content-creating requests (the status and the comment), and
# GitHub allows at most 500 such requests an hour per user or token
# (docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api): posting, not grading,
# bounds a whole class's first run above a few hundred students.
POSTS_PER_STUDENT, CONTENT_REQUESTS_PER_HOUR = 2, 500
VARIANTS = ("correct_distributions", "buggy_kl_mean", "buggy_encode_swapped")  # beside the reference


def write_class(folder: Path, copies: int) -> None:
    """`copies` student folders, the reference and VARIANTS in turn, each with its vae.py."""
    sources = [corpus.reference_code(), *(corpus.source(name) for name in VARIANTS)]
    for number in range(copies):
        student = folder / f"student{number:04d}"
        student.mkdir(parents=True)
        (student / "vae.py").write_text(sources[number % len(sources)])


def shards_needed(students: int, per_minute: float, setup_minutes: float) -> int | None:
    """Shards that grade `students` within one slot when all run at once, each after its set-up
    and grading whole submissions; None when one shard cannot grade even one in the slot."""
    per_shard = math.floor(per_minute * (SLOT_MINUTES - setup_minutes))  # submissions one shard grades
    return max(1, math.ceil(students / per_shard)) if per_shard >= 1 else None


def wall_minutes(students: int, shards: int, concurrent: int, per_minute: float, setup_minutes: float) -> float:
    """Minutes from start to the last shard's end when only `concurrent` jobs run at once: the
    shards run in waves, each wave paying the set-up again."""
    waves = math.ceil(shards / concurrent)
    per_shard = math.ceil(students / shards) / per_minute
    return waves * (setup_minutes + per_shard)


def table(per_minute: float, setup_minutes: float) -> list[str]:
    """The Markdown table for docs/course.md: shards and wall time per class size and plan."""
    lines = ["| students | shards for one 30-minute slot | " + " | ".join(
        f"wall time on {plan} ({limit} jobs at once)" for plan, limit in CONCURRENT_JOBS.items())
        + " | posting (500 requests an hour) |", "|---|---|" + "---|" * (len(CONCURRENT_JOBS) + 1)]
    for students in CLASSES:
        shards = shards_needed(students, per_minute, setup_minutes)
        if shards is None:
            lines.append(f"| {students:,} | none: one submission takes longer than the slot less the set-up |")
            continue
        note = f" (over the matrix's {MATRIX_LIMIT}: split the class)" if shards > MATRIX_LIMIT else ""
        walls = [f"{wall_minutes(students, shards, limit, per_minute, setup_minutes):.0f} min"
                 for limit in CONCURRENT_JOBS.values()]
        posting = students * POSTS_PER_STUDENT / CONTENT_REQUESTS_PER_HOUR
        lines.append(f"| {students:,} | {shards}{note} | " + " | ".join(walls) + f" | {posting:.1f} h |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=12, help="submissions graded (default 12)")
    parser.add_argument("--jobs", type=int, default=None, help="graded at once (default: one per core)")
    parser.add_argument("--setup-minutes", type=float, default=SETUP_MINUTES,
                        help=f"each job's set-up before grading (default {SETUP_MINUTES:g}, an estimate)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="shard-bench-") as tmp:
        write_class(Path(tmp) / "class", args.copies)
        start = time.perf_counter()
        outcomes = grade_all(discover(Path(tmp) / "class"), Path(tmp) / "out", args.jobs, force=True)
        elapsed = time.perf_counter() - start
    load_after = os.getloadavg()
    graded = sum(o.results is not None for o in outcomes)
    per_minute = 60 * len(outcomes) / elapsed
    print(f"cores: {os.cpu_count()}, jobs: {args.jobs or os.cpu_count()}, submissions: {len(outcomes)} "
          f"({graded} with results)")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.2f}' for x in load_after)} after")
    print(f"one shard: {per_minute:.2f} submissions per minute, {elapsed / len(outcomes):.1f} s per submission "
          f"({elapsed:.0f} s in all)")
    how = "estimated" if args.setup_minutes == SETUP_MINUTES else "given"
    print(f"set-up per job: {args.setup_minutes:g} min ({how}); every newest commit new; slot {SLOT_MINUTES} min; "
          "runners as fast as this machine")
    print("\n".join(table(per_minute, args.setup_minutes)))


if __name__ == "__main__":
    main()
