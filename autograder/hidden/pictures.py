"""What the student's trained model draws, in numbers: the elbo check's words about its picture.

The picture (feedback.png, written by the grading: autograder/grading/feedback.py) and these
numbers come from one draw (`draw`): test images, their reconstructions and samples from the prior,
with a fixed seed. The picture shows the first rows of it; `measure` reads all of it, so that the
words say what the picture shows, in numbers a student can compare with the reference's
(config.FEEDBACK_REFERENCE, measured on the reference trained the same way). The words are for the
places that show no picture (Gradescope's text, a commit comment).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from autograder import config
from autograder.hidden import reference


@dataclass(frozen=True)
class Drawn:
    """One fixed draw of what a model makes: (n, 784) each, grey levels (in [0, 1] when finite)."""

    images: torch.Tensor  # the first n test images
    recon: torch.Tensor  # their reconstructions (one latent sample each)
    samples: torch.Tensor  # decoded from n draws of the prior N(0, I)


@dataclass(frozen=True)
class Measures:
    """What the picture shows, in numbers (grey levels: 0 black, 1 white)."""

    recon_error: float  # mean |reconstruction - test image| per pixel
    recon_spread: float  # how much the reconstructions differ from one another (spread, below)
    image_spread: float  # the same for the test images themselves
    sample_spread: float  # the same for the samples: 0 when every sample is the same picture
    sample_mean: float  # the samples' mean grey level: near 0 black, near 1 white
    image_mean: float  # the test images' (MNIST: 0.13, white digits on black)
    sample_grey: float  # share of the samples' pixels that are neither dark nor bright (in FEEDBACK_GREY)
    image_grey: float  # the same share for the test images

    def finite(self) -> bool:
        return all(value == value and abs(value) != float("inf") for value in vars(self).values())


def draw(model: torch.nn.Module, count: int = config.FEEDBACK_MEASURED) -> Drawn:
    """`count` test images, their reconstructions and `count` samples from the prior, seed 0."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        images = reference.sample_images(count)
        recon = model(images)[0]
        samples = model.decode(torch.randn(count, reference.dims()[2]))
    return Drawn(images, recon, samples)


def spread(images: torch.Tensor) -> float:
    """Each pixel's standard deviation across the images, averaged over the pixels: 0 when every
    image is the same picture, about 0.3 for MNIST's varied digits."""
    return float(images.double().std(dim=0).mean())


def grey_share(images: torch.Tensor) -> float:
    """The share of pixels that are neither dark nor bright: blur and noise are grey."""
    low, high = config.FEEDBACK_GREY
    images = images.double()
    return float(((images > low) & (images < high)).double().mean())


def measure(drawn: Drawn) -> Measures:
    return Measures(recon_error=float((drawn.recon.double() - drawn.images.double()).abs().mean()),
                    recon_spread=spread(drawn.recon), image_spread=spread(drawn.images),
                    sample_spread=spread(drawn.samples), sample_mean=float(drawn.samples.double().mean()),
                    image_mean=float(drawn.images.double().mean()), sample_grey=grey_share(drawn.samples),
                    image_grey=grey_share(drawn.images))
