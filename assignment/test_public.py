"""Public checks for vae.py: run them with `make check` (a few seconds).

They check what the graders grade: vae.py, or, if you write code in the notebook's cell
'vae-code', what the notebook runs (graded.py says how; `make check` prints which it is).

Each check computes what the docstrings of vae.py say, on small fixed tensors, with your own
model's weights, and compares: encode and decode against their formulas, reparameterize's
statistics and gradients, each term of loss_function (summed, not averaged), and train() on a
tiny model. A failure says what was expected, what your code gave, and a hint.

Passing them is a good sign, not a grade: the hidden graders check the same things with their
own inputs, and also train your model for one epoch (the elbo check).
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import graded
from checking import BATCH, call, check_shape, close, expect, first_match, images, near, runs_on_meta

vae = graded.load()  # vae.py, or what vae.ipynb runs if its cell 'vae-code' holds code: what is graded


@pytest.fixture
def model() -> vae.VAE:
    torch.manual_seed(0)
    return vae.VAE().train()


# --- encode and decode: the formulas of their docstrings, with your model's own weights -------


def test_encode_returns_mu_and_logvar_of_latent_size(model):
    out = call("VAE.encode", model.encode, images().view(BATCH, -1))
    expect(isinstance(out, tuple) and len(out) == 2, "encode should return a pair (mu, logvar)")
    check_shape("mu", out[0], (BATCH, vae.LATENT_DIM))
    check_shape("logvar", out[1], (BATCH, vae.LATENT_DIM))


@torch.no_grad()
def test_encode_computes_the_formula_with_your_weights(model):
    x = images().view(BATCH, -1)
    out = call("VAE.encode", model.encode, x)
    expect(isinstance(out, tuple) and len(out) == 2, "encode should return a pair (mu, logvar)")
    mu, logvar = out
    check_shape("mu", mu, (BATCH, vae.LATENT_DIM))
    check_shape("logvar", logvar, (BATCH, vae.LATENT_DIM))
    hidden = torch.relu(model.fc1(x))
    want_mu, want_logvar = model.fc21(hidden), model.fc22(hidden)
    for name, got, want in (("mu", mu, want_mu), ("logvar", logvar, want_logvar)):
        if close(mu, want_logvar) and close(logvar, want_mu):
            hint = "mu and logvar are swapped: mu comes from fc21, logvar from fc22."
        else:
            hint = first_match(got, {
                "logvar uses fc21, the head of mu: give logvar its own head, fc22.": model.fc21(hidden),
                "the ReLU after fc1 is missing.": (model.fc21 if name == "mu" else model.fc22)(model.fc1(x)),
            }) or "h1 = relu(fc1(x)); mu = fc21(h1); logvar = fc22(h1)."
        expect(close(got, want), f"encode's {name}: expected the docstring's formula with your model's weights, "
               f"e.g. {want[0, 0]:.4f} in row 0, column 0; got {got[0, 0]:.4f}. Hint: {hint}")


def test_decode_gives_pixel_probabilities(model):
    with torch.no_grad():
        recon = call("VAE.decode", model.decode, torch.randn(BATCH, vae.LATENT_DIM))
    check_shape("decode(z)", recon, (BATCH, vae.INPUT_DIM))
    expect(bool(recon.min() > 0) and bool(recon.max() < 1),
           f"decode(z) should be in (0, 1), got values from {recon.min():.3g} to {recon.max():.3g}. "
           "Hint: end with a sigmoid on fc4's output.")


@torch.no_grad()
def test_decode_computes_the_formula_with_your_weights(model):
    z = torch.randn(BATCH, vae.LATENT_DIM, generator=torch.Generator().manual_seed(2))
    recon = call("VAE.decode", model.decode, z)
    check_shape("decode(z)", recon, (BATCH, vae.INPUT_DIM))
    want = torch.sigmoid(model.fc4(torch.relu(model.fc3(z))))
    hint = first_match(recon, {
        "the ReLU after fc3 is missing.": torch.sigmoid(model.fc4(model.fc3(z))),
        "the output needs a sigmoid, not a ReLU.": torch.relu(model.fc4(torch.relu(model.fc3(z)))),
        "the sigmoid on fc4's output is missing.": model.fc4(torch.relu(model.fc3(z))),
    }) or "h3 = relu(fc3(z)); recon = sigmoid(fc4(h3))."
    expect(close(recon, want), f"decode(z): expected the docstring's formula with your model's weights, "
           f"e.g. {want[0, 0]:.4f} in row 0, column 0; got {recon[0, 0]:.4f}. Hint: {hint}")


def test_forward_runs_on_a_batch_of_images(model):
    recon, mu, logvar = call("VAE.forward", model, images())
    check_shape("recon", recon, (BATCH, vae.INPUT_DIM))


MADE_HERE = "a tensor {0} makes itself (zeros, ones, a constant) lands on the CPU; make it like its input or with device=."


def test_encode_follows_the_device_of_its_input(model):
    test_encode_computes_the_formula_with_your_weights(model)  # its values first
    runs_on_meta("VAE.encode", model.to("meta").encode, images().view(BATCH, -1), hint=MADE_HERE.format("encode"))


def test_decode_follows_the_device_of_its_input(model):
    test_decode_computes_the_formula_with_your_weights(model)  # its values first
    runs_on_meta("VAE.decode", model.to("meta").decode, torch.zeros(BATCH, vae.LATENT_DIM), hint=MADE_HERE.format("decode"))


# --- reparameterize: statistics of many samples, fresh noise, gradients ----------------------

ROWS = 2000  # samples per column: the mean is known to about 0.02, the spread to 0.016
MUS = torch.linspace(-2.0, 2.0, vae.LATENT_DIM)
LOGVARS = torch.linspace(-3.0, 2.0, vae.LATENT_DIM)  # a wrong std shows away from logvar = 0


def noise(model, rows: int = ROWS) -> torch.Tensor:
    """eps = (z - mu) / exp(logvar / 2) for `rows` samples of each column's (mu, logvar)."""
    mu, logvar = MUS.expand(rows, -1).clone(), LOGVARS.expand(rows, -1).clone()
    with torch.no_grad():
        z = call("VAE.reparameterize", model.reparameterize, mu, logvar)
    check_shape("z", z, (rows, vae.LATENT_DIM))
    return ((z - mu) / torch.exp(LOGVARS / 2)).double()


