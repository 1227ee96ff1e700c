"""The pytest plugin that turns the hidden graders' outcomes into Gradescope's results.json.

Each hidden test carries one `@pytest.mark.rubric(tag)`; a tag's points (autograder/config.py)
are shared equally by its tests. Reports are kept per test in `item.stash`, never paired by
position. A collection error, or a tag left with no test, becomes a zero-point entry that
says what happened, so the points always add up to the rubric's total.
"""
from __future__ import annotations

from typing import Any

import pytest

from autograder import config
from autograder.grading import causes
from autograder.grading.results import Entry, entry, zero_entry

REPORTS = pytest.StashKey[dict]()
MAX_SCORE = pytest.StashKey[float]()
TAG = pytest.StashKey[str]()
EXTRA = pytest.StashKey[dict]()
NOTE = pytest.StashKey[str]()
INTERNAL = ("The grader could not interpret what your code returned here ({error}). "
            "If your code looks right, tell your instructor.")


def readable(test_name: str) -> str:
    """test_kl_term_matches_the_closed_form -> 'kl term matches the closed form'."""
    return test_name.removeprefix("test_").replace("_", " ")


def failure_message(excinfo: pytest.ExceptionInfo | None) -> tuple[str, str]:
    """The check's own message and cause code; never the grader's traceback or source."""
    if excinfo is None:
        return "", causes.UNKNOWN
    if excinfo.errisinstance(pytest.fail.Exception):
        return str(excinfo.value.msg), getattr(excinfo.value, "cause", causes.UNKNOWN)
    return INTERNAL.format(error=f"{excinfo.typename[:100]}: {str(excinfo.value)[:300]}"), causes.INTERNAL


def share(points: float, k: int, n: int) -> float:
    """The k-th of n checks' share of a tag's points, to 4 decimals, the n shares adding up to the
    points exactly (10 points over 3 checks: 3.3333, 3.3334, 3.3333, not 3 x 3.3333 = 9.9999)."""
    return round(round(points * k / n, 4) - round(points * (k - 1) / n, 4), 4)


class GradingPlugin:
    """Gives the hidden tests their sandbox and collects one entry per test."""

    def __init__(self, sandbox: Any) -> None:
        self._sandbox = sandbox
        self.items: list[pytest.Item] = []
        self.collect_errors: list[str] = []
        self.drawn: tuple[Any, float] | None = None  # (the elbo check's draw, its test loss): feedback.png

    @pytest.fixture(scope="session")
    def sandbox(self) -> Any:
        return self._sandbox

    @pytest.fixture(scope="session")
    def picture(self) -> Any:
        """picture(drawn, value): what the trained model draws and its test loss; the grading writes
        feedback.png from them once the checks have run (autograder/grading/feedback.py)."""
        return lambda drawn, value: setattr(self, "drawn", (drawn, value))

    @pytest.fixture
    def record(self, request: pytest.FixtureRequest) -> Any:
        """record(name, value): kept in the test's `extra_data` (for instructors and benchmarks)."""
        return lambda name, value: request.node.stash.setdefault(EXTRA, {}).__setitem__(name, value)

    @pytest.fixture
    def note(self, request: pytest.FixtureRequest) -> Any:
        """note(text): shown to the student as the output of a check that passes (it costs nothing)."""
        return lambda text: request.node.stash.__setitem__(NOTE, text)

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "rubric(tag): the rubric line a hidden test grades")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            last = (report.longreprtext.splitlines() or ["(no message)"])[-1]
            self.collect_errors.append(f"{report.nodeid}: {last}")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        counts: dict[str, int] = {}
        for item in items:
            marker = item.get_closest_marker("rubric")
            tag = marker.args[0] if marker and marker.args else None
            if tag not in config.RUBRIC:
                raise pytest.UsageError(f"{item.nodeid}: needs @pytest.mark.rubric(tag) with a tag of config.RUBRIC")
            item.stash[TAG] = tag
            counts[tag] = counts.get(tag, 0) + 1
        seen: dict[str, int] = {}
        for item in items:
            tag = item.stash[TAG]
            seen[tag] = seen.get(tag, 0) + 1
            item.stash[MAX_SCORE] = share(config.RUBRIC[tag][0], seen[tag], counts[tag])
        self.items = list(items)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        report = yield
        message, cause = failure_message(call.excinfo) if report.failed else ("", causes.UNKNOWN)
        item.stash.setdefault(REPORTS, {})[call.when] = (report.outcome, message, cause)
        return report

    # -- results --------------------------------------------------------------------------------
    def entry(self, item: pytest.Item) -> Entry:
        reports = item.stash.get(REPORTS, {})
        failed = [(message, cause) for outcome, message, cause in reports.values() if outcome == "failed"]
        passed = reports.get("call", ("not run",))[0] == "passed" and not failed  # a skip earns nothing
        message, cause = failed[0] if failed else ("This check did not run.", causes.NOT_RUN)
        return entry(item.stash[TAG], readable(item.name), round(item.stash[MAX_SCORE], 4), passed,
                     message, item.stash.get(EXTRA, {}), note=item.stash.get(NOTE, ""), cause=cause)

    def tests(self) -> list[Entry]:
        entries = [self.entry(item) for item in self.items]
        graded = {tag for item in self.items for tag in [item.stash[TAG]]}
        message = "The grader's check for this could not run: " + "; ".join(self.collect_errors)
        return entries + [zero_entry(tag, message) for tag in config.RUBRIC if tag not in graded]
