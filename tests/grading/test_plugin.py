"""The grading plugin (autograder/grading/plugin.py) on hidden tests written here, run by pytester.

The real hidden graders need a sandbox; these stand-ins need none, so each rule of the plugin is
tested alone: every tag's points shared out exactly, a check's own message (never a traceback),
a setup failure or a skip earning nothing, a tag without a test or a collection error becoming a
zero entry that says so, and a test without a rubric tag refused.
"""
from __future__ import annotations

import pytest

from autograder import config
from autograder.grading import causes
from autograder.grading.plugin import INTERNAL, GradingPlugin, readable, share

pytest_plugins = ("pytester",)

# Stand-ins for hidden tests: one rubric tag per test, as in autograder/hidden/.
TWO_TAGS = """
import pytest

@pytest.mark.rubric("kl")
def test_kl_one():
    pass

@pytest.mark.rubric("kl")
def test_kl_two():
    pytest.fail("expected 3.0, got 4.0")

@pytest.mark.rubric("kl")
def test_kl_three(record, note):
    record("measured", 1.5)
    note("fine")

@pytest.mark.rubric("encode")
def test_encode_raises():
    raise KeyError("mu")

@pytest.fixture
def broken():
    pytest.fail("the sandbox did not start")

@pytest.mark.rubric("decode")
def test_decode_setup_fails(broken):
    pass

@pytest.mark.rubric("elbo")
def test_elbo_skipped():
    pytest.skip("no time")
"""


def run(pytester: pytest.Pytester, source: str) -> tuple[GradingPlugin, pytest.RunResult]:
    pytester.makepyfile(test_hidden=source)
    plugin = GradingPlugin(sandbox=None)
    return plugin, pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", plugins=[plugin])


def by_name(plugin: GradingPlugin) -> dict[str, dict]:
    """Each entry by its test's readable name (an entry's name is "tag: name")."""
    return {test["name"].split(": ", 1)[1]: test for test in plugin.tests()}


def test_every_tags_points_are_shared_by_its_tests_and_add_up_to_the_rubric(pytester):
    plugin, _ = run(pytester, TWO_TAGS)
    tests = plugin.tests()
    assert sum(test["max_score"] for test in tests) == pytest.approx(sum(p for p, _ in config.RUBRIC.values()))
    kl = [test["max_score"] for test in tests if test["tags"] == ["kl"]]
    assert kl == [5.0, 5.0, 5.0] and sum(kl) == config.RUBRIC["kl"][0]


def test_a_passed_check_earns_its_share_and_keeps_what_it_recorded_and_noted(pytester):
    plugin, _ = run(pytester, TWO_TAGS)
    one, three = by_name(plugin)["kl one"], by_name(plugin)["kl three"]
    assert one["status"] == "passed" and one["score"] == one["max_score"]
    assert three["score"] == three["max_score"] and three["output"] == "fine"
    assert three["extra_data"]["measured"] == 1.5


def test_a_failed_check_says_its_own_message_never_a_traceback(pytester):
    plugin, _ = run(pytester, TWO_TAGS)
    failed = by_name(plugin)["kl two"]
    assert failed["status"] == "failed" and failed["score"] == 0
    assert failed["output"] == "expected 3.0, got 4.0"
    raised = by_name(plugin)["encode raises"]
    assert raised["score"] == 0 and raised["output"] == INTERNAL.format(error="KeyError: 'mu'")
    assert causes.cause_of(raised) == causes.INTERNAL and "Traceback" not in raised["output"]


def test_a_check_whose_setup_fails_or_that_is_skipped_earns_nothing(pytester):
    plugin, _ = run(pytester, TWO_TAGS)
    setup, skipped = by_name(plugin)["decode setup fails"], by_name(plugin)["elbo skipped"]
    assert setup["score"] == 0 and setup["output"] == "the sandbox did not start"
    assert skipped["score"] == 0 and skipped["status"] == "failed"


def test_a_tag_without_a_test_is_a_zero_entry_that_names_the_collection_error(pytester):
    pytester.makepyfile(test_broken="import no_such_module_here\n")
    plugin, _ = run(pytester, TWO_TAGS)
    missing = [test for test in plugin.tests() if test["tags"][0] not in ("kl", "encode", "decode", "elbo")]
    assert {test["tags"][0] for test in missing} == set(config.RUBRIC) - {"kl", "encode", "decode", "elbo"}
    for test in missing:
        assert test["score"] == 0 and test["max_score"] == config.RUBRIC[test["tags"][0]][0]
        assert "could not run" in test["output"] and "test_broken.py" in test["output"]


def test_a_hidden_test_without_a_rubric_tag_is_refused(pytester):
    plugin, result = run(pytester, "def test_untagged():\n    pass\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and not plugin.items
    result.stderr.fnmatch_lines(["*needs @pytest.mark.rubric(tag)*"])


def test_each_report_is_kept_with_its_own_test_never_paired_by_position(pytester):
    """Tests run in another order than they were collected still get their own outcomes."""
    source = "\n".join(f"@pytest.mark.rubric('kl')\ndef test_{i}():\n    assert {i} % 2 == 0\n" for i in range(6))
    pytester.makepyfile(conftest="def pytest_collection_modifyitems(items):\n    items.reverse()\n")
    plugin, _ = run(pytester, "import pytest\n" + source)
    assert {name: test["status"] for name, test in by_name(plugin).items() if test["tags"] == ["kl"]} == {
        str(i): "passed" if i % 2 == 0 else "failed" for i in range(6)}


@pytest.mark.parametrize("points, n", [(10, 3), (15, 7), (5, 1), (10, 6), (0, 2)])
def test_shares_add_up_to_the_points_exactly(points, n):
    shares = [share(points, k, n) for k in range(1, n + 1)]
    assert round(sum(shares), 4) == points and max(shares) - min(shares) <= 1e-4 + 1e-9


def test_a_tests_name_reads_as_words():
    assert readable("test_kl_term_matches_the_closed_form") == "kl term matches the closed form"


def test_a_check_hands_its_picture_to_the_grading_which_writes_it(pytester):
    """The elbo check's `picture(drawn, value)` is kept for the grading (grade.py writes feedback.png
    after the checks); nothing is kept when no check draws."""
    plugin, _ = run(pytester, "import pytest\n\n@pytest.mark.rubric('elbo')\ndef test_draws(picture):\n"
                              "    picture('the draw', 127.5)\n")
    assert plugin.drawn == ("the draw", 127.5)
    assert run(pytester, TWO_TAGS)[0].drawn is None