def test_reparameterize_keeps_the_shape_and_is_random(model):
    mu, logvar = torch.zeros(BATCH, vae.LATENT_DIM), torch.ones(BATCH, vae.LATENT_DIM)
    z1 = call("VAE.reparameterize", model.reparameterize, mu, logvar)
    z2 = call("VAE.reparameterize", model.reparameterize, mu, logvar)
    check_shape("z", z1, (BATCH, vae.LATENT_DIM))
    expect(not torch.equal(z1, z2), "two calls gave the same z: draw fresh noise on every call "
           "(inside reparameterize, not once in __init__; and no torch.manual_seed in it).")


def test_reparameterize_has_mean_mu_and_std_exp_half_logvar(model):
    eps = noise(model)
    spread, shift = eps.std(dim=0), eps.mean(dim=0)
    worst = int((spread - 1).abs().argmax())
    std = math.exp(LOGVARS[worst] / 2)
    hint = "std = exp(logvar / 2)."
    if torch.allclose(spread * torch.exp(LOGVARS / 2), torch.exp(LOGVARS).double(), rtol=0.1):
        hint = "your spread is exp(logvar), the variance: the standard deviation is exp(logvar / 2)."
    elif spread.max() < 1e-6:
        hint = "z does not vary from row to row: each row needs its own noise, eps ~ N(0, 1) of std's shape."
    expect(bool((spread - 1).abs().max() <= 0.1),
           f"with logvar = {LOGVARS[worst]:.2f}, z should spread around mu with standard deviation "
           f"exp(logvar / 2) = {std:.3f}; yours spread {spread[worst] * std:.3f}. Hint: {hint}")
    worst = int(shift.abs().argmax())
    expect(bool(shift.abs().max() <= 0.15),
           f"z should be centred on mu: with mu = {MUS[worst]:.2f} your samples averaged "
           f"{MUS[worst] + shift[worst] * math.exp(LOGVARS[worst] / 2):.3f}. Hint: z = mu + eps * std, eps of mean 0.")


