"""The reference side of every check: solutions/vae.py, loaded in the grader's own process.

The hidden tests compare what the submission returned with what the reference computes from
the same inputs and, where weights matter, the submission's own weights.
"""
from __future__ import annotations

import importlib.util
import math
import sys
from functools import cache
from types import ModuleType

import torch

from autograder.paths import SOLUTIONS
from autograder.sandbox.protocol import STATE_PREFIX, WeightsRejected


@cache
def module() -> ModuleType:
    """solutions/vae.py under the name `reference_vae` (never `vae`: no clash with a submission)."""
    spec = importlib.util.spec_from_file_location("reference_vae", SOLUTIONS / "vae.py")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules["reference_vae"] = loaded
    spec.loader.exec_module(loaded)
    return loaded


@cache
def common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference_common", SOLUTIONS / "common.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def dims() -> tuple[int, int, int]:
    """(input, hidden, latent) sizes, from the reference."""
    ref = module()
    return ref.INPUT_DIM, ref.HIDDEN_DIM, ref.LATENT_DIM


def parameter_count() -> int:
    return sum(p.numel() for p in module().VAE().parameters() if p.requires_grad)


def expected_shapes() -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in module().VAE().state_dict().items()}


def random_weights(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """Weights the grader chooses, for layers of these shapes: uniform in +-1/sqrt(fan_in), as
    nn.Linear starts, so never degenerate (no zeros, no two rows alike)."""
    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for name in sorted(shapes):
        shape = shapes[name]
        layer = name.rsplit(".", 1)[0]
        fan_in = shapes.get(f"{layer}.weight", shape)[-1]
        bound = 1.0 / math.sqrt(fan_in)
        weights[name] = (torch.rand(shape, generator=generator) * 2 - 1) * bound
    return weights


def correlation(before: torch.Tensor, after: torch.Tensor) -> float:
    """Pearson correlation of two tensors' entries (NaN when either is constant or not finite)."""
    pair = torch.stack([before.flatten().double(), after.flatten().double()])
    return float(torch.corrcoef(pair)[0, 1])


def model_with(state: dict[str, torch.Tensor], any_sizes: bool = False) -> torch.nn.Module:
    """The reference VAE holding the submission's weights (only the lecture's five layers); a
    layer missing, or of another size, is WeightsRejected.

    With `any_sizes`, layers of other sizes are taken as they are: the lecture's computation is
    still defined (a changed layer size costs parameter_count and elbo, not encode or decode).
    """
    model = module().VAE()
    for name, shape in expected_shapes().items():
        value = state.get(STATE_PREFIX + name)
        if value is None:
            raise WeightsRejected(f"your VAE has no `{name}`: keep the layers of __init__ as given")
        if tuple(value.shape) != shape and not any_sizes:
            raise WeightsRejected(f"`{name}` has shape {tuple(value.shape)}, the lecture's layer has {shape}")
        layer, kind = name.rsplit(".", 1)
        setattr(model.get_submodule(layer), kind, torch.nn.Parameter(value.float(), requires_grad=False))
    return model.eval()


@cache
def test_images() -> torch.Tensor:
    return common().load_mnist(train=False)[0]


def sample_images(count: int) -> torch.Tensor:
    """`count` real test images, flattened: (count, 784)."""
    return test_images()[:count].reshape(count, -1).clone()


def negative_elbo(state: dict[str, torch.Tensor], seed: int, batch_size: int = 1000,
                  threads: int | None = None) -> float:
    """Test-set negative ELBO (nats per image) of the reference model with these weights.

    One latent sample per image, drawn with a fixed seed: the same weights give the same value.
    `threads`: torch threads for it (default: as many as now). When grading, the submission's
    training is over by then, so the elbo check gives it the submission's threads back (the
    hidden graders otherwise keep the grader's torch on one thread).
    """
    ref = module()
    images = test_images()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, torch.zeros(len(images))),
                                         batch_size=batch_size)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            value = ref.evaluate(model_with(state), loader, torch.device("cpu"))
    finally:
        torch.set_num_threads(before)
    return value if math.isfinite(value) else float("inf")


def elbo_parts(state: dict[str, torch.Tensor], seed: int, batch_size: int = 1000) -> tuple[float, float]:
    """The test negative ELBO's two parts, (reconstruction BCE, KL) in nats per image, as
    negative_elbo draws them: what feedback.png shows, measured (the elbo check's diagnosis)."""
    model, images = model_with(state), test_images()
    bce = kl = 0.0
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for x in images.split(batch_size):
            recon, mu, logvar = model(x)
            x = x.view(len(x), -1)  # F.binary_cross_entropy's sum, written out so that NaN gives NaN, not an error
            bce += float(-torch.sum(x * recon.log().clamp(min=-100) + (1 - x) * (1 - recon).log().clamp(min=-100)))
            kl += float(-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()))
    return bce / len(images), kl / len(images)
