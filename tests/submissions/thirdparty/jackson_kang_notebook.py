"""Jackson-Kang/Pytorch-VAE-tutorial's notebook (01_Variational_AutoEncoder.ipynb), ported.

Source: https://github.com/Jackson-Kang/Pytorch-VAE-tutorial/blob/1f9e0d234d7fe7ff99b686614fc6b048d690a4a8/01_Variational_AutoEncoder.ipynb
Kind: buggy. Its epoch average is `overall_loss / (batch_idx*batch_size)`: after the loop
`batch_idx` is the number of batches minus one, so it divides by one batch fewer than it ran
(and assumes every batch is full). Loses: training_loop (its "returns the mean loss per
example" check); every other tag is kept.
Kept: module-level `DEVICE` and hyper-parameters, `Encoder`/`Decoder` vocabulary, the method
`reparameterization(mean, var)` that gets the standard deviation (named `var`) and does
`torch.randn_like(var).to(DEVICE)`, `mean + var*epsilon`, the unused `BCE_loss = nn.BCELoss()`,
`nn.functional.binary_cross_entropy(x_hat, x, reduction='sum')`, `KLD = - 0.5 * torch.sum(1+
log_var - mean.pow(2) - log_var.exp())`, a loss helper whose arguments come target first,
`model.train()` once, `overall_loss += loss.item()` before `backward()`.
Changed: `cuda = True` became `torch.cuda.is_available()` (the notebook crashes without a GPU);
two LeakyReLU hidden layers and latent_dim=200 became the contract's one ReLU layer of 400 and
20 latent dimensions (FC_input, FC_mean, FC_var, FC_hidden, FC_output became fc1, fc21, fc22,
fc3, fc4); `x.view(batch_size, x_dim)` (batch_size the global 100) became
`x.view(x.size(0), x_dim)` and the divisor's batch_size is `loader.batch_size`; the helper is
renamed `notebook_loss(x, x_hat, mean, log_var)` and loss_function calls it in the contract's
order; the epoch loop became train(), which returns the average it printed.
"""
import torch
import torch.nn as nn

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

x_dim = 784
hidden_dim = 400
latent_dim = 20


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(x_dim, hidden_dim)
        self.fc21 = nn.Linear(hidden_dim, latent_dim)
        self.fc22 = nn.Linear(hidden_dim, latent_dim)
        self.fc3 = nn.Linear(latent_dim, hidden_dim)
        self.fc4 = nn.Linear(hidden_dim, x_dim)

    def encode(self, x):
        h_ = torch.relu(self.fc1(x))
        mean = self.fc21(h_)
        log_var = self.fc22(h_)  # encoder produces mean and log of variance
        return mean, log_var

    def reparameterization(self, mean, var):
        epsilon = torch.randn_like(var).to(DEVICE)  # sampling epsilon
        z = mean + var*epsilon                      # reparameterization trick
        return z

    def reparameterize(self, mean, log_var):
        return self.reparameterization(mean, torch.exp(0.5 * log_var))  # takes exponential function (log var -> var)

    def decode(self, z):
        h = torch.relu(self.fc3(z))
        x_hat = torch.sigmoid(self.fc4(h))
        return x_hat

    def forward(self, x):
        mean, log_var = self.encode(x.view(-1, x_dim))
        z = self.reparameterize(mean, log_var)
        x_hat = self.decode(z)
        return x_hat, mean, log_var


BCE_loss = nn.BCELoss()


def notebook_loss(x, x_hat, mean, log_var):
    reproduction_loss = nn.functional.binary_cross_entropy(x_hat, x, reduction='sum')
    KLD = - 0.5 * torch.sum(1+ log_var - mean.pow(2) - log_var.exp())

    return reproduction_loss + KLD


def loss_function(recon_x, x, mu, logvar):
    return notebook_loss(x.view(-1, x_dim), recon_x, mu, logvar)


def train(model, train_loader, optimizer, device):
    batch_size = train_loader.batch_size
    model.train()

    overall_loss = 0
    for batch_idx, (x, _) in enumerate(train_loader):
        x = x.view(x.size(0), x_dim)
        x = x.to(device)

        optimizer.zero_grad()

        x_hat, mean, log_var = model(x)
        loss = loss_function(x_hat, x, mean, log_var)

        overall_loss += loss.item()

        loss.backward()
        optimizer.step()

    print("\tAverage Loss: ", overall_loss / (batch_idx*batch_size))
    return overall_loss / (batch_idx*batch_size)