def test_reparameterize_draws_standard_normal_noise(model):
    """Not another distribution rescaled to variance 1: the noise's empirical distribution stays
    within 3 / sqrt(n) of N(0, 1)'s (Kolmogorov-Smirnov; correct noise fails about once in 10^7 runs)."""
    eps = noise(model).flatten().sort().values
    n = eps.numel()
    cdf = torch.special.ndtr(eps)
    steps = torch.arange(1, n + 1, dtype=torch.float64) / n
    distance = n ** 0.5 * float(torch.maximum(steps - cdf, cdf - steps + 1 / n).max())
    expect(distance <= 3.0, f"the noise (z - mu) / std is not shaped like N(0, 1): its Kolmogorov-Smirnov distance "
           f"is {distance:.1f} / sqrt(n), correct noise stays below 3. Hint: eps must be drawn from the standard "
           "normal distribution, not from another one (uniform, +-1, ...) rescaled to variance 1.")


def test_reparameterize_draws_one_independent_noise_per_entry(model):
    eps = noise(model, rows=200)
    across_rows, across_columns = eps.std(dim=0).mean(), eps.std(dim=1).mean()
    expect(bool(across_rows >= 0.5), f"the noise repeats down each column (spread across rows "
           f"{across_rows:.2f}, expected about 1): every row needs its own draw; eps must have std's shape.")
    expect(bool(across_columns >= 0.5), f"the noise repeats along each row (spread across columns "
           f"{across_columns:.2f}, expected about 1): every entry needs its own draw; eps must have std's shape.")


def test_reparameterize_follows_the_dtype_and_device_of_its_inputs(model):
    mu, logvar = torch.zeros(BATCH, vae.LATENT_DIM, dtype=torch.float64), torch.zeros(BATCH, vae.LATENT_DIM, dtype=torch.float64)
    z = call("VAE.reparameterize", model.reparameterize, mu, logvar)
    expect(isinstance(z, torch.Tensor) and z.dtype == torch.float64,
           f"on float64 inputs z should be float64, got {getattr(z, 'dtype', type(z).__name__)}. "
           "Hint: make the noise with torch.randn_like, which copies its input's shape, dtype and device.")
    runs_on_meta("VAE.reparameterize", model.reparameterize, mu, logvar,
                 hint="torch.randn_like makes noise on its input's device.")


def test_reparameterize_passes_gradients_to_mu_and_logvar(model):
    generator = torch.Generator().manual_seed(4)
    mu = torch.randn(8, vae.LATENT_DIM, generator=generator).requires_grad_()
    logvar = torch.randn(8, vae.LATENT_DIM, generator=generator).requires_grad_()
    v = torch.randn(8, vae.LATENT_DIM, generator=generator)
    z = call("VAE.reparameterize", model.reparameterize, mu, logvar)
    cut = "Hint: build z from mu and logvar with torch operations (no .data, .detach(), NumPy or torch.normal)."
    expect(isinstance(z, torch.Tensor) and z.requires_grad,
           f"z should require grad, since mu and logvar do: it is cut off from the graph. {cut}")
    (z * v).sum().backward()
    expect(mu.grad is not None, f"no gradient reached mu from z (mu.grad is None). {cut}")
    torch_normal = " torch.normal(mu, std) passes zero gradients: write z = mu + eps * std." if (
        mu.grad.abs().max() == 0) else ""
    expect(close(mu.grad, v), f"dz/dmu should be 1: backpropagating z * v should give mu.grad = v, e.g. "
           f"{v[0, 0]:.4f}; got {mu.grad[0, 0]:.4f}.{torch_normal or ' ' + cut}")
    expect(logvar.grad is not None, f"no gradient reached logvar from z (logvar.grad is None). {cut}")
    want = v * (z.detach() - mu.detach()) / 2  # d/dlogvar of eps * exp(logvar / 2)
    hint = (" Hint: yours is eps * exp(logvar): std = exp(logvar / 2), not exp(logvar)."
            if close(logvar.grad, 2 * want) else " Hint: std = exp(logvar / 2), z = mu + eps * std.")
    expect(close(logvar.grad, want), f"dz/dlogvar should be eps * std / 2 = (z - mu) / 2: expected "
           f"logvar.grad {want[0, 0]:.4f}, got {logvar.grad[0, 0]:.4f}.{hint}")


