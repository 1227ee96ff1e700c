"""yunjey/pytorch-tutorial's VAE (03-advanced/variational_autoencoder), ported into the contract.

Source: https://github.com/yunjey/pytorch-tutorial/blob/78c6afe681c4ff5095ef13662c02a7e369b1bcbd/tutorials/03-advanced/variational_autoencoder/main.py
Kind: correct; keeps every tag. The loop computes the loss inline and never calls
loss_function (issue 9: a correct loop is credited however the loss is spelled).
Kept: hyper-parameters as module constants, `F.sigmoid`, `torch.exp(log_var/2)`, `log_var`
naming, the loop that flattens `x = x.to(device).view(-1, image_size)` itself, computes
`reconst_loss` and `kl_div` inline with `size_average=False`, and calls `zero_grad()` after the
forward pass, just before `backward()`.
Changed: its five layers fc1..fc5 renamed to the contract's fc1, fc21, fc22, fc3, fc4; the
constructor's arguments dropped; `loss_function` added with the same two lines, as the contract
asks for one; the loop body moved into `train(...)`, which sums `loss.item()` and returns the mean.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

# Hyper-parameters
image_size = 784
h_dim = 400
z_dim = 20


# VAE model
class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(image_size, h_dim)
        self.fc21 = nn.Linear(h_dim, z_dim)
        self.fc22 = nn.Linear(h_dim, z_dim)
        self.fc3 = nn.Linear(z_dim, h_dim)
        self.fc4 = nn.Linear(h_dim, image_size)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def reparameterize(self, mu, log_var):
        std = torch.exp(log_var/2)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h = F.relu(self.fc3(z))
        return F.sigmoid(self.fc4(h))

    def forward(self, x):
        mu, log_var = self.encode(x.view(-1, image_size))
        z = self.reparameterize(mu, log_var)
        x_reconst = self.decode(z)
        return x_reconst, mu, log_var


def loss_function(x_reconst, x, mu, log_var):
    reconst_loss = F.binary_cross_entropy(x_reconst, x.view(-1, image_size), size_average=False)
    kl_div = - 0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())
    return reconst_loss + kl_div


def train(model, data_loader, optimizer, device):
    total = 0.0
    for i, (x, _) in enumerate(data_loader):
        # Forward pass
        x = x.to(device).view(-1, image_size)
        x_reconst, mu, log_var = model(x)

        # Compute reconstruction loss and kl divergence
        # For KL divergence, see Appendix B in VAE paper or http://yunjey47.tistory.com/43
        reconst_loss = F.binary_cross_entropy(x_reconst, x, size_average=False)
        kl_div = - 0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())

        # Backprop and optimize
        loss = reconst_loss + kl_div
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()

        if (i+1) % 100 == 0:
            print ("Step [{}/{}], Reconst Loss: {:.4f}, KL Div: {:.4f}"
                   .format(i+1, len(data_loader), reconst_loss.item(), kl_div.item()))
    return total / len(data_loader.dataset)
