"""`make bench`: how long grading takes, and how the grading epoch compares with a plain loop.

Prints, for this machine:
- the wall time of `python -m autograder.grading.grade` on the solution and on the stubs, end to end
  (both Python start-ups, torch imports, the sandbox, the training epoch and the evaluation);
- the grading run's training epoch (measured inside the sandbox) beside a plain PyTorch loop
  over the same model, the same in-memory tensors and the same batch size.
Targets: a correct submission graded in at most 15 s on a 2-core CPU; the epoch within 1.5x.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import config
from autograder.paths import ROOT, SOLUTIONS

PLAIN_LOOP = f"""
import sys, time, torch
sys.path.insert(0, {str(SOLUTIONS)!r})
from common import load_mnist
from vae import VAE, loss_function
torch.manual_seed(0)
images, _ = load_mnist(train=True)
model, batch = VAE(), {config.ELBO_BATCH_SIZE}
optimizer = torch.optim.Adam(model.parameters(), lr={config.ELBO_LR})
start = time.perf_counter()
order = torch.randperm(len(images))
for i in range(0, len(images), batch):
    x = images[order[i:i + batch]]
    optimizer.zero_grad()
    recon, mu, logvar = model(x)
    loss = loss_function(recon, x, mu, logvar)
    loss.backward()
    optimizer.step()
print(time.perf_counter() - start)
"""


def time_grading(submission: Path, folder: Path) -> tuple[float, dict]:
    results = folder / submission.parent.name / "results.json"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder.grading.grade", "--submission", str(submission), "--results",
                    str(results)], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start, json.loads(results.read_text())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        solution_s, solution = time_grading(SOLUTIONS / "vae.py", Path(tmp))
        stubs_s, stubs = time_grading(ROOT / "assignment" / "vae.py", Path(tmp))
    plain_s = float(subprocess.run([sys.executable, "-c", PLAIN_LOOP], capture_output=True, text=True,
                                   check=True).stdout.strip())
    elbo = next(t for t in solution["tests"] if t["tags"] == ["elbo"])["extra_data"]
    epoch_s = elbo["epoch_seconds"][0]
    print(f"isolation: {solution['extra_data']['isolation']}, training device: {elbo['train_device']}")
    print(f"grade the solution, end to end: {solution_s:6.1f} s (score {solution['score']}, target <= 15 s)")
    print(f"grade the stubs, end to end:    {stubs_s:6.1f} s (score {stubs['score']})")
    print(f"grading epoch (60,000 images):  {epoch_s:6.2f} s")
    print(f"plain PyTorch loop, same epoch: {plain_s:6.2f} s  -> ratio {epoch_s / plain_s:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
