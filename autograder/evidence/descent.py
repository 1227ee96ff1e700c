"""`make descent`: how far one real epoch moves the weights, for config.ELBO_DESCENT_MIN_CORRELATION.

    python -m autograder.evidence.descent [--seeds 0 1]

For each training seed: start the reference from the weights the grader would choose
(reference.random_weights, seeded), train one epoch as the elbo check does, then print each
weight matrix's correlation with its start, and with an unrelated start (what weights trained
elsewhere would show). The threshold must sit well between the two columns.
"""
from __future__ import annotations

import argparse

import torch
from torch.utils.data import DataLoader, TensorDataset

from autograder import config
from autograder.grading import reference


def measure(seed: int) -> list[tuple[str, float, float]]:
    """(weight matrix, correlation with its start, correlation with an unrelated start)."""
    ref = reference.module()
    start = reference.random_weights(reference.expected_shapes(), seed)
    unrelated = reference.random_weights(reference.expected_shapes(), seed + 1000)
    torch.manual_seed(seed)
    model = ref.VAE()
    model.load_state_dict(start)
    images, labels = reference.common().load_mnist(train=True)
    loader = DataLoader(TensorDataset(images, labels), batch_size=config.ELBO_BATCH_SIZE, shuffle=True)
    ref.train(model, loader, torch.optim.Adam(model.parameters(), lr=config.ELBO_LR), torch.device("cpu"))
    trained = model.state_dict()
    return [(name, reference.correlation(start[name], trained[name]), reference.correlation(unrelated[name], trained[name]))
            for name in sorted(start) if name.endswith(".weight")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    print(f"threshold ELBO_DESCENT_MIN_CORRELATION = {config.ELBO_DESCENT_MIN_CORRELATION}")
    for seed in args.seeds:
        for name, own, other in measure(seed):
            print(f"seed {seed}  {name:12} with its start {own:5.3f}   with an unrelated start {other:+.4f}")


if __name__ == "__main__":
    main()
