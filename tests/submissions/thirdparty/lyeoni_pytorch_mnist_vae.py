"""lyeoni/pytorch-mnist-VAE's notebook, ported into the homework's contract.

Source: https://github.com/lyeoni/pytorch-mnist-VAE/blob/413bb3a8e77db3aa1ed3b20d0ceee5ea238834ab/pytorch-mnist-VAE.ipynb
Kind: correct; keeps every tag.
Kept: the notebook's method names `encoder`, `sampling`, `decoder` (the contract's names call
them), `eps.mul(std).add_(mu)` (an in-place add on a fresh product), `F.sigmoid`, `log_var`,
`reduction='sum'`, the `vae.train()` call and the loop with `batch_idx`, its progress line every
100 batches and the "Average loss" line.
Changed: two hidden layers (512, 256) and z_dim=2 became the contract's one hidden layer of 400
and 20 latent dimensions, fc31/fc32 became fc21/fc22; `data.cuda()` (a crash without a GPU)
became `data.to(device)`; `train(epoch)` over globals became `train(model, loader, optimizer,
device)` returning the average it printed.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, x_dim=784, h_dim1=400, z_dim=20):
        super(VAE, self).__init__()

        # encoder part
        self.fc1 = nn.Linear(x_dim, h_dim1)
        self.fc21 = nn.Linear(h_dim1, z_dim)
        self.fc22 = nn.Linear(h_dim1, z_dim)
        # decoder part
        self.fc3 = nn.Linear(z_dim, h_dim1)
        self.fc4 = nn.Linear(h_dim1, x_dim)

    def encoder(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h) # mu, log_var

    def sampling(self, mu, log_var):
        std = torch.exp(0.5*log_var)
        eps = torch.randn_like(std)
        return eps.mul(std).add_(mu) # return z sample

    def decoder(self, z):
        h = F.relu(self.fc3(z))
        return F.sigmoid(self.fc4(h))

    # the homework's names
    def encode(self, x):
        return self.encoder(x)

    def reparameterize(self, mu, log_var):
        return self.sampling(mu, log_var)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        mu, log_var = self.encoder(x.view(-1, 784))
        z = self.sampling(mu, log_var)
        return self.decoder(z), mu, log_var


# return reconstruction error + KL divergence losses
def loss_function(recon_x, x, mu, log_var):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    KLD = -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())
    return BCE + KLD


def train(vae, train_loader, optimizer, device, epoch=1):
    vae.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()

        recon_batch, mu, log_var = vae(data)
        loss = loss_function(recon_batch, data, mu, log_var)

        loss.backward()
        train_loss += loss.item()
        optimizer.step()

        if batch_idx % 100 == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item() / len(data)))
    print('====> Epoch: {} Average loss: {:.4f}'.format(epoch, train_loss / len(train_loader.dataset)))
    return train_loss / len(train_loader.dataset)
