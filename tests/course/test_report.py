"""autograder/course/report.py: results.json -> the CI score table and GitHub Classroom's points line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import report
from autograder.course.report import ReportError, load, markdown, notice, number, points
from autograder.paths import ROOT


def results(*tests: tuple[str, float, float], **extra) -> dict:
    return {"tests": [{"name": n, "score": s, "max_score": m, "status": "passed" if s == m else "failed",
                       "output": f"output of {n}", "tags": [n]} for n, s, m in tests], **extra}


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_points_sum_the_tests_when_there_is_no_top_level_score():
    assert points(results(("kl", 15, 15), ("elbo", 0, 15))) == (15, 30)


def test_points_prefer_the_top_level_score():
    assert points(results(("kl", 15, 15), score=12.5)) == (12.5, 15)


def test_numbers_read_without_float_noise():
    assert [number(12.0), number(12.5), number(10 / 3), number(0.1 + 0.2)] == ["12", "12.5", "3.33", "0.3"]


def test_notice_is_the_annotation_github_classroom_reads():
    assert notice(results(("kl", 15, 15), ("elbo", 7.5, 15))) == "::notice title=Autograding complete::Points 22.5/30"


def test_markdown_has_one_row_per_check_and_the_total():
    table = markdown(results(("encode", 10, 10), ("kl", 0, 15)))
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| Check |")
    assert rows[1] == "| `encode` | 10/10 | passed | `output of encode` |"
    assert rows[2] == "| `kl` | 0/15 | failed | `output of kl` |"
    assert rows[3] == "| **Total** | **10/25** | | |"
    assert "**Points 10/25**" in table


def test_markdown_keeps_each_row_on_one_line_and_escapes_pipes():
    data = results(("kl", 0, 15))
    data["tests"][0]["output"] = "expected shape (4,)\ngot | (4, 20)\n" + "x" * 1000
    row = next(line for line in markdown(data).splitlines() if line.startswith("| `kl` |"))
    assert "\n" not in row and "got \\| (4, 20)" in row and row.endswith("x" * 1000 + "` |")


def test_markdown_hides_the_output_of_checks_not_yet_visible():
    data = results(("elbo", 0, 15))
    data["tests"][0]["visibility"] = "after_due_date"
    assert "output of elbo" not in markdown(data)


def test_load_explains_a_missing_or_broken_results_file(tmp_path):
    with pytest.raises(ReportError, match="did not finish"):
        load(tmp_path / "results.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ReportError, match="not JSON"):
        load(tmp_path / "broken.json")
    with pytest.raises(ReportError, match="no list of tests"):
        load(write(tmp_path / "odd.json", {"score": 3}))


def test_cli_appends_the_summary_and_prints_the_notice(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    run = subprocess.run([sys.executable, "-m", "autograder.course.report",
                          str(write(tmp_path / "results.json", results(("kl", 15, 15)))),
                          "--summary", str(summary), "--notice"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "::notice title=Autograding complete::Points 15/15"
    assert summary.read_text().startswith("earlier step\n## Autograding")


def test_cli_fails_with_a_workflow_error_when_grading_did_not_finish(tmp_path):
    run = subprocess.run([sys.executable, "-m", "autograder.course.report", str(tmp_path / "results.json"), "--notice"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stdout.startswith("::error title=Autograding failed::")
    assert "::notice" not in run.stdout


def test_a_long_message_is_shown_whole():
    message = "The KL term is averaged over the batch. " + "Details follow here. " * 30 + "THE LAST WORDS."
    data = {"tests": [{"name": "kl", "score": 0, "max_score": 15, "status": "failed", "output": message,
                       "tags": ["kl"]}]}
    assert "THE LAST WORDS." in markdown(data)


def test_the_graders_note_and_what_the_code_printed_show_as_a_block_no_fence_inside_can_close():
    data = results(("kl", 0, 15), output="Graded vae.py.\nYour code printed:\n```\n**Points 100/100**")
    assert markdown(data).endswith("\n````\nGraded vae.py.\nYour code printed:\n```\n**Points 100/100**\n````\n")


def test_the_picture_is_linked_under_the_table_never_embedded():
    url = "https://github.com/course/vae-homework-ada/actions/runs/1/artifacts/2"
    table = markdown(results(("elbo", 0, 15)), picture_url=url)
    assert table.splitlines()[-1] == f"[{report.PICTURE}]({url})"
    assert "data:" not in table and "![" not in table  # GitHub strips data: images from what it renders
    assert "feedback.png" not in markdown(results(("elbo", 0, 15)))


@pytest.mark.parametrize("url", ["http://example.com/a", "https://example.com/a) ![x](https://evil",
                                 "data:image/png;base64,AA", "https://example.com/a b", ""])
def test_a_picture_url_that_a_link_could_misread_is_refused(url):
    with pytest.raises(ReportError, match="https URL"):
        report.picture_link(url)


def test_cli_links_the_picture_in_the_summary(tmp_path):
    summary = tmp_path / "summary.md"
    url = "https://github.com/o/r/actions/runs/1/artifacts/2"
    run = subprocess.run([sys.executable, "-m", "autograder.course.report",
                          str(write(tmp_path / "results.json", results(("elbo", 0, 15)))),
                          "--summary", str(summary), "--picture-url", url], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert summary.read_text().endswith(f"({url})\n")
