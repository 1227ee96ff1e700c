"""Hidden graders: loss_function's two terms, each measured on its own.

loss = BCE(recon rows) + KL(mu/logvar rows), each a sum over rows. Calling it twice with the
same recon/x but 8 versus the first 4 rows of mu/logvar leaves KL(rows 5-8): whatever the BCE
part computes cancels out. The same trick with recon/x isolates the BCE part. So a wrong BCE
never costs KL points, and a wrong KL never costs BCE points. The reduction is measured first,
by duplicating rows: the 4 rows twice add as much again to a sum, nothing to a batch mean.

The cancellation is exact but for float32 rounding of the two totals, which grows with the term
that cancels: BCE's arguments swapped take log(0) of the images' black pixels (clamped at -100)
and make totals of 1.3e5, whose rounding moved a KL of 23 to 22.99. So every tolerance on a
difference allows for the rounding of its two totals (`_added`), and the KL cases pass recon
itself as x: strictly inside (0, 1), so the BCE part is the same modest number whichever way
round its arguments go, and finite for any hand-written log.

Each check judges the cases it needs: a case that raises (x of shape (B, 1, 28, 28) not flattened)
or a loss of shape (1,) costs one check, not four. A failed value is compared with the common
mistakes (autograder/hidden/mistakes.py, computed here on the same inputs) to name the one it matches.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pytest
import torch

from autograder import config
from autograder.grading import causes
from autograder.hidden import reference
from autograder.hidden import mistakes
from autograder.hidden.checks import (CheckFailed, after_own_checks, check_device, device_error, error_cause,
                                      explain_error, fail)
from autograder.sandbox.protocol import (LOSS, LOSS_ARGUMENTS, Device, Loss, error_of, gradients_of, loss_input,
                                         type_of)

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
    same = recon[:HALF]  # the KL cases' recon and x: a BCE part that is modest however it is written
    square = images.reshape(ROWS, *reference.test_images().shape[1:])  # (B, 1, 28, 28): as train() passes it
    twice = lambda rows: torch.cat([rows[:HALF], rows[:HALF]])  # noqa: E731  (rows 1-4, then 1-4 again)
    cases = {
        "kl_all": (same, same, mu, logvar),
        "kl_twice": (same, same, twice(mu), twice(logvar)),
        "kl_half": (same, same, mu[:HALF], logvar[:HALF]),
        "kl_prior": (same, same, prior_mu, prior_logvar),
        "kl_means": (same, same, means_mu, means_logvar),
        "kl_spreads": (same, same, spread_mu, spread_logvar),
        "bce_all": (recon, flat, mu[:HALF], logvar[:HALF]),
        "bce_half": (recon[:HALF], flat[:HALF], mu[:HALF], logvar[:HALF]),
        "bce_twice": (twice(recon), twice(flat), mu[:HALF], logvar[:HALF]),
        "bce_square_all": (recon, square, mu[:HALF], logvar[:HALF]),
        "bce_square_half": (recon[:HALF], square[:HALF], mu[:HALF], logvar[:HALF]),
        "bce_square_twice": (twice(recon), twice(square), mu[:HALF], logvar[:HALF]),
    }
    return {loss_input(case, name): value for case, values in cases.items()
            for name, value in zip(LOSS_ARGUMENTS, values)}


@dataclass
class Losses:
    """What loss_function gave in each case, and what the reference gives."""

    theirs: dict[str, float]  # the cases whose value could be read (one value: shape () or (1,))
    ours: dict[str, float]
    problems: dict[str, tuple[str, str]]  # case -> (message, cause) when it has no readable value
    shapes: dict[str, tuple[int, ...]]
    gradients: dict[str, list[str] | None]  # case -> the inputs a gradient reaches (None: unknown)
    inputs: dict[str, torch.Tensor]

    def values(self, *cases: str) -> dict[str, float]:
        """The cases' values; the first case without one fails the check that needs it."""
        for case in cases:
            if case in self.problems:
                fail(*self.problems[case])
        return self.theirs

    def arguments(self, case: str) -> list[torch.Tensor]:
        return [self.inputs[loss_input(case, k)] for k in LOSS_ARGUMENTS]


@cache  # one LOSS request per grading: the four loss checks and the elbo diagnosis read the same answer
def _losses(ask) -> Losses:
    """loss_function's value in each case, and the reference's, as floats (never mutated)."""
    inputs = _inputs()
    cases = sorted({key.split(".")[0] for key in inputs})
    answer = ask(LOSS, {Loss.CASES: cases}, inputs, function="loss_function")
    theirs, problems, shapes, gradients = {}, {}, {}, {}
    for case in cases:
        problem = _problem(answer, case)
        if problem:
            problems[case] = problem
            continue
        value = answer.tensors[case]
        shapes[case] = tuple(value.shape)
        theirs[case] = float(value.reshape(()))
        gradients[case] = answer.info.get(gradients_of(case))
    ref = reference.module()
    with torch.no_grad():
        ours = {case: float(ref.loss_function(*(inputs[loss_input(case, k)] for k in LOSS_ARGUMENTS)))
                for case in cases}
    return Losses(theirs, ours, problems, shapes, gradients, inputs)


