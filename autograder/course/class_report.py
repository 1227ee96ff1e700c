"""`make class-report GRADEBOOK=…`: what a class got wrong, from grade-all's results, as Markdown.

    python -m autograder.course.class_report GRADEBOOK

Reads GRADEBOOK (grade-all's gradebook.csv) and each student's results.json beside it
(FOLDER/<student>/results.json) and writes FOLDER/report.md with its figures (PNG) beside it:
the score distribution, the pass rate per rubric tag, the most common causes (the codes of
autograder/grading/causes.py) with the students concerned, the measured test negative ELBO
against config.ELBO_THRESHOLD, the grading time per submission, and the submissions a person
should look at (integrity flags, grader errors, timeouts). Once the gradebook holds the
hand-graded points of the notebook's questions (autograder/course/manual.py), the totals are
auto + manual where a student has them, and a section gives each question's mean. `make
grade-all` writes it after the gradebook; this command rebuilds it without grading again.

The report reads well on GitHub and in any viewer: tables, relative image links, no HTML. Every
text a student controls (a folder name, what a grader error printed, a flag) is shown as text
(autograder/grading/student_text.py): it can neither add Markdown or HTML nor break a table.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from autograder import config
from autograder.course import gradebook as gradebook_format, manual, similarity
from autograder.grading import causes, results as results_format, student_text

REPORT = "report.md"
FIGURES = {"scores": "report-scores.png", "tags": "report-tags.png", "causes": "report-causes.png",
           "elbo": "report-elbo.png", "time": "report-time.png"}
GRADER_CODES = "grader."  # the prefix of the codes that say the grader, not the student, went wrong
TOP_CAUSES = 15  # causes drawn in the figure (the table lists them all)
NAMES_SHOWN = 30  # students named per cause, then "and N more"
CELL_CHARS = 300  # of a student-derived text in one cell
ELBO_SHOWN_UP_TO = 2 * config.ELBO_THRESHOLD  # the figure's right edge: higher values are drawn there


@dataclass
class Student:
    """One gradebook row: the student's results.json (None when grading failed), grade-all's error,
    and the hand-graded points the gradebook holds (grade_all.merge_hand_points)."""

    name: str
    results: dict[str, Any] | None
    error: str = ""
    hand: dict[str, float] = field(default_factory=dict)  # question grade_id -> points, those graded
    hand_status: str = ""  # the gradebook's total_status ("" in a gradebook without hand-graded points)
    hand_problem: str = ""  # why the student's row of hand-graded points was rejected
    recorded: float | None = None  # the gradebook's total: the points of record (after a late penalty)

    @property
    def total(self) -> float:
        """The points of record: the gradebook's total where it holds a number (a late penalty and
        the hand-graded points are in it), else the autograded points plus the hand-graded ones."""
        if self.recorded is not None:
            return self.recorded
        return (results_format.score(self.results) if self.results else 0.0) + sum(self.hand.values())

    def codes(self) -> list[str]:
        return results_format.cause_codes(self.results)

    def flags(self) -> list[str]:
        return results_format.integrity_flags(self.results)


# --- Reading the class ---------------------------------------------------------------------------


def load_class(gradebook: Path) -> list[Student]:
    """One Student per gradebook row, with the results.json beside the gradebook when it can be read."""
    folder = gradebook.parent
    students = []
    for row in gradebook_format.rows(gradebook):
        name, error, results = row.student, row.error, None
        if name not in ("", ".", "..") and "/" not in name:
            try:
                results = results_format.load(folder / name / "results.json")
            except FileNotFoundError:
                error = error or "no results.json"
            except (results_format.ResultsError, OSError) as problem:
                error = error or f"results.json {problem}"
        students.append(Student(name, results, error, manual.gradebook_points(row.cells), row.status, row.problem,
                                row.total))
    return students


def full_marks(students: list[Student]) -> float:
    """The most a student can earn: the autograded points, plus the hand-graded ones once the
    gradebook holds them."""
    return results_format.RUBRIC_MAXIMUM + (manual.max_points() if any(s.hand_status for s in students) else 0)


def question_means(students: list[Student]) -> dict[manual.Question, tuple[int, float | None]]:
    """Each hand-graded question -> (students graded on it, their mean points; None when none is)."""
    means = {}
    for question in manual.questions():
        points = [s.hand[question.grade_id] for s in students if question.grade_id in s.hand]
        means[question] = (len(points), statistics.fmean(points) if points else None)
    return means


# --- What the report counts (the figures draw these) -----------------------------------------------


def tag_counts(students: list[Student]) -> dict[str, tuple[int, int]]:
    """Rubric tag -> (students who kept all its points, students who lost some); no results: lost."""
    earned = [results_format.by_tag(s.results) for s in students if s.results]
    counts = {}
    for tag, (points, _) in config.RUBRIC.items():
        kept = sum(1 for tags in earned if tags[tag][0] >= points)
        counts[tag] = (kept, len(students) - kept)
    return counts


def cause_students(students: list[Student]) -> list[tuple[str, list[str]]]:
    """(cause code, the students whose failed checks record it), most common first, then by code."""
    concerned: dict[str, list[str]] = {}
    for student in students:
        for code in student.codes():
            concerned.setdefault(code, []).append(student.name)
    return sorted(concerned.items(), key=lambda item: (-len(item[1]), item[0]))


def elbo_values(students: list[Student]) -> dict[str, float]:
    """Student -> measured test negative ELBO, for the students who have one."""
    values = {s.name: results_format.measured_elbo(s.results) for s in students}
    return {name: value for name, value in values.items() if value is not None}


def grading_seconds(students: list[Student]) -> dict[str, float]:
    """Student -> the grader's own time for the submission (results.json's execution_time)."""
    seconds = {s.name: results_format.execution_time(s.results) for s in students}
    return {name: value for name, value in seconds.items() if value is not None}


def is_timeout(code: str) -> bool:
    """A cause code that says a call ran out of time (`sandbox.timeout`)."""
    return code.rsplit(".", 1)[-1] == "timeout"


def look_at(students: list[Student]) -> list[tuple[str, list[str]]]:
    """(student, reasons) for each submission a person should look at: integrity flags, grade-all's
    error, `grader.*` cause codes, timeouts. Reasons are plain text (escape them to print)."""
    found = []
    for student in students:
        reasons = []
        if student.flags():
            reasons.append("integrity flags: " + ", ".join(student.flags()))
        if student.error:
            reasons.append("grade-all: " + student.error)
        if student.hand_problem:
            reasons.append("hand-graded points: " + student.hand_problem)
        for code in student.codes():
            if code.startswith(GRADER_CODES) or is_timeout(code):
                checks = [t.get("name", "?") for t in student.results["tests"] if causes.cause_of(t) == code]
                reasons.append(f"{code}: " + ", ".join(str(name) for name in checks))
        if reasons:
            found.append((student.name, reasons))
    return found


# --- Figures ---------------------------------------------------------------------------------------


def _figure(height: float = 3.2) -> tuple[Figure, Any]:
    figure = Figure(figsize=(7, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def scores_figure(students: list[Student]) -> Figure:
    """A histogram of the total scores (auto + manual where there are hand-graded points), 5-point
    bins from 0 to full marks."""
    figure, axes = _figure()
    full = full_marks(students)
    edges = [5 * i for i in range(math.ceil(full / 5) + 1)]
    axes.hist([min(max(s.total, 0), full) for s in students], bins=edges, color="#4878a8", edgecolor="white")
    axes.set(xlabel=f"total score (of {full:g})", ylabel="students", xlim=(0, full),
             title=f"Scores of {len(students)} submissions")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return figure


def tags_figure(students: list[Student]) -> Figure:
    """One bar per rubric tag: the share of students who kept all its points."""
    counts = tag_counts(students)
    figure, axes = _figure(0.35 * len(counts) + 1.2)
    tags = list(counts)[::-1]  # the rubric's order, top to bottom
    rates = [100 * counts[tag][0] / max(len(students), 1) for tag in tags]
    bars = axes.barh(tags, rates, color="#55a868")
    axes.bar_label(bars, labels=[f"{counts[tag][0]}/{len(students)}" for tag in tags], padding=3, fontsize=8)
    axes.set(xlim=(0, 110), xlabel="students with full points (%)", title="Pass rate per rubric tag")
    return figure


def causes_figure(students: list[Student]) -> Figure:
    """The TOP_CAUSES most common cause codes: how many students' failed checks record each."""
    top = cause_students(students)[:TOP_CAUSES][::-1]
    figure, axes = _figure(0.35 * max(len(top), 1) + 1.2)
    bars = axes.barh([code for code, _ in top], [len(names) for _, names in top], color="#c44e52")
    axes.bar_label(bars, padding=3, fontsize=8)
    axes.set(xlabel="students", title="Most common causes of lost points",
             xlim=(0, 1.12 * max([len(names) for _, names in top], default=1)))
    axes.xaxis.get_major_locator().set_params(integer=True)
    if not top:
        axes.text(0.5, 0.5, "no failed checks", ha="center", va="center", transform=axes.transAxes)
    return figure


