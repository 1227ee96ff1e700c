"""The sandboxed worker (the untrusted side): imports a submission and answers the grader.

It runs in its own process (as an unprivileged user, in namespaces where available), reads
requests on one pipe and writes answers on another, in the frames of protocol.py (copied in
beside this file), each answer carrying its request's id. Every request is self-contained (it
seeds the RNGs and builds what it needs), so the grader can restart a dead worker and go on.
Nothing here is trusted by the grader: answers are only data, which it checks in its own
process. OPS, at the end, maps each operation of the protocol to the function answering it.

Self-protection, best effort: before the submission is imported, serve() keeps private
references to the operation functions, the worker's other functions, the protocol's functions
and their code objects, and dispatches from that private copy (rewriting OPS changes nothing).
Before each answer it checks that nothing was swapped; what was is named in the answer's
protocol.ALTERED field, and a request whose own code was swapped is refused. Code in the same
process can defeat any such check (native code, rewriting these references through frames or
the garbage collector), so the grader also scans the submission's source and looks at its
processes, and flags what it finds for a person (autograder/sandbox/integrity.py).
"""
from __future__ import annotations

import importlib.util
import inspect
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python -I` leaves this folder out
import protocol  # noqa: E402  (protocol.py is copied in beside this file)

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
    try:
        message = str(error)
    except Exception as inner:  # noqa: BLE001 - a __str__ that raises is the submission's, not ours
        message = f"(its message could not be read: {type(inner).__name__})"
    if len(message) > 2000:
        message = message[:2000] + " ..."
    fields = {"type": type(error).__name__, "message": message, "traceback": "\n".join(lines)}
    # Valid UTF-8 only, whatever the text holds (a lone surrogate becomes "?"): the grader reads it as data.
    return {key: str.__str__(value).encode("utf-8", "replace").decode() for key, value in fields.items()}


def load_submission() -> Any:
    spec = importlib.util.spec_from_file_location("vae", SUBMISSION)
    module = importlib.util.module_from_spec(spec)
    sys.modules["vae"] = module
    spec.loader.exec_module(module)
    return module


def state_of(model: Any) -> dict:
    return protocol.with_state_prefix(model.state_dict())


def new_model(vae: Any, seed: int, tensors: dict | None = None) -> Any:
    """The submission's VAE, holding the weights the grader sent (`state.<name>`), if any."""
    import torch

    seed_everything(seed)
    model = vae.VAE()
    weights = protocol.state_in(tensors or {})
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
    if header.get("meta"):
        return on_meta_device(model.reparameterize, tensors["mu"], tensors["logvar"])
    info: dict = {}
    out: dict = {}
    for name in ("first", "second"):
        keep_tensor(name, model.reparameterize(tensors["mu"], tensors["logvar"]), info, out)
    return info, out


def on_meta_device(function: Any, *inputs: Any) -> tuple[dict, dict]:
    """Call `function` on the inputs moved to the `meta` device (shapes without data, on any CPU build).

    A function that makes a tensor on the CPU whatever its inputs' device raises a device-mismatch
    error here, as it would on a GPU. Answers the error's message (`meta_error`) or the result's device.
    """
    try:
        result = function(*(tensor.to("meta") for tensor in inputs))
    except Exception as error:  # the grader reads the message; anything else it ignores
        return {"meta_error": f"{type(error).__name__}: {str(error)[:500]}"}, {}
    return {"device": str(getattr(result, "device", type(result).__name__))}, {}


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
    """loss_function's value in each case; a case that raises is answered as `{case}_error` (the
    grader judges the cases each check needs, so one failing input shape costs only its check).

    `{case}_gradients` names the inputs (recon_x, mu, logvar) a gradient reaches from the loss:
    a term cut off with .item() or .detach() has the right value but trains nothing.
    """
    info: dict = {}
    out: dict = {}
    for case in header["cases"]:
        inputs = [tensors[protocol.loss_input(case, k)] for k in protocol.LOSS_ARGUMENTS]
        try:
            loss = vae.loss_function(*inputs)
        except Exception as error:  # the grader reads the message; this case only
            info[f"{case}_error"] = describe_error(error)
            continue
        info[case] = list(loss.shape) if hasattr(loss, "shape") else type(loss).__name__
        keep_tensor(case, loss.detach() if hasattr(loss, "detach") else loss, info, out)
        info[f"{case}_gradients"] = loss_gradients(vae, inputs)
    return info, out


def loss_gradients(vae: Any, inputs: list) -> list[str] | None:
    """The names of the inputs that receive a non-zero gradient from loss_function (None: unknown)."""
    import torch

    leaves = {name: value.clone().requires_grad_(name != "x") for name, value in zip(protocol.LOSS_ARGUMENTS, inputs)}
    try:
        loss = vae.loss_function(*(leaf.clone() for leaf in leaves.values()))
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            return None
        if loss.grad_fn is None:
            return []
        loss.sum().backward()
    except Exception:  # an in-place operation, say: the value check still judges it
        return None
    return [name for name, leaf in leaves.items() if leaf.grad is not None and bool(leaf.grad.abs().sum() > 0)]


def op_train_probe(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    import torch
    import probe

    seed_everything(header["seed"])
    model = probe.ProbeModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=probe.LR)
    calls = {"loss": 0}
    try:
        signature = inspect.signature(vae.loss_function)
    except (TypeError, ValueError):  # not a plain callable: train() will say so when it calls it
        signature = None

    def counted_loss(*args: Any, **kwargs: Any) -> Any:
        calls["loss"] += 1
        if kwargs and signature is not None:  # loss_function(recon_x=..., x=...): its own names give the order
            args, kwargs = signature.bind(*args, **kwargs).args, {}
        return probe.probe_loss(*args, **kwargs)

    original, vae.loss_function = vae.loss_function, counted_loss
    try:
        value = vae.train(model, probe.probe_loader(), optimizer, torch.device("cpu"))
    finally:
        vae.loss_function = original
    info = {"value": _as_float(value), "returned": type(value).__name__, "loss_calls": calls["loss"]}
    return info, state_of(model)


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def batch_loader(images: Any, labels: Any, batch_size: int, seed: int) -> Any:
    """The notebook's `DataLoader(TensorDataset(...), batch_size, shuffle=True)`, as fast as a plain loop.

    Everything a student's train() may read is as in the notebook (`loader.batch_size`,
    `len(loader)`, `len(loader.dataset)`, batches `[x (B, 1, 28, 28), labels (B,)]`); only the
    batches are gathered in one indexing each instead of one per image: torch's fetcher calls a
    dataset's `__getitems__(indices)` when it has one, and `_as_batch` passes its result through.
    """
    import torch
    from torch.utils.data import DataLoader, RandomSampler, TensorDataset

    class WholeBatches(TensorDataset):
        def __getitems__(self, indices: list[int]) -> list:
            index = torch.as_tensor(indices, device=self.tensors[0].device)
            return [tensor[index] for tensor in self.tensors]

    # shuffle=True's sampler, built here so that the loader draws its worker seed from the global RNG
    # as before (the submission's noise, hence its score, stays what it was).
    dataset = WholeBatches(images, labels)
    sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=_as_batch)


def _as_batch(batch: list) -> list:
    """collate_fn: __getitems__ already returned the whole batch, [x (B, 1, 28, 28), labels (B,)]."""
    return batch


def op_train_elbo(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    import torch

    from common import load_mnist, pick_device

    device = pick_device()
    images, labels = load_mnist(train=True, raw_dir=Path.cwd())
    model = new_model(vae, header["seed"], tensors).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=header["lr"])
    loader = batch_loader(images.to(device), labels.to(device), header["batch_size"], header["seed"])
    values, seconds = [], []
    for _ in range(header["epochs"]):
        start = time.perf_counter()
        values.append(_as_float(vae.train(model, loader, optimizer, device)))
        seconds.append(time.perf_counter() - start)
    return {"values": values, "epoch_seconds": seconds, "device": str(device)}, state_of(model)


OPS = {
    protocol.PARAMETERS: op_parameters,
    protocol.ENCODE: op_encode,
    protocol.DECODE: op_decode,
    protocol.REPARAMETERIZE: op_reparameterize,
    protocol.GRADIENT_FLOW: op_gradient_flow,
    protocol.LOSS: op_loss,
    protocol.TRAIN_PROBE: op_train_probe,
    protocol.TRAIN_ELBO: op_train_elbo,
}


Snapshot = dict[str, tuple[Any, Any]]  # a watched name -> (the object, its code object if any)


def watched() -> dict[str, Any]:
    """What a submission could swap to forge answers, by name, as it is now: the OPS table and
    its entries, this module's functions and the protocol's."""
    table = globals().get("OPS")
    found = {"worker.OPS": table}
    found.update({f"ops.{op}": function for op, function in (table if isinstance(table, dict) else {}).items()})
    for prefix, namespace, module in (("worker", globals(), __name__), ("protocol", vars(protocol), protocol.__name__)):
        found.update({f"{prefix}.{name}": value for name, value in namespace.items()
                      if inspect.isfunction(value) and value.__module__ == module})
    return found


def snapshot() -> Snapshot:
    return {name: (value, getattr(value, "__code__", None)) for name, value in watched().items()}


def altered(kept: Snapshot, now: dict[str, Any]) -> list[str]:
    """The names in `kept` whose object or code object is not what it was (`now`: watched())."""
    return sorted(name for name, (value, code) in kept.items()
                  if now.get(name) is not value or getattr(value, "__code__", None) is not code)


def serve(requests: int, answers: int) -> None:
    """Answer requests until the grader closes the pipe."""
    import torch

    # Private copies, taken before the submission runs (see the module docstring).
    table, kept = dict(OPS), snapshot()
    read, write, describe, look, compare = protocol.read_frame, protocol.write_frame, describe_error, watched, altered
    checkers = {function: function.__code__ for function in (look, compare)}
    torch.set_num_threads(int(os.environ.get("VAE_WORKER_THREADS", "0")) or len(os.sched_getaffinity(0)))
    write(answers, {"id": protocol.READY_ID, "ok": True, "torch": torch.__version__})
    vae, import_error = None, None
    start = time.perf_counter()
    try:
        vae = load_submission()
    except BaseException as error:  # the submission may raise anything, SystemExit included
        import_error = describe(error)
    write(answers, {"id": protocol.IMPORT_ID, "ok": import_error is None, "error": import_error,
                    "seconds": time.perf_counter() - start})
    while True:
        try:
            header, tensors = read(requests)
        except EOFError:
            return
        request_id = header.get("id")
        if any(function.__code__ is not code for function, code in checkers.items()):
            swapped = ["worker.watched"]  # the check itself was rewritten
        else:
            swapped = compare(kept, look())
        report = {protocol.ALTERED: swapped} if swapped else {}
        try:
            if vae is None:
                raise RuntimeError("the submission did not import")
            own = f"ops.{header['op']}"
            if own in swapped or any(not name.startswith("ops.") for name in swapped):
                write(answers, {"ok": False, "id": request_id, **report,
                                "error": {"type": protocol.ALTERED_ERROR, "traceback": "",
                                          "message": f"the grader's worker was changed ({', '.join(swapped)[:300]})"}})
                continue
            info, out = table[header["op"]](vae, header, tensors)
            write(answers, {**info, "ok": True, "id": request_id, **report}, out)
        except BaseException as error:  # report it; the grader decides what it costs
            write(answers, {"ok": False, "id": request_id, **report, "error": describe(error)})


def main() -> None:
    global SUBMISSION
    requests, answers = int(sys.argv[1]), int(sys.argv[2])
    SUBMISSION = Path(sys.argv[3]).resolve()
    sys.path[:0] = [str(SUBMISSION.parent), str(Path(__file__).resolve().parent)]
    serve(requests, answers)


if __name__ == "__main__":
    main()
