"""mivadi/projectAI18's VAE training loop (a student AI project), ported into the contract.

Source: https://github.com/mivadi/projectAI18/blob/HEAD/train.py (the search index's copy;
commit not recorded there), with `from loss import *` and `from VAE import *`.
Kind: correct; keeps every tag.
Kept: `data = Variable(data)`, the loop flattening the target at the call,
`loss_function(recon_batch, data.view(-1, 784), mean, logvar)`, `train_loss += loss.data` (a
0-d tensor, no `.item()`: train_loss is a tensor), the progress line every 100 batches dividing
`loss.data / len(data)`, the closing "Average loss" line, the names `mean`/`logvar`.
Changed: `train(epoch, train_loader, model, optimizer)` became the contract's `train(model,
loader, optimizer, device)` (with `data.to(device)`); it returns the average it printed (a 0-d
tensor, as the source computes it); the repository's loss.py and VAE.py are not in the index: the
model and loss_function here are the lecture's, in the same module.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import Variable


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mean, logvar):
        std = torch.exp(0.5 * logvar)
        return mean + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mean, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mean, logvar)
        return self.decode(z), mean, logvar


def loss_function(recon_x, x, mean, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp())
    return BCE + KLD


def train(model, train_loader, optimizer, device, epoch=1):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = Variable(data.to(device))
        optimizer.zero_grad()
        recon_batch, mean, logvar = model(data)
        loss = loss_function(recon_batch, data.view(-1, 784), mean, logvar)
        loss.backward()
        train_loss += loss.data
        optimizer.step()
        if batch_idx % 100 == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader),
                loss.data / len(data)))

    print('====> Epoch: {} Average loss: {:.4f}'.format(
          epoch, train_loss / len(train_loader.dataset)))
    return train_loss / len(train_loader.dataset)
