"""`make descent`: how far one real epoch moves the weights, for the elbo check's descent tests.

    python -m autograder.evidence.descent [--seeds 0 1]

For each training seed: start the reference from the weights the grader would choose
(reference.random_weights, seeded), train one epoch as the elbo check does, then print each
weight matrix's correlation with its start and with an unrelated start (what weights trained
elsewhere would show: config.ELBO_DESCENT_MIN_CORRELATION must sit well between the two), how
far the furthest weight of each tensor moved against what Adam's steps allow
(checks.adam_move_bound), the silent hidden units after it and the correlations over the live
units' weights alone (checks.live_units), and
the epoch's time against the grader's own test-ELBO evaluation (config.ELBO_MAX_TIME_RATIO).
"""
from __future__ import annotations

import argparse
import math
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from autograder import config
from autograder.hidden import reference
from autograder.hidden.checks import adam_move_bound, live_entries, live_units


def measure(seed: int) -> dict:
    ref = reference.module()
    start = reference.random_weights(reference.expected_shapes(), seed)
    unrelated = reference.random_weights(reference.expected_shapes(), seed + 1000)
    torch.manual_seed(seed)
    model = ref.VAE()
    model.load_state_dict(start)
    images, labels = reference.common().load_mnist(train=True)
    loader = DataLoader(TensorDataset(images, labels), batch_size=config.ELBO_BATCH_SIZE, shuffle=True)
    began = time.perf_counter()
    ref.train(model, loader, torch.optim.Adam(model.parameters(), lr=config.ELBO_LR), torch.device("cpu"))
    epoch = time.perf_counter() - began
    trained = model.state_dict()
    prefixed = {f"state.{name}": value for name, value in trained.items()}
    began = time.perf_counter()
    reference.negative_elbo(prefixed, config.ELBO_EVAL_SEED)
    evaluation = time.perf_counter() - began
    test = reference.test_images()
    live = live_units(prefixed, test)
    return {
        "correlations": [(name, reference.correlation(start[name], trained[name]),
                          reference.correlation(unrelated[name], trained[name]))
                         for name in sorted(start) if name.endswith(".weight")],
        "live_correlations": [(name, reference.correlation(live_entries(name, start[name], live),
                                                           live_entries(name, trained[name], live)))
                              for name in sorted(start) if name.endswith(".weight")],
        "moves": {name: float((trained[name] - start[name]).abs().max()) for name in sorted(start)},
        "bound": adam_move_bound(math.ceil(len(images) / config.ELBO_BATCH_SIZE), config.ELBO_LR),
        "silent": [(layer, int((~mask).sum()), len(mask)) for layer, mask in live.items()],
        "seconds": (epoch, evaluation),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    print(f"threshold ELBO_DESCENT_MIN_CORRELATION = {config.ELBO_DESCENT_MIN_CORRELATION}")
    for seed in args.seeds:
        found = measure(seed)
        for name, own, other in found["correlations"]:
            print(f"seed {seed}  {name:12} with its start {own:5.3f}   with an unrelated start {other:+.4f}")
        print(f"seed {seed}  furthest move {max(found['moves'].values()):.4f} (Adam's bound {found['bound']:.4f}): "
              + ", ".join(f"{name} {move:.3f}" for name, move in found["moves"].items()))
        print(f"seed {seed}  silent units after the epoch: " + ", ".join(f"{layer} {count} of {units}"
                                                                      for layer, count, units in found["silent"]))
        print(f"seed {seed}  correlation with the start over live units' weights: "
              + ", ".join(f"{name} {value:.3f}" for name, value in found["live_correlations"]))
        epoch, evaluation = found["seconds"]
        print(f"seed {seed}  epoch {epoch:.2f} s, test-ELBO evaluation {evaluation:.3f} s: ratio {epoch / evaluation:.1f}")


if __name__ == "__main__":
    main()
