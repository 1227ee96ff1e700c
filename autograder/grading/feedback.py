"""feedback.png: what the student's trained model does, as a picture beside results.json."""
from __future__ import annotations

from pathlib import Path

import torch

from autograder.grading import reference

ROWS = 8


def save_feedback(model: torch.nn.Module, folder: Path | None, value: float) -> Path | None:
    """Test images, their reconstructions, and samples from the prior, one row each."""
    if folder is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        images = reference.sample_images(ROWS)
        recon = model(images)[0]
        samples = model.decode(torch.randn(2 * ROWS, reference.dims()[2]))
    rows = [("test images", images), ("their reconstructions", recon), ("samples from the prior", samples[:ROWS]),
            ("", samples[ROWS:])]
    figure, axes = plt.subplots(len(rows), ROWS, figsize=(ROWS * 1.1, len(rows) * 1.25))
    for (title, batch), line in zip(rows, axes):
        for image, axis in zip(batch, line):
            axis.imshow(image.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
        line[0].set_title(title, loc="left", fontsize=10)
    figure.suptitle(f"Your model after the grader's training epoch: test loss {value:.1f} nats per image")
    figure.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feedback.png"
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path