# --- loss_function: each term alone, summed over the batch --------------------------------
# loss = bce(recon_x, x) + kld(mu, logvar): changing only recon_x changes only the BCE, changing
# only (mu, logvar) only the KL. So each term is measured by a difference of two losses.


def loss_value(*args) -> float:
    """loss_function(*args) as a number; any one-element result is accepted here (the shape has its own check)."""
    loss = call("loss_function", vae.loss_function, *args)
    if isinstance(loss, torch.Tensor):
        expect(loss.numel() == 1, f"loss_function should return one number (a 0-dim tensor), got shape "
               f"{tuple(loss.shape)}. Hint: sum each term over the batch and over pixels or latent dims.")
        return float(loss.detach().double().sum())
    expect(isinstance(loss, (float, int)), f"loss_function should return a tensor, got {type(loss).__name__}")
    return float(loss)


def bce(recon: torch.Tensor, x: torch.Tensor) -> float:
    """-sum of [x log recon + (1 - x) log(1 - recon)], the docstring's formula."""
    recon, x = recon.double(), x.reshape(recon.shape).double()
    return float(-(x * recon.log() + (1 - x) * (1 - recon).log()).sum())


def kl(mu: torch.Tensor, logvar: torch.Tensor, variance=torch.exp) -> float:
    """-1/2 sum of (1 + logvar - mu^2 - variance(logvar)), the docstring's formula."""
    mu, logvar = mu.double(), logvar.double()
    return float(-0.5 * (1 + logvar - mu**2 - variance(logvar)).sum())


def loss_inputs(rows: int = BATCH, seed: int = 5) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    recon = torch.rand(rows, vae.INPUT_DIM, generator=generator) * 0.98 + 0.01  # no log() saturates
    x = torch.rand(rows, 1, 28, 28, generator=generator)
    return recon, x, torch.randn(rows, vae.LATENT_DIM, generator=generator), torch.randn(rows, vae.LATENT_DIM, generator=generator)


def test_loss_follows_the_device_of_its_inputs():
    call("loss_function", vae.loss_function, *loss_inputs())
    runs_on_meta("loss_function", vae.loss_function, *loss_inputs(),
                 hint="a tensor a term makes itself (ones, a constant, an eps) lands on the CPU; make it like its "
                      "inputs, with device=, or use a plain Python number.")


def twice(tensor: torch.Tensor) -> torch.Tensor:
    return torch.cat([tensor, tensor])


def test_loss_is_a_scalar_tensor_with_gradients():
    recon, x, mu, logvar = (t.requires_grad_() if t.dim() == 2 else t for t in loss_inputs())
    value = call("loss_function", vae.loss_function, recon, x, mu, logvar)
    expect(isinstance(value, torch.Tensor), f"loss_function should return a tensor, got {type(value).__name__}: "
           "keep both terms tensors (no .item() or float()), so that backward() can run.")
    expect(value.dim() == 0, f"loss_function should return a 0-dim tensor, got shape {tuple(value.shape)}. "
           "Hint: sum each term to a single number (torch.sum, reduction=\"sum\"); no keepdim, no [None].")
    expect(value.requires_grad, "the loss has no gradient: a term was turned into a number or detached "
           "(.item(), .detach(), float()). Keep both terms tensors.")
    value.backward()
    for name, tensor, term in (("recon_x", recon, "the BCE"), ("mu", mu, "the KL"), ("logvar", logvar, "the KL")):
        expect(tensor.grad is not None,
               f"no gradient reaches {name} from the loss: {term} term was turned into a number or detached "
               "(.item(), .detach(), float(), NumPy): training would never see it. Keep it a tensor.")


def doubling(inputs: tuple, changed: tuple) -> float:
    """How much one loss term grows when the same rows come twice: the term is the loss's change
    from `changed` to `inputs` (only that term's arguments differ). 2 for a sum over the batch, 1 for a mean."""
    once = loss_value(*inputs) - loss_value(*changed)
    doubled = loss_value(*map(twice, inputs)) - loss_value(*map(twice, changed))
    return doubled / once if once else float("nan")


