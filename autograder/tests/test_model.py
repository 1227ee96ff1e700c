"""Hidden graders: the model's layers, encode and decode (values with the student's own weights)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from autograder import reference
from autograder.checks import check_shape, close, differs, fail, tensor

BATCH = 16


@pytest.mark.rubric("parameter_count")
def test_five_layers_hold_the_lecture_parameter_count(ask):
    answer = ask("parameters", {"seed": 0}, function="VAE.__init__")
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
        return reference.model_with(answer.tensors)
    except reference.WeightsError as error:
        fail(f"{error}.")


def _encode(ask):
    x = reference.sample_images(BATCH)
    answer = ask("encode", {"seed": 1}, {"x": x}, function="VAE.encode")
    if answer.info.get("length") != 2:
        fail(f"encode(x) should return a pair (mu, logvar), got {answer.info.get('returned')} "
             f"of length {answer.info.get('length', 'none')}.")
    return x, answer, tensor(answer, "mu", "mu"), tensor(answer, "logvar", "logvar")


@pytest.mark.rubric("encode")
def test_encode_returns_mu_and_logvar_of_shape_batch_by_latent(ask):
    _, _, mu, logvar = _encode(ask)
    latent = reference.dims()[2]
    check_shape(f"mu for x of shape ({BATCH}, 784)", mu, (BATCH, latent))
    check_shape(f"logvar for x of shape ({BATCH}, 784)", logvar, (BATCH, latent))


@pytest.mark.rubric("encode")
def test_encode_computes_the_lecture_heads_with_your_weights(ask):
    x, answer, mu, logvar = _encode(ask)
    model = _weights(answer)
    with torch.no_grad():
        expected_mu, expected_logvar = model.encode(x)
        linear = model.fc1(x)  # the hidden layer without its ReLU
        hidden = F.relu(linear)
    if close(mu, expected_mu) and close(logvar, expected_logvar):
        return
    with torch.no_grad():
        if close(mu, model.fc21(linear)):
            fail("encode's outputs match the lecture's only without the ReLU: apply F.relu to fc1(x) first.")
        if close(mu, expected_logvar) and close(logvar, expected_mu):
            fail("mu and logvar are swapped: return (fc21(h1), fc22(h1)), mu first.")
        if close(logvar, model.fc21(hidden)):
            fail("logvar equals fc21(h1): the log-variance has its own head, fc22.")
    wrong = "mu" if not close(mu, expected_mu) else "logvar"
    fail(f"{wrong} differs from the lecture's computation with your model's own weights "
         f"(largest difference {differs(*(mu, expected_mu) if wrong == 'mu' else (logvar, expected_logvar)):.3g}). "
         "Expected h1 = relu(fc1(x)), mu = fc21(h1), logvar = fc22(h1).")


def _decode(ask):
    z = torch.randn(BATCH, reference.dims()[2], generator=torch.Generator().manual_seed(2))
    answer = ask("decode", {"seed": 2}, {"z": z}, function="VAE.decode")
    return z, answer, tensor(answer, "recon", "decode(z)")


@pytest.mark.rubric("decode")
def test_decode_returns_pixel_probabilities_of_shape_batch_by_784(ask):
    _, _, recon = _decode(ask)
    check_shape(f"decode(z) for z of shape ({BATCH}, 20)", recon, (BATCH, reference.dims()[0]))
    if not (recon.min() > 0 and recon.max() < 1):
        fail(f"decode(z) should be Bernoulli means, strictly between 0 and 1; yours range from "
             f"{recon.min():.3g} to {recon.max():.3g}. Hint: end with torch.sigmoid.")


@pytest.mark.rubric("decode")
def test_decode_computes_the_lecture_decoder_with_your_weights(ask):
    z, answer, recon = _decode(ask)
    model = _weights(answer)
    with torch.no_grad():
        expected = model.decode(z)
        if close(recon, expected):
            return
        logits = model.fc4(F.relu(model.fc3(z)))
        if close(recon, logits) or close(recon, F.relu(logits)):
            fail("decode's output matches the lecture's before the sigmoid: finish with torch.sigmoid(fc4(h3)).")
        if close(recon, torch.sigmoid(model.fc4(model.fc3(z)))):
            fail("decode matches the lecture's only without the hidden ReLU: h3 = relu(fc3(z)).")
    fail(f"decode(z) differs from the lecture's computation with your model's own weights (largest difference "
         f"{differs(recon, expected):.3g}). Expected h3 = relu(fc3(z)), recon = sigmoid(fc4(h3)).")
