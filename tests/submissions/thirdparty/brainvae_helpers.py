"""FerminT/BrainVAE's loss helpers (`from torch import sum`), ported into the homework's contract.

Source: https://github.com/FerminT/BrainVAE/blob/HEAD/models/loss.py (the search index's copy;
commit not recorded there).
Kind: correct; keeps every tag.
Kept: `from torch import sum` (shadowing the builtin `sum` in the whole module), the loss
split into three small helpers `vae_loss` -> `reconstruction_loss` + `kl_divergence`,
`nn.functional.binary_cross_entropy(recon_x, x, reduction='sum')` on inputs of the same shape.
Changed: BrainVAE's model is a 3-D convolutional VAE for brain scans: the model here is the
contract's; its decoder returns (B, 784), so loss_function flattens x before calling the helper
(`x.reshape(recon_x.shape)`); the repository's trainer is a PyTorch Lightning module: train()
is a plain loop calling `vae_loss` (the helper), not loss_function.
"""
from torch import sum
import torch
import torch.nn as nn


def vae_loss(recon_x, x, mu, logvar):
    return reconstruction_loss(recon_x, x) + kl_divergence(mu, logvar)


def reconstruction_loss(recon_x, x):
    return nn.functional.binary_cross_entropy(recon_x, x, reduction='sum')


def kl_divergence(mu, logvar):
    return -0.5 * sum(1 + logvar - mu.pow(2) - logvar.exp())


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h = nn.functional.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(nn.functional.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    return vae_loss(recon_x, x.reshape(recon_x.shape), mu, logvar)


def train(model, loader, optimizer, device):
    model.train()
    epoch_loss = 0.
    for x, _ in loader:
        x = x.to(device)
        optimizer.zero_grad()
        recon_x, mu, logvar = model(x)
        loss = vae_loss(recon_x, x.reshape(recon_x.shape), mu, logvar)
        loss.backward()
        optimizer.step()
        epoch_loss += loss.item()
    return epoch_loss / len(loader.dataset)
