"""Hidden graders: train() on a deterministic probe, then a real epoch judged by its test ELBO."""
from __future__ import annotations

import functools
import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from autograder import config
from autograder.sandbox import probe
from autograder.sandbox.protocol import (MODE_MATTERS, SEED, TRAIN_PROBE, Device, ModeMatters, TrainElbo, TrainProbe,
                                         WeightsRejected, state_in)
from autograder.grading import causes, results
from autograder.hidden import pictures, reference
from autograder.hidden.checks import (CheckFailed, after_own_checks, check_device, train_one_epoch, adam_move_bound,
                                      check_one_epoch_of_work, descends_from, elbo_training, epoch_steps, fail)
from autograder.hidden.replay import loss_used, replay, replay_batches, replayed_loop

# Common mistakes, replayed on the probe to name them: letters as in replay().
MISTAKES = {
    "fbs": "gradients pile up from batch to batch: call optimizer.zero_grad() in every step",
    "zfsb": "the parameters never changed: optimizer.step() must come after loss.backward()",
    "zfb": "the parameters never changed: call optimizer.step() after loss.backward()",
    "fbzs": "the parameters never changed: zero_grad() between backward() and step() erases the gradients",
}


# Their cause codes: the three loops that never move a weight leave the same weights, so one code.
CAUSES_OF = {"fbs": "train.no_zero_grad", "zfsb": "train.no_update", "zfb": "train.no_update", "fbzs": "train.no_update"}


INLINE_NOTE = ("train() does not call loss_function: fine here, since its loss is the lecture's, but "
               "calling loss_function(recon, x, mu, logvar) keeps one definition of the loss to fix and test.")


EVAL_MODE_NOTE = ("train() trained the model in evaluation mode, as it was handed over (evaluate() leaves it so): "
                  "no harm to your model, which computes the same in both modes, but put it in training mode at the "
                  "start of train() (nn.Module's train method) before you add dropout or a mode-dependent layer.")


@functools.lru_cache(maxsize=2)  # once per grading (ask is the grading's): three checks read it
def _probe_run(ask) -> tuple[dict, dict[str, torch.Tensor]]:
    # The grader replays the correct loop while the worker runs train() (the wait frees a core).
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(replay, "zfbs")
        answer = ask(TRAIN_PROBE, {SEED: config.GRADER_SEEDS["train_probe"]}, function="train")
    info = dict(answer.info)
    if isinstance(info.get(TrainProbe.STEPS), dict) and info[TrainProbe.STEPS].get(TrainProbe.IN_EVAL_MODE):
        info[ModeMatters.MODE_MATTERS] = _mode_matters(ask)
    return info, state_in(answer.tensors)


def _mode_matters(ask) -> bool | None:
    """Whether the submission's VAE computes something else in evaluation mode (None: its forward
    cannot tell; its own checks say why), asked only of a train() that stepped in evaluation mode."""
    try:
        answer = ask(MODE_MATTERS, {SEED: config.GRADER_SEEDS["train_probe"]}, function="VAE.forward",
                     uses=("VAE.encode", "VAE.reparameterize", "VAE.decode"))
    except CheckFailed:
        return None
    return answer.info.get(ModeMatters.MODE_MATTERS)


# Loops the grader cannot replay (another optimizer, other data): their returned value is not judged.
UNREPLAYABLE = ("train.ignores_loader", "train.own_optimizer")


def _loop_signature(info: dict) -> tuple[str, str] | None:
    """A loop mistake the worker's counts show (the message, its cause), whatever the weights say: the
    examples the given loader served, the steps of the given optimizer (in training mode or not) and
    of any other, and whether the given optimizer's learning rate is still the grader's."""
    steps, served = info.get(TrainProbe.STEPS), info.get(TrainProbe.EXAMPLES_SERVED)
    if not isinstance(steps, dict) or not isinstance(served, int):
        return None  # an older worker's answer, or a forged one: the weights alone judge
    batches, examples = len(probe.probe_loader()), probe.EXAMPLES
    if served == 0:
        return (f"train() never drew a batch from the loader it was given ({examples} examples in {batches} batches): "
                "it trained on other data (another split, or a loader of its own). Hint: loop over the `loader` "
                "argument; main() decides which split train() sees.", "train.ignores_loader")
    if steps.get(TrainProbe.OTHER):
        return (f"train() stepped an optimizer of its own ({steps[TrainProbe.OTHER]} steps) instead of the one it was "
                "given. Hint: use the `optimizer` argument: the caller chose its kind and learning rate.",
                "train.own_optimizer")
    if info.get(TrainProbe.LR_KEPT) is False:
        return ("train() changed the learning rate of the optimizer it was given. Hint: leave the optimizer's "
                "settings to the caller, who chose them.", "train.own_optimizer")
    if steps.get(TrainProbe.GIVEN) == 1 and batches > 1:
        return (f"train() took one optimizer step for the whole epoch of {batches} batches: the batches' losses were "
                "added up and backpropagated once. Hint: one step per batch, inside the loop (zero the gradients, "
                "forward, loss, backward, step).", "train.one_step_per_epoch")
    in_eval_mode = steps.get(TrainProbe.IN_EVAL_MODE)
    if in_eval_mode and info.get(ModeMatters.MODE_MATTERS):
        return (f"{in_eval_mode} of train()'s optimizer steps ran with the model in evaluation mode (the "
                "grader handed it over in evaluation mode, as evaluate() leaves it). Hint: put the model in training "
                "mode at the start of train() (nn.Module's train method): your model computes something else in "
                "evaluation mode (a reparameterize that samples only in training, or dropout), so this trains "
                "another model than the lecture's.", "train.eval_mode")
    return None


