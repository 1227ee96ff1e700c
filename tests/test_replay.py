"""The training-loop checks' replays (autograder/hidden/replay.py): which loop a probe run was."""
from __future__ import annotations

from autograder.grading import reference
from autograder.hidden.replay import replay, replayed_loop
from autograder.sandbox.probe import probe_loss

MISTAKES = ("fbs", "zfsb", "zfb", "fbzs")


def test_a_loop_without_zero_grad_is_judged_against_its_own_mean_loss():
    weights, mean = replay("fbs")
    assert replayed_loop({"loss_calls": 5}, weights, MISTAKES) == ("fbs", mean)
    assert mean != replay("zfbs")[1]


def test_a_correct_loop_that_computes_the_lectures_loss_inline_matches_the_lecture_replay():
    weights, mean = replay("zfbs", reference.module().loss_function)
    assert replayed_loop({"loss_calls": 0}, weights, MISTAKES) == ("zfbs", mean)
    # the same weights from a loop that called the probe's loss_function are no correct loop
    assert replayed_loop({"loss_calls": 5}, weights, MISTAKES)[0] is None


def test_a_probe_loss_loop_matches_only_with_the_probe_loss():
    weights, mean = replay("zfbs", probe_loss)
    assert replayed_loop({"loss_calls": 5}, weights, MISTAKES) == ("zfbs", mean)
    assert replayed_loop({"loss_calls": 0}, weights, MISTAKES)[0] is None
