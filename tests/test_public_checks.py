"""The public checks (`make check`): pass on the reference, fail on the stubs naming what to write,
and catch a broken submission."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.authoring.markers import stub_message
from autograder.config import STUDENT_FUNCTIONS as STUBBED
from autograder.paths import ASSIGNMENT, SOLUTIONS


@dataclass
class Run:
    outcomes: dict[str, str | None]  # test name -> failure message, None when it passed
    output: str


def run_public_checks(python: str, folder: Path, report: Path) -> Run:
    """`make check`'s command, run in `folder`; results read from a JUnit report, by test name."""
    start = time.perf_counter()
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_public.py", f"--junitxml={report}"],
        cwd=folder, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},  # leave no __pycache__ in assignment/
    )
    seconds = time.perf_counter() - start
    # Printed, not asserted: speed is the benchmark's business (`pytest -s` shows it).
    print(f"public checks in {folder.name}/: {seconds:.1f} s")
    output = done.stdout + done.stderr
    assert report.exists(), f"pytest wrote no report (exit {done.returncode}):\n{output}"
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        assert case.find("skipped") is None, f"{case.get('name')} was skipped"
        outcomes[case.get("name")] = (
            None if problem is None else f"{problem.get('message') or ''}\n{problem.text or ''}"
        )
    assert outcomes, f"no public checks ran:\n{output}"
    return Run(outcomes, output)


@pytest.fixture(scope="module")
def on_solutions(python, tmp_path_factory) -> Run:
    return run_public_checks(python, SOLUTIONS, tmp_path_factory.mktemp("solutions") / "report.xml")


@pytest.fixture(scope="module")
def on_assignment(python, tmp_path_factory) -> Run:
    return run_public_checks(python, ASSIGNMENT, tmp_path_factory.mktemp("assignment") / "report.xml")


def test_public_checks_all_pass_on_the_reference_solution(on_solutions):
    failed = {name: message for name, message in on_solutions.outcomes.items() if message is not None}
    assert not failed, f"public checks fail on solutions/: {failed}\n{on_solutions.output}"


def test_public_checks_all_fail_on_the_stubs(on_assignment):
    passed = [name for name, message in on_assignment.outcomes.items() if message is None]
    assert not passed, f"these public checks pass on the unimplemented stubs: {passed}"


def test_each_stub_failure_names_the_function_to_write(on_assignment):
    unnamed = {
        name: message.splitlines()[0]
        for name, message in on_assignment.outcomes.items()
        if message is not None and not any(stub_message(function) in message for function in STUBBED)
    }
    assert not unnamed, f"failures that do not name the function to write: {unnamed}"
    named = {function for function in STUBBED for message in on_assignment.outcomes.values()
             if message and stub_message(function) in message}
    assert named == set(STUBBED), f"no public check names {sorted(set(STUBBED) - named)}"


def test_public_checks_catch_a_decoder_without_sigmoid(python, tmp_path):
    submission = tmp_path / "submission"
    shutil.copytree(SOLUTIONS, submission, ignore=shutil.ignore_patterns("__pycache__", "results"))
    vae = submission / "vae.py"
    correct = "recon = torch.sigmoid(self.fc4(h3))"
    source = vae.read_text()
    assert correct in source, "the reference decoder changed: update this test's mutation"
    vae.write_text(source.replace(correct, "recon = self.fc4(h3)"))
    run = run_public_checks(python, submission, tmp_path / "report.xml")
    decode = [name for name in run.outcomes if "decode" in name]
    assert decode, f"no public check about decode among {sorted(run.outcomes)}"
    for name in decode:
        assert run.outcomes[name] is not None, f"{name} passes with a decoder that has no sigmoid"
        assert "sigmoid" in run.outcomes[name], f"{name} fails without the sigmoid hint: {run.outcomes[name]}"
