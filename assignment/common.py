"""Data and device helpers for the VAE homework (nothing here to fill in).

- `prepare_data()` unpacks the shipped MNIST files and checks their SHA-256 sums
  (`make setup` runs it: `python common.py`).
- `load_mnist(train)` returns a whole split as two tensors, fast: the graders, the
  benchmark and the training script feed their DataLoaders from these.
- `pick_device()` chooses CUDA, then Apple MPS, then the CPU.
"""
from __future__ import annotations

import gzip
import hashlib
import shutil
import sys
import zlib
from pathlib import Path

import torch

DATA_ROOT = Path(__file__).resolve().parent.parent / "data"  # torchvision's `root`
RAW_DIR = DATA_ROOT / "MNIST" / "raw"
SUMS_FILE = DATA_ROOT / "SHA256SUMS"
IMAGE_SIDE = 28


class DataError(RuntimeError):
    """The data on disk is missing or is not the real MNIST."""


def expected_sums() -> dict[str, str]:
    """File name -> SHA-256 of the unpacked IDX file, from data/SHA256SUMS."""
    sums = {}
    for line in SUMS_FILE.read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name] = digest
    return sums


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_data(raw_dir: Path = RAW_DIR) -> None:
    """Unpack each `.gz` beside itself (once) and check every unpacked file's SHA-256."""
    for name, digest in expected_sums().items():
        target = raw_dir / name
        packed = raw_dir / f"{name}.gz"
        if not target.exists():
            if not packed.exists():
                raise DataError(f"{packed} is missing: the repository ships it; restore it with git.")
            partial = target.with_suffix(".partial")
            try:
                with gzip.open(packed, "rb") as src, open(partial, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (OSError, EOFError, zlib.error) as error:
                partial.unlink(missing_ok=True)
                raise DataError(f"{packed} is damaged ({error}): restore it with `git checkout -- {packed.name}`.") from None
            partial.replace(target)
        actual = sha256(target)
        if actual != digest:
            raise DataError(
                f"{target} has SHA-256 {actual}, expected {digest} (data/SHA256SUMS). "
                f"Delete it and run `make setup` again to unpack it afresh."
            )


def _read_idx(path: Path, header_bytes: int) -> torch.Tensor:
    if not path.exists():
        raise DataError(f"{path} is missing: run `make setup` first.")
    raw = bytearray(path.read_bytes())
    return torch.frombuffer(raw, dtype=torch.uint8, offset=header_bytes)


def load_mnist(train: bool = True, raw_dir: Path = RAW_DIR) -> tuple[torch.Tensor, torch.Tensor]:
    """A whole split in memory: images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64.

    Same values as torchvision's MNIST with `transforms.ToTensor()`, about 50 times faster
    than going through PIL image by image.
    """
    prefix = "train" if train else "t10k"
    pixels = _read_idx(raw_dir / f"{prefix}-images-idx3-ubyte", header_bytes=16)
    labels = _read_idx(raw_dir / f"{prefix}-labels-idx1-ubyte", header_bytes=8)
    images = pixels.view(-1, 1, IMAGE_SIDE, IMAGE_SIDE).float().div_(255)
    return images, labels.long()


def pick_device() -> torch.device:
    """CUDA if present, else Apple's MPS if present, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def main() -> None:
    try:
        prepare_data()
    except DataError as error:
        sys.exit(f"data: {error}")
    print(f"data: MNIST unpacked and verified in {RAW_DIR}")


if __name__ == "__main__":
    main()
