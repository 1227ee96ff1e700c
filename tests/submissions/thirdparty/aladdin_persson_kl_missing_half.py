"""aladdinpersson/Machine-Learning-Collection's VAE (a popular YouTube tutorial), ported.

Source: https://github.com/aladdinpersson/Machine-Learning-Collection/blob/ae581a64e6b1a9350adbdc726bc5a860cb6f5370/ML/Pytorch/more_advanced/VAE/train.py
and model.py at 609b7511c82c3421459df79e2324c8ee5a5dbfc5 (same folder).
Kind: buggy. Its KL is `-torch.sum(1 + torch.log(sigma.pow(2)) - mu.pow(2) - sigma.pow(2))`:
the 1/2 of the closed form is missing, so the KL term is twice the lecture's. Loses: kl. The
loop computes that same loss inline (it never calls loss_function), so the loop itself trains
the wrong loss: loses training_loop too (measured: 70 / 100, kl 0 / 15, training_loop 0 / 15).
elbo may go either way (a beta = 2 VAE after one epoch; measured: kept). Every other tag is kept.
Kept: tqdm over `enumerate(train_loader)` with `loop.set_postfix(loss=loss.item())`,
`x.to(DEVICE).view(x.shape[0], INPUT_DIM)`, `nn.BCELoss(reduction="sum")` built once at module
level as `loss_fn`, `self.relu = nn.ReLU()`, the loss computed inline in the loop (no call to
loss_function), `zero_grad()` just before `backward()`, sigma-based names.
Changed: the model's encoder head gives sigma directly (`hid_2sigma`); the contract's fc22 gives
log-variance, so `sigma = torch.exp(0.5 * logvar)` is computed where the source used its sigma;
layer names img_2hid, hid_2mu, hid_2sigma, z_2hid, hid_2img became fc1, fc21, fc22, fc3, fc4;
H_DIM 200 became 400; `DEVICE` became train's `device` argument; train returns the mean loss.
"""
import torch
from torch import nn
from tqdm import tqdm

INPUT_DIM = 784
H_DIM = 400
Z_DIM = 20

loss_fn = nn.BCELoss(reduction="sum")


class VAE(nn.Module):
    def __init__(self, input_dim=INPUT_DIM, h_dim=H_DIM, z_dim=Z_DIM):
        super().__init__()
        # encoder
        self.fc1 = nn.Linear(input_dim, h_dim)
        self.fc21 = nn.Linear(h_dim, z_dim)
        self.fc22 = nn.Linear(h_dim, z_dim)

        # decoder
        self.fc3 = nn.Linear(z_dim, h_dim)
        self.fc4 = nn.Linear(h_dim, input_dim)

        self.relu = nn.ReLU()

    def encode(self, x):
        h = self.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        return mu, logvar

    def reparameterize(self, mu, logvar):
        sigma = torch.exp(0.5 * logvar)
        epsilon = torch.randn_like(sigma)
        return mu + sigma*epsilon

    def decode(self, z):
        h = self.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h))

    def forward(self, x):
        mu, logvar = self.encode(x.view(x.shape[0], INPUT_DIM))
        z_new = self.reparameterize(mu, logvar)
        x_reconstructed = self.decode(z_new)
        return x_reconstructed, mu, logvar


def loss_function(x_reconstructed, x, mu, logvar):
    sigma = torch.exp(0.5 * logvar)
    reconstruction_loss = loss_fn(x_reconstructed, x.view(x.shape[0], INPUT_DIM))
    kl_div = -torch.sum(1 + torch.log(sigma.pow(2)) - mu.pow(2) - sigma.pow(2))
    return reconstruction_loss + kl_div


def train(model, train_loader, optimizer, device):
    total = 0.0
    loop = tqdm(enumerate(train_loader))
    for i, (x, _) in loop:
        # Forward pass
        x = x.to(device).view(x.shape[0], INPUT_DIM)
        x_reconstructed, mu, logvar = model(x)
        sigma = torch.exp(0.5 * logvar)

        # Compute loss
        reconstruction_loss = loss_fn(x_reconstructed, x)
        kl_div = -torch.sum(1 + torch.log(sigma.pow(2)) - mu.pow(2) - sigma.pow(2))

        # Backprop
        loss = reconstruction_loss + kl_div
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loop.set_postfix(loss=loss.item())
        total += loss.item()
    return total / len(train_loader.dataset)
