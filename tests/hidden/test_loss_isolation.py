"""The hidden loss checks judge each term on its own (issue 17 §2): a mistake in one term, however
large the value it makes, costs no point of the other term's checks.

loss_function runs here through the worker's own loss operation (no sandbox: the code is ours),
so the checks read exactly what a grading gives them.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from autograder.hidden.checks import CheckFailed

from in_process import asking


def _kl(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def _flat(x):
    return x.reshape(len(x), -1)


def _bce(recon, x):
    return F.binary_cross_entropy(recon, _flat(x), reduction="sum")


# Whole losses, each with one term wrong in a way that makes the other term's totals large or strange.
SWAPPED = lambda r, x, mu, lv: F.binary_cross_entropy(_flat(x), r, reduction="sum") + _kl(mu, lv)  # noqa: E731
SWAPPED_BY_HAND = lambda r, x, mu, lv: -torch.sum(r * torch.log(_flat(x)) + (1 - r) * torch.log(1 - _flat(x))) \
    + _kl(mu, lv)  # noqa: E731  (log(0) of a black pixel: infinite on images)
BCE_AVERAGED = lambda r, x, mu, lv: F.binary_cross_entropy(r, _flat(x)) + _kl(mu, lv)  # noqa: E731
KL_AVERAGED = lambda r, x, mu, lv: _bce(r, x) + _kl(mu, lv) / len(mu)  # noqa: E731
KL_HUGE_WRONG = lambda r, x, mu, lv: _bce(r, x) + 1e6 * _kl(mu, lv)  # noqa: E731  (totals of 7e7)

BCE_CHECKS = ("test_bce_term_is_summed_over_pixels_and_batch", "test_bce_term_takes_images_as_train_passes_them")
KL_CHECKS = ("test_kl_term_matches_the_closed_form",
             "test_kl_term_is_zero_at_the_prior_and_grows_with_each_of_mean_and_variance")


@pytest.fixture
def test_loss(pytestconfig):
    """autograder/hidden/test_loss.py, whose checks carry the hidden graders' `rubric` marker."""
    pytestconfig.addinivalue_line("markers", "rubric(tag): the hidden graders' rubric tag")
    from autograder.hidden import test_loss

    return test_loss


def passed(module, ask, checks) -> list[bool]:
    outcomes = []
    for check in checks:
        try:
            getattr(module, check)(ask)
        except CheckFailed:
            outcomes.append(False)
        else:
            outcomes.append(True)
    return outcomes


@pytest.mark.parametrize("loss", [SWAPPED, SWAPPED_BY_HAND, BCE_AVERAGED], ids=["swapped", "by_hand", "averaged"])
def test_a_wrong_reconstruction_term_costs_no_kl_point(loss, test_loss):
    ask = asking(loss)
    assert passed(test_loss, ask, KL_CHECKS) == [True, True]
    assert passed(test_loss, ask, BCE_CHECKS) == [False, False]


@pytest.mark.parametrize("loss", [KL_AVERAGED, KL_HUGE_WRONG], ids=["averaged", "huge"])
def test_a_wrong_kl_term_costs_no_reconstruction_point(loss, test_loss):
    ask = asking(loss)
    assert passed(test_loss, ask, BCE_CHECKS) == [True, True]
    assert passed(test_loss, ask, KL_CHECKS) == [False, False]


def test_the_kl_cases_bce_part_is_the_same_whichever_way_round_its_arguments_go(test_loss):
    """recon itself as x, strictly inside (0, 1): with images as x, the swapped BCE made totals of 1.3e5."""
    inputs = test_loss._inputs()
    recon, x = inputs["kl_all.recon"], inputs["kl_all.x"]
    assert torch.equal(recon, x) and 0 < float(recon.min()) and float(recon.max()) < 1
    assert float(F.binary_cross_entropy(recon, x, reduction="sum")) == \
        float(F.binary_cross_entropy(x, recon, reduction="sum"))


def test_the_right_loss_passes_all_four_checks(test_loss):
    ask = asking(lambda r, x, mu, lv: _bce(r, x) + _kl(mu, lv))
    assert passed(test_loss, ask, BCE_CHECKS + KL_CHECKS) == [True] * 4
