"""The training-loop probe: a tiny deterministic model, loss and data set.

The training_loop check runs the submission's `train()` on this probe instead of the VAE, so
that the result depends on `train()` alone (not on the student's encode or loss) and the grader
can replay the exact same steps in its own process (autograder/hidden/replay.py). The probe
has no randomness: two correct training loops give the same weights to rounding.

This file is copied into the sandbox beside the worker, so it holds only what train() is run
on: no training loop, nothing that produces the weights the grader expects.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# MNIST's image side and the VAE's latent size (common.py's IMAGE_SIDE, vae.py's LATENT_DIM), kept
# here: the grader imports this file as autograder.sandbox.probe, where common.py is no module, and
# the sandbox cannot import the grader's config. The probe's own facts (sizes, seeds, LR) live here
# once: the grader's replay (hidden/replay.py) imports them.
SIDE, LATENT, WIDTH = 28, 20, 4
PIXELS = SIDE * SIDE
EXAMPLES, BATCH = 36, 8  # 5 batches, the last one short: catches dividing by batches
LR = 0.002
WEIGHTS_SEED, DATA_SEED = 0, 1  # the probe's fixed weights and images


class ProbeModel(nn.Module):
    """Answers `model(x)` with (recon (B, 784), mu (B, 20), logvar (B, 20)), like the VAE, and has
    the VAE's encode, reparameterize and decode (a train() may call them rather than forward).
    It draws no noise: reparameterize returns mu, so two correct loops give the same weights."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(WEIGHTS_SEED)
        self.enc = nn.Parameter(0.05 * torch.randn(PIXELS, WIDTH, generator=generator))
        self.head = nn.Parameter(0.1 * torch.randn(WIDTH, 2 * LATENT, generator=generator))
        self.dec = nn.Parameter(0.05 * torch.randn(LATENT, PIXELS, generator=generator))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = (x.reshape(-1, PIXELS) @ self.enc @ self.head).chunk(2, dim=1)  # (B, 20) each
        return mu.contiguous(), logvar.contiguous()

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(z @ self.dec)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def probe_loss(recon_x: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """A summed loss with the VAE's signature (any smooth summed loss would do)."""
    x = x.reshape(-1, PIXELS)
    return ((recon_x - x) ** 2).sum() + 0.5 * (mu**2).sum() + 0.25 * (logvar**2).sum()


def probe_loader(served: list[int] | None = None) -> DataLoader:
    """The probe's batches; `served[0]` counts the examples its data set hands out."""
    generator = torch.Generator().manual_seed(DATA_SEED)
    images = torch.rand(EXAMPLES, 1, SIDE, SIDE, generator=generator)
    return DataLoader(CountedDataset(served or [0], images, torch.zeros(EXAMPLES, dtype=torch.long)), batch_size=BATCH)


class CountedDataset(TensorDataset):
    """A TensorDataset that counts the examples it hands out in served[0]."""

    def __init__(self, served: list[int], *tensors: torch.Tensor) -> None:
        super().__init__(*tensors)
        self.served = served

    def __getitem__(self, index: int) -> tuple:
        self.served[0] += 1
        return super().__getitem__(index)

