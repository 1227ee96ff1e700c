"""L1aoXingyu/pytorch-beginner's Variational_autoencoder.py (PyTorch 0.3 era), ported.

Source: https://github.com/L1aoXingyu/pytorch-beginner/blob/2abc21e6f52e300f9c81bd8acc721a1058af084d/08-AutoEncoder/Variational_autoencoder.py
Kind: buggy. reparameterize makes its noise with `torch.FloatTensor(std.size()).normal_()`
(or `torch.cuda.FloatTensor` when CUDA exists): a float32 tensor on the CPU or the first GPU,
whatever std's device and dtype (wrong on MPS, on a second GPU, in float64). Loses:
reparameterize; every other tag is kept.
Kept: `reparametrize` (sic) with `logvar.mul(0.5).exp_()`, the `torch.cuda.is_available()`
branch, `Variable(eps)`, `eps.mul(std).add_(mu)`, `F.sigmoid`, the module-level
`reconstruction_function = nn.BCELoss(size_average=False)`, the in-place KL chain
`mu.pow(2).add_(logvar.exp()).mul_(-1).add_(1).add_(logvar)` then `.mul_(-0.5)`, the loop that
flattens `img.view(img.size(0), -1)` and wraps it in `Variable`, `model.train()` per epoch.
Changed: `loss.data[0]` (an IndexError since PyTorch 0.4) became `loss.item()`; `img.cuda()`
behind `torch.cuda.is_available()` became `img.to(device)`; forward flattens its input (the
contract's forward takes images); loss_function flattens x (`x.view(x.size(0), -1)`), since the
contract passes images; reparameterize is exposed under the contract's spelling too.
"""
import torch
from torch import nn
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

    def reparametrize(self, mu, logvar):
        std = logvar.mul(0.5).exp_()
        if torch.cuda.is_available():
            eps = torch.cuda.FloatTensor(std.size()).normal_()
        else:
            eps = torch.FloatTensor(std.size()).normal_()
        eps = Variable(eps)
        return eps.mul(std).add_(mu)

    reparameterize = reparametrize

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return F.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(x.size(0), -1))
        z = self.reparametrize(mu, logvar)
        return self.decode(z), mu, logvar


reconstruction_function = nn.BCELoss(size_average=False)


def loss_function(recon_x, x, mu, logvar):
    BCE = reconstruction_function(recon_x, x.view(x.size(0), -1))
    # loss = 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD_element = mu.pow(2).add_(logvar.exp()).mul_(-1).add_(1).add_(logvar)
    KLD = torch.sum(KLD_element).mul_(-0.5)
    return BCE + KLD


def train(model, dataloader, optimizer, device):
    model.train()
    train_loss = 0
    for batch_idx, data in enumerate(dataloader):
        img, _ = data
        img = img.view(img.size(0), -1)
        img = Variable(img)
        img = img.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(img)
        loss = loss_function(recon_batch, img, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % 100 == 0:
            print('Train [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                batch_idx * len(img), len(dataloader.dataset),
                100. * batch_idx / len(dataloader),
                loss.item() / len(img)))
    return train_loss / len(dataloader.dataset)
