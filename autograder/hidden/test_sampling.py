"""Hidden graders: reparameterize (its distribution, fresh noise) and the gradients through it."""
from __future__ import annotations

import functools

import pytest
import torch

from autograder import config
from autograder.grading import causes
from autograder.hidden import reference
from autograder.hidden.checks import (after_own_checks, check_device, check_finite, check_float32, check_shape, close,
                                      differs, fail, noise_shape, normal_ks_distance, tensor)
from autograder.sandbox.protocol import GRADIENT_FLOW, REPARAMETERIZE, SEED, Device, GradientFlow, Reparameterize


def _inputs(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, logvar), each (rows, latent): one (mu, logvar) pair per latent column, the same in every
    row, spread over several scales, not only logvar = 0."""
    latent = reference.dims()[2]
    mus = torch.linspace(*config.REPARAM_MU_RANGE, latent)
    logvars = torch.linspace(*config.REPARAM_LOGVAR_RANGE, latent)
    return mus.repeat(rows, 1), logvars.repeat(rows, 1)


@functools.lru_cache(maxsize=2)  # once per grading (ask is the grading's): three checks read it
def _samples(ask) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    mu, logvar = _inputs(config.REPARAM_SAMPLES)
    answer = ask(REPARAMETERIZE, {SEED: config.GRADER_SEEDS["reparameterize"]},
                 {Reparameterize.MU: mu, Reparameterize.LOGVAR: logvar}, function="VAE.reparameterize")
    first = tensor(answer, Reparameterize.FIRST, "reparameterize(mu, logvar)")
    second = tensor(answer, Reparameterize.SECOND, "a second reparameterize(mu, logvar)")
    check_shape("z = reparameterize(mu, logvar)", first, tuple(mu.shape))
    check_float32("z", first)
    check_finite("z = reparameterize(mu, logvar)", first)
    check_finite("a second z = reparameterize(mu, logvar)", second)
    return mu, logvar, first, second


@pytest.mark.rubric("reparameterize")
def test_reparameterize_has_mean_mu_and_std_exp_half_logvar(ask):
    mu, logvar, z, second = _samples(ask)
    mus, logvars = mu[0], logvar[0]  # each latent column's pair
    spread = (z - mu).double().std(dim=0)  # per latent column
    center = (z - mu).double().mean(dim=0)
    expected = torch.exp(0.5 * logvars).double()
    ratio = spread / expected
    worst = int((ratio - 1).abs().argmax())
    if not (ratio - 1).abs().max() <= config.REPARAM_STD_TOL:  # written so that NaN fails
        hint, cause = "", causes.UNKNOWN
        if torch.allclose(spread, torch.exp(logvars).double(), rtol=config.VARIANCE_HINT_RTOL):
            hint = " Your spread looks like exp(logvar): the standard deviation is exp(logvar / 2)."
            cause = "reparameterize.std_is_exp_logvar"
        elif torch.allclose(spread, (0.5 * logvars).abs().double(), rtol=config.VARIANCE_HINT_RTOL):
            hint = " Your spread looks like logvar / 2: the standard deviation is exp(logvar / 2), the exp is missing."
            cause = "reparameterize.std_is_half_logvar"
        elif spread.max() < config.NO_NOISE_TOL and not (z - mu).abs().max() >= config.NO_NOISE_TOL:
            hint = " z does not vary at all in training mode: add eps * std with eps ~ N(0, 1)."
            cause = "reparameterize.no_noise"
        elif spread.max() < config.NO_NOISE_TOL and torch.equal(z, second):
            hint = (" z is mu shifted by the same noise in every row and every call: the noise is drawn once; "
                    "draw eps, noise like std (torch.randn_like), inside reparameterize, on every call.")
            cause = "reparameterize.noise_not_fresh"
        elif spread.max() < config.NO_NOISE_TOL:
            hint = (" Every row got the same noise: eps must have the shape of std, one draw per entry "
                    "(torch.randn_like makes noise of std's shape).")
            cause = "reparameterize.noise_shared"
        fail(f"With logvar = {logvars[worst]:.2f}, z should spread around mu with standard deviation "
             f"exp(logvar / 2) = {expected[worst]:.3f}; yours had {spread[worst]:.3f}.{hint}", cause)
    shift = (center / expected).abs()
    if not shift.max() <= config.REPARAM_MEAN_TOL:
        worst = int(shift.argmax())
        fail(f"z should be centred on mu; with mu = {mus[worst]:.2f} your samples averaged "
             f"{mus[worst] + center[worst]:.3f}. Hint: z = mu + eps * std, with eps of mean 0.", "reparameterize.not_centred")
    eps = ((z - mu) / torch.exp(0.5 * logvar)).double()
    repeats = not (eps.std(dim=0).mean() >= config.NOISE_REPEAT_MIN and eps.std(dim=1).mean() >= config.NOISE_REPEAT_MIN)
    if repeats:  # draws repeated along an axis are not independent: the fresh-noise check names that
        return
    distance = normal_ks_distance(eps)
    if not distance <= config.REPARAM_KS_LIMIT:  # written so that NaN fails
        fail(f"z has the right mean and spread, but its noise is not normally distributed: the standardised "
             f"values (z - mu) / std {noise_shape(eps)}. Their distance from N(0, 1) (Kolmogorov-Smirnov, scaled) "
             f"is {distance:.1f}; correct noise stays below {config.REPARAM_KS_LIMIT:g}. Hint: the "
             "reparameterization needs eps drawn from the standard normal distribution, not another one "
             "rescaled to variance 1.", "reparameterize.noise_not_normal")


@pytest.mark.rubric("reparameterize")
def test_reparameterize_draws_fresh_independent_noise(ask):
    mu, logvar, first, second = _samples(ask)
    if not _noise_added(mu, first):  # the same mistake as the spread check's, named as there
        fail("z equals mu: no noise is added in training mode, so no fresh noise is drawn either: "
             "z = mu + eps * std with eps noise like std (torch.randn_like), new on every call.",
             "reparameterize.no_noise")
    if torch.equal(first, second):
        fail("Two calls of reparameterize gave the same z: draw new noise on every call "
             "(inside the method, not once in __init__).", "reparameterize.noise_not_fresh")
    eps = ((first - mu) / torch.exp(0.5 * logvar)).double()
    if not (eps.std(dim=0).mean() >= config.NOISE_REPEAT_MIN and eps.std(dim=1).mean() >= config.NOISE_REPEAT_MIN):
        fail("The noise repeats across rows or columns: eps must have the shape of std, one independent "
             "draw per entry (torch.randn_like makes noise of std's shape).", "reparameterize.noise_shared")


@pytest.mark.rubric("reparameterize")
def test_reparameterize_runs_on_the_device_of_its_input(ask, meta_runs):
    # The noise's own mistakes come first: eps made once in __init__ is on the CPU too.
    after_own_checks("reparameterize", lambda: test_reparameterize_has_mean_mu_and_std_exp_half_logvar(ask),
                     lambda: test_reparameterize_draws_fresh_independent_noise(ask))
    check_device(meta_runs(Device.REPARAMETERIZE), Device.REPARAMETERIZE, "reparameterize",
                 "Hint: reparameterize creates a tensor on the CPU whatever the input's device: draw the noise with "
                 "torch.randn_like, which follows its input (std's shape, dtype and device), so that the same code "
                 "also trains on a GPU.", "device.tensor_created_on_cpu")


def _gradients(ask) -> tuple[dict, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    seed, shape = config.GRADER_SEEDS["gradient_flow"], (config.GRADIENT_CHECK_ROWS, reference.dims()[2])
    generator = torch.Generator().manual_seed(seed)
    mu, logvar = torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)
    v = torch.randn(shape, generator=generator)
    answer = ask(GRADIENT_FLOW, {SEED: seed}, {GradientFlow.MU: mu, GradientFlow.LOGVAR: logvar, GradientFlow.V: v},
                 function="VAE.reparameterize")
    z = tensor(answer, GradientFlow.Z, "reparameterize(mu, logvar)")
    check_shape("z", z, tuple(mu.shape))
    check_finite("z = reparameterize(mu, logvar)", z)
    if not answer.info.get(GradientFlow.Z_REQUIRES_GRAD):
        fail("z does not require grad although mu and logvar do: it is cut off from the graph. "
             "Build z with torch operations on mu and logvar (no .detach(), no NumPy, no torch.normal).",
             "gradient_flow.cut")
    return answer, mu, logvar, z, v


def _noise_added(mu: torch.Tensor, z: torch.Tensor) -> bool:
    """Whether z differs from mu at all (without noise, reparameterize's check charges it, not these)."""
    return bool((z - mu).abs().max() >= config.NO_NOISE_TOL)


def _check_gradient(answer, leaf: str, expected: torch.Tensor, should: str, missing: str, hint: str = "",
                    known: dict[str, torch.Tensor] | None = None) -> None:
    """The gradient that reached `leaf` (mu or logvar) from backpropagating z . v, against `expected`;
    `known`: cause code -> the gradient that mistake gives, to name it."""
    grad = answer.tensors.get(GradientFlow.GRAD_OF[leaf])
    if grad is None:
        fail(missing, "gradient_flow.cut")
    if not close(grad, expected):
        cause = "gradient_flow.cut" if not grad.abs().max() > 0 else causes.UNKNOWN  # NaN: not "cut"
        for code, gradient in (known or {}).items():
            if close(grad, gradient):
                cause = code
        if cause == "gradient_flow.cut":
            hint = (" No gradient at all reaches it: z is cut off from the graph (.data, .detach(), NumPy, "
                    "torch.normal); z = mu + eps * std with eps noise like std (torch.randn_like).")
        fail(f"{should}; backpropagating from z gave a {leaf}.grad off by up to {differs(grad, expected):.3g}.{hint}",
             cause)


@pytest.mark.rubric("gradient_flow")
def test_gradient_of_z_with_respect_to_mu_is_one(ask):
    answer, _, _, _, v = _gradients(ask)
    _check_gradient(answer, "mu", v, "dz/dmu should be 1 (z = mu + eps * std)",
                    "No gradient reached mu: z must be mu + eps * std, differentiable in mu.")


@pytest.mark.rubric("gradient_flow")
def test_gradient_of_z_with_respect_to_logvar_is_eps_std_over_2(ask):
    answer, mu, logvar, z, v = _gradients(ask)
    if not _noise_added(mu, z):
        return  # z = mu: dz/dlogvar is 0 whatever the formula; reparameterize's check charges the missing noise
    expected = v * (z - mu) / 2  # eps * std = z - mu, and d std / d logvar = std / 2
    known = {"reparameterize.std_is_exp_logvar": v * (z - mu),  # d exp(logvar) / d logvar = exp(logvar)
             "reparameterize.std_is_half_logvar": v * (z - mu) / logvar}  # std = logvar / 2: d std = 1 / 2
    _check_gradient(answer, "logvar", expected, "dz/dlogvar should be eps * std / 2",
                    "No gradient reached logvar: compute std from logvar (the docstring's exp(logvar / 2)) with torch "
                    "operations, without .detach() or .data.",
                    " Hint: std = exp(logvar / 2), z = mu + eps * std, eps not depending on logvar.", known)
