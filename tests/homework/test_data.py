"""solutions/common.py: the shipped MNIST is verified, loads like torchvision's, offline; device choice."""
from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
import torch
import torchvision
from torchvision.transforms import ToTensor

from autograder.paths import SOLUTIONS

SMALL = "t10k-labels-idx1-ubyte"  # the smallest file: the one these tests damage (in a copy)


@pytest.fixture(scope="module")
def common(import_path):
    return import_path(SOLUTIONS / "common.py", "solutions_common")


def raw_copy(common, folder: Path, leave_out: str = "") -> Path:
    """A raw folder whose unpacked files link to the real ones, except `leave_out`."""
    folder.mkdir()
    for name in common.expected_sums():
        if name != leave_out:
            (folder / name).symlink_to(common.RAW_DIR / name)
    return folder


def test_sha256sums_lists_the_four_files_and_matches_them(common):
    sums = common.expected_sums()
    assert sorted(sums) == sorted(
        f"{split}-{kind}" for split in ("train", "t10k") for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")
    )
    for name, digest in sums.items():
        assert hashlib.sha256((common.RAW_DIR / name).read_bytes()).hexdigest() == digest, name
    common.prepare_data()  # and the function that checks them agrees


def test_a_corrupted_unpacked_file_raises_data_error_naming_it(common, tmp_path):
    raw = raw_copy(common, tmp_path / "raw", leave_out=SMALL)
    damaged = bytearray((common.RAW_DIR / SMALL).read_bytes())
    damaged[100] ^= 0x01
    (raw / SMALL).write_bytes(damaged)
    with pytest.raises(common.DataError, match=SMALL):
        common.prepare_data(raw)


def test_a_corrupted_gz_raises_data_error_naming_it_and_leaves_no_partial_file(common, tmp_path):
    raw = raw_copy(common, tmp_path / "raw", leave_out=SMALL)
    damaged = bytearray((common.RAW_DIR / f"{SMALL}.gz").read_bytes())
    damaged[100] ^= 0xFF
    (raw / f"{SMALL}.gz").write_bytes(damaged)
    with pytest.raises(common.DataError, match=SMALL):
        common.prepare_data(raw)
    assert not list(raw.glob("*.partial"))


def test_a_missing_gz_raises_a_data_error_that_names_it_missing(common, tmp_path):
    raw = raw_copy(common, tmp_path / "raw", leave_out=SMALL)
    with pytest.raises(common.DataError, match=rf"{SMALL}\.gz is missing"):
        common.prepare_data(raw)


def test_prepare_data_unpacks_a_gz_to_the_verified_file(common, tmp_path):
    raw = raw_copy(common, tmp_path / "raw", leave_out=SMALL)
    (raw / f"{SMALL}.gz").write_bytes((common.RAW_DIR / f"{SMALL}.gz").read_bytes())
    common.prepare_data(raw)
    assert (raw / SMALL).read_bytes() == (common.RAW_DIR / SMALL).read_bytes()


def test_load_mnist_test_split_matches_torchvision(common):
    images, labels = common.load_mnist(train=False)
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (10000,) and labels.dtype == torch.int64
    assert images.min().item() == 0.0 and images.max().item() == 1.0
    reference = torchvision.datasets.MNIST(common.DATA_ROOT, train=False, download=False, transform=ToTensor())
    for index in (0, 1, 4321, 9999):
        image, label = reference[index]
        assert torch.equal(images[index], image), f"image {index} differs from torchvision's"
        assert labels[index].item() == label, f"label {index} differs from torchvision's"


def test_load_mnist_train_split_has_60000_labelled_images(common):
    images, labels = common.load_mnist(train=True)
    assert images.shape == (60000, 1, 28, 28) and labels.shape == (60000,)
    assert set(labels.unique().tolist()) == set(range(10))


def test_torchvision_mnist_loads_with_no_network(common, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access during a test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert len(torchvision.datasets.MNIST(common.DATA_ROOT, train=False, download=False)) == 10000
    assert len(torchvision.datasets.MNIST(common.DATA_ROOT, train=True, download=False)) == 60000


def fake_accelerators(monkeypatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


def test_pick_device_is_the_cpu_on_a_machine_without_accelerators(common):
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has an accelerator")
    assert common.pick_device() == torch.device("cpu")


def test_pick_device_falls_back_to_the_cpu(common, monkeypatch):
    fake_accelerators(monkeypatch, cuda=False, mps=False)
    assert common.pick_device() == torch.device("cpu")


def test_pick_device_prefers_cuda_even_when_mps_is_there(common, monkeypatch):
    fake_accelerators(monkeypatch, cuda=True, mps=True)
    assert common.pick_device() == torch.device("cuda")


def test_pick_device_uses_mps_when_only_mps_is_there(common, monkeypatch):
    fake_accelerators(monkeypatch, cuda=False, mps=True)
    assert common.pick_device() == torch.device("mps")