def expect_summed_over_the_batch(term: str, ratio: float, fix: str, dims: str) -> None:
    expect(near(ratio, 2.0), f"the same {BATCH} rows given twice should double the {term} term (a sum over the "
           f"batch); yours changed by a factor {ratio:.3g}. Hint: "
           + (f"it is averaged over the batch (a .mean() or a division by the batch size): {fix}"
              if near(ratio, 1.0) else f"sum over the batch and the {dims}."))


def test_reconstruction_term_is_summed_over_the_batch():
    recon, x, mu, logvar = loss_inputs()
    ratio = doubling((recon, x, mu, logvar), (1 - recon, x, mu, logvar))
    expect_summed_over_the_batch("BCE", ratio, "use reduction=\"sum\" (the default \"mean\" averages).", "pixels")


def test_reconstruction_term_is_the_binary_cross_entropy():
    recon, x, mu, logvar = loss_inputs()
    other = 1 - recon
    got = loss_value(recon, x, mu, logvar) - loss_value(other, x, mu, logvar)
    want = bce(recon, x) - bce(other, x)
    flat = x.reshape(recon.shape)

    def summed(term) -> float:
        return float(term(recon.double(), flat.double()).sum() - term(other.double(), flat.double()).sum())

    hints = {
        "it is averaged over the batch and the pixels (F.binary_cross_entropy's default reduction=\"mean\"): "
        "use reduction=\"sum\".": want / (BATCH * vae.INPUT_DIM),
        "it is averaged over the batch (a .mean() or a division by the batch size): sum it.": want / BATCH,
        "it is averaged over the pixels: sum it.": want / vae.INPUT_DIM,
        "its sign is wrong: the BCE is minus the log-likelihood.": -want,
        "binary_cross_entropy_with_logits applies a second sigmoid: recon_x is already a probability, "
        "use F.binary_cross_entropy.": summed(lambda r, t: F.binary_cross_entropy_with_logits(r, t, reduction="none")),
        "that is the squared error, not the Bernoulli log-likelihood: use the binary cross-entropy.":
            summed(lambda r, t: (r - t) ** 2),
        "the (1 - x) log(1 - recon_x) half is missing.": summed(lambda r, t: -t * r.log()),
    }
    hint = next((hint for hint, value in hints.items() if near(got, value, rtol=1e-2)),
                "-sum of [x log recon_x + (1 - x) log(1 - recon_x)] over the batch and the pixels.")
    expect(near(got, want, rtol=1e-4, atol=1e-2),
           f"changing recon_x only should change the loss by the change of the BCE: expected {want:.3f}, "
           f"got {got:.3f}. Hint: {hint}")


def test_kl_term_is_summed_over_the_batch():
    recon, x, mu, logvar = loss_inputs()
    zero = torch.zeros_like(mu)
    ratio = doubling((recon, x, mu, logvar), (recon, x, zero, zero))
    expect_summed_over_the_batch("KL", ratio, "use torch.sum over rows and latent dims.", "latent dims")


def test_kl_term_is_zero_at_the_prior():
    # Two more rows with mu = 0 and logvar = 0 (q = p: KL 0), the images unchanged: the BCE cancels.
    recon, x, _, _ = loss_inputs()
    prior = torch.zeros(BATCH, vae.LATENT_DIM)
    more = torch.zeros(BATCH + 2, vae.LATENT_DIM)
    got = loss_value(recon, x, more, more) - loss_value(recon, x, prior, prior)
    hint = ("each row at the prior adds 1/2 per latent dim: check the `1 +`." if near(got, vae.LATENT_DIM, rtol=1e-2)
            else "-1/2 sum(1 + logvar - mu^2 - exp(logvar)) is 0 when mu = 0 and logvar = 0.")
    expect(near(got, 0.0), f"two more rows at the prior (mu = 0, logvar = 0) should add a KL of 0; yours "
           f"added {got:.4g}. Hint: {hint}")


