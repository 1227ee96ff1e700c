"""Hidden graders: the model's layers, encode and decode (values with the student's own weights)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from autograder import config
from autograder.grading import reference
from autograder.hidden.checks import check_shape, close, differs, fail, tensor

BATCH = config.MODEL_CHECK_ROWS


@pytest.mark.rubric("parameter_count")
def test_five_layers_hold_the_lecture_parameter_count(ask):
    answer = ask("parameters", {"seed": config.GRADER_SEEDS["parameters"]}, function="VAE.__init__")
    parameters = answer.info.get("parameters")
    if not isinstance(parameters, dict):
        fail("VAE() did not report its parameters.")
    trainable = 0
    for shape, requires_grad in parameters.values():
        if requires_grad:
            trainable += math.prod(int(n) for n in shape)
    expected = reference.parameter_count()
    if trainable != expected:
        fail(f"VAE() has {trainable:,} trainable parameters; the five layers of the lecture hold {expected:,}. "
             "Hint: keep __init__ as given: fc1 784->400, fc21 and fc22 400->20, fc3 20->400, fc4 400->784.")


def _weights(answer):
    try:
        return reference.model_with(answer.tensors, any_sizes=True)
    except reference.WeightsError as error:
        fail(f"{error}.")


def _encode(ask):
    x = reference.sample_images(BATCH)
    answer = ask("encode", {"seed": config.GRADER_SEEDS["encode"]}, {"x": x}, function="VAE.encode")
    if answer.info.get("length") != 2:
        fail(f"encode(x) should return a pair (mu, logvar), got {answer.info.get('returned')} "
             f"of length {answer.info.get('length', 'none')}.")
    mu, logvar = tensor(answer, "mu", "mu"), tensor(answer, "logvar", "logvar")
    latent = reference.dims()[2]
    check_shape(f"mu for x of shape ({BATCH}, 784)", mu, (BATCH, latent))
    check_shape(f"logvar for x of shape ({BATCH}, 784)", logvar, (BATCH, latent))
    model = _weights(answer)
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
        fail(f"{name} matches the lecture's only without the ReLU: apply F.relu to fc1(x) first.")
    if close(actual, found["expected"][other]):
        fail(f"{name} equals what the lecture computes for {other}: {name} = {head}(h1), "
             "each output has its own head (and mu comes first).")
    fail(f"{name} differs from the lecture's computation with your model's own weights (largest difference "
         f"{differs(actual, expected):.3g}). Expected h1 = relu(fc1(x)), {name} = {head}(h1).")


@pytest.mark.rubric("encode")
def test_encode_gives_mu_from_fc21_of_the_relu_hidden_layer(ask):
    _check_head(_encode(ask), "mu", "fc21")


@pytest.mark.rubric("encode")
def test_encode_gives_logvar_from_its_own_head_fc22(ask):
    _check_head(_encode(ask), "logvar", "fc22")


@pytest.mark.rubric("decode")
def test_decode_computes_pixel_probabilities_as_the_lecture_with_your_weights(ask):
    seed = config.GRADER_SEEDS["decode"]
    z = torch.randn(BATCH, reference.dims()[2], generator=torch.Generator().manual_seed(seed))
    answer = ask("decode", {"seed": seed}, {"z": z}, function="VAE.decode")
    recon = tensor(answer, "recon", "decode(z)")
    check_shape(f"decode(z) for z of shape ({BATCH}, 20)", recon, (BATCH, reference.dims()[0]))
    model = _weights(answer)
    with torch.no_grad():
        expected = model.decode(z)
        if close(recon, expected):
            return
        logits = model.fc4(F.relu(model.fc3(z)))
        if close(recon, logits) or close(recon, F.relu(logits)):
            fail("decode's output matches the lecture's before the sigmoid: finish with torch.sigmoid(fc4(h3)), "
                 "so that every pixel is a probability in (0, 1).")
        if close(recon, torch.sigmoid(model.fc4(model.fc3(z)))):
            fail("decode matches the lecture's only without the hidden ReLU: h3 = relu(fc3(z)).")
    fail(f"decode(z) differs from the lecture's computation with your model's own weights (largest difference "
         f"{differs(recon, expected):.3g}; yours range from {recon.min():.3g} to {recon.max():.3g}). "
         "Expected h3 = relu(fc3(z)), recon = sigmoid(fc4(h3)).")
