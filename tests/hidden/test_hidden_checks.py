"""The elbo check's evidence of one honest epoch, and the noise-distribution test, on their own
(fast: no sandbox; tests/grading/test_graders.py grades the corpus's attacks end to end)."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import config
from autograder.hidden import reference
from autograder.hidden.checks import (CheckFailed, train_one_epoch, adam_move_bound, check_one_epoch_of_work, descends_from,
                                      noise_shape, normal_ks_distance)
from autograder.sandbox.protocol import with_state_prefix

SAMPLES = (config.REPARAM_SAMPLES, 20)  # the reparameterize check's standardised noise


magnitudes = st.one_of(st.just(0.0), st.floats(1e-8, 1e8))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(magnitudes, st.booleans()), min_size=1, max_size=40),
       st.sampled_from([1e-3, 1e-2, 0.5]))
def test_no_gradient_sequence_moves_an_adam_weight_further_than_the_bound(gradients, lr):
    weight = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([weight], lr=lr, betas=config.ELBO_ADAM_BETAS)
    furthest = 0.0
    for magnitude, negative in gradients:
        weight.grad = torch.tensor([-magnitude if negative else magnitude], dtype=torch.float64)
        optimizer.step()
        furthest = max(furthest, abs(float(weight.detach())))
    assert furthest <= adam_move_bound(len(gradients), lr) * (1 + 1e-9)


def test_the_bound_is_nearly_reached_by_growing_gradients_and_exceeded_by_one_more_step():
    lr, steps = 1e-3, 200
    weight = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([weight], lr=lr, betas=config.ELBO_ADAM_BETAS)
    for t in range(steps):
        weight.grad = torch.tensor([1.05 ** t], dtype=torch.float64)  # the Cauchy-Schwarz worst case's shape
        optimizer.step()
    assert 0.8 * adam_move_bound(steps, lr) < abs(float(weight.detach())) <= adam_move_bound(steps, lr)
    assert abs(float(weight.detach())) > adam_move_bound(steps // 2, lr)  # half the steps could not have done it


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2 ** 31 - 1))
def test_standard_normal_noise_of_any_seed_passes_the_distribution_test(seed):
    eps = torch.randn(SAMPLES, generator=torch.Generator().manual_seed(seed))
    assert normal_ks_distance(eps) <= config.REPARAM_KS_LIMIT


@pytest.mark.parametrize("name, draw, words", [
    ("uniform", lambda g: (torch.rand(SAMPLES, generator=g) * 2 - 1) * 3 ** 0.5, "uniform"),
    ("+-1", lambda g: torch.randint(0, 2, SAMPLES, generator=g).double() * 2 - 1, "+-1"),
    ("laplace", lambda g: torch.distributions.Laplace(0.0, 0.5 ** 0.5).sample(SAMPLES), "Laplace"),
])
def test_unit_variance_noise_of_another_shape_fails_and_is_named(name, draw, words):
    torch.manual_seed(0)
    eps = draw(torch.Generator().manual_seed(0)).double()
    assert abs(float(eps.std()) - 1) < 0.02, name  # the spread check cannot tell
    assert normal_ks_distance(eps) > config.REPARAM_KS_LIMIT, name
    assert words in noise_shape(eps), name


def test_nan_noise_fails_the_distribution_test():
    eps = torch.randn(SAMPLES, dtype=torch.float64)
    eps[0, 0] = float("nan")
    assert not normal_ks_distance(eps) <= config.REPARAM_KS_LIMIT


EPOCH_STEPS = math.ceil(config.ELBO_TRAIN_IMAGES / config.ELBO_BATCH_SIZE)


@pytest.mark.parametrize("served, steps", [(60_000, EPOCH_STEPS), (60_000 + config.ELBO_BATCH_SIZE, EPOCH_STEPS),
                                           (0, 0)])
def test_one_epoch_of_work_passes(served, steps):
    check_one_epoch_of_work({"images_served": served, "optimizer_steps": steps})


@pytest.mark.parametrize("info", [{"images_served": 120_000, "optimizer_steps": 2 * EPOCH_STEPS},
                                  {"images_served": 60_000, "optimizer_steps": EPOCH_STEPS + 1},
                                  {"images_served": 60_000 + 2 * config.ELBO_BATCH_SIZE, "optimizer_steps": 0},
                                  {}, {"images_served": "60000", "optimizer_steps": EPOCH_STEPS}])
def test_more_than_one_epoch_of_work_or_no_count_fails(info):
    with pytest.raises(CheckFailed) as failed:
        check_one_epoch_of_work(info)
    assert failed.value.cause == "train.more_than_one_epoch"


def test_weights_hidden_beside_dead_units_do_not_descend_from_the_start():
    start = reference.random_weights(reference.expected_shapes(), 3)
    hiding = {name: value.clone() for name, value in start.items()}
    half = hiding["fc1.weight"].shape[0] // 2
    hiding["fc1.weight"][half:] = reference.random_weights(reference.expected_shapes(), 7)["fc1.weight"][half:]
    hiding["fc1.bias"][:half] = -1.4  # the grader's half: dead on every image
    everything = reference.correlation(start["fc1.weight"], hiding["fc1.weight"])
    assert everything >= config.ELBO_DESCENT_MIN_CORRELATION  # what the check saw before it judged live units
    layer, live = descends_from(start, with_state_prefix(hiding))
    assert layer == "fc1.weight" and not live >= config.ELBO_DESCENT_MIN_CORRELATION
    assert descends_from(start, with_state_prefix(start))[1] == pytest.approx(1.0)


def _asker(errors: list[str]):
    """A stand-in for the hidden tests' `ask`: fails with each error in turn, then answers."""
    asked = []

    def ask(op, header, tensors=None, **kwargs):
        asked.append(header)
        if len(asked) <= len(errors):
            raise CheckFailed(errors[len(asked) - 1], "unknown")
        return "answer"

    return ask, asked


def test_an_elbo_run_that_fails_on_a_device_mismatch_runs_once_more_on_the_cpu():
    """One mistake, one charge: the device checks charge it on every machine; the elbo is measured."""
    recorded = {}
    ask, asked = _asker(["train raised RuntimeError: Expected all tensors to be on the same device, cuda:0 and cpu"])
    answer, _ = train_one_epoch(ask, {"seed": 0}, {}, lambda name, value: recorded.update({name: value}))
    assert answer == "answer" and [h.get("device") for h in asked] == [None, "cpu"]
    assert "same device" in recorded["device_fallback"]


def test_an_elbo_run_that_fails_otherwise_fails_at_once_and_is_not_run_again():
    ask, asked = _asker(["train raised ValueError: too many values to unpack"])
    with pytest.raises(CheckFailed):
        train_one_epoch(ask, {"seed": 0}, {}, lambda name, value: None)
    assert len(asked) == 1
