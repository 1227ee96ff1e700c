"""SumFunction/VAE-ACGAN's `latent_loss` and `reparameterize`, ported into the homework's contract.

Source: https://github.com/SumFunction/VAE-ACGAN/blob/28ef983c1d20b5e88adfce358dc2aadcb7aa445b/train.py
Kind: buggy. `latent_loss` is `0.5 * torch.mean(mean_sq + stddev_sq - torch.log(stddev_sq) - 1)`:
the closed-form KL averaged over every batch x latent entry instead of summed (the summed form
sits in the source as a commented-out "Alternative"). Loses: kl. elbo may go either way (a KL
1/(B x 20) as strong). Every other tag is kept.
Kept: the free functions `latent_loss(mu, log_var)` (std via `log_var.mul(0.5).exp_()`,
`mean_sq = mu * mu`, `stddev_sq = std * std`, `torch.log(stddev_sq)`) and
`reparameterize(mu, log_var)` with `Variable(std.data.new(std.size()).normal_())` and
`eps.mul(std).add_(mu)`; `.item()` appended to a `train_hist` list per batch.
Changed: the VAE-ACGAN's Encoder/Generator/Discriminator/classifier with three Adadelta
optimizers and an MSE reconstruction became the contract's VAE with one optimizer and the
lecture's BCE (summed); its E-step (encoder loss = reconstruction + latent_loss) is the loop.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import Variable


def latent_loss(mu, log_var):

    std = log_var.mul(0.5).exp_()
    mean_sq = mu * mu
    stddev_sq = std * std
    return 0.5 * torch.mean(mean_sq + stddev_sq - torch.log(stddev_sq) - 1)

    # # Alternative
    # return -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())


def reparameterize(mu, log_var):
    std = log_var.mul(0.5).exp_()
    eps = Variable(std.data.new(std.size()).normal_())
    return eps.mul(std).add_(mu)


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def reparameterize(self, mu, log_var):
        return reparameterize(mu, log_var)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, log_var = self.encode(x.view(-1, 784))
        noise = self.reparameterize(mu, log_var)
        return self.decode(noise), mu, log_var


def loss_function(recon_x, x, mu, log_var):
    E_loss = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    E_loss += latent_loss(mu, log_var)
    return E_loss


def train(model, dataloader, optimizer, device):
    model.train()
    train_hist = {'E_loss': []}
    for iter, (x_, labels) in enumerate(dataloader):
        x_ = Variable(x_.to(device))
        optimizer.zero_grad()
        output, mu, log_var = model(x_)
        E_loss = loss_function(output, x_, mu, log_var)
        train_hist['E_loss'].append(E_loss.item())
        E_loss.backward()
        optimizer.step()
    return sum(train_hist['E_loss']) / len(dataloader.dataset)
