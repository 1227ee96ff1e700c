"""Helpers shared by the hidden graders (autograder/hidden/).

`make_ask(sandbox)` gives `ask(...)`, which sends one request to the sandboxed worker and turns every way it can go wrong
(not implemented, an exception, a hang, a crash, an unreadable answer) into a failed check
whose message teaches: what was expected, what happened, a hint.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, NoReturn

import pytest
import torch

from autograder import config
from autograder.grading import causes
from autograder.sandbox.client import IMPORT_FAILED, IMPORTING, Answer, SandboxFailure
from autograder.sandbox.protocol import (DEVICE, SEED, TRAIN_ELBO, WEIGHTS_REJECTED, Device, Error, TrainElbo, state_in,
                                         type_of, with_state_prefix)


def elbo_training(seed: int, weights_seed: int) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The request for the elbo check's training run (the calibration makes the same one): the
    header, and the initial weights the grader chose (seeded by `weights_seed`)."""
    from autograder.hidden import reference

    header = {SEED: seed, TrainElbo.EPOCHS: config.ELBO_EPOCHS, TrainElbo.BATCH_SIZE: config.ELBO_BATCH_SIZE,
              TrainElbo.LR: config.ELBO_LR}
    return header, with_state_prefix(reference.random_weights(reference.expected_shapes(), weights_seed))


def adam_move_bound(steps: int, lr: float, betas: tuple[float, float] = config.ELBO_ADAM_BETAS) -> float:
    """The furthest `steps` steps of Adam (torch.optim.Adam, weight decay 0) can move any one weight.

    Step t moves a weight by lr * m_t / (1 - b1^t) / (sqrt(v_t / (1 - b2^t)) + eps), with
    m_t = (1 - b1) sum_i b1^(t-i) g_i and v_t = (1 - b2) sum_i b2^(t-i) g_i^2; eps > 0 only shrinks
    it. Cauchy-Schwarz, sum_i b1^(t-i) |g_i| <= sqrt(sum_k<t (b1^2 / b2)^k) sqrt(sum_i b2^(t-i) g_i^2),
    gives |move_t| <= lr (1 - b1) / sqrt(1 - b2) sqrt((1 - r^t) / (1 - r)) sqrt(1 - b2^t) / (1 - b1^t),
    r = b1^2 / b2, whatever the gradients: 1 lr at t = 1, 4.45 lr at t = 469, 7.27 lr as t grows.
    The whole run's bound is the sum over t = 1 .. steps: 1.465 for the elbo epoch's 469 steps at
    lr 1e-3 (3.12 lr a step on average). An optimizer whose state or settings train() changed is
    not bound by it; that is what the check is for.
    """
    b1, b2 = betas
    r = b1 * b1 / b2
    return lr * sum((1 - b1) / math.sqrt(1 - b2) * math.sqrt((1 - r ** t) / (1 - r)) * math.sqrt(1 - b2 ** t)
                    / (1 - b1 ** t) for t in range(1, steps + 1))


# A hidden unit's incoming weights are a row, its outgoing weights a column, of these matrices.
UNITS = {"fc1": ("fc1.weight", ("fc21.weight", "fc22.weight")), "fc3": ("fc3.weight", ("fc4.weight",))}


