"""The worker's operations run in this process: a stand-in for the sandbox's `ask`, for tests that
run the hidden checks on code of our own (no sandbox needed: the code is ours)."""
from __future__ import annotations

from types import SimpleNamespace

from autograder.sandbox import worker
from autograder.sandbox.client import Answer


def asking(loss_function):
    """An `ask` that answers the loss request as the worker does, with this loss_function."""
    student = SimpleNamespace(loss_function=loss_function)

    def ask(op, header, tensors=None, *, function, **_):
        info, out = worker.op_loss(student, header, tensors)
        return Answer(True, info, out)

    return ask
