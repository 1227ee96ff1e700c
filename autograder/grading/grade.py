"""`make grade`: grade one submission; write results.json (Gradescope's format) and feedback.png.

    python -m autograder.grading.grade --submission assignment/ --results build/grade/results.json

The submission runs in a sandboxed worker (autograder/sandbox/); the hidden graders
(autograder/hidden/) run here, in the trusted process, under pytest. Exit status 0 whenever
grading completed, whatever the score or the hand-in; 1 only if the grader itself failed.
Whatever the submission did, no process, folder or control group of its grading is left.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import textwrap
import time
from pathlib import Path
from unittest import mock

from autograder.grading import handin, results as results_format
from autograder.grading.results import Entry, Results, build, load, maximum, valid_text, write, zero_tests
from autograder.paths import ASSIGNMENT, GRADE_RESULTS, HIDDEN_GRADERS
from autograder.sandbox import integrity
from autograder.sandbox.cgroups import limits_mode
from autograder.sandbox.client import Sandbox
from autograder.sandbox.isolation import IsolationError, isolation_mode, protect_repository

DEFAULT_RESULTS = GRADE_RESULTS


class GraderError(RuntimeError):
    """The grader cannot run safely or correctly (not the submission's fault)."""


def sandbox_output_note(sandbox: Sandbox) -> str:
    if not sandbox.output.total:
        return ""
    return (f"Your code printed {sandbox.output.total:,} bytes while being graded (printing costs no points). "
            f"What was kept:\n{sandbox.output.text()[:4000]}")


def run_hidden_tests(sandbox: Sandbox, feedback_dir: Path) -> list[Entry]:
    """Run the hidden graders under pytest against `sandbox`; one results entry per test, and
    feedback.png in `feedback_dir` from what the elbo check drew.

    The grader's own torch runs on one thread: its computations are small, and while the worker
    trains on every core, a second OpenMP thread here makes both spin against each other (the
    probe's replay went from 8 ms to 0.5 s on a busy 2-core machine). Plugins installed in the
    environment are not loaded: the hidden graders need none, and each costs start-up time.
    """
    import pytest
    import torch

    from autograder.grading import feedback
    from autograder.grading.plugin import GradingPlugin

    plugin = GradingPlugin(sandbox)
    log = io.StringIO()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with mock.patch.dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"), \
                contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            code = pytest.main(["-c", str(HIDDEN_GRADERS / "pytest.ini"), "--rootdir", str(HIDDEN_GRADERS), "-q",
                                "--no-header", "--tb=no", "-p", "no:warnings", str(HIDDEN_GRADERS)],
                               plugins=[plugin])
    finally:
        torch.set_num_threads(threads)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not plugin.items:
        raise GraderError(f"the hidden tests did not run (pytest exit code {int(code)}):\n{log.getvalue()[-3000:]}")
    if plugin.drawn:  # the elbo check's draw: the picture is the grading's to write, not a check's
        drawn, value = plugin.drawn
        feedback.save_feedback(drawn, feedback_dir, value)
    return plugin.tests()


def grade(submission: Path, results_path: Path = DEFAULT_RESULTS, sandbox_uid: int | None = None,
          threads: int | None = None) -> Results:
    """Grade what the student handed in (`submission`: a folder, a .py, a notebook or a zip,
    resolved by autograder/grading/handin.py); write and return the results.

    `threads`: CPU threads for the submission's training (default: every core; parallel
    graders should share the cores out, oversubscribed threads slow training tenfold).
    """
    start = time.perf_counter()
    results_path = results_path.resolve()
    results_path.parent.mkdir(parents=True, exist_ok=True)
    (results_path.parent / "feedback.png").unlink(missing_ok=True)
    code = handin.resolve(submission)
    flags: set[str] = set()
    if code.source is None:
        tests, output = zero_tests(code.note, "handin.not_gradable"), ""
        extra = {results_format.ISOLATION: isolation_mode(), results_format.LIMITS: limits_mode()}
    else:
        # One sandbox: its isolation mode and its control group are the grading's (not probed again).
        sandbox = Sandbox(code.source, sandbox_uid, threads, modules=code.modules)
        extra = {results_format.ISOLATION: sandbox.mode, results_format.LIMITS: sandbox.limits_mode}
        try:
            if sandbox.mode == "uid":
                protect_repository(sandbox.uid)
            sandbox.launch()  # the worker imports torch while pytest starts here
            tests = run_hidden_tests(sandbox, results_path.parent)
        finally:
            sandbox.close()  # every process of the submission is gone before results are written
        if sandbox.library_failure:  # no score: the grading machine is broken, not the submission
            raise GraderError(str(sandbox.library_failure))
        output = "\n".join(filter(None, [code.note, sandbox_output_note(sandbox)]))
        extra.update({results_format.WORKER_STARTS: sandbox.starts, results_format.TIMINGS: sandbox.timings})
        # For a person: flags change no points.
        flags = sandbox.flags.union(*map(integrity.scan, [code.source, *dict(code.modules).values()]))
    write(build(tests, output, time.perf_counter() - start, extra, flags), results_path)
    return load(results_path)  # what results.json holds (bounded, valid text) is what the table shows


REASON_WIDTH = 110  # characters of each table line's reason before it wraps onto the next line
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # e.g. a terminal's escape sequences in a student's message


def printable(text: str) -> str:
    """`text` on one line, safe to print on a terminal: valid Unicode, every run of white space one
    space, other control characters (a terminal's escape sequences) shown as '?'."""
    return CONTROL.sub("?", " ".join(valid_text(text).split()))


def first_sentence(text: str) -> str:
    """The message's first sentence, whole (up to a '.', '!' or '?' followed by a space or the end)."""
    flat = printable(text)
    match = re.search(r"[.!?](\s|$)", flat)
    return flat[: match.end()].strip() if match else flat


def table(results: Results) -> str:
    """The score table in the README rubric's order: points, the check's name and the first sentence
    of why (both whole, wrapped, never cut); then the total and the grading's note (what was graded)."""
    lines = []
    width = max((len(printable(test["name"])) for test in results["tests"]), default=0)
    for test in results["tests"]:
        if test["status"] == "passed":
            reason = "ok" + (f"; {first_sentence(test['output'])}" if test["output"] else "")
        else:
            reason = first_sentence(test["output"])
        head = f"{test['score']:6.2f}/{test['max_score']:<6.2f} {printable(test['name']):<{width}} "
        wrapped = textwrap.wrap(reason, REASON_WIDTH) or [""]
        lines.append(head + wrapped[0])
        lines += [" " * len(head) + more for more in wrapped[1:]]
    total = maximum(results)
    lines.append(f"{results['score']:6.2f}/{total:<6.2f} total ({results['execution_time']:.1f} s)")
    lines += textwrap.wrap(printable(results.get("output", "")), REASON_WIDTH + 14)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade one submission of the VAE homework.")
    parser.add_argument("--submission", type=Path, default=ASSIGNMENT, help="folder, .py, notebook or zip")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="where to write results.json")
    parser.add_argument("--sandbox-uid", type=int, default=None, help="uid that runs the submission (as root)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the submission (default: all)")
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):  # a terminal that is not UTF-8 still gets the table
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        results = grade(args.submission, args.results, args.sandbox_uid, args.threads)
    except (GraderError, IsolationError) as error:
        print(f"grader error: {error}", file=sys.stderr)
        return 1
    print(table(results))
    print(f"results: {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
