"""sksq96/pytorch-vae's VAE (reparameterize with `torch.randn(*mu.size())`), ported.

Source: https://github.com/sksq96/pytorch-vae/blob/2f0f5aed28bcdd7094a82ece4bbe529f55524232/vae.py
(the model) and its notebooks' `loss_fn`, as copied into
https://github.com/NCAR/holodec-ml/blob/HEAD/holodecml/vae/losses.py (commit not recorded in the
search index): `KLD = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())`, returning
`BCE + KLD, BCE, KLD`.
Kind: buggy, two bugs. (1) `esp = torch.randn(*mu.size())` makes the noise on the CPU in the
default dtype whatever mu's device: right on a CPU, a crash on a GPU. Loses: reparameterize.
(2) The KL is averaged over all batch x latent entries (torch.mean) instead of summed. Loses:
kl. elbo may go either way (a KL 1/(B x 20) as strong barely regularises). Every other tag kept.
Kept: `logvar.mul(0.5).exp_()`, the commented-out `torch.normal(mu, std)`, `esp` (sic),
`mu + std * esp`, `from torch.autograd import Variable`, `size_average=False` for the BCE, the
commented-out MSE, the loss returning a triple (BCE + KLD, BCE, KLD).
Changed: the convolutional encoder/decoder (Flatten/UnFlatten, 3-channel 64x64 images) became
the contract's five linear layers; `bottleneck` kept as the helper encode's heads go through;
loss_function returns the triple's first element, as the contract wants one tensor; the
repository has no loop in vae.py: train() is the lecture's.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import Variable


class VAE(nn.Module):
    def __init__(self, h_dim=400, z_dim=20):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, h_dim)
        self.fc21 = nn.Linear(h_dim, z_dim)
        self.fc22 = nn.Linear(h_dim, z_dim)
        self.fc3 = nn.Linear(z_dim, h_dim)
        self.fc4 = nn.Linear(h_dim, 784)

    def reparameterize(self, mu, logvar):
        std = logvar.mul(0.5).exp_()
        # return torch.normal(mu, std)
        esp = torch.randn(*mu.size())
        z = mu + std * esp
        return z

    def bottleneck(self, h):
        mu, logvar = self.fc21(h), self.fc22(h)
        return mu, logvar

    def encode(self, x):
        return self.bottleneck(F.relu(self.fc1(x)))

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_fn(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x, size_average=False)
    # BCE = F.mse_loss(recon_x, x, size_average=False)

    # see Appendix B from VAE paper:
    # Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())

    return BCE + KLD, BCE, KLD


def loss_function(recon_x, x, mu, logvar):
    return loss_fn(recon_x, x.view(-1, 784), mu, logvar)[0]


def train(model, loader, optimizer, device):
    model.train()
    total_loss = 0.0
    for images, _ in loader:
        images = Variable(images.to(device))
        recon_images, mu, logvar = model(images)
        loss = loss_function(recon_images, images, mu, logvar)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
    return total_loss / len(loader.dataset)
