"""The common mistakes in loss_function's two terms, as the value each computes (one home: the
loss checks name a failed term by the mistake it matches; tests/grading/test_causes.py checks that each
is named as itself).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from autograder import config

Term = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _kl(mu: torch.Tensor, logvar: torch.Tensor, variance: torch.Tensor | None = None) -> torch.Tensor:
    variance = logvar.exp() if variance is None else variance
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - variance)


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


# What to use instead, in words: the docstring's formula, never the solution's line of code.
FIX_BCE = ("the docstring's binary cross-entropy of recon_x (probabilities) against x flattened to (B, 784), "
           "summed over every pixel and image (F.binary_cross_entropy takes reduction='sum')")
FIX_KL = ("use the docstring's closed form: -1/2 times the sum, over latent dimensions and batch, of "
          "1 + log-variance - mean squared - variance (the lecture's KL between q(z|x) and N(0, I))")
# The common mistakes, as the term each computes (recon, x, mu, logvar -> summed term), with the
# sentence that names it. A measured term that matches one (MISTAKE_MATCH_RTOL) is that mistake.
MISTAKES: dict[str, dict[str, tuple[Term, str]]] = {
    "bce": {
        "bce.with_logits": (lambda r, x, mu, lv: F.binary_cross_entropy_with_logits(r, _flat(x), reduction="sum"),
                            "Your reconstruction term is binary_cross_entropy_with_logits on decode's probabilities "
                            f"(a second sigmoid): recon_x is already a probability, use {FIX_BCE}."),
        "bce.arguments_swapped": (lambda r, x, mu, lv: F.binary_cross_entropy(_flat(x), r, reduction="sum"),
                                  "Your reconstruction term takes its two arguments the other way round: the "
                                  "prediction recon_x comes first, the target x second (the log is of recon_x); "
                                  f"use {FIX_BCE}."),
        "bce.squared_error": (lambda r, x, mu, lv: F.mse_loss(r, _flat(x), reduction="sum"),
                              "Your reconstruction term is the squared error, not the binary cross-entropy of the "
                              f"Bernoulli decoder: use {FIX_BCE}."),
        "bce.missing_complement": (lambda r, x, mu, lv: -torch.sum(_flat(x) * torch.log(r)),
                                   "Your reconstruction term is -sum(x log r) only: the (1 - x) log(1 - r) half is "
                                   f"missing; use {FIX_BCE}."),
    },
    "kl": {
        "kl.sign_flipped": (lambda r, x, mu, lv: -_kl(mu, lv),
                            "Your KL term has its sign flipped (+1/2 * sum(...) is -KL, which training maximises): "
                            f"{FIX_KL}."),
        "kl.missing_half": (lambda r, x, mu, lv: 2 * _kl(mu, lv),
                            f"Your KL term is twice the KL: the factor 1/2 is missing; {FIX_KL}."),
        "kl.missing_one": (lambda r, x, mu, lv: _kl(mu, lv) + 0.5 * mu.numel(),
                           f"Your KL term lacks the `1 +` inside the sum (it is off by 1/2 per entry): {FIX_KL}."),
        "kl.logvar_as_variance": (lambda r, x, mu, lv: _kl(mu, lv, lv),
                                  "Your KL term uses logvar where the variance exp(logvar) belongs (or "
                                  f"logvar.exp() where logvar belongs): {FIX_KL}."),
        "kl.std_as_variance": (lambda r, x, mu, lv: _kl(mu, lv, (0.5 * lv).exp()),
                               "Your KL term uses the standard deviation exp(logvar / 2) where the variance "
                               f"exp(logvar) belongs: {FIX_KL}."),
        "kl.averaged": (lambda r, x, mu, lv: _kl(mu, lv) / mu.shape[1],
                        f"Your KL term is averaged over the latent dimensions: sum it instead; {FIX_KL}."),
        "kl.missing": (lambda r, x, mu, lv: torch.zeros(()),
                       "Your loss does not change with mu and logvar at all: compute the KL term and add it, "
                       f"{FIX_KL}."),
    },
}


def matching(term: str, measured: float, all_rows: list[torch.Tensor], half_rows: list[torch.Tensor]) -> tuple[str, str] | None:
    """The common mistake (cause, sentence) whose `term` (bce or kl), differenced between the
    cases with all rows and half the rows, equals `measured`; None when none does."""
    for cause, (formula, sentence) in MISTAKES[term].items():
        with torch.no_grad():
            expected = float(formula(*all_rows)) - float(formula(*half_rows))
        if abs(measured - expected) <= config.MISTAKE_MATCH_RTOL * abs(expected) + config.LOSS_ATOL:
            return cause, sentence
    return None
