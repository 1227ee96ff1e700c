"""The 2017 pytorch/examples VAE idioms (PyTorch 0.3), ported into the homework's contract.

Source: pytorch/examples vae/main.py before PyTorch 0.4 (`Variable`, `size_average=False`,
`if self.training:` in reparameterize, `loss.data[0]`), as still copied in many repositories;
reparameterize exactly as in
https://github.com/SumFunction/VAE-ACGAN/blob/28ef983c1d20b5e88adfce358dc2aadcb7aa445b/train.py
(a module-level `reparameterize(mu, log_var)`).
Kind: correct; keeps every tag.
Kept: `from torch.autograd import Variable` and `Variable(...)` wrappers (no-ops today),
`logvar.mul(0.5).exp_()`, `std.data.new(std.size()).normal_()`, `eps.mul(std).add_(mu)`, the
`if self.training: ... else: return mu` branch, `F.binary_cross_entropy(..., size_average=False)`
(deprecated, still a sum), `self.relu`/`self.sigmoid` modules, `x.view(-1, 784)` in forward.
Changed: `loss.data[0]` (an IndexError on a 0-d tensor since 0.4) became `loss.item()`;
`data.cuda()` behind a global `cuda` flag became `data.to(device)`; train returns the mean.
"""
import torch
import torch.nn as nn
import torch.utils.data
from torch.autograd import Variable
from torch.nn import functional as F


def reparameterize(mu, log_var):
    std = log_var.mul(0.5).exp_()
    eps = Variable(std.data.new(std.size()).normal_())
    return eps.mul(std).add_(mu)


class VAE(nn.Module):

    def __init__(self):
        super(VAE, self).__init__()

        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)  # mu
        self.fc22 = nn.Linear(400, 20)  # logvar

        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()

    def encode(self, x):
        h = self.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def reparameterize(self, mu, logvar):
        if self.training:
            return reparameterize(mu, logvar)
        else:
            return mu

    def decode(self, z):
        h = self.relu(self.fc3(z))
        return self.sigmoid(self.fc4(h))

    def forward(self, x):
        x = x.view(-1, 784)
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    # size_average=False: the summed loss over the batch, not its mean
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), size_average=False)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def train(model, train_loader, optimizer, device):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = Variable(data.to(device))
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()

    # loss_function() returns the sum over the batch, so divide by the number of samples
    train_loss /= len(train_loader.dataset)

    return train_loss