def _problem(answer, case: str) -> tuple[str, str] | None:
    """Why a case has no value to judge (message, cause), or None when it has one."""
    error = answer.info.get(error_of(case))
    if isinstance(error, dict):
        if case.startswith("bce_square") and error_cause(error) == "function.raised":
            return ("loss_function raised for images x of shape (B, 1, 28, 28), as train() passes them, where recon_x "
                    "is (B, 784): flatten x like recon_x, to (B, 784), before comparing them.\n"
                    + explain_error(error, "loss_function"), "loss.not_flattened")
        return explain_error(error, "loss_function"), error_cause(error)
    value = answer.tensors.get(case)
    if value is None:
        return (f"loss_function(...) should be a torch.Tensor, got {answer.info.get(type_of(case), 'nothing')}.",
                "function.not_a_tensor")
    if value.numel() != 1:
        return (f"loss_function should return a scalar tensor (shape ()), got shape {tuple(value.shape)}. "
                "Hint: sum over everything; reduction='none' keeps one value per pixel.", "loss.not_reduced")
    return None


def _added(values: dict[str, float], case: str, base: str) -> tuple[float, float]:
    """What `case` adds to `base`, and how far float32 rounding of those two totals alone can move it
    (config.LOSS_ROUNDING): the term they share cancels to within that, however large it is."""
    total, baseline = values[case], values[base]
    return total - baseline, config.LOSS_ROUNDING * (abs(total) + abs(baseline))  # NaN stays NaN


def _near(actual: float, expected: float, rounding: float = 0.0) -> bool:
    """Written so that NaN fails; `rounding`: what _added allows for the measured difference."""
    return abs(actual - expected) <= config.LOSS_RTOL * abs(expected) + config.LOSS_ATOL + rounding


def _averaged_over_the_batch(theirs: dict[str, float], ours: dict[str, float], prefix: str) -> bool:
    """Whether the term stays the same when its 4 rows come twice (a sum would add as much again)."""
    added, rounding = _added(theirs, f"{prefix}_twice", f"{prefix}_half")
    expected = ours[f"{prefix}_twice"] - ours[f"{prefix}_half"]
    return abs(added) <= config.LOSS_BATCH_MEAN_TOL * abs(expected) + rounding  # NaN: False


def _mistake(losses: Losses, term: str, prefix: str) -> tuple[str, str] | None:
    """The common mistake (cause, sentence) the measured term matches, or None."""
    theirs = losses.theirs
    return mistakes.matching(term, theirs[f"{prefix}_all"] - theirs[f"{prefix}_half"],
                             losses.arguments(f"{prefix}_all"), losses.arguments(f"{prefix}_half"))


def _check_gradient(losses: Losses, case: str, inputs: tuple[str, ...], cause: str, term: str) -> None:
    """The term's value is right: fail if no gradient reaches its inputs (.item() or .detach() on it)."""
    reached = losses.gradients.get(case)
    if reached is not None and not set(inputs) <= set(reached):
        fail(f"Your {term}'s value is right, but no gradient flows from it: .item() or .detach() on it inside "
             "loss_function cuts it off, so training ignores it. Keep it a tensor and add it to the loss as it is.",
             cause)


def _check_bce(losses: Losses, prefix: str, shape: str) -> None:
    theirs = losses.values(f"{prefix}_all", f"{prefix}_half", f"{prefix}_twice")
    ours = losses.ours
    measured, rounding = _added(theirs, f"{prefix}_all", f"{prefix}_half")
    expected = ours[f"{prefix}_all"] - ours[f"{prefix}_half"]
    if _near(measured, expected, rounding):
        _check_gradient(losses, f"{prefix}_all", ("recon",), "bce.no_gradient", "reconstruction term")
        return
    if _averaged_over_the_batch(theirs, ours, prefix):
        fail(f"With images x of shape {shape}, the reconstruction term is averaged over the batch (and perhaps the "
             "pixels): the same 4 images given twice leave it unchanged, where the sum over the batch doubles. "
             "Sum it: F.binary_cross_entropy takes reduction='sum'.", "bce.averaged")
    ratio = measured / expected if expected else float("nan")
    pixels = reference.dims()[0]
    hints = {1 / pixels: "it looks averaged over the pixels",
             1 / (pixels * ROWS): "it looks averaged over pixels and batch (reduction='mean')"}
    hint = next((text for r, text in hints.items() if abs(ratio / r - 1) < config.HINT_RATIO_BAND), None)
    named = _mistake(losses, "bce", prefix)
    cause = "bce.averaged" if hint else named[0] if named else causes.UNKNOWN
    fail((f"{named[1]} " if named else "")
         + f"With images x of shape {shape}, the reconstruction term, measured on its own (4 extra images, same mu "
         "and logvar), should be the binary cross-entropy summed over every pixel of every image: "
         "-sum[x log r + (1 - x) log(1 - r)]. "
         + (f"Yours is off: {hint}; use reduction='sum'." if hint else
            f"Yours differs by a factor {ratio:.3g}. Hint: the binary cross-entropy takes recon_x first "
            "(probabilities, not logits), then x flattened to (B, 784)."), cause)