def test_kl_term_matches_the_closed_form_on_a_small_case():
    # Row 0: mu = (1, 0, ...), logvar = 0: KL = 1/2 mu^2 = 0.5. Row 1: mu = 0, logvar = (log 2, 0, ...):
    # KL = -1/2 (1 + log 2 - 2) = 0.1534. Together 0.6534, summed over both rows and all dims.
    recon, x, _, _ = loss_inputs(rows=2)
    mu, logvar = torch.zeros(2, vae.LATENT_DIM), torch.zeros(2, vae.LATENT_DIM)
    mu[0, 0], logvar[1, 0] = 1.0, math.log(2.0)
    zero = torch.zeros_like(mu)
    got = loss_value(recon, x, mu, logvar) - loss_value(recon, x, zero, zero)
    want = kl(mu, logvar)
    hints = {
        "it is averaged over the batch: sum over rows too (no .mean()).": want / 2,
        "it is averaged over all entries: sum over rows and latent dims.": want / (2 * vae.LATENT_DIM),
        "it is averaged over the latent dims: sum them.": want / vae.LATENT_DIM,
        "its sign is wrong: the KL is -1/2 sum(...), and a KL is never negative.": -want,
        "the factor 1/2 is missing.": 2 * want,
        "exp(logvar / 2) is the std; the formula needs the variance, exp(logvar).": kl(
            mu, logvar, lambda lv: torch.exp(lv / 2)) - kl(zero, zero, lambda lv: torch.exp(lv / 2)),
        "logvar is the log of the variance: the formula needs exp(logvar), not logvar.": kl(
            mu, logvar, lambda lv: lv) - kl(zero, zero, lambda lv: lv),
    }
    hint = next((hint for hint, value in hints.items() if near(got, value, rtol=1e-2, atol=1e-4)),
                "-1/2 sum(1 + logvar - mu^2 - exp(logvar)) over rows and latent dims.")
    expect(near(got, want, atol=1e-4), f"the KL of mu = (1, 0, ...), logvar = 0 (0.5) plus that of mu = 0, "
           f"logvar = (log 2, 0, ...) (0.1534) should be {want:.4f}; yours gave {got:.4f}. Hint: {hint}")


# --- train: one epoch of a tiny model whose steps this file replays -------------------------


class TinyModel(nn.Module):
    """A stand-in for VAE with few weights and no noise, so that its training can be replayed exactly."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(6)
        self.fc21, self.fc22 = nn.Linear(vae.INPUT_DIM, 2), nn.Linear(vae.INPUT_DIM, 2)  # mu, logvar
        self.fc4 = nn.Linear(2, vae.INPUT_DIM)

    def encode(self, x):
        return self.fc21(x), self.fc22(x)

    def reparameterize(self, mu, logvar):
        return mu  # deterministic

    def decode(self, z):
        return torch.sigmoid(self.fc4(z))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, vae.INPUT_DIM))
        return self.decode(mu), mu, logvar


def lecture_loss(recon_x, x, mu, logvar) -> torch.Tensor:
    """The docstring's loss (so that train() is judged alone, whatever your loss_function does)."""
    x = x.reshape(recon_x.shape)
    return -(x * recon_x.log() + (1 - x) * (1 - recon_x).log()).sum() - 0.5 * (
        1 + logvar - mu**2 - logvar.exp()).sum()


EXAMPLES, LOADER_BATCH, LR = 10, 4, 1e-4  # batches of 4, 4 and 2


def epoch(accumulate: bool = False) -> tuple[TinyModel, list[float]]:
    """One epoch done by hand (SGD's update, no optimizer): the model and each batch's loss."""
    model, losses, grads = TinyModel(), [], None
    for x, _ in DataLoader(TensorDataset(images(EXAMPLES), torch.zeros(EXAMPLES)), batch_size=LOADER_BATCH):
        recon, mu, logvar = model(x)
        loss = lecture_loss(recon, x, mu, logvar)
        new = torch.autograd.grad(loss, list(model.parameters()))
        grads = [g + n for g, n in zip(grads, new)] if accumulate and grads else list(new)
        with torch.no_grad():
            for weight, grad in zip(model.parameters(), grads):
                weight -= LR * grad
        losses.append(loss.item())
    return model, losses