@pytest.mark.rubric("training_loop")
def test_train_zeroes_backpropagates_and_steps_every_batch(ask, note):
    info, weights = _probe_run(ask)
    inline = info.get(TrainProbe.LOSS_CALLS, 0) == 0
    order, _ = replayed_loop(info, weights, MISTAKES)
    if order is not None and order != "zfbs":
        fail(f"After one epoch on a small test model, the weights show that {MISTAKES[order]}.", CAUSES_OF[order])
    signature = _loop_signature(info)
    if signature is not None:
        fail(*signature)
    if order == "zfbs":
        if inline:
            note(INLINE_NOTE)
        if info.get(TrainProbe.STEPS, {}).get(TrainProbe.IN_EVAL_MODE):
            note(EVAL_MODE_NOTE)
        return
    if inline:
        fail("train() never called loss_function, and after one epoch on a small test model its weights differ "
             "from those of a correct loop computing the lecture's loss (BCE + KL, summed): compute each "
             "batch's loss with loss_function(recon, x, mu, logvar).", causes.UNKNOWN)
    fail("After one epoch on a small test model, the weights differ from those of a correct loop "
         "(for each batch: optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step()).", causes.UNKNOWN)


@pytest.mark.rubric("training_loop")
def test_train_returns_the_mean_loss_per_example(ask):
    info, weights = _probe_run(ask)
    value = info.get(TrainProbe.VALUE)
    if not isinstance(value, (int, float)):
        fail(f"train() should return a float, got {info.get(TrainProbe.RETURNED)}. Hint: accumulate loss.item().",
             "train.returns_not_float")
    # Judged against the loop the student wrote (a mistake in it is the other check's to charge).
    _, expected = replayed_loop(info, weights, MISTAKES)
    signature = _loop_signature(info)
    if signature is not None and signature[1] in UNREPLAYABLE:
        fail(f"train()'s returned value is checked once train() trains with what it is given: {signature[0]}",
             signature[1])
    if signature is not None and signature[1] == "train.one_step_per_epoch":
        expected = replay("zfb", loss_used(info))[1]  # every batch's loss at the weights it started with
    if abs(value - expected) <= config.PROBE_LOSS_RTOL * abs(expected):
        return
    loader = probe.probe_loader()
    batches, examples = len(loader), len(loader.dataset)
    if abs(value * batches / examples - expected) <= config.PROBE_PER_BATCH_RTOL * abs(expected):
        fail(f"train() returned the mean loss per batch; return total_loss / len(loader.dataset) "
             f"({examples} examples), not / len(loader) ({batches} batches).", "train.mean_per_batch")
    order, _ = replayed_loop(info, weights, MISTAKES)
    last, size = replay_batches(order or "zfbs", loss_used(info))[1][-1]
    if any(abs(value - candidate) <= config.PROBE_LOSS_RTOL * abs(candidate) for candidate in (last, last / size)):
        fail(f"train() returned the last batch's loss, not the epoch's: add up loss.item() over every batch and "
             f"return the total / len(loader.dataset) ({examples} examples).", "train.returns_last_batch")
    fail(f"train() returned {value:.4g}; replaying your loop on the same small test model gives a different mean "
         f"loss per example. Return the sum of loss.item() over all batches divided by len(loader.dataset).",
         causes.UNKNOWN)


@pytest.mark.rubric("training_loop")
def test_train_moves_each_batch_to_the_device_it_is_given(ask, meta_runs):
    after_own_checks("train", lambda: test_train_zeroes_backpropagates_and_steps_every_batch(ask, lambda _: None))
    check_device(meta_runs(Device.TRAIN), Device.TRAIN, "train",
                 "Hint: the grader put the model on the `device` argument and the loader's batches on the CPU, as "
                 "a GPU run does: move each batch to `device` before the forward pass (the docstring's first step), "
                 "and leave the model where it was put.", "device.batch_not_moved")


