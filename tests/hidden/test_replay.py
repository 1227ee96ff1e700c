"""The training-loop checks' replays (autograder/hidden/replay.py): which loop a probe run was."""
from __future__ import annotations

from autograder.hidden import reference
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


def test_a_loop_that_calls_encode_reparameterize_and_decode_itself_trains_the_probe_like_forward():
    """A correct train() may spell the forward pass out (model.encode, .reparameterize, .decode):
    the probe has those methods, and the loop gives the weights of the correct replay."""
    import torch

    from autograder.sandbox.probe import LR, ProbeModel, probe_loader

    model = ProbeModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    for x, _ in probe_loader():
        optimizer.zero_grad()
        mu, logvar = model.encode(x.view(-1, 784))
        recon = model.decode(model.reparameterize(mu, logvar))
        probe_loss(recon, x, mu, logvar).backward()
        optimizer.step()
    weights = {name: p.detach() for name, p in model.named_parameters()}
    assert replayed_loop({"loss_calls": 5}, weights, MISTAKES)[0] == "zfbs"