def elbo_figure(students: list[Student]) -> Figure:
    """A histogram of the measured test negative ELBO (values above ELBO_SHOWN_UP_TO drawn at that
    edge) and the threshold that earns the elbo points."""
    values = list(elbo_values(students).values())
    figure, axes = _figure()
    if values:
        low = min(min(values), config.ELBO_THRESHOLD) - 2
        high = min(max(max(values), config.ELBO_THRESHOLD) + 2, ELBO_SHOWN_UP_TO)
        axes.hist([min(v, high) for v in values], bins=40, range=(low, high), color="#4878a8")
    axes.axvline(config.ELBO_THRESHOLD, color="#c44e52", linestyle="--",
                 label=f"threshold {config.ELBO_THRESHOLD:g} (below earns the points)")
    axes.legend(loc="upper right", fontsize=8)
    clipped = sum(v > ELBO_SHOWN_UP_TO for v in values)
    axes.set(xlabel="test negative ELBO after one epoch (nats per image)"
             + (f"; {clipped} above {ELBO_SHOWN_UP_TO:g}, drawn at the right edge" if clipped else ""),
             ylabel="students",
             title=f"Measured test negative ELBO ({len(values)} of {len(students)} submissions)")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return figure


def time_figure(students: list[Student]) -> Figure:
    """A histogram of the grading time per submission."""
    seconds = list(grading_seconds(students).values())
    figure, axes = _figure()
    axes.hist(seconds, bins=20, color="#8172b2")
    axes.set(xlabel="grading time per submission (s)", ylabel="submissions",
             title=f"Grading time ({len(seconds)} submissions)")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return figure


