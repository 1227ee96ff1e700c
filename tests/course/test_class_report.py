"""The class report (`make class-report`, written by `make grade-all`): counts, escaping, figures.

The fast tests build small classes by hand (results.json files written with the results module);
the slow one grades a synthetic class made from the corpus (tests/submissions/corpus.toml) with
`grade_all` and checks that the report counts exactly what the corpus says of each case.
"""
from __future__ import annotations

import csv
import math
import re
import shutil
from collections import Counter
from pathlib import Path

import cmarkgfm
import matplotlib.image
import pytest

from autograder import config
from autograder.course import class_report
from autograder.course.class_report import (
    FIGURES, cause_students, elbo_values, grading_seconds, load_class, look_at, markdown, tag_counts,
    text, write_report,
)
from autograder.course import grade_all
from autograder.course.grade_all import main as grade_all_main
from autograder.evidence import corpus
from autograder.grading import causes, results
from autograder.paths import ROOT

import gradings

HOSTILE_NAME = "eve|<img src=x onerror=alert(1)>*_[link](javascript:x) `code` #"


def result(lost: dict[str, str] | None = None, elbo: float | str | None = 127.0, seconds: float = 14.0,
           flags: tuple[str, ...] = ()) -> dict:
    """A results.json as the grader writes it: one check per rubric tag; `lost` maps each failed
    tag to its cause code; the elbo check records `elbo` as its measured test negative ELBO."""
    lost = lost or {}
    tests = [results.entry(tag, "check", points, tag not in lost, "expected this, got that",
                           extra={"test_negative_elbo": elbo} if tag == "elbo" and elbo is not None else None,
                           cause=lost.get(tag, causes.UNKNOWN))
             for tag, (points, _) in config.RUBRIC.items()]
    return results.build(tests, execution_time=seconds, flags=flags)


