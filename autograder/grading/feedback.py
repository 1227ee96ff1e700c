"""feedback.png: what the student's trained model does, as a picture beside results.json.

The elbo check draws it (autograder/hidden/pictures.py: test images, their reconstructions and
samples from the prior, in the numbers its words use) and hands the draw to the grading plugin;
the grading writes the picture here after the checks ran. Where the picture goes: beside
results.json (make grade, grade-all), linked from the CI job summary (autograder/course/report.py
--picture-url). Not into Gradescope's results.json, which stays plain text (student_text.GRADESCOPE):
its html and md formats are sanitized, and its documentation does not say that an image embedded
as a data: URI survives; the words carry the picture there.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

ROWS = 8  # images per row
SCALE = 3  # screen pixels per MNIST pixel
GAP = 4  # screen pixels between images
LABEL = 22  # height of a row's label, in screen pixels


def _grid(rows: list[tuple[str, torch.Tensor]], pixels: int) -> torch.Tensor:
    """Rows of (ROWS, pixels * pixels) images in [0, 1] as one grey-level picture, each row under its label."""
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


def save_feedback(drawn: Any, folder: Path | None, value: float) -> Path | None:
    """Test images, their reconstructions, and samples from the prior, one row each: the first rows
    of the elbo check's draw (`drawn`: its images, recon and samples, each (n, pixels), as
    autograder/hidden/pictures.py draws them and its numbers read them whole).

    Drawn with Pillow, not matplotlib: matplotlib's import alone took about 2 s of every grading.
    """
    if folder is None:
        return None
    from PIL import Image, ImageDraw, ImageFont

    pixels = math.isqrt(drawn.images.shape[1])  # an image's side: 28 for MNIST's 784 pixels
    rows = [("test images", drawn.images), ("their reconstructions", drawn.recon),
            ("samples from the prior", drawn.samples[:ROWS]), ("", drawn.samples[ROWS:2 * ROWS])]
    grid = _grid(rows, pixels).nan_to_num(1.0)
    picture = Image.fromarray((grid * 255).round().to(torch.uint8).numpy(), mode="L")
    canvas = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=14)
    canvas.text((GAP, 6), f"Your model after the grader's training epoch: test loss {value:.1f} nats per image",
                fill=0, font=font)
    for r, (title, _) in enumerate(rows):
        canvas.text((GAP, 2 * LABEL + r * (LABEL + pixels * SCALE + GAP) + 4), title, fill=0, font=font)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feedback.png"
    picture.save(path)
    return path
