"""`make gpu-check`: the grader on this machine's best device (CUDA, then MPS, then the CPU), in one table.

- grades the reference (must score 100), the stubs (the guard check's points only) and the
  device-mistake cases: the corpus's and the third-party ports' submissions whose mistake is a
  tensor made on the CPU whatever the input's device (cause code `device.*`). Each must lose what
  its entry says and keep the rest, as on a CPU machine: one mistake, one charge, on every device;
- times grading the reference against the plain script doing the same work on the same device
  (autograder/evidence/bench.py), and says where the grading's time goes;
- trains the reference for the notebook's ten epochs (`python -m vae`), its test loss per image.

Run it on any CUDA machine (a few minutes); docs/gpu.md keeps the tables measured so far.
Exit status 1 when a row is not as expected.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from autograder import config
from autograder.evidence import bench, corpus
from autograder.grading import results
from autograder.paths import ASSIGNMENT, SOLUTIONS, THIRDPARTY

OVERHEAD_TARGET = 1.10  # grading / plain script on a GPU (issue: CUDA's start-up overlapped, never twice)
DEVICE_CAUSE = "device."


def device_cases(folder: Path) -> dict[str, tuple[Path, dict]]:
    """The device-mistake submissions, by name: (their vae.py, their entry: loses, may_lose)."""
    cases = {name: (corpus.build(name, folder), spec) for name, spec in corpus.variants().items()
             if any(cause.startswith(DEVICE_CAUSE) for cause in spec.get("causes", []))}
    ports = tomllib.loads((THIRDPARTY / "manifest.toml").read_text())
    cases.update({name: (THIRDPARTY / f"{name}.py", spec) for name, spec in ports.items() if spec.get("device_mistake")})
    return cases


def _seconds(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else str(value)


def train_reference(epochs: int, out: Path) -> tuple[float, str]:
    """(wall seconds, the last epoch's line) of `python -m vae --epochs N` in solutions/."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "vae", "--epochs", str(epochs), "--out", str(out)], cwd=SOLUTIONS,
                         capture_output=True, text=True, check=True)
    lines = [line for line in run.stdout.splitlines() if line.startswith("epoch ")]
    return time.perf_counter() - start, lines[-1] if lines else run.stdout[-200:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the grader on this machine's best device, in one table.")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the reference's training run (0: skip)")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, bool]] = []  # (what, measured, as expected)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seconds, reference = bench.time_grading(SOLUTIONS / "vae.py", folder)
        rows.append(("device, isolation, limits", f"{results.train_device(reference)}, {results.isolation(reference)}, "
                     f"{results.limits(reference)}", True))
        score = results.score(reference)
        rows.append(("reference: score", f"{score:g} / {results.RUBRIC_MAXIMUM:g} in {seconds:.1f} s",
                     score == results.RUBRIC_MAXIMUM))
        stubs = bench.time_grading(ASSIGNMENT / "vae.py", folder)[1]
        guard = config.RUBRIC["parameter_count"][0]
        rows.append(("stubs: score", f"{results.score(stubs):g} (expected {guard:g})", results.score(stubs) == guard))
        for name, (submission, spec) in device_cases(folder / "cases").items():
            graded = bench.time_grading(submission, folder / name)[1]
            problems = corpus.tag_problems(spec, graded)
            rows.append((f"{name}: score", f"{results.score(graded):g}; " + ("; ".join(problems) or "as its entry says"),
                         not problems))
        plain, plain_epoch = bench.time_plain()
        rows.append(("grading / plain script", f"{seconds:.1f} s / {plain:.1f} s = {seconds / plain:.2f} "
                     f"(target <= {OVERHEAD_TARGET})", seconds / plain <= OVERHEAD_TARGET))
        timings = results.timings(reference)
        rows.append(("where the grading's time goes", f"worker up {timings.get('worker_ready_s', '?')} s, submission "
                     f"imported {timings.get('submission_imported_s', '?')} s, epoch "
                     f"{_seconds((results.epoch_seconds(reference) or ['?'])[0])} s (plain {plain_epoch:.2f} s)", True))
        if args.epochs:
            wall, last = train_reference(args.epochs, folder / "train")
            loss = re.search(r"test loss ([0-9.]+)", last)
            rows.append((f"reference, {args.epochs} epochs", f"{wall:.0f} s, test loss "
                         f"{loss.group(1) if loss else '?'} nats per image", loss is not None))
    width = max(len(what) for what, _, _ in rows)
    print(f"| {'check':<{width}} | measured | ok |\n|{'-' * (width + 2)}|---|---|")
    for what, measured, ok in rows:
        print(f"| {what:<{width}} | {measured} | {'yes' if ok else 'NO'} |")
    return 0 if all(ok for _, _, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
