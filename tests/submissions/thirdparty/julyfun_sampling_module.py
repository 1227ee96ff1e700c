"""julyfun/how-to's VAE notes (a Sampling module, a direct `binary_cross_entropy` import), ported.

Source: https://github.com/julyfun/how-to/blob/179e5ba21c16144f3f081369bac1660948802e62/notes/julyfun/%E5%A4%A7%E5%9B%9B%E4%B8%8A/%E6%9C%BA%E5%99%A8%E5%AD%A6%E4%B9%A0/VAE.md
(notes/julyfun/大四上/机器学习/VAE.md; "see the speit-ml-tp repository").
Kind: correct; keeps every tag.
Kept: the noise drawn by a parameterless `Sampling(nn.Module)` whose `forward(mu, logvar)` is
called as `self.sampling(mu, logvar)`, `from torch.nn.functional import binary_cross_entropy`
called bare with `reduction='sum'`, `torch.relu`/`torch.sigmoid`, Encoder/Decoder modules holding
the layers, `x.view(x.size(0), -1)`.
Changed: the convolutional encoder/decoder became the contract's five linear layers, held by the
VAE itself (the contract names them fc1, fc21, fc22, fc3, fc4); the notes' decoder returns
(B, 1, 28, 28), so its loss needed no flattening: the contract's decoder returns (B, 784), so
loss_function flattens x with `x.view(x.size(0), -1)`; the notes have no loop: train() is the
lecture's.
"""
import torch
from torch import nn
from torch.nn.functional import binary_cross_entropy


class Sampling(nn.Module):
    def forward(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std


class VAE(nn.Module):
    def __init__(self, latent_dim=20):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, latent_dim)
        self.fc22 = nn.Linear(400, latent_dim)
        self.fc3 = nn.Linear(latent_dim, 400)
        self.fc4 = nn.Linear(400, 784)
        self.sampling = Sampling()

    def encode(self, x):
        x = x.view(x.size(0), -1)
        x = torch.relu(self.fc1(x))
        mu = self.fc21(x)
        logvar = self.fc22(x)
        return mu, logvar

    def reparameterize(self, mu, logvar):
        return self.sampling(mu, logvar)

    def decode(self, z):
        x = torch.relu(self.fc3(z))
        x = torch.sigmoid(self.fc4(x))
        return x

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.sampling(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar): # reconstruction
    BCE = binary_cross_entropy(recon_x, x.view(x.size(0), -1), reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def train(model, loader, optimizer, device):
    model.train()
    total_loss = 0.0
    for x, _ in loader:
        x = x.to(device)
        optimizer.zero_grad()
        recon, mu, logvar = model(x)
        loss = loss_function(recon, x, mu, logvar)
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
    return total_loss / len(loader.dataset)
