"""Quick public checks for vae.py: shapes, ranges, "it runs". Run them with `make check`.

Passing these does not mean full marks: the hidden graders also check values (the lecture's
formulas, with your model's own weights), gradients, the training loop and a trained model.
"""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import vae

BATCH = 4


def call(name: str, function, *args):
    """Run one of your functions; an unimplemented one fails naming the function to write."""
    try:
        return function(*args)
    except NotImplementedError as error:
        message = f"calling {name}: {error}"
    pytest.fail(message, pytrace=False)


@pytest.fixture
def model() -> vae.VAE:
    torch.manual_seed(0)
    return vae.VAE()


def images(batch: int = BATCH) -> torch.Tensor:
    return torch.rand(batch, 1, 28, 28)


def check_shape(what: str, tensor, expected: tuple[int, ...]) -> None:
    assert isinstance(tensor, torch.Tensor), f"{what} should be a tensor, got {type(tensor).__name__}"
    assert tuple(tensor.shape) == expected, f"{what} should have shape {expected}, got {tuple(tensor.shape)}"


def test_encode_returns_mu_and_logvar_of_latent_size(model):
    out = call("VAE.encode", model.encode, images().view(BATCH, -1))
    assert isinstance(out, tuple) and len(out) == 2, "encode should return a pair (mu, logvar)"
    check_shape("mu", out[0], (BATCH, vae.LATENT_DIM))
    check_shape("logvar", out[1], (BATCH, vae.LATENT_DIM))


def test_reparameterize_keeps_the_shape_and_is_random(model):
    mu, logvar = torch.zeros(BATCH, vae.LATENT_DIM), torch.zeros(BATCH, vae.LATENT_DIM)
    model.train()
    z1 = call("VAE.reparameterize", model.reparameterize, mu, logvar)
    z2 = call("VAE.reparameterize", model.reparameterize, mu, logvar)
    check_shape("z", z1, (BATCH, vae.LATENT_DIM))
    assert not torch.equal(z1, z2), "two calls gave the same z: draw fresh noise on every call"


def test_decode_gives_pixel_probabilities(model):
    recon = call("VAE.decode", model.decode, torch.randn(BATCH, vae.LATENT_DIM))
    check_shape("decode(z)", recon, (BATCH, vae.INPUT_DIM))
    assert recon.min() > 0 and recon.max() < 1, "decode(z) should be in (0, 1): end with a sigmoid"


def test_forward_runs_on_a_batch_of_images(model):
    recon, mu, logvar = call("VAE.forward", model, images())
    check_shape("recon", recon, (BATCH, vae.INPUT_DIM))


def test_loss_is_a_positive_scalar(model):
    recon, mu, logvar = torch.rand(BATCH, vae.INPUT_DIM) * 0.98 + 0.01, torch.randn(BATCH, vae.LATENT_DIM), torch.randn(BATCH, vae.LATENT_DIM)
    loss = call("loss_function", vae.loss_function, recon, images(), mu, logvar)
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0, (
        f"loss_function should return a scalar tensor (dim 0), got {getattr(loss, 'shape', type(loss).__name__)}"
    )
    assert loss.item() > 0, "the loss should be positive: both BCE and KL are >= 0"


def test_train_runs_one_epoch_and_returns_a_float(model):
    loader = DataLoader(TensorDataset(images(8), torch.zeros(8)), batch_size=BATCH)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    value = call("train", vae.train, model, loader, optimizer, torch.device("cpu"))
    assert isinstance(value, float), f"train should return a float (use loss.item()), got {type(value).__name__}"
    assert value > 0, "train should return the mean loss per example, a positive number"
