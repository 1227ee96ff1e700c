"""Helpers shared by the hidden graders (autograder/hidden/).

`make_ask(sandbox)` gives `ask(...)`, which sends one request to the sandboxed worker and turns every way it can go wrong
(not implemented, an exception, a hang, a crash, an unreadable answer) into a failed check
whose message teaches: what was expected, what happened, a hint.
"""
from __future__ import annotations

from typing import Any, Callable, NoReturn

import pytest
import torch

from autograder import config
from autograder.grading import causes
from autograder.sandbox.client import IMPORTING, Answer, SandboxFailure
from autograder.sandbox.protocol import with_state_prefix


def elbo_training(seed: int, weights_seed: int) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The request for the elbo check's training run (the calibration makes the same one): the
    header, and the initial weights the grader chose (seeded by `weights_seed`)."""
    from autograder.grading import reference

    header = {"seed": seed, "epochs": config.ELBO_EPOCHS, "batch_size": config.ELBO_BATCH_SIZE, "lr": config.ELBO_LR}
    return header, with_state_prefix(reference.random_weights(reference.expected_shapes(), weights_seed))


class CheckFailed(pytest.fail.Exception):
    """A failed check: the message the student reads, and the cause code it diagnosed."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message, pytrace=False)
        self.cause = cause


def fail(message: str, cause: str = causes.UNKNOWN) -> NoReturn:
    """Fail the check: `message` teaches the student, `cause` (a code of autograder/grading/causes.py)
    records the mistake for the gradebook and the class report."""
    if cause not in causes.CAUSES:
        raise ValueError(f"unknown cause code {cause!r}: add it to autograder/grading/causes.py")
    raise CheckFailed(message, cause)


def error_cause(error: dict[str, str]) -> str:
    """The cause code of an error the worker reported (see explain_error)."""
    kind = error.get("type", "Error")
    if kind == "NotImplementedError":
        return "function.not_implemented"
    return "model.layers_changed" if kind == "WeightsRejected" else "function.raised"


def explain_error(error: dict[str, str], function: str) -> str:
    kind, message, trace = error.get("type", "Error"), error.get("message", ""), error.get("traceback", "")
    if kind == "NotImplementedError":
        return f"{function} is not implemented yet: replace its `raise NotImplementedError` with your code."
    if kind == "WeightsRejected":
        return (f"Before checking {function}, the grader loads weights of its own choosing into your VAE's layers; "
                f"yours could not take them: {message}. Keep the five layers of __init__ as given "
                "(fc1, fc21, fc22, fc3, fc4).")
    text = f"{function} raised {kind}: {message}"
    return f"{text}\n{trace}" if trace else text


def describe_failure(failure: SandboxFailure) -> str:
    """What a student reads when a call did not come back: from the sandbox's facts."""
    doing = failure.function if failure.function == IMPORTING else f"{failure.function}()"
    if failure.kind == "memory":
        return f"{doing} used more than {failure.limit_mb} MB of memory and was stopped"
    if failure.kind == "timeout":
        return f"{doing} did not finish within {failure.seconds:.0f} s (an endless loop?)"
    if failure.kind == "died":
        code = failure.exit_code
        how = f"signal {-code}" if code and code < 0 else f"exit status {code}"
        return f"the process running your code ended during {doing} ({how}): sys.exit, os._exit or a crash"
    return (f"{doing} produced an answer the grader cannot read (something wrote to the grader's answer "
            "channel, or the answer was malformed); only this check is affected")


SANDBOX_CAUSES = {"memory": "sandbox.memory", "timeout": "sandbox.timeout", "died": "sandbox.died"}


def make_ask(sandbox: Any) -> Callable[..., Answer]:
    def ask(op: str, header: dict[str, Any], tensors: dict | None = None, *, function: str,
            uses: tuple[str, ...] = (), timeout: float | None = None) -> Answer:
        try:
            answer = sandbox.call(op, header, tensors, function=function, uses=uses, timeout=timeout)
        except SandboxFailure as failure:
            fail(f"{describe_failure(failure)}.", SANDBOX_CAUSES.get(failure.kind, "sandbox.unreadable_answer"))
        if answer.info.get("import_failed"):
            fail("vae.py could not be imported, so nothing in it could be checked.\n"
                 + explain_error(answer.error, "importing vae.py"), "function.import_failed")
        if not answer.ok:
            fail(explain_error(answer.error, function), error_cause(answer.error))
        return answer

    return ask


def tensor(answer: Answer, name: str, what: str) -> torch.Tensor:
    """A returned tensor, or a failed check saying what came back instead."""
    value = answer.tensors.get(name)
    if value is None:
        got = answer.info.get(f"{name}_type", "nothing")
        fail(f"{what} should be a torch.Tensor, got {got}.", "function.not_a_tensor")
    return value


def check_shape(what: str, value: torch.Tensor, expected: tuple[int, ...], cause: str = "function.wrong_shape") -> None:
    if tuple(value.shape) != expected:
        fail(f"{what} should have shape {expected}, got {tuple(value.shape)}.", cause)


def check_float32(what: str, value: torch.Tensor) -> None:
    if value.dtype != torch.float32:
        fail(f"{what} should be float32 like the model's weights, got {value.dtype}. "
             "Hint: create new tensors with torch.randn_like(...) or dtype=mu.dtype.", "function.not_float32")


def check_finite(what: str, value: torch.Tensor) -> None:
    """NaN or infinity anywhere fails the check that reads `value` (never passes it by accident)."""
    bad = int((~torch.isfinite(value)).sum())
    if bad:
        fail(f"{what} holds {bad} NaN or infinite value{'s' if bad > 1 else ''} (of {value.numel()}). "
             "Hint: look for exp of a large number, log of 0, or a division by zero.", "function.not_finite")


def differs(actual: torch.Tensor, expected: torch.Tensor) -> float | None:
    """Largest absolute difference if the tensors are not close (None when they are)."""
    if actual.shape != expected.shape:
        return float("inf")
    actual = actual.double()
    expected = expected.double()
    if torch.allclose(actual, expected, rtol=config.RTOL, atol=config.ATOL):
        return None
    difference = (actual - expected).abs()
    return float(difference.nan_to_num(float("inf")).max())


def close(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    return differs(actual, expected) is None
