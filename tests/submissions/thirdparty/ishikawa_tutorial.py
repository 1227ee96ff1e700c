"""ishikawa-group/python_basic_tutorial's MNIST VAE (a Japanese course tutorial), ported.

Source: https://github.com/ishikawa-group/python_basic_tutorial/blob/4de0d9604941e82794dadac6f0ba3ffd4279e2fe/advanced/mnist_vae2.md
Kind: correct; keeps every tag. The loop calls its own loss helper, whose arguments come in
the other order (target first) and which returns three values; it never calls loss_function.
Kept: the helper `loss_function(label, predict, mu, log_var)` returning `(vae_loss,
reconstruction_loss, kl_loss)` (renamed `vae_loss_terms`: the contract owns the name
loss_function), `eps = torch.randn_like(torch.exp(log_var))` and `mu + torch.exp(log_var / 2) *
eps`, two-space indentation, a single `model.train()` before the loop, `x.to(device).view(-1,
image_size).to(torch.float32)`, `zero_grad()` after the forward pass, `losses.append(loss)` (the
tensors, graphs and all), the f-string progress line every 10 batches.
Changed: Encoder/Decoder submodules (which sampled z inside the encoder) became the contract's
methods; hidden 32 / latent 16 became 400 / 20; layer names fc, fc_mu, fc_var, fc, fc_output
became fc1, fc21, fc22, fc3, fc4; forward returns three values, not four; the epoch loop became
train(...), which returns the mean of the appended losses per example.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

image_size = 28 * 28
h_dim = 400
z_dim = 20


class VAE(nn.Module):
  def __init__(self, input_dim=image_size, hidden_dim=h_dim, latent_dim=z_dim):
    super(VAE, self).__init__()
    self.fc1 = nn.Linear(input_dim, hidden_dim)
    self.fc21 = nn.Linear(hidden_dim, latent_dim)
    self.fc22 = nn.Linear(hidden_dim, latent_dim)
    self.fc3 = nn.Linear(latent_dim, hidden_dim)
    self.fc4 = nn.Linear(hidden_dim, input_dim)

  def encode(self, x):
    # ニューラルネットワークで事後分布の平均・分散を計算する
    h = torch.relu(self.fc1(x))
    mu = self.fc21(h) # μ
    log_var = self.fc22(h) # log σ^2
    return mu, log_var

  def reparameterize(self, mu, log_var):
    ## 標準正規乱数を振る
    eps = torch.randn_like(torch.exp(log_var))
    ## 潜在変数の計算 μ + σ・ε
    z = mu + torch.exp(log_var / 2) * eps
    return z

  def decode(self, z):
    h = torch.relu(self.fc3(z))
    output = torch.sigmoid(self.fc4(h))
    return output

  def forward(self, x):
    mu, log_var = self.encode(x.view(-1, image_size))
    z = self.reparameterize(mu, log_var)
    x_decoded = self.decode(z)
    return x_decoded, mu, log_var


def vae_loss_terms(label, predict, mu, log_var):
  reconstruction_loss = F.binary_cross_entropy(predict, label, reduction='sum')
  kl_loss = - 0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())
  vae_loss = reconstruction_loss + kl_loss
  return vae_loss, reconstruction_loss, kl_loss


def loss_function(recon_x, x, mu, log_var):
  return vae_loss_terms(x.view(-1, image_size), recon_x, mu, log_var)[0]


def train(model, train_loader, optimizer, device):
  losses = []
  model.train()
  for i, (x, labels) in enumerate(train_loader):
    # 予測
    x = x.to(device).view(-1, image_size).to(torch.float32)
    x_recon, mu, log_var = model(x)
    # 損失関数の計算
    loss, recon_loss, kl_loss = vae_loss_terms(x, x_recon, mu, log_var)

    # パラメータの更新
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

    # 損失の表示
    if (i+1) % 100 == 0:
      print(f'step: {i+1}, loss: {loss: 0.4f}, reconstruct loss: {recon_loss: 0.4f}, KL loss: {kl_loss: 0.4f}')
    losses.append(loss)
  return sum(loss.item() for loss in losses) / len(train_loader.dataset)
