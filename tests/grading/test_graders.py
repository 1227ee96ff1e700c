"""The hidden graders against a corpus of submissions (tests/submissions/corpus.toml).

Every submission is graded end to end, as `make grade` does: a separate grader process, the
submission in its sandbox (tests/gradings.py: each distinct hand-in once per test session,
however many tests read its grading). Correct variants must get full marks; each buggy one must lose
points under the tags its bug touches and keep them everywhere else; hostile ones must leave
the grader running, score no more than their honest part earns, carry the integrity flags
their `flags` name, and leave nothing behind.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder import config
from autograder.evidence import corpus
from autograder.grading.results import by_tag, integrity_flags, maximum
from autograder.paths import ROOT, SOLUTIONS
from autograder.sandbox.isolation import isolation_mode

from expectations import FULL, check_causes, check_feedback, check_tags, messages, named_the_cause
from gradings import graded, left_behind

EXPECTED = corpus.variants()
NAMED_AT_LEAST = 0.95  # the share of buggy variants whose feedback must name the cause (measured: 42/42)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("graded")


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Variant name -> its vae.py, written from the reference and the corpus's edits."""
    folder = tmp_path_factory.mktemp("corpus")
    return lambda name: corpus.build(name, folder)


def test_results_follow_gradescope_format_and_add_up_to_the_rubric(results_dir):
    code, results, _ = graded(SOLUTIONS / "vae.py", results_dir)
    assert code == 0
    assert {"score", "execution_time", "tests"} <= results.keys()
    for test in results["tests"]:
        assert {"name", "score", "max_score", "status", "output", "tags", "visibility"} <= test.keys()
        assert test["status"] in ("passed", "failed") and len(test["tags"]) == 1
    assert maximum(results) == pytest.approx(FULL)
    assert {tag: possible for tag, (_, possible) in by_tag(results).items()} == pytest.approx(
        {tag: points for tag, (points, _) in config.RUBRIC.items()})


def test_the_solution_scores_full_marks_with_a_feedback_picture(results_dir):
    code, results, output = graded(SOLUTIONS / "vae.py", results_dir)
    assert code == 0, output
    assert results["score"] == pytest.approx(FULL), messages(results)
    assert (results_dir / "vae" / "feedback.png").stat().st_size > 1000


def test_the_stubs_score_only_the_guard_check_and_name_each_function(results_dir):
    code, results, output = graded(ROOT / "assignment" / "vae.py", results_dir)
    assert code == 0, output
    tags = by_tag(results)
    assert tags["parameter_count"][0] == tags["parameter_count"][1]
    assert results["score"] == pytest.approx(tags["parameter_count"][1])
    text = messages(results)
    for name in config.STUDENT_FUNCTIONS:
        assert f"{name} is not implemented yet" in text


def test_a_missing_vae_py_gives_zero_and_says_so(results_dir, tmp_path):
    code, results, _ = graded(tmp_path, results_dir)
    assert code == 0 and results["score"] == 0
    assert "No vae.py" in results["tests"][0]["output"]


def _corpus(kind: str) -> list:
    return [pytest.param(name, spec, id=name) for name, spec in EXPECTED.items() if spec["kind"] == kind]


@pytest.mark.parametrize("name, spec", _corpus("correct"))
def test_correct_variant_gets_full_marks(name, spec, results_dir, built):
    code, results, output = graded(built(name), results_dir / name)
    assert code == 0, output
    assert results["score"] == pytest.approx(FULL), messages(results)
    check_feedback(name, spec, results)
    check_causes(name, spec, results)


@pytest.mark.parametrize("name, spec", _corpus("buggy"))
def test_buggy_variant_loses_points_only_where_its_bug_is(name, spec, results_dir, built):
    code, results, output = graded(built(name), results_dir / name)
    assert code == 0, output
    check_tags(name, spec, results)
    check_feedback(name, spec, results)
    check_causes(name, spec, results)


def test_buggy_corpus_feedback_named_the_cause_for_most_mistakes(results_dir, built, capsys):
    """Counts, over the buggy corpus, the mistakes whose feedback named the cause, and prints it
    (each variant's grading is the session's one: tests/gradings.py)."""
    buggy = [name for name, spec in EXPECTED.items() if spec["kind"] == "buggy"]
    named = [name for name in buggy if named_the_cause(EXPECTED[name], graded(built(name), results_dir / name)[1])]
    with capsys.disabled():
        print(f"\nfeedback named the cause for {len(named)}/{len(buggy)} mistakes; not: "
              f"{sorted(set(buggy) - set(named))}")
    assert len(named) >= NAMED_AT_LEAST * len(buggy)


@pytest.mark.skipif(isolation_mode() == "process", reason="hostile submissions need the grader run as root "
                    "(bwrap or uid isolation); as an ordinary user the submission runs as you (README)")
@pytest.mark.parametrize("name, spec", _corpus("hostile"))
def test_hostile_submission_neither_breaks_the_grader_nor_gains_points(name, spec, results_dir, built):
    code, results, output = graded(built(name), results_dir / name)
    assert code == 0, output
    assert results["score"] <= spec["max_score"] + 1e-6, messages(results)
    tags = by_tag(results)
    for tag in spec.get("keeps", []):
        assert tags[tag][0] == pytest.approx(tags[tag][1]), f"{name} should keep {tag}:\n{messages(results)}"
    flags = integrity_flags(results)
    assert set(spec.get("flags", [])) <= set(flags), f"{name} should be flagged {spec['flags']}, was {flags}"
    if "causes" in spec:  # optional for hostile cases: the class report's synthetic class uses it
        check_causes(name, spec, results)
    assert not left_behind(built(name)), "a process of the submission outlived grading"


def test_the_same_submission_gets_the_same_score_twice(results_dir, tmp_path, built):
    path = built("buggy_kl_mean")
    first = graded(path, results_dir / "buggy_kl_mean")[1]
    second = graded(path, tmp_path, reuse=False)[1]
    assert [t["score"] for t in first["tests"]] == [t["score"] for t in second["tests"]]


def test_a_linked_vae_py_is_not_followed_to_the_reference(results_dir, tmp_path):
    linked_file = tmp_path / "file"
    linked_file.mkdir()
    (linked_file / "vae.py").symlink_to(SOLUTIONS / "vae.py")
    linked_folder = tmp_path / "folder"
    linked_folder.symlink_to(SOLUTIONS, target_is_directory=True)
    for submission in (linked_file, linked_folder, linked_file / "vae.py"):
        code, results, _ = graded(submission, results_dir / submission.name)
        assert code == 0 and results["score"] == 0, submission
