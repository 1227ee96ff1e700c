"""Hidden graders: the model's layers, encode and decode (values with weights the grader chose)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from autograder import config
from autograder.grading import causes
from autograder.hidden import reference
from autograder.hidden.checks import after_own_checks, check_device, check_shape, close, differs, fail, tensor
from autograder.sandbox.protocol import (DECODE, ENCODE, PARAMETERS, SEED, Decode, Device, Encode, Parameters,
                                         WeightsRejected, with_state_prefix)

BATCH = config.MODEL_CHECK_ROWS


@pytest.mark.rubric("parameter_count")
def test_five_layers_hold_the_lecture_parameter_count(ask):
    answer = ask(PARAMETERS, {SEED: config.GRADER_SEEDS["parameters"]}, function="VAE.__init__")
    parameters = answer.info.get(Parameters.PARAMETERS)
    if not isinstance(parameters, dict):
        fail("VAE() did not report its parameters.", causes.INTERNAL)
    trainable = 0
    for shape, requires_grad in parameters.values():
        if requires_grad:
            trainable += math.prod(int(n) for n in shape)
    expected = reference.parameter_count()
    if trainable != expected:
        fail(f"VAE() has {trainable:,} trainable parameters; the five layers of the lecture hold {expected:,}. "
             "Hint: keep __init__ as given: fc1 784->400, fc21 and fc22 400->20, fc3 20->400, fc4 400->784.",
             "model.parameter_count")


@pytest.fixture(scope="module")
def chosen_weights(ask, weights_seed: int) -> dict[str, torch.Tensor]:
    """Weights the grader picks for this grading, in the layer sizes the submission declares.

    encode and decode are checked with these loaded into the submission's model, never with
    weights the submission reports: its own __init__ cannot make a wrong formula look right.
    A changed layer size still gets weights (it costs parameter_count and elbo, not these).
    """
    answer = ask(PARAMETERS, {SEED: config.GRADER_SEEDS["parameters"]}, function="VAE.__init__")
    declared = answer.info.get(Parameters.PARAMETERS)
    if not isinstance(declared, dict):
        fail("VAE() did not report its parameters.", causes.INTERNAL)
    shapes = {}
    for name in reference.expected_shapes():
        try:
            shape = tuple(int(n) for n in declared[name][0])
        except (KeyError, TypeError, ValueError, IndexError):
            fail(f"Your VAE has no `{name}`: keep the five layers of __init__ as given (fc1, fc21, fc22, fc3, fc4).",
                 "model.layers_changed")
        if not shape or min(shape) <= 0 or math.prod(shape) > config.MAX_LAYER_ENTRIES:
            fail(f"`{name}` has shape {shape}: keep the layer sizes of __init__ as given.", "model.layers_changed")
        shapes[name] = shape
    return reference.random_weights(shapes, weights_seed)


def _reference_with(weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    try:
        return reference.model_with(with_state_prefix(weights), any_sizes=True)
    except WeightsRejected as error:
        fail(f"{error}.", "model.layers_changed")


@pytest.fixture(scope="module")
def encoded(ask, chosen_weights: dict[str, torch.Tensor]) -> dict:
    """encode's answer and the lecture's, computed once for both encode checks."""
    weights = chosen_weights
    x = reference.sample_images(BATCH)
    answer = ask(ENCODE, {SEED: config.GRADER_SEEDS["encode"]}, {Encode.X: x, **with_state_prefix(weights)},
                 function="VAE.encode")
    if answer.info.get(Encode.LENGTH) != 2:
        fail(f"encode(x) should return a pair (mu, logvar), got {answer.info.get(Encode.RETURNED)} "
             f"of length {answer.info.get(Encode.LENGTH, 'none')}.", "encode.not_a_pair")
    mu, logvar = tensor(answer, Encode.MU, "mu"), tensor(answer, Encode.LOGVAR, "logvar")
    latent = weights["fc21.weight"].shape[0]  # the submission's own latent size: a changed one costs parameter_count
    check_shape(f"mu for x of shape {tuple(x.shape)}", mu, (BATCH, latent))
    check_shape(f"logvar for x of shape {tuple(x.shape)}", logvar, (BATCH, latent))
    model = _reference_with(weights)
    with torch.no_grad():
        linear = model.fc1(x)  # the hidden layer before its ReLU
        expected = model.encode(x)
        return {"mu": mu, "logvar": logvar, "expected": dict(zip(("mu", "logvar"), expected)),
                "without_relu": {"mu": model.fc21(linear), "logvar": model.fc22(linear)}}


def _check_head(found: dict, name: str, head: str) -> None:
    actual, expected = found[name], found["expected"][name]
    if close(actual, expected):
        return
    other = "logvar" if name == "mu" else "mu"
    if close(actual, found["without_relu"][name]):
        fail(f"{name} matches the lecture's only without the ReLU: apply F.relu to fc1(x) first.", "encode.no_relu")
    if close(actual, found["expected"][other]):
        fail(f"{name} equals what the lecture computes for {other}: {name} = {head}(h1), "
             "each output has its own head (and mu comes first).", "encode.heads_mixed")
    fail(f"{name} differs from the lecture's computation with the grader's weights in your model (largest difference "
         f"{differs(actual, expected):.3g}). Expected h1 = relu(fc1(x)), {name} = {head}(h1).", causes.UNKNOWN)


@pytest.mark.rubric("encode")
def test_encode_gives_mu_from_fc21_of_the_relu_hidden_layer(encoded):
    _check_head(encoded, "mu", "fc21")


@pytest.mark.rubric("encode")
def test_encode_gives_logvar_from_its_own_head_fc22(encoded):
    _check_head(encoded, "logvar", "fc22")


@pytest.mark.rubric("encode")
def test_encode_runs_on_the_device_of_its_input(encoded, meta_runs):
    after_own_checks("encode", lambda: _check_head(encoded, "mu", "fc21"), lambda: _check_head(encoded, "logvar", "fc22"))
    check_device(meta_runs(Device.ENCODE), Device.ENCODE, "encode",
                 NEW_TENSOR_HINT.format(function="encode", input="x"),
                 "device.encode_on_cpu")


# What a device check of encode or decode says: a tensor made without device= stays on the CPU.
NEW_TENSOR_HINT = ("Hint: a tensor that {function} makes itself (zeros, ones, noise, a torch.tensor of constants) "
                   "is made on the CPU unless told otherwise; make it like the input ({input}.new_zeros, "
                   "torch.zeros_like) or with device={input}.device, or compute with the layers alone as the "
                   "docstring's formula does.")


@pytest.mark.rubric("decode")
def test_decode_computes_pixel_probabilities_as_the_lecture_with_the_graders_weights(ask, chosen_weights):
    _check_decode(ask, chosen_weights)


@pytest.mark.rubric("decode")
def test_decode_runs_on_the_device_of_its_input(ask, chosen_weights, meta_runs):
    after_own_checks("decode", lambda: _check_decode(ask, chosen_weights))
    check_device(meta_runs(Device.DECODE), Device.DECODE, "decode",
                 NEW_TENSOR_HINT.format(function="decode", input="z"),
                 "device.decode_on_cpu")


def _check_decode(ask, chosen_weights: dict[str, torch.Tensor]) -> None:
    weights, seed = chosen_weights, config.GRADER_SEEDS["decode"]
    latent = weights["fc3.weight"].shape[1]  # the submission's own latent size: a changed one costs parameter_count
    z = torch.randn(BATCH, latent, generator=torch.Generator().manual_seed(seed))
    answer = ask(DECODE, {SEED: seed}, {Decode.Z: z, **with_state_prefix(weights)}, function="VAE.decode")
    recon = tensor(answer, Decode.RECON, "decode(z)")
    check_shape(f"decode(z) for z of shape ({BATCH}, {latent})", recon, (BATCH, reference.dims()[0]))
    model = _reference_with(weights)
    with torch.no_grad():
        expected = model.decode(z)
        if close(recon, expected):
            return
        logits = model.fc4(F.relu(model.fc3(z)))
        if close(recon, logits) or close(recon, F.relu(logits)):
            fail("decode's output matches the lecture's before the sigmoid: finish with the sigmoid of fc4's output "
                 "(the lecture's Bernoulli means), so that every pixel is a probability in (0, 1).",
                 "decode.no_sigmoid")
        if close(recon, torch.sigmoid(model.fc4(model.fc3(z)))):
            fail("decode matches the lecture's only without the hidden ReLU: h3 = relu(fc3(z)).", "decode.no_hidden_relu")
    fail(f"decode(z) differs from the lecture's computation with the grader's weights in your model (largest difference "
         f"{differs(recon, expected):.3g}; yours range from {recon.min():.3g} to {recon.max():.3g}). "
         "Expected h3 = relu(fc3(z)), recon = sigmoid(fc4(h3)).", causes.UNKNOWN)
