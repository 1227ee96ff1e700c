"""feedback.png: the student's trained model as a picture (test images, reconstructions, samples)."""
from __future__ import annotations

import numpy
import pytest
import torch
from PIL import Image

from autograder import config
from autograder.grading import feedback
from autograder.hidden import pictures, reference
from autograder.sandbox.protocol import with_state_prefix

from in_process import asking


def test_feedback_png_shows_the_test_images_first_then_the_model_rows(tmp_path):
    model = reference.module().VAE().eval()
    path = feedback.save_feedback(pictures.draw(model), tmp_path, 130.25)
    picture = torch.from_numpy(numpy.asarray(Image.open(path), dtype=numpy.float32))  # (height, width) grey levels
    side = 28 * feedback.SCALE
    top = 2 * feedback.LABEL + feedback.LABEL  # title, then the first row's label
    first = picture[top:top + side:feedback.SCALE, feedback.GAP:feedback.GAP + side:feedback.SCALE] / 255
    assert torch.allclose(first, reference.sample_images(1).reshape(28, 28), atol=1 / 255)
    assert picture.shape == (4 * (feedback.LABEL + side + feedback.GAP) + 2 * feedback.LABEL,
                             feedback.ROWS * (side + feedback.GAP) + feedback.GAP)


def test_no_folder_means_no_picture():
    assert feedback.save_feedback(pictures.draw(reference.module().VAE()), None, float("nan")) is None


class SamePicture(torch.nn.Module):
    """A model that draws one grey picture whatever it is given (a collapsed or untrained decoder)."""

    def forward(self, x):
        return self.decode(None).expand(len(x), -1), None, None

    def decode(self, z):
        return torch.full((1 if z is None else len(z), 784), 0.5)


def test_the_measures_read_what_the_picture_shows():
    images = reference.sample_images(feedback.ROWS)
    measures = pictures.measure(pictures.Drawn(images, images.clone(), images.flip(0)))
    assert measures.recon_error == 0 and measures.recon_spread == measures.image_spread == measures.sample_spread > 0.1
    assert measures.sample_grey == measures.image_grey < 0.2
    same = pictures.measure(pictures.draw(SamePicture()))
    assert same.recon_spread == same.sample_spread == 0 and same.sample_grey == 1
    assert same.recon_error == pytest.approx(float((reference.sample_images(64) - 0.5).abs().mean()))


def test_the_picture_is_the_first_rows_of_the_measured_draw(tmp_path):
    model = reference.module().VAE().eval()
    drawn = pictures.draw(model)
    path = feedback.save_feedback(drawn, tmp_path, 130.25)
    picture = torch.from_numpy(numpy.asarray(Image.open(path), dtype=numpy.float32)) / 255
    side, rows = 28 * feedback.SCALE, 2 * feedback.LABEL + feedback.LABEL
    top = rows + 2 * (feedback.LABEL + side + feedback.GAP)  # the third row: the first samples
    first = picture[top:top + side:feedback.SCALE, feedback.GAP:feedback.GAP + side:feedback.SCALE]
    assert torch.allclose(first, drawn.samples[0].reshape(28, 28), atol=1 / 255)


@pytest.fixture
def diagnose(pytestconfig):
    """test_training.py's _diagnose (its module carries the hidden graders' `rubric` marker)."""
    pytestconfig.addinivalue_line("markers", "rubric(tag): the hidden graders' rubric tag")
    from autograder.hidden.test_training import _diagnose

    return _diagnose


def test_the_elbo_diagnosis_says_in_numbers_what_the_picture_shows(diagnose):
    recorded = {}
    # Weights a hundred times smaller than PyTorch's start: every picture the same grey.
    untrained = with_state_prefix({name: weight / 100 for name, weight in
                                   reference.random_weights(reference.expected_shapes(), 0).items()})
    drawn = pictures.draw(reference.model_with(untrained))
    words, cause = diagnose(asking(reference.module().loss_function), untrained, drawn, recorded.__setitem__)
    seen = recorded["picture"]
    assert cause == "elbo.nothing_learnt" and "feedback.png" not in words
    assert f"differ from their test images by {seen['recon_error']:.3f} per pixel on average (the reference's: " \
        f"{config.FEEDBACK_REFERENCE['recon_error']:.3f})" in words
    assert "nearly all the same picture whatever the input" in words and "nearly identical pictures" in words
    assert f"{seen['sample_grey']:.0%} of their pixels grey" in words
