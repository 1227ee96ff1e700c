"""The training-loop probe's answers, computed on the trusted side only.

`replay(order)` trains the probe (autograder/sandbox/probe.py) as a loop with that per-batch
order would: "zfbs" gives the weights and mean loss a correct train() must produce, the other
orders name common mistakes. It lives here, never among the sandbox's files: a submission that
could call it would get the answer without training.
"""
from __future__ import annotations

import torch

from autograder.sandbox.probe import LR, ProbeModel, probe_loader, probe_loss


def replay(order: str = "zfbs") -> tuple[dict[str, torch.Tensor], float]:
    """Train the probe as a loop with this per-batch order would; return (weights, mean loss).

    Letters: z = zero the gradients, f = forward and loss, b = backward, s = optimizer step.
    "zfbs" is the correct loop; the grader replays common mistakes to name them.
    """
    model = ProbeModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loader = probe_loader()
    total = 0.0
    for x, _ in loader:
        loss = None
        for step in order:
            if step == "z":
                optimizer.zero_grad()
            elif step == "f":
                recon, mu, logvar = model(x)
                loss = probe_loss(recon, x, mu, logvar)
                total += loss.item()
            elif step == "b":
                loss.backward()
            elif step == "s":
                optimizer.step()
    return {name: p.detach().clone() for name, p in model.named_parameters()}, total / len(loader.dataset)
