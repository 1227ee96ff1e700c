"""Turn a grader's results.json into what a CI run shows: a markdown table and the points line.

    python -m autograder.course.report RESULTS [--summary FILE] [--picture-url URL] [--notice]

- `--summary FILE` appends a markdown table (one row per check) to FILE; in GitHub Actions
  pass "$GITHUB_STEP_SUMMARY" and it appears on the run's summary page.
- `--picture-url URL` adds a link to feedback.png (the grader's picture of the trained model)
  under the table: the URL of the run's artifact that holds it (actions/upload-artifact's output
  `artifact-url`). A link, not the image: GitHub strips images embedded as `data:` URIs from the
  Markdown it renders, job summaries included, and an artifact's URL downloads it rather than
  showing it. The elbo check's message says in words what the picture shows, wherever no
  picture can be.
- `--notice` prints `::notice title=Autograding complete::Points X/Y`: GitHub Actions turns
  that line into a check-run annotation, and GitHub Classroom reads the grade from an
  annotation with exactly that title and message form (what its own grading reporter writes).
Standard library only (autograder/grading/results.py reads the format, and is standard library
only too): CI runs it before (or without) the grader's virtual environment.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from autograder.grading import results as results_format, student_text

NOTICE_TITLE = "Autograding complete"
HIDDEN = {"hidden", "after_due_date", "after_published"}  # Gradescope visibilities not shown now
STATUSES = {"passed", "failed"}  # the statuses the grader writes, shown as words
PICTURE = ("feedback.png, the grader's picture of your trained model: test images, their reconstructions "
           "and samples from the prior (this run's artifact: a download)")
LINKABLE = re.compile(r"https://[^\s()<>\[\]`\\]+")  # a URL that ends a Markdown link only where it ends


class ReportError(ValueError):
    """results.json is missing or is not the grader's format."""


def load(path: Path) -> dict[str, Any]:
    """The results dict, checked for the fields this module reads."""
    try:
        return results_format.load(path)
    except FileNotFoundError:
        raise ReportError(f"{path} does not exist: the grading step did not finish "
                          f"(see its log above)") from None
    except results_format.ResultsError as error:
        raise ReportError(f"{path} {error}: the grader did not finish writing it properly") from None


def points(results: dict[str, Any]) -> tuple[float, float]:
    """(score, maximum): the top-level score if given, else the sum of the tests' scores."""
    return results_format.score(results), results_format.maximum(results)


def number(value: float) -> str:
    """12 -> "12", 12.5 -> "12.5", 1/3 -> "0.33": no float noise in what students read."""
    return f"{round(value, 2):g}"


def points_line(results: dict[str, Any]) -> str:
    score, maximum = points(results)
    return f"Points {number(score)}/{number(maximum)}"


def notice(results: dict[str, Any]) -> str:
    """The workflow command from which GitHub Classroom takes the grade."""
    return f"::notice title={NOTICE_TITLE}::{points_line(results)}"


def picture_link(url: str) -> str:
    """A Markdown link to feedback.png where the run keeps it; only an https URL the link cannot
    misread (no space, bracket, parenthesis or backtick): the workflow gives it, not the student."""
    if not LINKABLE.fullmatch(url):
        raise ReportError(f"--picture-url takes an https URL without spaces, brackets or backticks, got {url!r}")
    return f"[{PICTURE}]({url})"


def markdown(results: dict[str, Any], picture_url: str | None = None) -> str:
    """The score table: one row per check, then the total. Every string from results.json may hold
    a student's text (a message quotes what the submission raised or printed): each is shown as
    text (autograder/grading/student_text.py), never cut (results.json already caps its strings).
    `picture_url`: a link to feedback.png under the table (picture_link)."""
    score, maximum = points(results)
    lines = [
        "## Autograding",
        "",
        f"**{points_line(results)}**",
        "",
        "| Check | Points | Status | Feedback |",
        "|---|---:|---|---|",
    ]
    for test in results["tests"]:
        shown = test.get("visibility", "visible") not in HIDDEN
        status = test.get("status") or ("passed" if test.get("score") == test.get("max_score") else "failed")
        lines.append(
            f"| {student_text.cell(test.get('name', '?'))} "
            f"| {number(results_format.check_score(test))}/{number(results_format.check_maximum(test))} "
            f"| {status if status in STATUSES else student_text.cell(status)} "
            f"| {student_text.cell(test.get('output', '')) if shown else '(shown after the deadline)'} |"
        )
    lines.append(f"| **Total** | **{number(score)}/{number(maximum)}** | | |")
    if picture_url:
        lines += ["", picture_link(picture_url)]
    if student_text.block(results.get("output", "")):
        lines += ["", student_text.block(results["output"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the grader's results.json")
    parser.add_argument("--summary", type=Path, help="append the markdown table to this file")
    parser.add_argument("--picture-url", help="link feedback.png under the table: its artifact's URL")
    parser.add_argument("--notice", action="store_true", help="print the GitHub Classroom points line")
    args = parser.parse_args(argv)
    try:
        results = load(args.results)
        table = markdown(results, args.picture_url)
    except ReportError as error:
        print(f"::error title=Autograding failed::{error}")
        return 1
    print(table)
    if args.summary:
        with open(args.summary, "a") as summary:
            summary.write(table)
    if args.notice:
        print(notice(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
