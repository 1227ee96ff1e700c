"""feedback.png: what the student's trained model does, as a picture beside results.json."""
from __future__ import annotations

from pathlib import Path

import torch

from autograder.grading import reference

ROWS = 8  # images per row
SCALE = 3  # screen pixels per MNIST pixel
GAP = 4  # screen pixels between images
LABEL = 22  # height of a row's label, in screen pixels


def _grid(rows: list[tuple[str, torch.Tensor]]) -> torch.Tensor:
    """Rows of (ROWS, 784) images in [0, 1] as one grey-level picture, each row under its label."""
    side = 28 * SCALE
    width = ROWS * (side + GAP) + GAP
    picture = torch.ones(len(rows) * (LABEL + side + GAP) + 2 * LABEL, width)
    for r, (_, images) in enumerate(rows):
        top = 2 * LABEL + r * (LABEL + side + GAP) + LABEL
        for c, image in enumerate(images[:ROWS]):
            left = GAP + c * (side + GAP)
            big = image.reshape(28, 28).clamp(0, 1).repeat_interleave(SCALE, 0).repeat_interleave(SCALE, 1)
            picture[top:top + side, left:left + side] = big
    return picture


def save_feedback(model: torch.nn.Module, folder: Path | None, value: float) -> Path | None:
    """Test images, their reconstructions, and samples from the prior, one row each.

    Drawn with Pillow, not matplotlib: matplotlib's import alone took about 2 s of every grading.
    """
    if folder is None:
        return None
    from PIL import Image, ImageDraw, ImageFont

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        images = reference.sample_images(ROWS)
        recon = model(images)[0]
        samples = model.decode(torch.randn(2 * ROWS, reference.dims()[2]))
    rows = [("test images", images), ("their reconstructions", recon), ("samples from the prior", samples[:ROWS]),
            ("", samples[ROWS:])]
    grid = _grid(rows).nan_to_num(1.0)
    picture = Image.fromarray((grid * 255).round().to(torch.uint8).numpy(), mode="L")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=14)
    draw.text((GAP, 6), f"Your model after the grader's training epoch: test loss {value:.1f} nats per image",
              fill=0, font=font)
    for r, (title, _) in enumerate(rows):
        draw.text((GAP, 2 * LABEL + r * (LABEL + 28 * SCALE + GAP) + 4), title, fill=0, font=font)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feedback.png"
    picture.save(path)
    return path
