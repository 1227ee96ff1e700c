"""nbgrader's formgrader scores as a points file for `manual merge`: an nbgrader export plugin.

    cd COURSE_DIRECTORY && PYTHONPATH=/path/to/this/repository nbgrader export \
        --exporter=autograder.course.nbgrader_export.PointsExport --assignment=vae --to=/path/to/manual.csv

nbgrader's own `nbgrader export` (its CsvExportPlugin) writes one line per student and
assignment with the assignment's total (`score`, `max_score`), and 0 both for an answer graded
0 and for one nobody has graded yet: it cannot say which question a total lacks, so it is not
read. This plugin reads the same gradebook database and writes the points file of
autograder/course/manual.py: a row per student who submitted, a column per question (the
notebook's hand-graded cells, by grade_id), the cell's score once a person graded it in
formgrader (its manual score, plus any extra credit: above the maximum, `manual merge` refuses
it), blank while it still needs grading; the cells' comments, joined, as the comment. Student
ids are nbgrader's, the names of `submitted/<student>/`, which grade-all's nbgrader layout uses too.
"""
from __future__ import annotations

import csv

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

from autograder.course import manual

NOTEBOOK = manual.NOTEBOOK.stem  # the notebook's name in nbgrader: vae.ipynb -> vae


class PointsExport(ExportPlugin):
    """Write `--to` (default manual.csv) from the formgrader's grades of the questions."""

    def export(self, gradebook: Gradebook) -> None:
        names = list(self.assignment) or [a.name for a in gradebook.assignments]
        if len(names) != 1:
            raise ValueError(f"export one assignment (--assignment=NAME); the database holds {', '.join(names)}")
        assignment, asked = names[0], manual.questions()
        with open(self.to or manual.POINTS_FILE, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow([manual.STUDENT, *(q.header for q in asked), manual.COMMENT])
            for student in gradebook.students:
                if self.student and student.id not in self.student:
                    continue
                try:
                    gradebook.find_submission(assignment, student.id)
                except MissingEntry:
                    continue  # nothing handed in: no row, so the student's manual column stays blank
                cells, comments = [], []
                for question in asked:
                    grade = gradebook.find_grade(question.grade_id, NOTEBOOK, assignment, student.id)
                    cells.append("" if grade.needs_manual_grade else f"{grade.score + (grade.extra_credit or 0):g}")
                    try:
                        said = gradebook.find_comment(question.grade_id, NOTEBOOK, assignment, student.id).comment
                    except MissingEntry:
                        said = None
                    if said:
                        comments.append(f"{question.grade_id}: {said}")
                writer.writerow([student.id, *cells, " | ".join(comments)])
