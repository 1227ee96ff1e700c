"""A GenAI course homework's `train_epoch` (HW2_GenAI25), ported into the homework's contract.

Source: https://github.com/mechaGabe/NPR-DeepfakeDetection/blob/55318a8d648522008963fa91393e940a61c40a6f/HW2_GenAI25/HW/train.py
(the loop; the same folder's VAE.py and ELBO.py are stubs with "To-DO" blocks, filled here with
the lecture's formulas in that homework's shape: `_kl_diag_normal`, a loss `ELBO(x, recon_mu,
mu, logvar)` with the target first).
Kind: buggy. train_epoch returns `total_loss / len(loader)`: the mean per batch, not per
example (128 times too large here). Loses: training_loop (its "returns the mean loss per
example" check); every other tag is kept.
Kept: `vae.train()`, `total_loss = 0.0`, `for x, _ in loader`, `x.to(device)`, the helper
`ELBO(x, recon_mu, mu, logvar)` called by the loop (never loss_function), `_kl_diag_normal`
and `_negative_log_likelihood` helpers that flatten with `x.view(x.size(0), -1)`.
Changed: the homework's model is a convolutional VAE with a Gaussian likelihood and
latent_dim=1; here the contract's MLP with a Bernoulli likelihood (BCE summed) and 20 latent
dimensions; forward returns three values, not four (no z).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------- Loss ----------------
def _negative_log_likelihood(x, recon_mu):
    # flatten
    x = x.view(x.size(0), -1)
    recon_mu = recon_mu.view(recon_mu.size(0), -1)
    nll = F.binary_cross_entropy(recon_mu, x, reduction="sum")
    return nll


def _kl_diag_normal(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def ELBO(x, recon_mu, mu, logvar):
    nll = _negative_log_likelihood(x, recon_mu)
    kl = _kl_diag_normal(mu, logvar)
    loss = nll + kl
    return loss


# ---------------- VAE ----------------
class VAE(nn.Module):
    def __init__(self, latent_dim=20):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, latent_dim)
        self.fc22 = nn.Linear(400, latent_dim)
        self.fc3 = nn.Linear(latent_dim, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h))

    def forward(self, x):
        mu, logvar = self.encode(x.view(x.size(0), -1))
        z = self.reparameterize(mu, logvar)
        x_mu = self.decode(z)
        return x_mu, mu, logvar


def loss_function(recon_x, x, mu, logvar):
    return ELBO(x, recon_x, mu, logvar)


def train(vae, loader, optimizer, device):
    vae.train()
    total_loss = 0.0
    for x, _ in loader:
        x = x.to(device)
        optimizer.zero_grad()
        recon_mu, mu, logvar = vae(x)
        loss = ELBO(x, recon_mu, mu, logvar)
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
    return total_loss / len(loader)