def _check_moves(initial: dict[str, torch.Tensor], trained: dict[str, torch.Tensor]) -> None:
    """No weight further from its start than one epoch of the grader's Adam can move it."""
    bound = adam_move_bound(epoch_steps(), config.ELBO_LR)
    trained = state_in(trained)
    for name, before in initial.items():
        after = trained.get(name)
        move = float((after.double() - before.double()).abs().max()) if after is not None else float("nan")
        if not move <= bound * (1 + config.RTOL):  # written so that NaN fails
            fail(f"After your train(), `{name}` holds a weight {move:.3g} away from where the grader started it; "
                 f"{epoch_steps()} steps of Adam with lr {config.ELBO_LR} move no weight further than "
                 f"{bound:.3g}, whatever the gradients. train() must train the model it is given with the "
                 "optimizer it is given: not load weights, add to them, or change the optimizer's settings.",
                 "train.reinitialises_model")


def _check_time(call_seconds: float, evaluation_seconds: float, record) -> None:
    """The grader's own clock: the training call against its evaluation of the test ELBO just after."""
    ratio = call_seconds / max(evaluation_seconds, 1e-3)
    record("epoch_time_ratio", ratio)
    if not ratio <= config.ELBO_MAX_TIME_RATIO:
        fail(f"Your train() took {call_seconds:.0f} s for one epoch, {ratio:.0f} times what the grader took to "
             f"evaluate the test set just after; one epoch's work takes at most about "
             f"{config.ELBO_MAX_TIME_RATIO:.0f} times as long. Hint: one call of train() is one pass over the "
             "loader it is given; no extra passes, no loop of your own.", "train.more_than_one_epoch")


@pytest.mark.rubric("elbo")
def test_one_epoch_of_your_training_reaches_a_good_test_elbo(ask, sandbox, picture, record, weights_seed):
    try:
        _judge_one_epoch(ask, sandbox, picture, record, weights_seed)
    except CheckFailed as failure:
        mistake = _loop_mistake(ask)
        if mistake is None or failure.cause == mistake[1]:
            raise
        fail(f"{failure.msg}\nThe training_loop checks found why: {mistake[0]}", mistake[1])


def _loop_mistake(ask) -> tuple[str, str] | None:
    """The mistake in train()'s loop that the probe named (the message, its cause), if any: where
    the elbo epoch fails too, it fails for that reason, and is charged with the same cause."""
    try:
        info, weights = _probe_run(ask)
    except CheckFailed:
        return None
    order, _ = replayed_loop(info, weights, MISTAKES)
    if order is not None and order != "zfbs":
        return f"after one epoch on a small test model, the weights show that {MISTAKES[order]}.", CAUSES_OF[order]
    return _loop_signature(info)


def _judge_one_epoch(ask, sandbox, picture, record, weights_seed) -> None:
    header, initial = elbo_training(config.ELBO_SEED, weights_seed)
    answer, call_seconds = train_one_epoch(ask, header, initial, record)
    record(results.EPOCH_SECONDS, answer.info.get(TrainElbo.EPOCH_SECONDS))
    record(results.TRAIN_DEVICE, answer.info.get(TrainElbo.DEVICE))
    record("weights_seed", weights_seed)
    check_one_epoch_of_work(answer.info)
    try:
        model_state = answer.tensors
        began = time.monotonic()
        value = reference.negative_elbo(model_state, config.ELBO_EVAL_SEED, threads=sandbox.threads)
        evaluation_seconds = time.monotonic() - began
    except WeightsRejected as error:
        fail(f"{error}.", "model.layers_changed")
    record(results.TEST_NEGATIVE_ELBO, value)
    drawn = pictures.draw(reference.model_with(model_state))
    picture(drawn, value)  # the grading writes feedback.png from it
    if not value < config.ELBO_THRESHOLD:  # written so that NaN fails
        diagnosis, cause = _diagnose(ask, model_state, drawn, record)
        fail(f"{diagnosis} After {config.ELBO_EPOCHS} epoch of your train() (batch {config.ELBO_BATCH_SIZE}, Adam, lr "
             f"{config.ELBO_LR}), the grader measured a test loss (negative ELBO) of {value:.1f} nats per image; "
             f"at most {config.ELBO_THRESHOLD:.0f} earns the points (correct code reaches about "
             f"{config.FEEDBACK_REFERENCE['test_loss']:.0f}). Hint: check the loss (summed, both terms), the "
             "reparameterization, and the loop.", cause)
    # The test ELBO is good: was it earned by one epoch of training the grader's weights?
    _check_time(call_seconds, evaluation_seconds, record)
    initial = state_in(initial)
    _check_moves(initial, model_state)
    layer, similarity = descends_from(initial, model_state)
    record("descent_correlation", similarity)
    if not similarity >= config.ELBO_DESCENT_MIN_CORRELATION:
        fail(f"The grader loaded random weights of its own into your model before training; after your train() "
             f"the weights no longer come from them ({layer} correlates {similarity:.2f} with where it started, "
             f"over the hidden units your model uses, where one real epoch keeps at least "
             f"{config.ELBO_DESCENT_MIN_CORRELATION}). train() must train the model it is given, not load, rebuild "
             "or re-initialise one, or hide other weights beside it.", "train.reinitialises_model")


