"""Hidden graders: loss_function's two terms, each measured on its own.

loss = BCE(recon rows) + KL(mu/logvar rows), each a sum over rows. Calling it twice with the
same recon/x but 8 versus the first 4 rows of mu/logvar leaves exactly KL(rows 5-8): whatever
the BCE part computes cancels out. The same trick with recon/x isolates the BCE part. So a
wrong BCE never costs KL points, and a wrong KL never costs BCE points. The reduction is
measured first, by duplicating rows: the 4 rows twice add as much again to a sum, nothing to a
batch mean.
"""
from __future__ import annotations

import pytest
import torch

from autograder import config
from autograder.grading import reference
from autograder.hidden.checks import fail, tensor
from autograder.sandbox.protocol import LOSS, LOSS_ARGUMENTS, loss_input

ROWS = config.LOSS_CHECK_ROWS
HALF = ROWS // 2  # rows the difference trick measures


def _inputs() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(config.GRADER_SEEDS["loss"])
    latent = reference.dims()[2]
    low, high = config.LOSS_RECON_RANGE
    recon = low + (high - low) * torch.rand(ROWS, reference.dims()[0], generator=generator)
    images = reference.sample_images(ROWS)  # grey levels in [0, 1], not only 0 and 1
    mu = torch.randn(ROWS, latent, generator=generator)
    logvar = torch.randn(ROWS, latent, generator=generator)
    # Rows 5-8 changed so that each KL property can be measured alone: equal to the prior
    # N(0, I); variance 1 with random means; mean 0 with random variances.
    prior_mu, prior_logvar = mu.clone(), logvar.clone()
    prior_mu[HALF:], prior_logvar[HALF:] = 0.0, 0.0
    means_mu, means_logvar = mu.clone(), logvar.clone()
    means_logvar[HALF:] = 0.0
    spread_mu, spread_logvar = mu.clone(), logvar.clone()
    spread_mu[HALF:] = 0.0
    flat = images  # (B, 784): the KL cases must not depend on how x gets flattened
    square = images.reshape(ROWS, 1, 28, 28)  # (B, 1, 28, 28): as train() passes it
    twice = lambda rows: torch.cat([rows[:HALF], rows[:HALF]])  # noqa: E731  (rows 1-4, then 1-4 again)
    cases = {
        "kl_all": (recon[:HALF], flat[:HALF], mu, logvar),
        "kl_twice": (recon[:HALF], flat[:HALF], twice(mu), twice(logvar)),
        "kl_half": (recon[:HALF], flat[:HALF], mu[:HALF], logvar[:HALF]),
        "kl_prior": (recon[:HALF], flat[:HALF], prior_mu, prior_logvar),
        "kl_means": (recon[:HALF], flat[:HALF], means_mu, means_logvar),
        "kl_spreads": (recon[:HALF], flat[:HALF], spread_mu, spread_logvar),
        "bce_all": (recon, flat, mu[:HALF], logvar[:HALF]),
        "bce_half": (recon[:HALF], flat[:HALF], mu[:HALF], logvar[:HALF]),
        "bce_twice": (twice(recon), twice(flat), mu[:HALF], logvar[:HALF]),
        "bce_square_all": (recon, square, mu[:HALF], logvar[:HALF]),
        "bce_square_half": (recon[:HALF], square[:HALF], mu[:HALF], logvar[:HALF]),
        "bce_square_twice": (twice(recon), twice(square), mu[:HALF], logvar[:HALF]),
    }
    return {loss_input(case, name): value for case, values in cases.items()
            for name, value in zip(LOSS_ARGUMENTS, values)}


def _losses(ask) -> tuple[dict[str, float], dict[str, float]]:
    """loss_function's value in each case, and the reference's, as floats."""
    inputs = _inputs()
    cases = sorted({key.split(".")[0] for key in inputs})
    answer = ask(LOSS, {"cases": cases}, inputs, function="loss_function")
    theirs = {}
    for case in cases:
        value = tensor(answer, case, "loss_function(...)")
        if value.dim() != 0:
            fail(f"loss_function should return a scalar tensor (shape ()), got shape {tuple(value.shape)}. "
                 "Hint: sum over everything; reduction='none' keeps one value per pixel.")
        theirs[case] = float(value)
    ref = reference.module()
    with torch.no_grad():
        ours = {case: float(ref.loss_function(*(inputs[loss_input(case, k)] for k in LOSS_ARGUMENTS)))
                for case in cases}
    return theirs, ours


def _near(actual: float, expected: float) -> bool:
    return abs(actual - expected) <= config.LOSS_RTOL * abs(expected) + config.LOSS_ATOL


def _averaged_over_the_batch(theirs: dict[str, float], ours: dict[str, float], prefix: str) -> bool:
    """Whether the term stays the same when its 4 rows come twice (a sum would add as much again)."""
    added = theirs[f"{prefix}_twice"] - theirs[f"{prefix}_half"]
    expected = ours[f"{prefix}_twice"] - ours[f"{prefix}_half"]
    return abs(added) <= config.LOSS_BATCH_MEAN_TOL * abs(expected)  # NaN: False