DRAW = {"scores": scores_figure, "tags": tags_figure, "causes": causes_figure, "elbo": elbo_figure,
        "time": time_figure}


# --- Markdown --------------------------------------------------------------------------------------


def text(value: object) -> str:
    """A student's text (a name, an error, a flag) in a table cell: shown as text, cut to CELL_CHARS."""
    return student_text.cell(value, CELL_CHARS)


def _names(names: list[str]) -> str:
    shown = ", ".join(text(name) for name in names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "-"


def _number(value: float) -> str:
    return f"{round(value, 1):g}"


def markdown(students: list[Student], gradebook: str = "gradebook.csv") -> str:
    """The report: a section per question, each with its figure and a table."""
    n = len(students)
    totals = [s.total for s in students]
    lines = ["# Class report", "",
             f"{n} submissions, from {student_text.literal(gradebook, CELL_CHARS)} and each student's `results.json`. "
             "Rebuild with `make class-report GRADEBOOK=...`.", ""]
    lines += ["## Scores", "", f"![Score distribution]({FIGURES['scores']})", "",
              "| submissions | mean | median | lowest | highest | full marks |", "|---:|---:|---:|---:|---:|---:|",
              f"| {n} | {_number(statistics.fmean(totals)) if n else '-'} | "
              f"{_number(statistics.median(totals)) if n else '-'} | {_number(min(totals, default=0))} | "
              f"{_number(max(totals, default=0))} | {sum(t >= full_marks(students) for t in totals)} |", ""]
    lines += hand_graded(students)
    lines += ["## Pass rate per rubric tag", "", f"![Pass rate per rubric tag]({FIGURES['tags']})", "",
              "| tag | points | full points | lost points | pass rate |", "|---|---:|---:|---:|---:|"]
    for tag, (kept, lost) in tag_counts(students).items():
        lines.append(f"| {tag} | {config.RUBRIC[tag][0]:g} | {kept} | {lost} | {_share(kept, n)} |")
    lines += ["", "## Most common causes", "",
              "Each failed check records the mistake it diagnosed (autograder/grading/causes.py); a student "
              "counts once per cause.", "", f"![Most common causes]({FIGURES['causes']})", ""]
    table = cause_students(students)
    if table:
        lines += ["| cause | meaning | students | share | who |", "|---|---|---:|---:|---|"]
        lines += [f"| {student_text.literal(code)} | {student_text.ours(causes.CAUSES.get(code, ''))} | {len(names)} | "
                  f"{_share(len(names), n)} | {_names(names)} |" for code, names in table]
    else:
        lines.append("No check failed.")
    values = elbo_values(students)
    below = sum(v < config.ELBO_THRESHOLD for v in values.values())
    lines += ["", "## Test negative ELBO", "",
              f"What the elbo check measured after one epoch of each student's `train()`; below "
              f"{config.ELBO_THRESHOLD:g} earns the points (autograder/config.py's ELBO_THRESHOLD, "
              f"docs/calibration.md). Values above {ELBO_SHOWN_UP_TO:g} are drawn at the right edge.", "",
              f"![Measured test negative ELBO]({FIGURES['elbo']})", "",
              "| measured | below the threshold | at or above | median | not measured |", "|---:|---:|---:|---:|---:|",
              f"| {len(values)} | {below} | {len(values) - below} | "
              f"{_number(statistics.median(values.values())) if values else '-'} | {n - len(values)} |", ""]
    seconds = grading_seconds(students)
    slowest = sorted(seconds.items(), key=lambda item: -item[1])[:5]
    lines += ["## Grading time", "", f"![Grading time per submission]({FIGURES['time']})", "",
              "| graded | total (s) | median (s) | slowest (s) |", "|---:|---:|---:|---|",
              f"| {len(seconds)} | {_number(sum(seconds.values()))} | "
              f"{_number(statistics.median(seconds.values())) if seconds else '-'} | "
              + ", ".join(f"{text(name)} {_number(value)}" for name, value in slowest) + " |", ""]
    lines += ["## Look at these", "",
              "Integrity flags (they change no points), grader errors (`grader.*` codes, grade-all's error "
              "column), timeouts and rejected rows of hand-graded points.", ""]
    flagged = look_at(students)
    if flagged:
        lines += ["| student | score | why |", "|---|---:|---|"]
        by_name = {s.name: s for s in students}
        lines += [f"| {text(name)} | {_number(by_name[name].total)} | {'; '.join(text(r) for r in reasons)} |"
                  for name, reasons in flagged]
    else:
        lines.append("Nothing: no integrity flags, grader errors or timeouts.")
    return "\n".join(lines) + "\n"


def hand_graded(students: list[Student]) -> list[str]:
    """The report's lines on the notebook's hand-graded questions: each one's mean, and how many
    students have all their hand-graded points (the totals above add what each has)."""
    lines = ["## Hand-graded questions", ""]
    if not any(s.hand_status for s in students):
        return lines + ["This gradebook holds no hand-graded points (`make manual-template`, then "
                        "`make manual-merge`: docs/course.md, section 6); the scores above are the "
                        "autograded points alone.", ""]
    complete = sum(s.hand_status == gradebook_format.COMPLETE for s in students)
    lines += [f"The scores above are the autograded points plus the hand-graded points each student has: "
              f"{complete} of {len(students)} have all of them, the others' totals are incomplete.", "",
              "| question | points | graded | mean | mean share |", "|---|---:|---:|---:|---:|"]
    for question, (graded, mean) in question_means(students).items():
        shown = "-" if mean is None else _number(mean)
        share = "-" if mean is None else f"{100 * mean / question.points:.0f}%"
        lines.append(f"| {student_text.ours(question.grade_id)} | {question.points:g} | {graded} | {shown} | {share} |")
    return lines + [""]


def write_report(gradebook: Path, submissions: Path | None = None) -> Path:
    """Write report.md and its figures beside `gradebook`; return the report's path. With the
    `submissions` folder, the report ends with the similar-code review (autograder/course/similarity.py)."""
    students = load_class(gradebook)
    for key, draw in DRAW.items():
        draw(students).savefig(gradebook.parent / FIGURES[key])
    report = gradebook.parent / REPORT
    report.write_text(markdown(students, gradebook.name) + "\n" + similarity.report_section(gradebook.parent, submissions))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gradebook", type=Path, help="grade-all's gradebook.csv (results in its folder)")
    parser.add_argument("--submissions", type=Path, help="the students' folders: adds the similar-code review")
    args = parser.parse_args(argv)
    if not args.gradebook.is_file():
        print(f"class-report: {args.gradebook} is not a file: pass grade-all's gradebook.csv", file=sys.stderr)
        return 2
    print(f"class-report: {write_report(args.gradebook, args.submissions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