def live_units(state: dict[str, torch.Tensor], images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Which hidden units (fc1's, fc3's) can change what the model computes on these images: not
    zero after the ReLU on every image (dead), and some outgoing weight at least
    config.ELBO_SILENT_WEIGHT (not ignored). `state`: the weights with the protocol's prefix."""
    from autograder.hidden import reference

    model = reference.model_with(state)
    with torch.no_grad():
        h1 = torch.relu(model.fc1(images.reshape(len(images), -1)))
        h3 = torch.relu(model.fc3(model.fc21(h1)))  # decoding mu: the sample's noise aside
        live = {}
        for layer, hidden in (("fc1", h1), ("fc3", h3)):
            outgoing = torch.cat([model.get_parameter(name) for name in UNITS[layer][1]])
            live[layer] = (hidden.amax(dim=0) > 0) & (outgoing.abs().amax(dim=0) >= config.ELBO_SILENT_WEIGHT)
    return live


def live_entries(name: str, weight: torch.Tensor, live: dict[str, torch.Tensor]) -> torch.Tensor:
    """The entries of weight matrix `name` that connect live units (all of them where no hidden
    unit is on either side): the part of the matrix that decides what the model computes."""
    for layer, (incoming, outgoing) in UNITS.items():
        if name == incoming:
            weight = weight[live[layer]]
        if name in outgoing:
            weight = weight[:, live[layer]]
    return weight


def normal_ks_distance(values: torch.Tensor) -> float:
    """sqrt(n) times the Kolmogorov-Smirnov distance of the values' empirical CDF from N(0, 1)'s
    (Kolmogorov's limit law gives its false-alarm rate: config.REPARAM_KS_LIMIT)."""
    ordered = values.flatten().double().sort().values
    n = ordered.numel()
    cdf = torch.special.ndtr(ordered)
    steps = torch.arange(1, n + 1, dtype=torch.float64) / n
    return n ** 0.5 * float(torch.maximum(steps - cdf, cdf - (steps - 1 / n)).max())


def noise_shape(eps: torch.Tensor) -> str:
    """What the standardised noise looks like, in words (a hint: the distance decides)."""
    rounded = (eps / config.REPARAM_VALUE_ROUNDING).round()
    if torch.unique(rounded).numel() <= eps.shape[1] * config.REPARAM_FEW_VALUES:  # a few values per column
        return "take only a few distinct values, like +-1 noise"
    excess_kurtosis = float((eps ** 4).mean() / (eps ** 2).mean() ** 2 - 3)
    if excess_kurtosis < -config.REPARAM_KURTOSIS_HINT:
        return "are flat and bounded, like uniform noise (torch.rand)"
    if excess_kurtosis > config.REPARAM_KURTOSIS_HINT:
        return "have heavier tails than a normal's, like Laplace noise"
    return "are not shaped like a standard normal's"


def descends_from(initial: dict[str, torch.Tensor], trained: dict[str, torch.Tensor]) -> tuple[str, float]:
    """The weight matrix least correlated with where training started, over the weights of the
    hidden units that are live after training (checks.live_units), and that correlation."""
    from autograder.hidden import reference

    worst = ("", float("inf"))
    live = live_units(trained, reference.test_images()[:config.ELBO_LIVE_UNIT_IMAGES])
    trained = state_in(trained)
    for name, before in initial.items():
        if name.endswith(".weight"):
            value = reference.correlation(live_entries(name, before, live), live_entries(name, trained[name], live))
            if not math.isfinite(value):
                return name, value  # no live unit, constant or NaN: as far from the start as it gets
            worst = min(worst, (name, value), key=lambda pair: pair[1])
    return worst


def epoch_steps() -> int:
    return config.ELBO_EPOCHS * math.ceil(config.ELBO_TRAIN_IMAGES / config.ELBO_BATCH_SIZE)


def check_one_epoch_of_work(info: dict) -> None:
    """The worker's counts of train()'s work (forgeable from inside: the clock and the weights' moves
    back them): images served by the grader's loader, and optimizer steps, within one epoch's."""
    served, steps = info.get(TrainElbo.IMAGES_SERVED), info.get(TrainElbo.OPTIMIZER_STEPS)
    most = config.ELBO_EPOCHS * config.ELBO_TRAIN_IMAGES + config.ELBO_BATCH_SIZE
    if not (isinstance(served, int) and isinstance(steps, int)):
        fail("The grader could not count your train()'s work during the elbo epoch (the worker's counts "
             "are missing): train() must only train the model it is given.", "train.more_than_one_epoch")
    if served > most or steps > epoch_steps():
        fail(f"train() was called for {config.ELBO_EPOCHS} epoch, {epoch_steps()} batches of "
             f"{config.ELBO_BATCH_SIZE}; it drew {served:,} images from the loader ({most - config.ELBO_BATCH_SIZE:,} "
             f"in one pass) and took {steps} optimizer steps. Hint: one call of train() is one pass over the "
             "loader it is given, one optimizer.step() per batch, with the optimizer it is given.",
             "train.more_than_one_epoch")


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


NOT_IMPLEMENTED = NotImplementedError.__name__  # the error type a stub raises


def error_cause(error: dict[str, str]) -> str:
    """The cause code of an error the worker reported (see explain_error)."""
    kind = error.get(Error.TYPE, "Error")
    if kind == NOT_IMPLEMENTED:
        return "function.not_implemented"
    return "model.layers_changed" if kind == WEIGHTS_REJECTED else "function.raised"


def explain_error(error: dict[str, str], function: str) -> str:
    kind, message, trace = error.get(Error.TYPE, "Error"), error.get(Error.MESSAGE, ""), error.get(Error.TRACEBACK, "")
    if kind == NOT_IMPLEMENTED:
        return f"{function} is not implemented yet: replace its `raise NotImplementedError` with your code."
    if kind == WEIGHTS_REJECTED:
        return (f"Before checking {function}, the grader loads weights of its own choosing into your VAE's layers; "
                f"yours could not take them: {message}. Keep the five layers of __init__ as given "
                "(fc1, fc21, fc22, fc3, fc4).")
    text = f"{function} raised {kind}: {message}"
    return f"{text}\n{trace}" if trace else text


def describe_failure(failure: SandboxFailure) -> str:
    """What a student reads when a call did not come back: from the sandbox's facts."""
    doing = failure.function if failure.function == IMPORTING else f"{failure.function}()"
    if failure.kind == SandboxFailure.MEMORY:
        return f"{doing} used more than {failure.limit_mb} MB of memory and was stopped"
    if failure.kind == SandboxFailure.TIMEOUT:
        return f"{doing} did not finish within {failure.seconds:.0f} s (an endless loop?)"
    if failure.kind == SandboxFailure.DIED:
        code = failure.exit_code
        how = f"signal {-code}" if code and code < 0 else f"exit status {code}"
        return f"the process running your code ended during {doing} ({how}): sys.exit, os._exit or a crash"
    return (f"{doing} produced an answer the grader cannot read (something wrote to the grader's answer "
            "channel, or the answer was malformed); only this check is affected")


SANDBOX_CAUSES = {SandboxFailure.MEMORY: "sandbox.memory", SandboxFailure.TIMEOUT: "sandbox.timeout",
                  SandboxFailure.DIED: "sandbox.died"}


def make_ask(sandbox: Any) -> Callable[..., Answer]:
    def ask(op: str, header: dict[str, Any], tensors: dict | None = None, *, function: str,
            uses: tuple[str, ...] = (), timeout: float | None = None) -> Answer:
        try:
            answer = sandbox.call(op, header, tensors, function=function, uses=uses, timeout=timeout)
        except SandboxFailure as failure:
            fail(f"{describe_failure(failure)}.", SANDBOX_CAUSES.get(failure.kind, "sandbox.unreadable_answer"))
        if answer.info.get(IMPORT_FAILED):
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
        got = answer.info.get(type_of(name), "nothing")
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


# Words of a device mismatch (a tensor made on the CPU whatever its input's device, met on a GPU).
DEVICE_MISMATCH = ("same device", "device type", "cuda", "mps")


def on_meta(ask, function: str) -> dict:
    """`function` run on the `meta` device (worker.op_device): each of its runs -> "" or its error."""
    from autograder.hidden import reference

    answer = ask(DEVICE, {Device.FUNCTION: function, SEED: config.GRADER_SEEDS["device"],
                          Device.ROWS: config.DEVICE_CHECK_ROWS, Device.DIMS: list(reference.dims())},
                 function={Device.LOSS: "loss_function", Device.TRAIN: "train"}.get(function, f"VAE.{function}"))
    return answer.info


def device_error(outcome: object) -> dict | None:
    """The worker's error when it is a device mismatch between the CPU and `meta` (None otherwise:
    the run ended, or stopped for another reason, such as reading a meta tensor's absent data)."""
    if not isinstance(outcome, dict):
        return None
    text = f"{outcome.get(Error.TYPE, '')}: {outcome.get(Error.MESSAGE, '')}"
    return outcome if "device" in text and "meta" in text and "cpu" in text.lower() else None


def after_own_checks(what: str, *checks: Callable[[], None]) -> None:
    """A device check earns its share only for code whose values are right: the function's own
    checks first (their failure, named again, costs this check too; its points are the tag's)."""
    for check in checks:
        try:
            check()
        except CheckFailed as failure:
            fail(f"Checked once {what} passes its other checks, which it does not yet: {failure.msg}", failure.cause)


def check_device(runs: dict, run: str, function: str, hint: str, cause: str) -> None:
    """Fail when `function`, run on the `meta` device (as on a GPU), met a tensor on the CPU."""
    if run not in runs:
        fail(f"The grader could not run {function} on another device (its answer is missing).", causes.INTERNAL)
    error = device_error(runs[run])
    if error is not None:
        where = f"\n{error[Error.TRACEBACK]}" if error.get(Error.TRACEBACK) else ""
        fail(f"{function} works on the CPU, but breaks when its inputs are on another device: "
             f"the grader ran it on PyTorch's `meta` device (shapes without data, on any machine), where, as on a "
             f"GPU, mixing devices raises. It raised {error.get(Error.TYPE)}: {error.get(Error.MESSAGE)}{where}\n"
             f"{hint}",
             cause)


def train_one_epoch(ask, header: dict, initial: dict, record) -> tuple:
    """(the answer, the seconds of its call) of one epoch on the worker's best device. Where that run
    fails on a device mismatch, it runs once more on the CPU: the device checks charge that mistake on
    every machine, so it costs the elbo nothing more on a GPU than on a CPU (one mistake, one charge)."""
    def once(asked: dict) -> tuple:
        began = time.monotonic()
        answer = ask(TRAIN_ELBO, asked, initial, function="train",
                     uses=tuple(name for name in config.STUDENT_FUNCTIONS if name != "train"),
                     timeout=config.TRAIN_TIMEOUT_S)
        return answer, time.monotonic() - began

    try:
        return once(header)
    except CheckFailed as failure:
        if not any(words in str(failure).lower() for words in DEVICE_MISMATCH):
            raise
        record("device_fallback", str(failure)[:300])
        return once({**header, TrainElbo.DEVICE: "cpu"})