def _check_bce(theirs: dict[str, float], ours: dict[str, float], prefix: str, shape: str) -> None:
    measured = theirs[f"{prefix}_all"] - theirs[f"{prefix}_half"]
    expected = ours[f"{prefix}_all"] - ours[f"{prefix}_half"]
    if _near(measured, expected):
        return
    if _averaged_over_the_batch(theirs, ours, prefix):
        fail(f"With images x of shape {shape}, the reconstruction term is averaged over the batch (and perhaps the "
             "pixels): the same 4 images given twice leave it unchanged, where the sum over the batch doubles. "
             "Use reduction='sum': F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum').")
    ratio = measured / expected if expected else float("nan")
    hints = {1 / 784: "it looks averaged over the pixels",
             1 / (784 * ROWS): "it looks averaged over pixels and batch (reduction='mean')"}
    hint = next((text for r, text in hints.items() if abs(ratio / r - 1) < config.HINT_RATIO_BAND), None)
    fail(f"With images x of shape {shape}, the reconstruction term, measured on its own (4 extra images, same mu "
         "and logvar), should be the binary cross-entropy summed over every pixel of every image: "
         "-sum[x log r + (1 - x) log(1 - r)]. "
         + (f"Yours is off: {hint}; use reduction='sum'." if hint else
            f"Yours differs by a factor {ratio:.3g}. Hint: F.binary_cross_entropy(recon_x, x.view(-1, 784), "
            "reduction='sum'), recon_x first (probabilities, not logits)."))


@pytest.mark.rubric("reconstruction")
def test_bce_term_is_summed_over_pixels_and_batch(ask):
    _check_bce(*_losses(ask), "bce", "(B, 784)")


@pytest.mark.rubric("reconstruction")
def test_bce_term_takes_images_as_train_passes_them(ask):
    _check_bce(*_losses(ask), "bce_square", "(B, 1, 28, 28) (flatten x like recon_x)")


@pytest.mark.rubric("kl")
def test_kl_term_matches_the_closed_form(ask):
    theirs, ours = _losses(ask)
    measured, expected = theirs["kl_all"] - theirs["kl_half"], ours["kl_all"] - ours["kl_half"]
    if _near(measured, expected):
        return
    _fail_if_kl_averaged_over_the_batch(theirs, ours)
    ratio = measured / expected if expected else float("nan")
    hint = ""
    if 0 < ratio < config.KL_AVERAGED_BELOW:
        hint = " It looks averaged over the batch or the latent dimensions: sum instead."
    elif ratio < 0:
        hint = " Its sign is flipped: KL = -1/2 * sum(1 + logvar - mu^2 - exp(logvar)) is never negative."
    elif ratio == 0:
        hint = " Yours does not change with mu and logvar at all: is the KL term computed and added?"
    fail("The KL term, measured on its own (4 extra rows of mu and logvar, same images), should be "
         "-1/2 * sum over latent dimensions and batch of (1 + logvar - mu^2 - exp(logvar)); "
         f"yours differs from it by a factor {ratio:.3g}.{hint}")


def _fail_if_kl_averaged_over_the_batch(theirs: dict[str, float], ours: dict[str, float]) -> None:
    if _averaged_over_the_batch(theirs, ours, "kl"):
        fail("The KL term is averaged over the batch: the same 4 rows of mu and logvar given twice leave it "
             "unchanged, where the sum over the batch doubles. Sum it over latent dimensions and batch: "
             "kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()).")


@pytest.mark.rubric("kl")
def test_kl_term_is_zero_at_the_prior_and_grows_with_each_of_mean_and_variance(ask):
    """Three properties that only the KL has together: each measured on 4 rows alone.

    At the prior it is 0; with variance 1 it is 1/2 sum(mu^2); with mean 0 it is
    -1/2 sum(1 + logvar - exp(logvar)), which is not symmetric in logvar. A stand-in that is
    merely zero at the prior and positive elsewhere (mu.pow(2).sum(), logvar squared) fails.
    """
    theirs, ours = _losses(ask)
    _fail_if_kl_averaged_over_the_batch(theirs, ours)  # a mean is not 0 at the prior: say why first
    at_prior = theirs["kl_prior"] - theirs["kl_half"]
    if not abs(at_prior) <= config.KL_AT_PRIOR_TOL:
        fail(f"For 4 rows with mu = 0 and logvar = 0, q(z|x) is the prior N(0, I), so their KL is 0; yours adds "
             f"{at_prior:.4g}. Hint: check the `1 +` inside -1/2 * sum(1 + logvar - mu^2 - exp(logvar)).")
    for case, rows, part in (
        ("kl_means", "logvar = 0 (variance 1) and random mu", "1/2 * sum(mu^2): the mu^2 part"),
        ("kl_spreads", "mu = 0 and random logvar", "-1/2 * sum(1 + logvar - exp(logvar)): the variance part"),
    ):
        measured, expected = theirs[case] - theirs["kl_half"], ours[case] - ours["kl_half"]
        if not _near(measured, expected):
            fail(f"For 4 rows with {rows}, the KL is {part}; yours adds {measured:.4g} where the closed form "
                 f"gives {expected:.4g}. Hint: kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()).")
