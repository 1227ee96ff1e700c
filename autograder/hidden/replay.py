"""The training-loop probe's answers, computed on the trusted side only.

`replay(order)` trains the probe (autograder/sandbox/probe.py) as a loop with that per-batch
order would: "zfbs" gives the weights and mean loss a correct train() must produce, the other
orders name common mistakes. `loss` is the loss the loop computes: the probe's own (what
the worker hands train() as `loss_function`) or, for a train() that computes the lecture's loss
without calling loss_function, the reference's. It lives here, never among the sandbox's files: a submission that
could call it would get the answer without training.
"""
from __future__ import annotations

import torch

from functools import cache
from typing import Callable, Iterable

from autograder import config
from autograder.hidden import reference
from autograder.sandbox.probe import LR, ProbeModel, probe_loader, probe_loss
from autograder.sandbox.protocol import TrainProbe

Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@cache  # each loop is replayed once per grading: the checks share the results (never mutated)
def replay(order: str = "zfbs", loss_fn: Loss = probe_loss) -> tuple[dict[str, torch.Tensor], float]:
    """Train the probe as a loop with this per-batch order would; return (weights, mean loss).

    Letters: z = zero the gradients, f = forward and loss, b = backward, s = optimizer step.
    "zfbs" is the correct loop; the grader replays common mistakes to name them. `loss_fn` is the
    per-batch loss, probe_loss unless told (the probe's outputs are valid Bernoulli means and
    Gaussian parameters, so the lecture's loss applies too).
    """
    weights, losses = replay_batches(order, loss_fn)
    return weights, sum(loss for loss, _ in losses) / len(probe_loader().dataset)


@cache
def replay_batches(order: str = "zfbs", loss_fn: Loss = probe_loss) -> tuple[dict[str, torch.Tensor], tuple]:
    """As replay(), with each batch's (loss, number of examples) instead of the mean (the last
    batch's loss names a train() that returns it)."""
    model = ProbeModel()
    loader = probe_loader()
    losses = []
    for x, _ in loader:
        loss = None
        for step in order:
            if step == "z":
                model.zero_grad()  # as optimizer.zero_grad(): every .grad back to None
            elif step == "f":
                recon, mu, logvar = model(x)
                loss = loss_fn(recon, x, mu, logvar)
                losses.append((loss.item(), len(x)))
            elif step == "b":
                loss.backward()
            elif step == "s":
                _sgd_step(model)
    return {name: p.detach().clone() for name, p in model.named_parameters()}, tuple(losses)


def _sgd_step(model: ProbeModel) -> None:
    """What the worker's torch.optim.SGD(lr=LR) does in a step (no momentum, no weight decay):
    p <- p - LR * p.grad for each parameter that has a gradient. Written out because torch.optim's
    first step imports torch's compiler stack, over a second on the grading's critical path."""
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.grad is not None:
                parameter.add_(parameter.grad, alpha=-LR)


def loss_used(info: dict) -> Loss:
    """The loss the student's loop computed on the probe: the probe's, which the worker hands
    train() as loss_function, or (when loss_function was never called) the lecture's, inline."""
    return probe_loss if info.get(TrainProbe.LOSS_CALLS, 0) else reference.module().loss_function


def matches(weights: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> bool:
    """Whether the student's probe weights are the replay's, to config.PROBE_WEIGHTS_RTOL of how far
    training moved them."""
    start = ProbeModel().state_dict()
    change = max(float((expected[k] - start[k]).abs().max()) for k in expected)
    for name, value in expected.items():
        theirs = weights.get(name)
        if theirs is None or theirs.shape != value.shape:
            return False
        tolerance = config.PROBE_WEIGHTS_RTOL * change + config.PROBE_WEIGHTS_ATOL
        if not float((theirs.double() - value.double()).abs().max()) <= tolerance:
            return False  # written so that NaN weights never match
    return True


def replayed_loop(info: dict, weights: dict[str, torch.Tensor], mistakes: Iterable[str]) -> tuple[str | None, float]:
    """(order, mean loss) of the loop whose weights the student's train() reproduced on the probe:
    the correct one ("zfbs") or one of `mistakes`, with the loss it computed (loss_used); (None, the
    correct loop's mean loss) when it is none of them."""
    loss_fn = loss_used(info)
    for order in ("zfbs", *mistakes):
        expected, mean = replay(order, loss_fn)
        if matches(weights, expected):
            return order, mean
    return None, replay("zfbs", loss_fn)[1]
