"""A video anomaly-detection VAE's training script (by Haanju Yoo), ported into the contract.

Source: a training script in the search index (id 34384039286; signed "HAANJU.YOO"; the index
does not name its repository or commit): `from models import AE, VAE`, VideoClipSets,
`loss_function(recon_x, x, mu=None, logvar=None)`.
Kind: correct; keeps every tag.
Kept: the loop calls the loss with keyword arguments,
`loss_function(recon_x=recon_batch, x=input_batch, mu=mu_batch, logvar=logvar_batch)`;
loss_function's `mu=None, logvar=None` defaults and its `assert mu is not None and logvar is not
None`; the in-place KL chain `mu.pow(2).add_(logvar.exp()).mul_(-1).add_(1).add_(logvar)` then
`torch.sum(kld_element).mul_(-0.5)`; `loss += kld_loss`; `model.zero_grad()` (not the
optimizer's) to clear the gradients; the streaming buffer `input_batch` that each batch is copied
into with `resize_(data.size()).copy_(data)`; `total_loss_history.append(...)`.
Changed: the convolutional video model became the contract's VAE; its reconstruction
`nn.MSELoss()` (a mean) became the lecture's BCE, summed; the L1/L2 weight penalties (coefficients
0 by default) and visdom/timing code are dropped; `loss.data[0]` became `loss.item()`; the buffer
is a plain tensor made on train's `device` and resized itself: the source's
`input_batch.data.resize_(...)` resizes only a detached alias since PyTorch 0.4, so the buffer
stayed empty and nothing trained (measured: loss 0.0, weights unchanged); the epoch loop became
train(), which returns the mean per example.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, z_size=20):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, z_size)
        self.fc22 = nn.Linear(400, z_size)
        self.fc3 = nn.Linear(z_size, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = logvar.mul(0.5).exp_()
        eps = torch.randn_like(std)
        return eps.mul(std).add_(mu)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu=None, logvar=None):
    # thanks to Autograd, you can train the net by just summing-up all losses and propagating them
    bce_loss = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    loss = bce_loss
    assert mu is not None and logvar is not None
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    kld_element = mu.pow(2).add_(logvar.exp()).mul_(-1).add_(1).add_(logvar)
    kld_loss = torch.sum(kld_element).mul_(-0.5)
    loss += kld_loss
    return loss


def train(model, dataloader, optimizer, device):
    model.train()
    # streaming buffer
    input_batch = torch.FloatTensor().to(device)
    total_loss_history = []
    for i, (data, _) in enumerate(dataloader, 0):

        # data feed
        input_batch.resize_(data.size()).copy_(data)

        # forward
        model.zero_grad()
        recon_batch, mu_batch, logvar_batch = model(input_batch)

        # backward
        loss = loss_function(recon_x=recon_batch, x=input_batch, mu=mu_batch, logvar=logvar_batch)
        loss.backward()
        total_loss_history.append(loss.item())
        optimizer.step()

    return sum(total_loss_history) / len(dataloader.dataset)
