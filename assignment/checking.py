"""What the public checks (test_public.py) use to run your code and compare: nothing to fill in,
and nothing you need to read to follow the checks.

- `call` runs one of your functions; an error becomes a message naming it, not a traceback.
- `expect` fails a check with its message (what was expected, what you gave, a hint).
- `close` and `near` compare within float32 rounding; NaN or infinity is never close.
- `runs_on_meta` runs a function on PyTorch's `meta` device (shapes without data): a tensor your
  code makes on the CPU shows there as it would on a GPU.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

TOLERANCES = {"rtol": 1e-4, "atol": 1e-4}  # float32 rounding, not a mistake
BATCH = 4  # rows of the checks' small inputs


def call(name: str, function, *args):
    """Run one of your functions; one that raises fails naming it (and the function to write)."""
    try:
        return function(*args)
    except NotImplementedError as error:
        message = f"calling {name}: {error}"
    except Exception as error:  # any error of the student's code becomes a message, not a traceback
        message = f"calling {name} raised {type(error).__name__}: {str(error)[:300]}"
        if name == "loss_function" and ("size" in str(error) or "shape" in str(error)):
            message += (" Hint: x may come as (B, 1, 28, 28) images: flatten it like recon_x, "
                        "(B, 784), before comparing them.")
    pytest.fail(message, pytrace=False)


def expect(ok: bool, message: str) -> None:
    """Fail with `message` (what was expected, what you gave, a hint) unless `ok`."""
    if not ok:
        pytest.fail(message, pytrace=False)


def close(got: torch.Tensor, expected: torch.Tensor, rtol: float = TOLERANCES["rtol"],
          atol: float = TOLERANCES["atol"]) -> bool:
    """Same shape and values within tolerance; NaN or infinity is never close."""
    if not isinstance(got, torch.Tensor):
        return False
    got, expected = got.detach().double(), expected.detach().double()
    return got.shape == expected.shape and bool(torch.isfinite(got).all()) and torch.allclose(
        got, expected, rtol=rtol, atol=atol)


def near(got: float, expected: float, rtol: float = 1e-3, atol: float = 1e-3) -> bool:
    return abs(got - expected) <= atol + rtol * abs(expected)  # False for NaN


def images(batch: int = BATCH, seed: int = 1) -> torch.Tensor:
    """`batch` fixed random images, (batch, 1, 28, 28)."""
    return torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def check_shape(what: str, tensor, expected: tuple[int, ...]) -> None:
    expect(isinstance(tensor, torch.Tensor), f"{what} should be a tensor, got {type(tensor).__name__}")
    expect(tuple(tensor.shape) == expected, f"{what} should have shape {expected}, got {tuple(tensor.shape)}")


def first_match(got: torch.Tensor, candidates: dict[str, torch.Tensor]) -> str:
    """The hint of the first mistaken formula that `got` matches, or "" when none does."""
    return next((hint for hint, value in candidates.items() if close(got, value)), "")


def runs_on_meta(name: str, function, *inputs, hint: str,
                 problem: str = "creates a tensor on the CPU whatever the input's device") -> None:
    """Run `function` on the inputs moved to the `meta` device (shapes without data, on any
    machine): a tensor made on the CPU, mixed with them, raises there as on a GPU. Any other error
    is not this check's (the function ran on the CPU first)."""
    try:
        function(*(item.to("meta") if isinstance(item, (torch.Tensor, nn.Module)) else item for item in inputs))
    except Exception as error:  # only a device mismatch is this check's business
        text = f"{type(error).__name__}: {error}"
        expect(not ("meta" in text and "cpu" in text.lower() and "device" in text),
               f"{name} {problem}, so it fails on a GPU ({text[:160]}). Hint: {hint}")
