"""The sandboxed worker: imports a submission and answers the grader's requests.

It runs in its own process (as an unprivileged user, in namespaces where available), reads
requests on one pipe and writes answers on another. Every request is self-contained (it seeds
the RNGs and builds what it needs), so the grader can restart a dead worker and go on.
Nothing here is trusted by the grader: answers are only data, which it checks in its own
process. The frame format is shared with the grader (`read_frame` / `write_frame`).

Frame: b"VAEW", header length (4 bytes), body length (8 bytes), JSON header, body.
The body is a safetensors blob (tensors by name) or empty.
"""
from __future__ import annotations

import importlib.util
import json
import os
import random
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any

MAGIC = b"VAEW"
PREFIX = struct.Struct("<4sIQ")
MAX_HEADER = 1 << 20
MAX_BODY = 1 << 29


class ProtocolError(RuntimeError):
    """A frame that is not what the protocol allows."""


def encode_frame(header: dict[str, Any], tensors: dict | None = None) -> bytes:
    from safetensors.torch import save

    head = json.dumps(header).encode()
    body = save({k: v.detach().cpu().clone() for k, v in tensors.items()}) if tensors else b""
    return PREFIX.pack(MAGIC, len(head), len(body)) + head + body


def decode_frame(prefix: bytes) -> tuple[int, int]:
    magic, head_len, body_len = PREFIX.unpack(prefix)
    if magic != MAGIC or head_len > MAX_HEADER or body_len > MAX_BODY:
        raise ProtocolError("malformed frame")
    return head_len, body_len


def parse_frame(head: bytes, body: bytes) -> tuple[dict[str, Any], dict]:
    from safetensors.torch import load

    header = json.loads(head)
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not an object")
    return header, (load(body) if body else {})


def read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> tuple[dict[str, Any], dict]:
    head_len, body_len = decode_frame(read_exactly(fd, PREFIX.size))
    return parse_frame(read_exactly(fd, head_len), read_exactly(fd, body_len))


def write_frame(fd: int, header: dict[str, Any], tensors: dict | None = None) -> None:
    data = memoryview(encode_frame(header, tensors))
    while data:
        data = data[os.write(fd, data):]


# --- Inside the sandbox -------------------------------------------------------------------

SUBMISSION: Path = Path("vae.py")


def seed_everything(seed: int) -> None:
    import numpy
    import torch

    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)


def describe_error(error: BaseException) -> dict[str, str]:
    """The exception's type, message and the traceback lines that are in the student's file."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).name == SUBMISSION.name]
    lines = [f'  File "{SUBMISSION.name}", line {f.lineno}, in {f.name}\n    {f.line}' for f in frames[-5:]]
    message = str(error)
    if len(message) > 2000:
        message = message[:2000] + " ..."
    return {"type": type(error).__name__, "message": message, "traceback": "\n".join(lines)}


def load_submission() -> Any:
    spec = importlib.util.spec_from_file_location("vae", SUBMISSION)
    module = importlib.util.module_from_spec(spec)
    sys.modules["vae"] = module
    spec.loader.exec_module(module)
    return module


def state_of(model: Any) -> dict:
    return {f"state.{k}": v for k, v in model.state_dict().items()}


def new_model(vae: Any, seed: int, tensors: dict | None = None) -> Any:
    """The submission's VAE, holding the weights the grader sent (`state.<name>`), if any."""
    import torch

    seed_everything(seed)
    model = vae.VAE()
    weights = {k.removeprefix("state."): v for k, v in (tensors or {}).items() if k.startswith("state.")}
    if weights:
        own = model.state_dict()
        for name, value in weights.items():
            if name not in own:
                raise WeightsRejected(f"your VAE has no `{name}`")
            if tuple(own[name].shape) != tuple(value.shape):
                raise WeightsRejected(f"`{name}` has shape {tuple(own[name].shape)}, the grader's has "
                                      f"{tuple(value.shape)}")
        # nn.Module's own method: a submission's override of load_state_dict is not called.
        torch.nn.Module.load_state_dict(model, weights, strict=False)
    return model


class WeightsRejected(Exception):
    """The submission's VAE cannot hold the weights the grader chose for it."""


