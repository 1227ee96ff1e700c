"""The public checks (`make check`): pass on the reference, fail on the stubs naming what to write,
and catch a broken submission."""
from __future__ import annotations

import json
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
from autograder.paths import ASSIGNMENT, ROOT, SOLUTIONS


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


@pytest.mark.slow
def test_public_checks_all_pass_on_the_reference_solution(on_solutions):
    failed = {name: message for name, message in on_solutions.outcomes.items() if message is not None}
    assert not failed, f"public checks fail on solutions/: {failed}\n{on_solutions.output}"


@pytest.mark.slow
def test_public_checks_all_fail_on_the_stubs(on_assignment):
    passed = [name for name, message in on_assignment.outcomes.items() if message is None]
    assert not passed, f"these public checks pass on the unimplemented stubs: {passed}"


@pytest.mark.slow
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


@pytest.mark.slow
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


# --- The corpus: every single-function mistake that needs no training fails `make check` ------

RUNNER = ROOT / "tests" / "public_checks_runner.py"
# The function a student writes -> its rubric tags, and the public checks (by name) about it.
FUNCTIONS = {
    "VAE.encode": ({"encode"}, ("test_encode", "test_forward")),
    "VAE.decode": ({"decode"}, ("test_decode", "test_forward")),
    "VAE.reparameterize": ({"reparameterize", "gradient_flow"}, ("test_reparameterize",)),
    "loss_function": ({"kl", "reconstruction"}, ("test_loss", "test_reconstruction", "test_kl")),
    "train": ({"training_loop"}, ("test_train",)),
}
# Words that the public checks' failure must contain for each mistake: its cause, as the hint
# names it. A mistake added to the corpus without an entry here must fail its function's checks.
CAUSE_WORDS = {
    "buggy_encode_no_relu": "relu after fc1 is missing",
    "buggy_encode_shared_head": "logvar uses fc21",
    "buggy_encode_swapped": "swapped",
    "buggy_decode_no_sigmoid": "sigmoid on fc4's output is missing",
    "buggy_decode_relu_output": "sigmoid, not a relu",
    "buggy_decode_no_hidden_relu": "relu after fc3 is missing",
    "buggy_reparam_std_exp_logvar": "your spread is exp(logvar), the variance",
    "buggy_reparam_std_half_logvar": "standard deviation exp(logvar / 2)",
    "buggy_reparam_eps_per_batch": "repeats down each column",
    "buggy_reparam_eps_fixed": "two calls gave the same z",
    "buggy_reparam_seeded": "two calls gave the same z",
    "buggy_reparam_noise_per_row": "repeats along each row",
    "buggy_reparam_randn_no_device": "creates a tensor on the cpu whatever the input's device",
    "buggy_reparam_uniform_noise": "not shaped like n(0, 1)",
    "buggy_reparam_sign_noise": "not shaped like n(0, 1)",
    "buggy_reparam_laplace_noise": "not shaped like n(0, 1)",
    "buggy_grad_mu_data": "no gradient reached mu",
    "buggy_grad_torch_normal": "torch.normal(mu, std) passes zero gradients",
    "buggy_grad_numpy_sample": "cut off from the graph",
    "buggy_kl_mean": "averaged over the batch",
    "buggy_kl_missing_one": "check the `1 +`",
    "buggy_kl_wrong_sign": "sign is wrong",
    "buggy_kl_std_for_variance": "the formula needs the variance",
    "buggy_kl_missing_half": "factor 1/2 is missing",
    "buggy_bce_mean": "reduction=\"sum\"",
    "buggy_bce_with_logits": "second sigmoid",
    "buggy_bce_mse": "squared error",
    "buggy_bce_missing_complement": "(1 - x) log(1 - recon_x) half is missing",
    "buggy_train_no_zero_grad": "gradients pile up",
    "buggy_train_step_before_backward": "weights never moved",
    "buggy_train_no_step": "weights never moved",
    "buggy_train_mean_per_batch": "mean per batch",
    "buggy_train_last_batch_loss": "last batch's loss",
    "buggy_train_zero_grad_after_backward": "weights never moved",
    "buggy_encode_tensor_on_cpu": "encode creates a tensor on the cpu",
    "buggy_decode_tensor_on_cpu": "decode creates a tensor on the cpu",
    "buggy_bce_tensor_on_cpu": "loss_function creates a tensor on the cpu",
    "buggy_kl_tensor_on_cpu": "loss_function creates a tensor on the cpu",
    "buggy_train_batch_not_moved": "does not move each batch to `device`",
    "buggy_train_eval_mode": "in evaluation mode",
}