def write_class(folder: Path, members: dict[str, dict | None], errors: dict[str, str] | None = None) -> Path:
    """Student folders with their results.json (None: none) and a gradebook as grade-all writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "gradebook.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "total", "flags", "causes", "error"])
        for name, data in members.items():
            if data is not None:
                (folder / name).mkdir()
                results.write(data, folder / name / "results.json")
            writer.writerow([name, results.score(data) if data else 0, "", "", (errors or {}).get(name, "")])
    return folder / "gradebook.csv"


@pytest.fixture
def small_class(tmp_path) -> Path:
    """Five students: full marks, an averaged KL (twice), a grader error and flags, no results."""
    return write_class(tmp_path / "out", {
        "alice": result(),
        "bob": result({"kl": "grader.not_run", "elbo": causes.UNKNOWN}, elbo=151.5, seconds=20.0),
        HOSTILE_NAME: result({"kl": "grader.not_run"}, elbo=float("nan"), seconds=17.0, flags=("native_code",)),
        "carol": result({"encode": "grader.internal"}, elbo=None, seconds=3.0),
        "dave": None,
    }, errors={"dave": "the grader took longer than 900 s and was stopped"})


# --- What the report counts ------------------------------------------------------------------------


def test_tag_counts_count_full_points_kept_and_a_student_without_results_as_lost(small_class):
    counts = tag_counts(load_class(small_class))
    assert counts["kl"] == (2, 3) and counts["encode"] == (3, 2) and counts["elbo"] == (3, 2)
    assert counts["decode"] == (4, 1)  # only dave, who has no results, lost it
    assert list(counts) == list(config.RUBRIC)


def test_causes_count_each_student_once_per_code_most_common_first(small_class):
    table = cause_students(load_class(small_class))
    assert table == [("grader.not_run", ["bob", HOSTILE_NAME]), ("grader.internal", ["carol"]),
                     ("unknown", ["bob"])]


def test_the_elbo_is_the_finite_value_the_elbo_check_measured(small_class):
    assert elbo_values(load_class(small_class)) == {"alice": 127.0, "bob": 151.5}  # NaN, none, no results: left out
    for value in (float("nan"), float("inf"), True, "127"):  # as a result in memory (not from a file) may hold
        assert results.measured_elbo(result(elbo=value)) is None, value


def test_grading_time_is_each_results_execution_time(small_class):
    assert grading_seconds(load_class(small_class)) == {"alice": 14.0, "bob": 20.0, HOSTILE_NAME: 17.0, "carol": 3.0}


def test_look_at_lists_flags_grader_codes_grade_all_errors_and_timeouts(small_class, monkeypatch):
    monkeypatch.setitem(causes.CAUSES, "sandbox.timeout", "a call did not finish in time")
    students = load_class(small_class)
    students[0].results["tests"][1] = results.entry("decode", "check", 10, False, "slow", cause="sandbox.timeout")
    found = dict(look_at(students))
    assert list(found) == ["alice", "bob", HOSTILE_NAME, "carol", "dave"]
    assert found["alice"] == ["sandbox.timeout: decode: check"]
    assert found[HOSTILE_NAME] == ["integrity flags: native_code", "grader.not_run: kl: check"]
    assert found["carol"] == ["grader.internal: encode: check"]
    assert found["dave"] == ["grade-all: the grader took longer than 900 s and was stopped"]


def test_a_name_grade_all_quoted_as_a_formula_finds_its_folder(tmp_path):
    gradebook = write_class(tmp_path / "out", {"=SUM(A1)": result()})
    rows = gradebook.read_text().replace("=SUM(A1)", "'=SUM(A1)")  # as grade-all's safe_cell writes it
    gradebook.write_text(rows)
    [student] = load_class(gradebook)
    assert student.name == "=SUM(A1)" and student.total == 100


# --- Markdown --------------------------------------------------------------------------------------


def test_text_shows_student_text_literally_on_one_line_cut_to_a_cell():
    assert text("a|b\n<i>x</i>") == r"`a\|b <i>x</i>`" and text("kl_mean-1 $x$") == "`kl_mean-1 $x$`"
    assert text("x" * 400).endswith("x…`") and len(text("x" * 400)) == class_report.CELL_CHARS + 2


def test_a_student_name_cannot_inject_markdown_html_or_break_a_table(small_class):
    # GitHub's renderer (tests/course/test_posted_text.py tries generated names on every page the course writes)
    html = cmarkgfm.github_flavored_markdown_to_html(markdown(load_class(small_class)),
                                                     options=cmarkgfm.Options.CMARK_OPT_UNSAFE)
    assert re.findall(r'<img src="([^"]*)"', html) == list(FIGURES.values())  # the figures, nothing else
    assert not re.search(r"<[^>]*onerror", html) and "<a " not in html and "<code>code</code>" not in html
    row = next(r for r in html.split("<tr>") if "native_code" in r)  # the look-at row of the name
    assert row.count("<td") == 3
    assert "<code>eve|&lt;img src=x onerror=alert(1)&gt;*_[link](javascript:x) `code` #</code>" in row


def test_the_report_has_a_table_and_a_relative_figure_per_section(small_class):
    report = markdown(load_class(small_class))
    assert "<" not in report.replace(HOSTILE_NAME.replace("|", "\\|"), "")  # no HTML of its own
    for heading in ("## Scores", "## Pass rate per rubric tag", "## Most common causes", "## Test negative ELBO",
                    "## Grading time", "## Look at these"):
        assert heading in report
    assert "| kl | 15 | 2 | 3 | 40% |" in report
    assert "| `grader.not_run` | " + causes.CAUSES["grader.not_run"] + " | 2 | 40% | `bob`, ``eve\\|" in report
    assert "| 2 | 1 | 1 | 139.2 | 3 |" in report  # ELBO: measured, below, at or above, median, not measured


def test_an_empty_or_flawless_class_says_there_is_nothing_to_look_at(tmp_path):
    report = markdown(load_class(write_class(tmp_path / "out", {"alice": result()})))
    assert "No check failed." in report and "Nothing: no integrity flags" in report


def test_without_hand_graded_points_the_report_says_the_scores_are_the_autograded_ones(small_class):
    students = load_class(small_class)
    assert class_report.full_marks(students) == results.RUBRIC_MAXIMUM
    assert all(not s.hand for s in students)
    assert "This gradebook holds no hand-graded points" in markdown(students)


def test_with_hand_graded_points_the_scores_are_auto_plus_manual_of_the_new_maximum(small_class):
    from autograder.course import manual
    from autograder.course.grade_all import merge_hand_points

    points = small_class.with_name("manual.csv")
    points.write_text("student," + ",".join(q.header for q in manual.questions()) + "\n"
                      + "alice," + ",".join(f"{q.points:g}" for q in manual.questions()) + "\n")
    assert merge_hand_points(small_class, points) == []
    students = {s.name: s for s in load_class(small_class)}
    full = results.RUBRIC_MAXIMUM + manual.max_points()
    assert students["alice"].total == full and students["bob"].total == results.score(students["bob"].results)
    assert class_report.full_marks(list(students.values())) == full
    report = markdown(list(students.values()))
    assert "| 5 | " in report and f" | {full:g} | 1 |" in report  # highest and full marks count the total
    assert "1 of 5 have all of them" in report
    [axes] = class_report.scores_figure(list(students.values())).axes
    assert axes.get_xlim() == (0, full) and sum(p.get_height() for p in axes.patches) == 5


# --- Figures ---------------------------------------------------------------------------------------


def test_each_figure_plots_the_counted_data(small_class):
    students = load_class(small_class)
    [axes] = class_report.tags_figure(students).axes
    rates = {label.get_text(): patch.get_width() for label, patch in zip(axes.get_yticklabels(), axes.patches)}
    assert rates == pytest.approx({tag: 100 * kept / 5 for tag, (kept, _) in tag_counts(students).items()})
    [axes] = class_report.causes_figure(students).axes
    assert [p.get_width() for p in axes.patches] == [1, 1, 2]  # most common at the top
    [axes] = class_report.scores_figure(students).axes
    heights = [p.get_height() for p in axes.patches]
    assert sum(heights) == 5 and heights[-1] == 1 and heights[0] == 1  # alice's 100, dave's 0
    [axes] = class_report.elbo_figure(students).axes
    assert sum(p.get_height() for p in axes.patches) == 2
    assert [line.get_xdata()[0] for line in axes.get_lines()] == [config.ELBO_THRESHOLD]
    [axes] = class_report.time_figure(students).axes
    assert sum(p.get_height() for p in axes.patches) == 4


def test_write_report_writes_report_md_and_non_trivial_pngs_beside_the_gradebook(small_class):
    report = write_report(small_class)
    assert report == small_class.parent / "report.md" and "# Class report" in report.read_text()
    for name in FIGURES.values():
        png = small_class.parent / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000, name
        pixels = matplotlib.image.imread(png)
        assert pixels.shape[1] == 700 and pixels[..., :3].std() > 0.05, name  # drawn on, not blank


def test_cli_rebuilds_the_report_from_existing_results_and_refuses_a_missing_gradebook(small_class, capsys):
    assert class_report.main([str(small_class)]) == 0
    assert (small_class.parent / "report.md").exists() and "report.md" in capsys.readouterr().out
    assert class_report.main([str(small_class.parent / "missing.csv")]) == 2


# --- A synthetic class, graded -----------------------------------------------------------------------

# Corpus case -> copies in the class: correct variants, a bug for each rubric tag (common ones
# several times), hostile cases with and without integrity flags. Only cases whose every tag is
# certain (no `may_lose`), so that each count is exact.
CLASS = {
    "correct_distributions": 3, "correct_clamped_bce": 2, "correct_inline_loss": 1,
    "buggy_encode_swapped": 2, "buggy_decode_no_sigmoid": 2, "buggy_reparam_std_half_logvar": 1,
    "buggy_reparam_eps_fixed": 1, "buggy_grad_mu_data": 1, "buggy_params_hidden_512": 1, "buggy_kl_mean": 4,
    "buggy_kl_missing_one": 1, "buggy_bce_mean": 2, "buggy_bce_mse": 1, "buggy_train_no_zero_grad": 2,
    "buggy_train_mean_per_batch": 1, "buggy_elbo_forward_uses_mu": 1,
    "hostile_syntax_error": 1, "hostile_ctypes_native": 1, "hostile_calls_probe_replay": 1,
    "hostile_forged_results": 1,
}
CLASS_OUT = ROOT / "build" / "test-class-report"  # kept after the test: the report it checked, to look at


def expected_lost(spec: dict) -> set[str]:
    """The tags a corpus case loses, exactly (a hostile case keeps `keeps` and, by max_score, nothing else)."""
    if spec["kind"] == "hostile":
        assert spec["max_score"] == sum(config.RUBRIC[tag][0] for tag in spec["keeps"])
        return set(config.RUBRIC) - set(spec["keeps"])
    assert not spec.get("may_lose")
    return set(spec.get("loses", []))


def expected_causes(spec: dict) -> set[str]:
    """The distinct cause codes of a case's failed checks: its `causes` ("unknown" until it has one)."""
    return set(spec.get("causes", [causes.UNKNOWN])) if expected_lost(spec) else set()


