"""A variational autoencoder (VAE) for MNIST, after pytorch/examples `vae/main.py`.

Fill in the five functions marked `# YOUR CODE HERE`: `VAE.encode`, `VAE.reparameterize`,
`VAE.decode`, `loss_function` and `train`. Check them with `make check` and train with
`make train` (from the repository's folder, after `make setup`), or train from this folder with
the set-up environment's Python: `../.venv/bin/python -m vae --epochs 10` (a system `python`
lacks the pinned packages). This file is what the hidden checks grade (or the notebook's
`vae-code` cell, if you write your definitions there instead of importing them); the
notebook's six questions are graded by hand: hand in vae.py and vae.ipynb together.
Kingma & Welling (2013), "Auto-Encoding Variational Bayes", https://arxiv.org/abs/1312.6114
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn, optim
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

INPUT_DIM = 28 * 28  # one MNIST image, flattened
HIDDEN_DIM = 400
LATENT_DIM = 20


class VAE(nn.Module):
    """Encoder q(z|x) = N(mu, diag(exp(logvar))), prior p(z) = N(0, I), decoder p(x|z) Bernoulli."""

    def __init__(self) -> None:
        super().__init__()
        # Questions 1 and 2 in the notebook: why 784, and how many parameters these hold.
        self.fc1 = nn.Linear(INPUT_DIM, HIDDEN_DIM)  # encoder hidden layer
        self.fc21 = nn.Linear(HIDDEN_DIM, LATENT_DIM)  # encoder head: mu
        self.fc22 = nn.Linear(HIDDEN_DIM, LATENT_DIM)  # encoder head: logvar (log-variance)
        self.fc3 = nn.Linear(LATENT_DIM, HIDDEN_DIM)  # decoder hidden layer
        self.fc4 = nn.Linear(HIDDEN_DIM, INPUT_DIM)  # decoder output: one logit per pixel

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of q(z|x), a diagonal Gaussian.

        x: (B, 784) flattened images in [0, 1].
        Returns (mu, logvar), each (B, 20):
            h1 = relu(fc1(x));  mu = fc21(h1);  logvar = fc22(h1).
        The two heads share h1 but have their own weights. (Question 3.)
        """
        # TODO: the hidden layer with its ReLU, then one head for each output.
        # YOUR CODE HERE
        raise NotImplementedError("VAE.encode is not implemented yet: write it, following its docstring")
        return mu, logvar

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """One sample z ~ q(z|x) per row, written so that gradients reach mu and logvar.

        mu, logvar: (B, 20). Returns z: (B, 20):
            std = exp(logvar / 2);  eps ~ N(0, I) drawn afresh, same shape as std;
            z = mu + eps * std.
        Questions 4 and 5: how many samples estimate the ELBO's gradient, and why this trick.
        """
        # TODO: only eps is random; build z from mu and logvar with differentiable operations.
        # YOUR CODE HERE
        raise NotImplementedError("VAE.reparameterize is not implemented yet: write it, following its docstring")
        return z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli means of p(x|z), one per pixel.

        z: (B, 20). Returns (B, 784) in (0, 1):
            h3 = relu(fc3(z));  recon = sigmoid(fc4(h3)).
        Question 6: which distribution p(x|z) this is.
        """
        # TODO: the decoder's hidden layer with its ReLU, then a sigmoid on the output layer.
        # YOUR CODE HERE
        raise NotImplementedError("VAE.decode is not implemented yet: write it, following its docstring")
        return recon

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B, 1, 28, 28) or (B, 784). Returns (recon (B, 784), mu (B, 20), logvar (B, 20))."""
        mu, logvar = self.encode(x.view(-1, INPUT_DIM))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(
    recon_x: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> torch.Tensor:
    """The negative ELBO of a batch, summed over the batch: a scalar tensor.

    recon_x: (B, 784) Bernoulli means; x: (B, 1, 28, 28) or (B, 784), in [0, 1];
    mu, logvar: (B, 20).
        bce = -sum over batch and pixels of [x log recon_x + (1 - x) log(1 - recon_x)]
        kld = -1/2 * sum over batch and latent dims of (1 + logvar - mu^2 - exp(logvar))
        loss = bce + kld
    Sum, do not average: F.binary_cross_entropy needs reduction="sum".
    kld is KL(q(z|x) || N(0, I)) in closed form (Kingma & Welling, appendix B).
    """
    # TODO: flatten x like recon_x, then the two terms.
    # YOUR CODE HERE
    raise NotImplementedError("loss_function is not implemented yet: write it, following its docstring")
    return bce + kld


def train(model: VAE, loader: DataLoader, optimizer: optim.Optimizer, device: torch.device) -> float:
    """One epoch over `loader`; returns the mean loss per training example.

    Each batch is (x, label) with x (B, 1, 28, 28) in [0, 1]; the labels are not used.
    For every batch: move x to `device`, clear the old gradients, run the model, compute
    `loss_function`, backpropagate, take an optimizer step, and add loss.item() to total_loss.
    Returns total_loss / len(loader.dataset): per example, not per batch.
    """
    model.train()
    total_loss = 0.0
    # TODO: the loop over batches; zero_grad -> forward -> loss -> backward -> step.
    # YOUR CODE HERE
    raise NotImplementedError("train is not implemented yet: write it, following its docstring")
    return total_loss / len(loader.dataset)


@torch.no_grad()
def evaluate(model: VAE, loader: DataLoader, device: torch.device) -> float:
    """Mean loss per example over `loader`, without training."""
    model.eval()
    total = 0.0
    for x, _ in loader:
        x = x.to(device)
        recon, mu, logvar = model(x)
        total += loss_function(recon, x, mu, logvar).item()
    return total / len(loader.dataset)


def main() -> None:
    from common import load_mnist, pick_device  # the data helpers beside this file

    parser = argparse.ArgumentParser(description="Train the VAE on MNIST; save pictures.")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("results"), help="folder for the PNGs")
    args = parser.parse_args()

    from torchvision.utils import save_image

    torch.manual_seed(args.seed)
    device = pick_device()
    train_set, test_set = TensorDataset(*load_mnist(train=True)), TensorDataset(*load_mnist(train=False))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)
    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    args.out.mkdir(parents=True, exist_ok=True)
    for epoch in range(1, args.epochs + 1):
        train_value = train(model, train_loader, optimizer, device)
        print(f"epoch {epoch}: train loss {train_value:.2f}, test loss "
              f"{evaluate(model, test_loader, device):.2f} nats per image ({device})")
    with torch.no_grad():
        x = test_set.tensors[0][:8].to(device)
        recon = model(x)[0].view(-1, 1, 28, 28)
        save_image(torch.cat([x, recon]).cpu(), args.out / "reconstructions.png", nrow=8)
        samples = model.decode(torch.randn(64, LATENT_DIM, device=device)).view(-1, 1, 28, 28)
        save_image(samples.cpu(), args.out / "samples.png", nrow=8)
    print(f"saved {args.out / 'reconstructions.png'} and {args.out / 'samples.png'}")


if __name__ == "__main__":
    main()
