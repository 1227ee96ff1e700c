"""autograder/grading/results.py: entries, the rubric-wide zero result, sums, strict and bounded JSON."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autograder import config
from autograder.grading import causes, results
from autograder.grading.results import ResultsError
from autograder.paths import ROOT

FULL = sum(points for points, _ in config.RUBRIC.values())


def strict(text: str) -> dict:
    """json.loads that rejects NaN and Infinity, as strict parsers (JavaScript's, Go's) do."""
    def reject(name):
        raise ValueError(f"not strict JSON: {name}")
    return json.loads(text, parse_constant=reject)


def test_an_entry_earns_all_its_points_or_none_with_a_message():
    passed = results.entry("kl", "kl is summed", 7.5, True, "ignored", {"value": 1.0})
    failed = results.entry("kl", "kl is summed", 7.5, False, "you averaged", cause="unknown")
    assert (passed["name"], passed["score"], passed["status"], passed["output"]) == \
        ("kl: kl is summed", 7.5, "passed", "")
    assert (failed["score"], failed["max_score"], failed["status"], failed["output"]) == \
        (0.0, 7.5, "failed", "you averaged")
    assert passed["tags"] == ["kl"] and passed["extra_data"] == {"value": 1.0}
    assert failed["extra_data"] == {"cause": "unknown"}  # a failed check always names its cause code
    assert causes.cause_of(passed) is None and causes.cause_of(failed) == "unknown"


def test_the_zero_result_holds_every_rubric_tag_at_zero_and_says_why():
    zero = results.zero_result("No vae.py was found")
    assert [t["tags"] for t in zero["tests"]] == [[tag] for tag in config.RUBRIC]
    assert zero["score"] == 0 and results.maximum(zero) == FULL
    assert all(t["output"] == "No vae.py was found" and t["status"] == "failed" for t in zero["tests"])
    assert {causes.cause_of(t) for t in zero["tests"]} == {causes.NOT_RUN}


def test_totals_by_tag_and_the_score_add_up():
    tests = [results.entry("kl", "a", 7.5, True), results.entry("kl", "b", 7.5, False),
             results.entry("elbo", "c", 15, True)]
    built = results.build(tests, execution_time=1.234)
    assert built["score"] == 22.5 and built["execution_time"] == 1.23
    assert results.by_tag(built)["kl"] == (7.5, 15) and results.by_tag(built)["encode"] == (0, 0)
    points = results.tag_points(built)
    assert list(points) == list(config.RUBRIC) and points["kl"] == 7.5 and sum(points.values()) == 22.5


def test_sums_read_a_top_level_score_and_treat_junk_as_zero():
    odd = {"tests": [{"score": "x", "max_score": 5, "tags": ["kl", "not-a-tag"]}, {"score": float("nan"),
                                                                                    "max_score": 5}]}
    assert results.score(odd) == 0 and results.maximum(odd) == 10
    assert results.score({**odd, "score": 3}) == 3
    assert results.tag_points(odd)["kl"] == 0 and "not-a-tag" not in results.tag_points(odd)
    assert results.tag_points(None) == dict.fromkeys(config.RUBRIC, 0.0)


def test_to_json_is_strict_json_when_extra_data_holds_nan_and_infinity():
    built = results.build([results.entry("elbo", "e", 15, False, "no", {"elbo": float("nan"),
                                                                       "values": [float("inf"), -float("inf"), 1.5]})])
    data = strict(results.to_json(built))
    assert data["tests"][0]["extra_data"] == {"elbo": "nan", "values": ["inf", "-inf", 1.5], "cause": "unknown"}


def test_to_json_cuts_student_derived_strings_and_says_so():
    huge = "E" * 900_000  # an exception type name a submission made up
    built = results.build([results.entry("kl", "k", 15, False, huge)], output=huge)
    text = results.to_json(built)
    data = strict(text)
    assert len(text.encode()) < config.RESULTS_MAX_BYTES
    assert data["tests"][0]["output"].startswith("E" * config.RESULTS_TEXT_CHARS)
    assert f"{900_000 - config.RESULTS_TEXT_CHARS:,} more characters cut" in data["output"]


def test_to_json_stays_under_the_size_cap_however_much_there_is():
    many = [results.entry("kl", f"check {i}", 0.1, False, "x" * 9_000, {"blob": ["y" * 9_000] * 20})
            for i in range(100)]
    text = results.to_json(results.build(many, extra={"deep": [[[[[[[[[[[[[[[[[[[[[[["z"]]]]]]]]]]]]]]]]]]]]]]]}))
    assert len(text.encode()) <= config.RESULTS_MAX_BYTES
    data = strict(text)
    assert len(data["tests"]) == 100 and data["score"] == 0


def test_write_and_load_round_trip(tmp_path):
    built = results.zero_result("nothing", extra={"isolation": "process"})
    results.write(built, tmp_path / "results.json")
    assert results.load(tmp_path / "results.json") == built
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("text, words", [
    ("{", "is not JSON"),
    ('{"tests": [], "score": NaN}', "not strict JSON"),
    ('{"score": 3}', "no list of tests"),
    ('{"tests": [3]}', "no list of tests"),
    ("[]", "no list of tests"),
])
def test_from_json_rejects_what_readers_cannot_use(text, words):
    with pytest.raises(ResultsError, match=words):
        results.from_json(text)


def test_results_module_needs_only_the_standard_library():
    """The CI report imports it with the system Python, before (or without) the venv."""
    check = ("import sys; import autograder.grading.results, autograder.course.report; "
             "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'pytest', 'nbformat')]; "
             "print(heavy); sys.exit(1 if heavy else 0)")
    run = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_passed_entry_shows_its_note_and_a_failed_one_its_message():
    passed = results.entry("training_loop", "t", 7.5, True, "ignored", note="fine here, but call loss_function")
    failed = results.entry("training_loop", "t", 7.5, False, "you averaged", note="never shown")
    assert (passed["status"], passed["output"]) == ("passed", "fine here, but call loss_function")
    assert failed["output"] == "you averaged"


@pytest.mark.parametrize("value, expected", [
    (3, 3.0), (2.5, 2.5), (" 7.5 ", 7.5), ("-1", -1.0),
    (float("nan"), None), (float("inf"), None), ("nan", None), ("-inf", None), ("1e400", None), (10 ** 400, None),
    (True, None), (None, None), ("", None), ("seven", None), ([1], None), ({"score": 1}, None),
])
def test_finite_reads_a_number_from_a_file_and_fails_closed_on_anything_else(value, expected):
    assert results.finite(value) == expected


def test_a_checks_points_are_read_as_the_total_reads_them():
    checks = ({"score": 2.5}, {"score": "x"}, {"score": float("inf")}, {})
    assert [results.check_score(t) for t in checks] == [2.5, 0, 0, 0]
    assert results.check_maximum({"max_score": 5}) == 5 and results.check_maximum({"max_score": None}) == 0
    assert results.RUBRIC_MAXIMUM == FULL


def test_each_extra_field_has_one_reader_that_fails_closed_on_what_the_grader_never_writes():
    elbo = results.entry("elbo", "trains", 15, True, extra={results.TEST_NEGATIVE_ELBO: 127.5,
                                                            results.EPOCH_SECONDS: [6.5, "x"],
                                                            results.TRAIN_DEVICE: "cpu"})
    built = results.build([results.entry("kl", "a", 15, True), elbo], execution_time=9.0,
                          extra={results.ISOLATION: "bwrap", results.LIMITS: "cgroup2", results.WORKER_STARTS: 2,
                                 results.TIMINGS: {"worker_ready_s": 0.5, "odd": "x"}}, flags=["native_code"])
    assert (results.isolation(built), results.limits(built), results.worker_starts(built)) == ("bwrap", "cgroup2", 2)
    assert results.timings(built) == {"worker_ready_s": 0.5} and results.execution_time(built) == 9.0
    assert results.measured_elbo(built) == 127.5
    assert (results.epoch_seconds(built), results.train_device(built)) == ([6.5], "cpu")
    assert results.integrity_flags(built) == ["native_code"]
    odd = {"tests": [{"tags": ["elbo"], "extra_data": {results.TEST_NEGATIVE_ELBO: "127"}}],
           "extra_data": {results.ISOLATION: 3, results.WORKER_STARTS: True}, "execution_time": float("nan")}
    for result in (odd, None, {"tests": [], "extra_data": "not an object"}):
        assert results.isolation(result) is None and results.worker_starts(result) is None
        assert results.measured_elbo(result) is None and results.epoch_seconds(result) == []
        assert results.execution_time(result) is None and results.timings(result) == {}
