"""`make bench`: how long grading takes, and how much of it is the grader's own overhead.

Prints, for this machine:
- the wall time of `python -m autograder.grading.grade` on the solution and on the stubs, end to end
  (both Python start-ups, torch imports, the sandbox, the training epoch and the evaluation);
- the wall time of a plain script doing the same work without a grader (start Python, import
  torch, load MNIST, one in-memory epoch of the reference with the grader's batch size and
  learning rate, the test negative ELBO on 10,000 images), and grading time / plain time;
- the grading run's training epoch (measured inside the sandbox) beside the plain script's epoch.
Targets: a correct submission graded in at most 15 s on a 2-core CPU; grading within 1.25x of
the plain script; the epoch within 1.1x. `--repeat n` times each n times and keeps the median
(on a shared machine, single timings are noisy).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import config
from autograder.grading import results
from autograder.paths import ASSIGNMENT, ROOT, SOLUTIONS

GRADE_TARGET_S = 15.0  # a correct submission, end to end, on a 2-core CPU
OVERHEAD_TARGET = 1.25  # grading time / plain script time
EPOCH_TARGET = 1.1  # the sandbox's training epoch (the notebook's DataLoader) / the plain in-memory epoch

# What grading the reference costs at the least: the same work, with no grader around it, on the
# device the grader trains on (the CPU here; CUDA or MPS where present: CUDA's start-up and the
# copy of MNIST onto the device are part of it, as in the grading).
PLAIN_SCRIPT = f"""
import sys, time, torch
from torch.utils.data import DataLoader, TensorDataset
sys.path.insert(0, {str(SOLUTIONS)!r})
from common import load_mnist, pick_device
from vae import VAE, evaluate, loss_function
device = pick_device()
torch.manual_seed({config.ELBO_SEED})
images = load_mnist(train=True)[0].to(device)
model, batch = VAE().to(device), {config.ELBO_BATCH_SIZE}
optimizer = torch.optim.Adam(model.parameters(), lr={config.ELBO_LR})
warm = torch.optim.Adam(VAE().parameters())  # torch.optim's first step imports torch's compiler
warm.step()  # stack (about 1.3 s): outside the timed epoch, as in the grader's
sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
sync()
start = time.perf_counter()
order = torch.randperm(len(images), device=device)
for i in range(0, len(images), batch):
    x = images[order[i:i + batch]]
    optimizer.zero_grad()
    recon, mu, logvar = model(x)
    loss = loss_function(recon, x, mu, logvar)
    loss.backward()
    optimizer.step()
sync()
epoch_s = time.perf_counter() - start
test, _ = load_mnist(train=False)
torch.manual_seed({config.ELBO_EVAL_SEED})
with torch.no_grad():
    value = evaluate(model, DataLoader(TensorDataset(test, torch.zeros(len(test))), batch_size=1000), device)
print(epoch_s, value)
"""


def time_grading(submission: Path, folder: Path) -> tuple[float, results.Results]:
    """(wall time of grading `submission`, end to end; its results)."""
    path = folder / submission.parent.name / "results.json"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder.grading.grade", "--submission", str(submission), "--results",
                    str(path)], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start, results.load(path)


def time_plain() -> tuple[float, float]:
    """(wall time of the plain script, end to end; its training epoch alone)."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", PLAIN_SCRIPT], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    return wall, float(run.stdout.split()[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time grading against a plain script doing the same work.")
    parser.add_argument("--repeat", type=int, default=1, help="time each this many times; report the median")
    args = parser.parse_args(argv)
    solution_s, stubs_s, plain_s, epochs, plain_epochs = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            seconds, solution = time_grading(SOLUTIONS / "vae.py", Path(tmp))
            solution_s.append(seconds)
            epochs.append(results.epoch_seconds(solution)[0])
            wall, epoch = time_plain()
            plain_s.append(wall)
            plain_epochs.append(epoch)
            stubs_s.append(time_grading(ASSIGNMENT / "vae.py", Path(tmp))[0])
    median = statistics.median
    print(f"isolation: {results.isolation(solution)}, training device: {results.train_device(solution)}, "
          f"median of {args.repeat}")
    print(f"grade the solution, end to end: {median(solution_s):6.1f} s (score {results.score(solution)}, "
          f"target <= {GRADE_TARGET_S:.0f} s)")
    print(f"grade the stubs, end to end:    {median(stubs_s):6.1f} s")
    print(f"plain script, same work:        {median(plain_s):6.1f} s  -> grading / plain "
          f"{median(s / p for s, p in zip(solution_s, plain_s)):.2f} (target <= {OVERHEAD_TARGET})")
    print(f"outside the epoch:              {median(s - e for s, e in zip(solution_s, epochs)):6.1f} s grading, "
          f"{median(p - e for p, e in zip(plain_s, plain_epochs)):.1f} s plain (the epoch is the noisiest part "
          "on a shared machine)")
    print(f"grading epoch (60,000 images):  {median(epochs):6.2f} s")
    print(f"plain script's epoch:           {median(plain_epochs):6.2f} s  -> ratio "
          f"{median(e / p for e, p in zip(epochs, plain_epochs)):.2f} (target <= {EPOCH_TARGET})")


if __name__ == "__main__":
    main()
