"""feedback.png: what the student's trained model does, as a picture beside results.json; and the
same, measured, for the places that show no picture (Gradescope's text, a commit comment).

The picture and the numbers come from one draw (`draw`): test images, their reconstructions and
samples from the prior, with a fixed seed. The picture shows the first rows of it; `measure` reads
all of it, so that the words say what the picture shows, in numbers a student can compare with
the reference's (config.FEEDBACK_REFERENCE, measured on the reference trained the same way).
Where the picture goes: beside results.json (make grade, grade-all), linked from the CI job summary
(autograder/course/report.py --picture-url). Not into Gradescope's results.json, which stays plain
text (student_text.GRADESCOPE): its html and md formats are sanitized, and its documentation does
not say that an image embedded as a data: URI survives; the words carry the picture there.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from autograder import config
from autograder.grading import reference

ROWS = 8  # images per row
SCALE = 3  # screen pixels per MNIST pixel
GAP = 4  # screen pixels between images
LABEL = 22  # height of a row's label, in screen pixels


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


def _image_side() -> int:
    """An MNIST image's side, in its own pixels (solutions/common.py's)."""
    return reference.common().IMAGE_SIDE


def _grid(rows: list[tuple[str, torch.Tensor]]) -> torch.Tensor:
    """Rows of (ROWS, 784) images in [0, 1] as one grey-level picture, each row under its label."""
    pixels = _image_side()
    side = pixels * SCALE
    width = ROWS * (side + GAP) + GAP
    picture = torch.ones(len(rows) * (LABEL + side + GAP) + 2 * LABEL, width)
    for r, (_, images) in enumerate(rows):
        top = 2 * LABEL + r * (LABEL + side + GAP) + LABEL
        for c, image in enumerate(images[:ROWS]):
            left = GAP + c * (side + GAP)
            big = image.reshape(pixels, pixels).clamp(0, 1).repeat_interleave(SCALE, 0).repeat_interleave(SCALE, 1)
            picture[top:top + side, left:left + side] = big
    return picture


def save_feedback(model: torch.nn.Module, folder: Path | None, value: float) -> Path | None:
    """Test images, their reconstructions, and samples from the prior, one row each (the first
    rows of `draw`, which `measure` reads whole).

    Drawn with Pillow, not matplotlib: matplotlib's import alone took about 2 s of every grading.
    """
    if folder is None:
        return None
    from PIL import Image, ImageDraw, ImageFont

    drawn = draw(model)
    rows = [("test images", drawn.images), ("their reconstructions", drawn.recon),
            ("samples from the prior", drawn.samples[:ROWS]), ("", drawn.samples[ROWS:2 * ROWS])]
    grid = _grid(rows).nan_to_num(1.0)
    picture = Image.fromarray((grid * 255).round().to(torch.uint8).numpy(), mode="L")
    canvas = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=14)
    canvas.text((GAP, 6), f"Your model after the grader's training epoch: test loss {value:.1f} nats per image",
                fill=0, font=font)
    for r, (title, _) in enumerate(rows):
        canvas.text((GAP, 2 * LABEL + r * (LABEL + _image_side() * SCALE + GAP) + 4), title, fill=0, font=font)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feedback.png"
    picture.save(path)
    return path