@pytest.mark.rubric("reconstruction")
def test_bce_term_is_summed_over_pixels_and_batch(ask):
    losses = _losses(ask)
    _check_bce(losses, "bce", "(B, 784)")
    shape = next((s for s in losses.shapes.values() if s != ()), None)  # the one check a shape (1,) costs
    if shape is not None:
        fail(f"loss_function's value is right, but it should return a scalar tensor (shape ()), got shape {shape}: "
             "drop keepdim=True, or return the sum itself rather than torch.tensor([...]).", "loss.not_scalar")


@pytest.mark.rubric("reconstruction")
def test_bce_term_takes_images_as_train_passes_them(ask):
    _check_bce(_losses(ask), "bce_square", "(B, 1, 28, 28) (flatten x like recon_x)")


@pytest.mark.rubric("kl")
def test_kl_term_matches_the_closed_form(ask):
    losses = _losses(ask)
    theirs, ours = losses.values("kl_all", "kl_half", "kl_twice"), losses.ours
    (measured, rounding), expected = _added(theirs, "kl_all", "kl_half"), ours["kl_all"] - ours["kl_half"]
    if _near(measured, expected, rounding):
        _check_gradient(losses, "kl_all", ("mu", "logvar"), "kl.no_gradient", "KL term")
        return
    _fail_if_kl_averaged_over_the_batch(theirs, ours)
    named = _mistake(losses, "kl", "kl")
    ratio = measured / expected if expected else float("nan")
    hint = ""
    if 0 < ratio < config.KL_AVERAGED_BELOW:
        hint = " It looks averaged over the batch or the latent dimensions: sum instead."
    elif ratio < 0:
        hint = " Its sign is flipped: KL = -1/2 * sum(1 + logvar - mu^2 - exp(logvar)) is never negative."
    fail((f"{named[1]} " if named else "")
         + "The KL term, measured on its own (4 extra rows of mu and logvar, the same recon_x and x), should be "
         "-1/2 * sum over latent dimensions and batch of (1 + logvar - mu^2 - exp(logvar)); "
         f"yours differs from it by a factor {ratio:.3g}.{'' if named else hint}", named[0] if named else causes.UNKNOWN)


def _fail_if_kl_averaged_over_the_batch(theirs: dict[str, float], ours: dict[str, float]) -> None:
    if _averaged_over_the_batch(theirs, ours, "kl"):
        fail("The KL term is averaged over the batch: the same 4 rows of mu and logvar given twice leave it "
             "unchanged, where the sum over the batch doubles. Sum it over latent dimensions and batch, as the "
             "docstring's formula does.", "kl.averaged")


@pytest.mark.rubric("kl")
def test_kl_term_is_zero_at_the_prior_and_grows_with_each_of_mean_and_variance(ask):
    """Three properties that only the KL has together: each measured on 4 rows alone.

    At the prior it is 0; with variance 1 it is 1/2 sum(mu^2); with mean 0 it is
    -1/2 sum(1 + logvar - exp(logvar)), which is not symmetric in logvar. A stand-in that is
    merely zero at the prior and positive elsewhere (mu.pow(2).sum(), logvar squared) fails.
    A failure that matches a common mistake of the whole term (mistakes.py) names it first.
    """
    losses = _losses(ask)
    theirs, ours = losses.values("kl_half", "kl_twice", "kl_prior", "kl_means", "kl_spreads"), losses.ours
    _fail_if_kl_averaged_over_the_batch(theirs, ours)  # a mean is not 0 at the prior: say why first
    named = _mistake(losses, "kl", "kl") if "kl_all" in theirs else None
    first, cause = (f"{named[1]} ", named[0]) if named else ("", causes.UNKNOWN)
    at_prior, rounding = _added(theirs, "kl_prior", "kl_half")
    if not abs(at_prior) <= config.KL_AT_PRIOR_TOL + rounding:
        fail(f"{first}For 4 rows with mu = 0 and logvar = 0, q(z|x) is the prior N(0, I), so their KL is 0; yours adds "
             f"{at_prior:.4g}. Hint: check the `1 +` inside -1/2 * sum(1 + logvar - mu^2 - exp(logvar)).", cause)
    for case, rows, part in (
        ("kl_means", "logvar = 0 (variance 1) and random mu", "1/2 * sum(mu^2): the mu^2 part"),
        ("kl_spreads", "mu = 0 and random logvar", "-1/2 * sum(1 + logvar - exp(logvar)): the variance part"),
    ):
        (measured, rounding), expected = _added(theirs, case, "kl_half"), ours[case] - ours["kl_half"]
        if not _near(measured, expected, rounding):
            fail(f"{first}For 4 rows with {rows}, the KL is {part}; yours adds {measured:.4g} where the closed form "
                 f"gives {expected:.4g}. Hint: compare each part of your KL with the docstring's formula.", cause)


