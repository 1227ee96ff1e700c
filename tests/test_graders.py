"""The hidden graders against a corpus of submissions (tests/submissions/corpus.toml).

Every submission is graded end to end, as `make grade` does: a separate grader process, the
submission in its sandbox (tests/gradings.py: each distinct hand-in once per test session,
however many tests read its grading). Correct variants must get full marks; each buggy one must lose
points under the tags its bug touches and keep them everywhere else; hostile ones must leave
the grader running, score no more than their honest part earns, carry the integrity flags
their `flags` name, and leave nothing behind.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder import config
from autograder.evidence import corpus
from autograder.grading import causes
from autograder.grading.results import by_tag, integrity_flags, maximum
from autograder.paths import ROOT, SOLUTIONS
from autograder.sandbox.isolation import isolation_mode
from gradings import graded, left_behind

EXPECTED = corpus.variants()
FULL = sum(points for points, _ in config.RUBRIC.values())
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


def messages(results: dict) -> str:
    return "\n".join(f"{t['name']}: {t['output']}" for t in results["tests"] if t["status"] != "passed")


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


def check_feedback(name: str, spec: dict, results: dict) -> None:
    """The variant's optional `feedback` words are in what the student is told under the tags it
    loses (for a correct variant: its passed checks' notes), its `not_feedback` words are not, and
    its optional `passes` checks passed."""
    tags = set(spec.get("loses", [])) or set(config.RUBRIC)
    text = "\n".join(t["output"] for t in results["tests"] if t["tags"][0] in tags)
    for words in spec.get("feedback", []):
        assert words in text, f"{name}: the feedback should say {words!r}:\n{text}"
    for words in spec.get("not_feedback", []):
        assert words not in text, f"{name}: the feedback should not say {words!r}:\n{text}"
    status = {t["name"]: t["status"] for t in results["tests"]}
    for check in spec.get("passes", []):
        assert status.get(check) == "passed", f"{name} should pass {check!r}:\n{messages(results)}"


@pytest.mark.parametrize("name, spec", _corpus("buggy"))
def test_buggy_variant_loses_points_only_where_its_bug_is(name, spec, results_dir, built):
    code, results, output = graded(built(name), results_dir / name)
    assert code == 0, output
    check_tags(name, spec, results)
    check_feedback(name, spec, results)
    check_causes(name, spec, results)


def check_tags(name: str, spec: dict, results: dict) -> None:
    """The variant loses points under each tag of its `loses` and keeps every other tag's points
    (those of `may_lose` may go either way)."""
    tags = by_tag(results)
    for tag in spec["loses"]:
        assert tags[tag][0] < tags[tag][1], f"{name} should lose points under {tag}:\n{messages(results)}"
    for tag, (earned, possible) in tags.items():
        if tag not in spec["loses"] and tag not in spec.get("may_lose", []):
            assert earned == pytest.approx(possible), f"{name} should keep {tag}:\n{messages(results)}"


def recorded_causes(spec: dict, results: dict) -> set[str]:
    """The distinct cause codes the failed checks record, outside the tags the variant `may_lose`
    (those go either way, and so do their codes)."""
    optional = set(spec.get("may_lose", []))
    return {causes.cause_of(t) for t in results["tests"] if t["status"] != "passed" and t["tags"][0] not in optional}


def check_causes(name: str, spec: dict, results: dict) -> None:
    """The codes the failed checks record are exactly the variant's `causes` (a mistake mapped to
    the wrong code fails here); a correct variant records none."""
    expected = set(spec.get("causes", []))
    recorded = recorded_causes(spec, results)
    assert recorded == expected, f"{name}: the failed checks record causes {sorted(recorded)}, the corpus says " \
                                 f"{sorted(expected)}:\n{messages(results)}"


def named_the_cause(spec: dict, results: dict) -> bool:
    """Whether the feedback named the mistake: its `feedback` words are there and no failed
    check's code is `unknown`."""
    tags = set(spec.get("loses", [])) | set(spec.get("may_lose", []))
    text = "\n".join(t["output"] for t in results["tests"] if t["tags"][0] in tags)
    codes = {causes.cause_of(t) for t in results["tests"] if t["status"] != "passed"}
    return all(words in text for words in spec.get("feedback", [])) and causes.UNKNOWN not in codes


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