def op_parameters(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    model = new_model(vae, header["seed"])
    params = {name: [list(p.shape), bool(p.requires_grad)] for name, p in model.named_parameters()}
    return {"parameters": params}, {}


def op_encode(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    model = new_model(vae, header["seed"], tensors)
    info, out = {}, {}
    returned = model.encode(tensors["x"])
    info["returned"] = type(returned).__name__
    if isinstance(returned, (tuple, list)):
        info["length"] = len(returned)
        for name, value in zip(("mu", "logvar"), returned):
            keep_tensor(name, value, info, out)
    return info, out


def keep_tensor(name: str, value: Any, info: dict, out: dict) -> None:
    """Put a returned tensor in the answer's body, or note what came back instead."""
    import torch

    if isinstance(value, torch.Tensor):
        out[name] = value
    else:
        info[f"{name}_type"] = type(value).__name__


def op_decode(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    model = new_model(vae, header["seed"], tensors)
    info, out = {}, {}
    keep_tensor("recon", model.decode(tensors["z"]), info, out)
    return info, out


def op_reparameterize(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    model = new_model(vae, header["seed"])
    model.train()
    info: dict = {}
    out: dict = {}
    for name in ("first", "second"):
        keep_tensor(name, model.reparameterize(tensors["mu"], tensors["logvar"]), info, out)
    return info, out


def op_gradient_flow(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    model = new_model(vae, header["seed"])
    model.train()
    mu = tensors["mu"].clone().requires_grad_(True)
    logvar = tensors["logvar"].clone().requires_grad_(True)
    z = model.reparameterize(mu, logvar)
    info: dict[str, Any] = {"z_requires_grad": bool(getattr(z, "requires_grad", False))}
    out: dict = {}
    keep_tensor("z", z, info, out)
    if info["z_requires_grad"]:
        (z * tensors["v"]).sum().backward()
    for name, leaf in (("mu", mu), ("logvar", logvar)):
        info[f"{name}_grad"] = leaf.grad is not None
        if leaf.grad is not None:
            out[f"{name}_grad"] = leaf.grad
    return info, out


def op_loss(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    info: dict = {}
    out: dict = {}
    for case in header["cases"]:
        loss = vae.loss_function(*(tensors[f"{case}.{k}"] for k in ("recon", "x", "mu", "logvar")))
        info[case] = list(loss.shape) if hasattr(loss, "shape") else type(loss).__name__
        keep_tensor(case, loss, info, out)
    return info, out


def op_train_probe(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    import torch
    import probe

    seed_everything(header["seed"])
    model = probe.ProbeModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=probe.LR)
    calls = {"loss": 0}

    def counted_loss(*args: Any) -> Any:
        calls["loss"] += 1
        return probe.probe_loss(*args)

    original, vae.loss_function = vae.loss_function, counted_loss
    try:
        value = vae.train(model, probe.probe_loader(), optimizer, torch.device("cpu"))
    finally:
        vae.loss_function = original
    weights = {f"state.{k}": v for k, v in model.state_dict().items()}
    return {"value": _as_float(value), "returned": type(value).__name__, "loss_calls": calls["loss"]}, weights


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def op_train_elbo(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

    from common import load_mnist, pick_device

    device = pick_device()
    images, labels = load_mnist(train=True, raw_dir=Path.cwd())
    model = new_model(vae, header["seed"], tensors).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=header["lr"])
    dataset = TensorDataset(images.to(device), labels.to(device))
    # Whole batches by index (one gather per batch, not one per image): as fast as a plain loop.
    generator = torch.Generator().manual_seed(header["seed"])
    sampler = BatchSampler(RandomSampler(dataset, generator=generator), header["batch_size"], drop_last=False)
    loader = DataLoader(dataset, sampler=sampler, batch_size=None)
    values, seconds = [], []
    for _ in range(header["epochs"]):
        start = time.perf_counter()
        values.append(_as_float(vae.train(model, loader, optimizer, device)))
        seconds.append(time.perf_counter() - start)
    return {"values": values, "epoch_seconds": seconds, "device": str(device)}, state_of(model)


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def serve(requests: int, answers: int) -> None:
    """Answer requests until the grader closes the pipe."""
    import torch

    torch.set_num_threads(int(os.environ.get("VAE_WORKER_THREADS", "0")) or len(os.sched_getaffinity(0)))
    write_frame(answers, {"ok": True, "ready": True, "torch": torch.__version__})
    vae, import_error = None, None
    start = time.perf_counter()
    try:
        vae = load_submission()
    except BaseException as error:  # the submission may raise anything, SystemExit included
        import_error = describe_error(error)
    write_frame(answers, {"ok": import_error is None, "error": import_error, "seconds": time.perf_counter() - start})
    while True:
        try:
            header, tensors = read_frame(requests)
        except EOFError:
            return
        try:
            if vae is None:
                raise RuntimeError("the submission did not import")
            info, out = OPS[header["op"]](vae, header, tensors)
            write_frame(answers, {"ok": True, **info}, out)
        except BaseException as error:  # report it; the grader decides what it costs
            write_frame(answers, {"ok": False, "error": describe_error(error)})


def main() -> None:
    global SUBMISSION
    requests, answers = int(sys.argv[1]), int(sys.argv[2])
    SUBMISSION = Path(sys.argv[3]).resolve()
    sys.path[:0] = [str(SUBMISSION.parent), str(Path(__file__).resolve().parent)]
    serve(requests, answers)


if __name__ == "__main__":
    main()