def function_of(spec: dict) -> str | None:
    """The student function whose tags are all that a buggy variant loses (elbo aside), else None."""
    lost = set(spec.get("loses", ())) - {"elbo"}
    return next((name for name, (tags, _) in FUNCTIONS.items() if lost and lost <= tags), None)


def run_on_corpus(python: str, folder: Path, names: list[str]) -> dict[str, dict[str, str | None]]:
    """The public checks' outcomes ({test name: failure text or None}) on each named corpus variant."""
    from autograder.evidence.corpus import build

    for name in names:
        for file in ("test_public.py", "checking.py", "graded.py"):  # what is graded comes through graded.py
            shutil.copyfile(SOLUTIONS / file, build(name, folder).with_name(file))
    results = folder / "results.json"
    start = time.perf_counter()
    done = subprocess.run(
        [python, str(RUNNER), str(results), *(str(folder / name) for name in names)],
        capture_output=True, text=True, timeout=900,
        # One thread: many small runs, and a shared machine; no plugins but the runner's.
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
             "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    print(f"public checks on {len(names)} corpus variants: {time.perf_counter() - start:.1f} s")
    assert results.exists(), f"the runner wrote nothing (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return {Path(folder_name).name: outcomes for folder_name, outcomes in json.loads(results.read_text()).items()}


@pytest.mark.slow
def test_make_check_passes_every_correct_variant_and_catches_each_single_function_mistake(python, tmp_path):
    """One run over the corpus (one process: torch imported once), then both promises: a correct
    student never sees a public check fail; each single-function mistake that needs no training
    fails its own function's checks, with a message that names its cause."""
    from autograder.evidence.corpus import variants

    assert set(FUNCTIONS) == set(STUBBED), "FUNCTIONS should name each student function once"
    correct = [name for name, spec in variants().items() if spec["kind"] == "correct"]
    mistakes = {name: function_of(spec) for name, spec in variants().items()
                if spec["kind"] == "buggy" and function_of(spec)}
    runs = run_on_corpus(python, tmp_path, correct + list(mistakes))

    failed = {name: {test: message.strip().splitlines()[-1] for test, message in runs[name].items() if message}
              for name in correct}
    failed = {name: tests for name, tests in failed.items() if tests}
    assert not failed, f"a correct student would see these public checks fail: {failed}"

    missed = {}
    for name, function in mistakes.items():
        failures = {test: message for test, message in runs[name].items() if message}
        own = FUNCTIONS[function][1]
        text = "\n".join(failures.values()).lower()
        if not failures:
            missed[name] = "every public check passes"
        elif any(not test.startswith(own) for test in failures):
            missed[name] = f"checks of other functions fail too: {sorted(failures)}"
        elif name in CAUSE_WORDS and CAUSE_WORDS[name].lower() not in text:
            missed[name] = f"no failure says {CAUSE_WORDS[name]!r}: " + " | ".join(
                message.strip().splitlines()[-1] for message in failures.values())
    print(f"make check caught {len(mistakes) - len(missed)}/{len(mistakes)} single-function mistakes "
          f"(and passed all {len(correct)} correct variants)")
    assert not missed, f"public checks that miss a mistake or do not name its cause: {missed}"