def test_train_takes_one_step_per_batch_and_returns_the_mean_loss_per_example(monkeypatch):
    seen: list[float] = []

    def loss_function(*args):
        loss = lecture_loss(*args)
        seen.append(loss.item())
        return loss

    monkeypatch.setattr(vae, "loss_function", loss_function)
    model = TinyModel()
    start = [weight.detach().clone() for weight in model.parameters()]
    loader = DataLoader(TensorDataset(images(EXAMPLES), torch.zeros(EXAMPLES)), batch_size=LOADER_BATCH)
    value = call("train", vae.train, model, loader, torch.optim.SGD(model.parameters(), lr=LR), torch.device("cpu"))
    replay, losses = epoch()

    def moved_like(other: nn.Module) -> bool:
        return all(close(w, r, rtol=1e-4, atol=1e-6) for w, r in zip(model.parameters(), other.parameters()))

    if not moved_like(replay):
        if all(torch.equal(w, s) for w, s in zip(model.parameters(), start)):
            hint = ("the weights never moved. Each batch: clear the gradients (zero_grad), forward, loss, "
                    "backward, then the optimizer's step; clearing between backward and step, or stepping "
                    "before backward, leaves nothing to step with.")
        elif moved_like(epoch(accumulate=True)[0]):
            hint = "gradients pile up across batches: call zero_grad() on the optimizer at the start of every batch."
        else:
            hint = "each batch: zero_grad, forward, loss, backward, step, in that order, once."
        pytest.fail(f"after one epoch of {EXAMPLES} images in batches of {LOADER_BATCH} (SGD, lr {LR}) the "
                    f"weights should be those of one step per batch; yours differ. Hint: {hint}", pytrace=False)
    expect(isinstance(value, float), f"train should return a float (use loss.item()), got {type(value).__name__}")
    # Judged against the losses your loop computed (when it called loss_function), else the replay's.
    total = sum(seen) if seen else sum(losses)
    want = total / EXAMPLES
    hint = "total_loss / len(loader.dataset)."
    if near(value, total / len(losses), rtol=1e-4):
        hint = "that is the mean per batch: divide by the number of examples, len(loader.dataset)."
    elif near(value, (seen or losses)[-1] / (EXAMPLES % LOADER_BATCH), rtol=1e-4):
        hint = "that is the last batch's loss per example: add every batch's loss, then divide."
    expect(near(value, want, rtol=1e-4), f"train should return the mean loss per example over the epoch: "
           f"expected {want:.3f}, got {value:.3f}. Hint: {hint}")


@torch.no_grad()
def computes_otherwise_in_eval_mode() -> bool:
    """Whether your VAE's forward gives other values in evaluation mode (then training in it trains
    another model; where it does not, no harm yet)."""
    outputs = []
    for training in (True, False):
        torch.manual_seed(0)
        model = vae.VAE().train(training)
        try:
            outputs.append(model(images()))
        except Exception:  # the forward's own check says why
            return False
    return not all(torch.equal(a, b) for a, b in zip(*outputs))


def test_train_moves_each_batch_to_the_device_and_trains_in_training_mode(monkeypatch):
    monkeypatch.setattr(vae, "loss_function", lecture_loss)
    loader = DataLoader(TensorDataset(images(EXAMPLES), torch.zeros(EXAMPLES)), batch_size=LOADER_BATCH)
    # Handed over in evaluation mode (as evaluate() leaves it): train() must switch to training mode.
    model, modes = TinyModel().eval(), []
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    optimizer.register_step_pre_hook(lambda *_: modes.append(model.training))
    call("train", vae.train, model, loader, optimizer, torch.device("cpu"))
    expect(all(modes) or not computes_otherwise_in_eval_mode(), f"{modes.count(False)} of train()'s {len(modes)} "
           "steps ran with the model in evaluation mode. Hint: put the model in training mode at the start of "
           "train() (nn.Module's train method): your VAE computes otherwise in evaluation mode (a reparameterize "
           "that samples only in training, or dropout).")
    model = TinyModel().to("meta")  # as on a GPU: the model on `device`, the batches where the loader made them
    runs_on_meta("train", vae.train, model, loader, torch.optim.SGD(model.parameters(), lr=LR), torch.device("meta"),
                 problem="does not move each batch to `device`",
                 hint="move each batch to `device` before the forward pass; leave the model where it was put.")