def _diagnose(ask, state: dict[str, torch.Tensor], drawn: pictures.Drawn, record) -> tuple[str, str]:
    """What the trained model's failure usually means, from measured evidence (a loss term no gradient
    flows from, then the test ELBO's two parts), then what feedback.png shows, in words and numbers:
    a student on Gradescope or reading the commit comment never sees the picture."""
    from autograder.hidden.test_loss import cut_terms, kl_term_right

    seen = pictures.measure(drawn)
    record("picture", vars(seen))
    ref, alike, count = config.FEEDBACK_REFERENCE, config.FEEDBACK_ALIKE_BELOW, config.FEEDBACK_MEASURED
    if seen.finite():
        recon = (f"reconstructions that differ from their test images by {seen.recon_error:.3f} per pixel on average "
                 f"(the reference's: {ref['recon_error']:.3f})")
        if seen.recon_spread < alike * seen.image_spread:
            recon += (f", nearly all the same picture whatever the input (they vary by {seen.recon_spread:.3f} from "
                      f"one to another, the test images by {seen.image_spread:.3f})")
        samples = (f"samples from the prior that vary by {seen.sample_spread:.3f} from one to another (the "
                   f"reference's: {ref['sample_spread']:.3f})"
                   + (": nearly identical pictures" if seen.sample_spread < alike * seen.image_spread else "")
                   + f", with a mean grey level of {seen.sample_mean:.3f} (the reference's: {ref['sample_mean']:.3f}, "
                   f"the test images' {seen.image_mean:.3f}) and {seen.sample_grey:.0%} of their pixels grey, neither "
                   f"dark nor bright (the reference's: {ref['sample_grey']:.0%}, the test images' "
                   f"{seen.image_grey:.0%})")
        picture = (f"What your trained model draws, measured on {count} test images and {count} samples from the "
                   "prior (grey levels from 0, black, to 1, white; the reference: the course's solution, trained the "
                   f"same way): {recon}; {samples}.")
    else:
        picture = "Your trained model draws nothing: its reconstructions and samples are not numbers (NaN)."

    try:
        cut = cut_terms(ask)
    except CheckFailed:  # loss_function cannot be asked (the loss checks say why): judge by the parts alone
        cut = {}
    if cut:
        names = " and ".join(cut)
        return (f"Your loss_function's {names} term has the right value but no gradient (.item() or .detach() "
                f"on it), so this training ignored it: keep every term a tensor. {picture}", next(iter(cut.values())))
    bce, kl = reference.elbo_parts(state, config.ELBO_EVAL_SEED)
    record("test_bce", bce)
    record("test_kl", kl)
    nats = lambda value: f"{value:.1f}" if abs(value) < 1e5 else f"{value:.2g}"  # noqa: E731  (a diverged KL: 6e+25)
    parts = f"(reconstruction {nats(bce)} + KL {nats(kl)} nats per image)"
    if not math.isfinite(bce + kl):
        return (f"Training made the weights NaN or infinite {parts}; usually a loss that can grow without bound (a "
                f"sign, a log of 0) or an exploding step. {picture}", "elbo.diverged")
    if not kl <= config.ELBO_KL_HUGE_ABOVE and not kl_term_right(ask):
        return (f"The KL is huge {parts}: the KL term is too weak or its sign is flipped, so the encoder strays "
                f"far from the prior and samples from the prior look unlike the reconstructions. {picture}",
                "elbo.kl_exploded")
    if not bce < config.ELBO_NOTHING_LEARNT_BCE:
        return (f"The reconstructions are no better than a model that learnt nothing {parts}; usually the weights "
                "barely moved (zero_grad, backward, step), or encode, decode or the loss compute something other "
                f"than the lecture's (the other checks say which). {picture}", "elbo.nothing_learnt")
    if kl < config.ELBO_COLLAPSE_KL_BELOW:
        return (f"The posterior collapsed onto the prior {parts}: the KL term dominates, so the code z carries "
                f"little of the image; usually the reconstruction term is averaged instead of summed. {picture}",
                "elbo.posterior_collapse")
    return (f"Your model learnt, but not enough in one epoch {parts}. {picture}", "elbo.too_high")
