"""feedback.png: the student's trained model as a picture (test images, reconstructions, samples)."""
from __future__ import annotations

import numpy
import torch
from PIL import Image

from autograder.grading import feedback, reference


def test_feedback_png_shows_the_test_images_first_then_the_model_rows(tmp_path):
    model = reference.module().VAE().eval()
    path = feedback.save_feedback(model, tmp_path, 130.25)
    picture = torch.from_numpy(numpy.asarray(Image.open(path), dtype=numpy.float32))  # (height, width) grey levels
    side = 28 * feedback.SCALE
    top = 2 * feedback.LABEL + feedback.LABEL  # title, then the first row's label
    first = picture[top:top + side:feedback.SCALE, feedback.GAP:feedback.GAP + side:feedback.SCALE] / 255
    assert torch.allclose(first, reference.sample_images(1).reshape(28, 28), atol=1 / 255)
    assert picture.shape == (4 * (feedback.LABEL + side + feedback.GAP) + 2 * feedback.LABEL,
                             feedback.ROWS * (side + feedback.GAP) + feedback.GAP)


def test_no_folder_means_no_picture():
    assert feedback.save_feedback(reference.module().VAE(), None, float("nan")) is None