@pytest.mark.slow
def test_a_synthetic_class_report_counts_what_the_corpus_says_of_each_case(tmp_path, monkeypatch):
    """grade-all's own command line, each distinct hand-in graded once in the session (the corpus
    tests grade the same variants: tests/gradings.py)."""
    monkeypatch.setattr(grade_all, "grade_command", gradings.command)
    specs = corpus.variants()
    submissions = tmp_path / "class"
    case = {}
    for name, copies in CLASS.items():
        for copy in range(1, copies + 1):
            case[f"{name}-{copy}"] = specs[name]
            (submissions / f"{name}-{copy}").mkdir(parents=True)
            (submissions / f"{name}-{copy}" / "vae.py").write_text(corpus.source(name))
    assert len(case) >= 30
    shutil.rmtree(CLASS_OUT, ignore_errors=True)  # the sandbox user can reach build/, unlike tmp_path
    assert grade_all_main([str(submissions), "--out", str(CLASS_OUT), "--jobs", "2"]) == 0
    students = load_class(CLASS_OUT / "gradebook.csv")
    assert {s.name: s.error for s in students} == {name: "" for name in case}

    lost = {name: expected_lost(spec) for name, spec in case.items()}
    assert tag_counts(students) == {tag: (sum(tag not in tags for tags in lost.values()),
                                          sum(tag in tags for tags in lost.values())) for tag in config.RUBRIC}
    expected = Counter(code for spec in case.values() for code in expected_causes(spec))
    assert {code: len(names) for code, names in cause_students(students)} == expected
    assert {s.name: set(s.codes()) for s in students} == {name: expected_causes(spec) for name, spec in case.items()}
    flags = {name: set(spec.get("flags", [])) for name, spec in case.items()}
    assert {s.name: set(s.flags()) for s in students} == flags
    assert [name for name, _ in look_at(students)] == sorted(
        name for name, spec in case.items()
        if flags[name] or any(code.startswith("grader.") or class_report.is_timeout(code)
                              for code in expected_causes(spec)))
    keepers = [name for name in case if "elbo" not in lost[name]]
    assert all(elbo_values(students).get(name, math.inf) < config.ELBO_THRESHOLD for name in keepers)
    assert len(grading_seconds(students)) == len(case)

    report = (CLASS_OUT / "report.md").read_text()  # written by grade-all, in the same call
    for tag, (kept, dropped) in tag_counts(students).items():
        assert f"| {tag} | {config.RUBRIC[tag][0]:g} | {kept} | {dropped} |" in report
    for code, count in expected.items():
        assert re.search(rf"^\| `{re.escape(code)}` \| [^\n]* \| {count} \| ", report, re.M), code
    for name in FIGURES.values():
        assert (CLASS_OUT / name).stat().st_size > 5000