def kl_term_right(ask) -> bool:
    """Whether loss_function's KL term passes the kl checks: the elbo check blames a huge trained KL
    on the KL term only when it is wrong (with a right one, training went wrong some other way)."""
    try:
        test_kl_term_matches_the_closed_form(ask)
        test_kl_term_is_zero_at_the_prior_and_grows_with_each_of_mean_and_variance(ask)
    except CheckFailed:
        return False
    return True


def cut_terms(ask) -> dict[str, str]:
    """The loss terms whose value is right but that no gradient flows from (.item(), .detach()), as
    term -> cause code: the elbo check names them, since its training ignores them."""
    losses = _losses(ask)
    cut = {}
    for term, prefix, inputs, cause in (("reconstruction", "bce", ("recon",), "bce.no_gradient"),
                                        ("KL", "kl", ("mu", "logvar"), "kl.no_gradient")):
        reached = losses.gradients.get(f"{prefix}_all")
        if reached is None or set(inputs) <= set(reached) or f"{prefix}_half" not in losses.theirs:
            continue
        measured, rounding = _added(losses.theirs, f"{prefix}_all", f"{prefix}_half")
        if _near(measured, losses.ours[f"{prefix}_all"] - losses.ours[f"{prefix}_half"], rounding):
            cut[term] = cause
    return cut


def _device_blame(runs: dict) -> set[str]:
    """The loss terms a device mistake is charged to: the loss ran with all its inputs on `meta`
    and met a CPU tensor; the term whose inputs alone on `meta` meet it too is the one that makes
    it (both terms when the runs with half the inputs cannot tell them apart)."""
    if Device.LOSS in runs and device_error(runs[Device.LOSS]) is None:
        return set()
    bce, kl = (device_error(runs.get(run)) is not None for run in (Device.LOSS_BCE_ON_META, Device.LOSS_KL_ON_META))
    return ({"reconstruction"} if bce else {"kl"}) if bce != kl else {"reconstruction", "kl"}


LOSS_DEVICE_HINT = ("Hint: the {term} term makes a tensor of its own (a constant, ones, an eps) on the CPU; make it "
                    "like its inputs (torch.ones_like, {input}.new_tensor) or with device={input}.device, or use plain "
                    "Python numbers, which go anywhere.")


def _term_runs_on_any_device(ask, meta_runs: Callable[[str], dict], tag: str, term: str, made_like: str, cause: str, *checks) -> None:
    """One loss term's device check, once its own checks pass: charged where _device_blame says."""
    after_own_checks(f"the {term} term", *(lambda check=check: check(ask) for check in checks))
    runs = meta_runs(Device.LOSS)
    if tag in _device_blame(runs):
        check_device(runs, Device.LOSS, "loss_function", LOSS_DEVICE_HINT.format(term=term, input=made_like), cause)


@pytest.mark.rubric("reconstruction")
def test_bce_term_runs_on_the_device_of_its_inputs(ask, meta_runs):
    _term_runs_on_any_device(ask, meta_runs, "reconstruction", "BCE", "recon_x", "device.bce_on_cpu",
                             test_bce_term_is_summed_over_pixels_and_batch, test_bce_term_takes_images_as_train_passes_them)


@pytest.mark.rubric("kl")
def test_kl_term_runs_on_the_device_of_its_inputs(ask, meta_runs):
    _term_runs_on_any_device(ask, meta_runs, "kl", "KL", "mu", "device.kl_on_cpu", test_kl_term_matches_the_closed_form,
                             test_kl_term_is_zero_at_the_prior_and_grows_with_each_of_mean_and_variance)
