"""The sandboxed worker (the untrusted side): imports a submission and answers the grader.

It runs in its own process (as an unprivileged user, in namespaces where available), reads
requests on one pipe and writes answers on another, in the frames of protocol.py (copied in
beside this file), each answer carrying its request's id. Every request is self-contained (it
seeds the RNGs and builds what it needs), so the grader can restart a dead worker and go on.
Nothing here is trusted by the grader: answers are only data, which it checks in its own
process. OPS, at the end, maps each operation of the protocol to the function answering it.

Self-protection, best effort: before the submission is imported, serve() keeps a snapshot of
everything its answers go through (this module's globals, OPS, the protocol's, the probe's and
MNIST loading's namespaces, the standard modules on the wire's path and the builtins), dispatches
from a private tuple of the operations (rewriting OPS, or any copy, changes nothing), and adds an
audit hook, which cannot be removed, that refuses the ways to the private copies and to rebinding
them: the garbage collector's object lists, trace and profile functions, sys._getframe of the
worker's frames, setting a watched function's __code__ or default arguments. Around each request
it puts back whatever was swapped: what was is named in the answer's protocol.ALTERED field (with
what the hook refused), and an answer computed while something was swapped is refused. Code in
the same process can still defeat such checks (native code; a thread that swaps between the last
check and the answer; the internals of torch and of the standard library beyond those watched),
so the grader also scans the submission's source and looks at its processes, and flags what it
finds for a person (autograder/sandbox/integrity.py); the grader re-checks every answer itself.
"""
from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

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
    frames = [f for f in traceback.extract_tb(error.__traceback__)  # the hand-in's files: vae.py, what it imports
              if Path(f.filename).parent == SUBMISSION.parent]
    lines = [f'  File "{Path(f.filename).name}", line {f.lineno}, in {f.name}\n    {f.line}' for f in frames[-5:]]
    try:
        message = str(error)
    except Exception as inner:  # noqa: BLE001 - a __str__ that raises is the submission's, not ours
        message = f"(its message could not be read: {type(inner).__name__})"
    if len(message) > 2000:
        message = message[:2000] + " ..."
    fields = {protocol.Error.TYPE: type(error).__name__, protocol.Error.MESSAGE: message,
              protocol.Error.TRACEBACK: "\n".join(lines)}
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
        for name in sorted(set(weights) - set(own)):  # in a fixed order: the same grading says the same
            raise protocol.WeightsRejected(f"your VAE has no `{name}`")
        for name in (name for name in own if name in weights):  # in the model's order: fc1 first
            if tuple(own[name].shape) != tuple(weights[name].shape):
                raise protocol.WeightsRejected(f"`{name}` has shape {tuple(own[name].shape)}, the grader's has "
                                               f"{tuple(weights[name].shape)}")
        # nn.Module's own method: a submission's override of load_state_dict is not called.
        torch.nn.Module.load_state_dict(model, weights, strict=False)
    return model


def op_parameters(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    model = new_model(vae, header[protocol.SEED])
    params = {name: [list(p.shape), bool(p.requires_grad)] for name, p in model.named_parameters()}
    return {protocol.Parameters.PARAMETERS: params}, {}


def op_encode(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    fields = protocol.Encode
    model = new_model(vae, header[protocol.SEED], tensors)
    info, out = {}, {}
    returned = model.encode(tensors[fields.X])
    info[fields.RETURNED] = type(returned).__name__
    if isinstance(returned, (tuple, list)):
        info[fields.LENGTH] = len(returned)
        for name, value in zip((fields.MU, fields.LOGVAR), returned):
            keep_tensor(name, value, info, out)
    return info, out


def keep_tensor(name: str, value: Any, info: dict, out: dict) -> None:
    """Put a returned tensor in the answer's body, or note what came back instead."""
    import torch

    if isinstance(value, torch.Tensor):
        out[name] = value
    else:
        info[protocol.type_of(name)] = type(value).__name__


def op_decode(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    model = new_model(vae, header[protocol.SEED], tensors)
    info, out = {}, {}
    keep_tensor(protocol.Decode.RECON, model.decode(tensors[protocol.Decode.Z]), info, out)
    return info, out


def op_reparameterize(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    fields = protocol.Reparameterize
    model = new_model(vae, header[protocol.SEED])
    model.train()
    info: dict = {}
    out: dict = {}
    for name in (fields.FIRST, fields.SECOND):
        keep_tensor(name, model.reparameterize(tensors[fields.MU], tensors[fields.LOGVAR]), info, out)
    return info, out


def op_gradient_flow(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    fields = protocol.GradientFlow
    model = new_model(vae, header[protocol.SEED])
    model.train()
    mu = tensors[fields.MU].clone().requires_grad_(True)
    logvar = tensors[fields.LOGVAR].clone().requires_grad_(True)
    z = model.reparameterize(mu, logvar)
    info: dict[str, Any] = {fields.Z_REQUIRES_GRAD: bool(getattr(z, "requires_grad", False))}
    out: dict = {}
    keep_tensor(fields.Z, z, info, out)
    if info[fields.Z_REQUIRES_GRAD]:
        (z * tensors[fields.V]).sum().backward()
    for name, leaf in ((fields.MU_GRAD, mu), (fields.LOGVAR_GRAD, logvar)):
        info[name] = leaf.grad is not None
        if leaf.grad is not None:
            out[name] = leaf.grad
    return info, out


def op_loss(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    """loss_function's value in each case; a case that raises is answered in the field error_of(case)
    (the grader judges the cases each check needs, so one failing input shape costs only its check).

    The field gradients_of(case) names the inputs (recon_x, mu, logvar) a gradient reaches from the
    loss: a term cut off with .item() or .detach() has the right value but trains nothing.
    """
    info: dict = {}
    out: dict = {}
    for case in header[protocol.Loss.CASES]:
        inputs = [tensors[protocol.loss_input(case, k)] for k in protocol.LOSS_ARGUMENTS]
        try:
            loss = vae.loss_function(*inputs)
        except Exception as error:  # the grader reads the message; this case only
            info[protocol.error_of(case)] = describe_error(error)
            continue
        info[case] = list(loss.shape) if hasattr(loss, "shape") else type(loss).__name__
        keep_tensor(case, loss.detach() if hasattr(loss, "detach") else loss, info, out)
        info[protocol.gradients_of(case)] = loss_gradients(vae, inputs)
    return info, out


def loss_gradients(vae: Any, inputs: list) -> list[str] | None:
    """The names of the inputs that receive a non-zero gradient from loss_function (None: unknown)."""
    import torch

    leaves = {name: value.clone().requires_grad_(name != protocol.Loss.X)
              for name, value in zip(protocol.LOSS_ARGUMENTS, inputs)}
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

    from torch.optim.optimizer import register_optimizer_step_pre_hook

    fields = protocol.TrainProbe
    seed_everything(header[protocol.SEED])
    model = probe.ProbeModel()
    model.eval()  # as the notebook's evaluate() leaves it: train() puts it in training mode
    optimizer = torch.optim.SGD(model.parameters(), lr=probe.LR)
    calls, served = [0], [0]
    steps = {fields.GIVEN: 0, fields.OTHER: 0, fields.IN_EVAL_MODE: 0}

    def count(stepped: Any, *_: Any) -> None:
        steps[fields.GIVEN if stepped is optimizer else fields.OTHER] += 1
        steps[fields.IN_EVAL_MODE] += not model.training

    hook = register_optimizer_step_pre_hook(count)
    try:
        with probe_loss_in(vae, calls):
            value = vae.train(model, probe.probe_loader(served), optimizer, torch.device("cpu"))
    finally:
        hook.remove()
    info = {fields.VALUE: _as_float(value), fields.RETURNED: type(value).__name__, fields.LOSS_CALLS: calls[0],
            fields.EXAMPLES_SERVED: served[0], fields.STEPS: steps,
            fields.LR_KEPT: all(group.get("lr") == probe.LR for group in optimizer.param_groups)}
    return info, state_of(model)


def op_mode_matters(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    return {protocol.ModeMatters.MODE_MATTERS: mode_matters(vae, header[protocol.SEED])}, {}


def mode_matters(vae: Any, seed: int) -> bool | None:
    """Whether the submission's VAE computes something else in evaluation mode than in training mode
    (dropout, or a reparameterize that returns mu): then training in evaluation mode trains another
    model. None where its forward cannot tell (it raises, or returns no tensors)."""
    import torch
    import probe

    try:
        model = new_model(vae, seed)
        x = torch.rand(probe.BATCH, probe.PIXELS, generator=torch.Generator().manual_seed(seed))
        outputs = []
        for training in (True, False):
            torch.nn.Module.train(model, training)
            seed_everything(seed)
            with torch.no_grad():
                outputs.append(model(x))
        return not all(torch.equal(a, b) for a, b in zip(*outputs, strict=True))
    except Exception:  # noqa: BLE001 - the other checks report what the forward does wrong
        return None


@contextlib.contextmanager
def probe_loss_in(vae: Any, calls: list[int]) -> Iterator[None]:
    """While train() runs on the probe, the module's loss_function is the probe's (counted in
    calls[0]): train() is judged on its own, whatever the student's loss computes."""
    import probe

    try:
        signature = inspect.signature(vae.loss_function)
    except (TypeError, ValueError):  # not a plain callable: train() will say so when it calls it
        signature = None

    def counted_loss(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if kwargs and signature is not None:  # loss_function(recon_x=..., x=...): its own names give the order
            args, kwargs = signature.bind(*args, **kwargs).args, {}
        return probe.probe_loss(*args, **kwargs)

    original, vae.loss_function = vae.loss_function, counted_loss
    try:
        yield
    finally:
        vae.loss_function = original


def op_device(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    """One student function (Device.FUNCTION) on PyTorch's `meta` device (shapes without data).

    Code that makes a tensor on the CPU whatever its inputs' device (noise or zeros without
    device=), or a train() that never moves its batches to `device`, raises a device-mismatch error
    here, as it would on a GPU. The loss also runs with only its BCE inputs (recon_x, x) on `meta`,
    then only its KL inputs (mu, logvar), to tell which term makes the CPU tensor. Answers, for
    each of the function's protocol.Device.RUNS, "" where the run ended without an exception,
    else the error.
    The grader judges which errors are device mistakes (a meta tensor has no data to read: a
    correct train() stops at loss.item(), which is no mistake).
    """
    import torch
    import probe

    fields, arguments = protocol.Device, protocol.Loss
    meta, rows = torch.device("meta"), header[fields.ROWS]
    pixels, _, latent = header[fields.DIMS]
    seed_everything(header[protocol.SEED])
    model = new_model(vae, header[protocol.SEED]).to(meta)
    model.train()
    recon, x = torch.rand(rows, pixels).clamp(0.01, 0.99), torch.rand(rows, pixels)
    mu, logvar = torch.randn(rows, latent), torch.randn(rows, latent)

    def loss(on_meta: tuple[str, ...]) -> Any:
        inputs = zip(protocol.LOSS_ARGUMENTS, (recon, x, mu, logvar))
        return vae.loss_function(*(value.to(meta) if name in on_meta else value for name, value in inputs))

    def probe_epoch() -> Any:
        trained = probe.ProbeModel().to(meta)
        optimizer = torch.optim.SGD(trained.parameters(), lr=probe.LR)
        with probe_loss_in(vae, [0]):
            return vae.train(trained, probe.probe_loader(), optimizer, meta)

    runs = {
        fields.ENCODE: lambda: model.encode(x.to(meta)),
        fields.REPARAMETERIZE: lambda: model.reparameterize(mu.to(meta), logvar.to(meta)),
        fields.DECODE: lambda: model.decode(mu.to(meta)),
        fields.LOSS: lambda: loss(protocol.LOSS_ARGUMENTS),
        fields.LOSS_BCE_ON_META: lambda: loss((arguments.RECON, arguments.X)),
        fields.LOSS_KL_ON_META: lambda: loss((arguments.MU, arguments.LOGVAR)),
        fields.TRAIN: probe_epoch,
    }
    info: dict[str, Any] = {}
    for name in fields.RUNS[header[fields.FUNCTION]]:
        try:
            runs[name]()
        except Exception as error:  # the grader reads the error; the other runs go on
            info[name] = describe_error(error)
        else:
            info[name] = ""
    return info, {}


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def batch_loader(images: Any, labels: Any, batch_size: int, seed: int, served: list[int] | None = None) -> Any:
    """The notebook's `DataLoader(TensorDataset(...), batch_size, shuffle=True)`, as fast as a plain loop.

    Everything a student's train() may read is as in the notebook (`loader.batch_size`,
    `len(loader)`, `len(loader.dataset)`, batches `[x (B, 1, 28, 28), labels (B,)]`); only the
    batches are gathered in one indexing each instead of one per image: torch's fetcher calls a
    dataset's `__getitems__(indices)` when it has one, and `_as_batch` passes its result through.
    `served[0]` counts the images the dataset hands out, through the loader or indexed directly.
    """
    import torch
    from torch.utils.data import DataLoader, RandomSampler, TensorDataset

    served = [0] if served is None else served

    class WholeBatches(TensorDataset):
        def __getitems__(self, indices: list[int]) -> list:
            served[0] += len(indices)
            index = torch.as_tensor(indices, device=self.tensors[0].device)
            return [tensor[index] for tensor in self.tensors]

        def __getitem__(self, index: Any) -> tuple:
            served[0] += 1
            return super().__getitem__(index)

    # shuffle=True's sampler, built here so that the loader draws its worker seed from the global RNG
    # as before (the submission's noise, hence its score, stays what it was).
    dataset = WholeBatches(images, labels)
    sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=_as_batch)


def _as_batch(batch: list) -> list:
    """collate_fn: __getitems__ already returned the whole batch, [x (B, 1, 28, 28), labels (B,)]."""
    return batch


def op_train_elbo(vae: Any, header: dict, tensors: dict) -> tuple[dict, dict]:
    """The submission's train(), `epochs` times, on the grader's weights, loader and Adam.

    Counts its work for the grader (who also times the call and bounds how far the weights moved):
    the images the loader's dataset served, and the steps of every optimizer, the grader's or one
    train() made (torch's global step hook).
    """
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from common import load_mnist, pick_device

    fields = protocol.TrainElbo
    # "cpu" (the elbo check's fallback) trains there, else the best device
    device = torch.device(header[fields.DEVICE]) if header.get(fields.DEVICE) else pick_device()
    images, labels = load_mnist(train=True, raw_dir=Path.cwd())
    model = new_model(vae, header[protocol.SEED], tensors).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=header[fields.LR])
    served, steps = [0], [0]
    loader = batch_loader(images.to(device), labels.to(device), header[fields.BATCH_SIZE], header[protocol.SEED],
                          served)
    values, seconds = [], []
    hook = register_optimizer_step_post_hook(lambda *_: steps.__setitem__(0, steps[0] + 1))
    try:
        for _ in range(header[fields.EPOCHS]):
            start = time.perf_counter()
            values.append(_as_float(vae.train(model, loader, optimizer, device)))
            seconds.append(time.perf_counter() - start)
    finally:
        hook.remove()
    return {fields.VALUES: values, fields.EPOCH_SECONDS: seconds, fields.DEVICE: str(device),
            fields.IMAGES_SERVED: served[0], fields.OPTIMIZER_STEPS: steps[0]}, state_of(model)


OPS = {
    protocol.PARAMETERS: op_parameters,
    protocol.ENCODE: op_encode,
    protocol.DECODE: op_decode,
    protocol.REPARAMETERIZE: op_reparameterize,
    protocol.GRADIENT_FLOW: op_gradient_flow,
    protocol.LOSS: op_loss,
    protocol.TRAIN_PROBE: op_train_probe,
    protocol.MODE_MATTERS: op_mode_matters,
    protocol.TRAIN_ELBO: op_train_elbo,
    protocol.DEVICE: op_device,
}


# --- Self-protection (see the module docstring) --------------------------------------------------
# The modules whose namespaces the answers go through, besides this one and OPS: the protocol,
# the probe and MNIST loading that train() runs on, the standard modules on the wire's path,
# and the builtins every one of them looks names up in.
WATCHED_MODULES = ("protocol", "probe", "common", "os", "json", "json.encoder", "struct", "safetensors.torch",
                   "builtins")
REACHED = "vae.worker.reached"  # the audit event serve raises to read what the guard refused
# Audit events refused once the submission runs: the garbage collector's ways to any object (the
# private copies, the guard's own state), the trace and profile hooks (through which a running
# frame's locals can be rebound), and a second audit hook (which could rewrite what the guard
# reports).
REFUSED_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace",
                            "sys.setprofile", "sys._current_frames", "sys.addaudithook"})
SETATTR_EVENTS = frozenset({"object.__setattr__", "object.__delattr__"})

# One watched name: (label, namespace, name, the object, its __code__, __defaults__, __kwdefaults__).
Entry = tuple[str, dict, str, Any, Any, Any, Any]
# What serve keeps: the entries, and each namespace with the names it held.
Snapshot = tuple[tuple[Entry, ...], tuple[tuple[str, dict, frozenset], ...]]


def watched() -> list[tuple[str, dict]]:
    """(label, namespace) of everything a submission could swap to forge answers: this module's
    globals, the OPS table and WATCHED_MODULES' namespaces (imported here, before the submission)."""
    import json.encoder  # noqa: F401  (imported so that they are there to watch)
    import common  # noqa: F401
    import probe  # noqa: F401
    import safetensors.torch  # noqa: F401

    return [("worker", globals()), ("ops", OPS), *((name, vars(sys.modules[name])) for name in WATCHED_MODULES)]


def snapshot() -> Snapshot:
    """The watched names as they are now, with the code and default arguments of each function."""
    import types

    entries, spaces = [], []
    for label, space in watched():
        spaces.append((label, space, frozenset(space)))
        for name, value in list(space.items()):
            function = isinstance(value, types.FunctionType)
            entries.append((label, space, name, value, *((value.__code__, value.__defaults__, value.__kwdefaults__)
                                                         if function else (None, None, None))))
    return tuple(entries), tuple(spaces)


def altered(kept: Snapshot) -> list[str]:
    """The watched names whose object, code or default arguments are not what `kept` holds, and
    the names added to a watched namespace (a global that shadows a builtin); each is put back
    as it was (an added name is removed). Written without builtins: they are watched too."""
    entries, spaces = kept
    found = []
    for label, space, name, value, code, defaults, kwdefaults in entries:
        if space.get(name, entries) is not value:
            found.append(f"{label}.{name}")
            space[name] = value
        elif code is not None and (value.__code__ is not code or value.__defaults__ is not defaults
                                   or value.__kwdefaults__ is not kwdefaults):
            found.append(f"{label}.{name}")  # only native code gets here: the guard refuses the rest
    for label, space, names in spaces:
        for name in space.keys() - names:
            if not name.startswith("__"):  # warnings adds __warningregistry__ where one is raised
                found.append(f"{label}.{name}")
                space.pop(name, None)
    return found


def protected(kept: Snapshot) -> tuple[frozenset, frozenset]:
    """The functions and classes whose attributes the submission may not set (the watched ones
    of this module, OPS, the protocol, the probe and MNIST loading), and their code objects."""
    import types

    own = {"worker", "ops", "protocol", "probe", "common"}
    objects = frozenset(value for label, _, _, value, *_ in kept[0]
                        if label in own and isinstance(value, (types.FunctionType, type)))
    return objects, frozenset(value.__code__ for value in objects if isinstance(value, types.FunctionType))


def guard(objects: frozenset, codes: frozenset) -> Any:
    """The audit hook serve adds before the import (no audit hook can be removed): it refuses
    REFUSED_EVENTS, setting or deleting an attribute of `objects` (a function's __code__,
    __defaults__, __kwdefaults__, a class's methods) and sys._getframe of a frame running `codes`,
    and answers the REACHED event with the names of what it refused. Its state is one tuple that
    it rebinds: neither the hook nor its cell is reachable without the garbage collector."""
    reached: tuple[str, ...] = ()

    def hook(event: str, args: tuple, refused: frozenset = REFUSED_EVENTS, setters: frozenset = SETATTR_EVENTS,
             report: str = REACHED, error: type = RuntimeError, no_frame: type = ValueError) -> None:
        nonlocal reached
        if event == report:
            args[0].extend(reached)
            return
        if event in refused:
            what, raised = event, error
        elif event in setters and args[0] in objects:
            what, raised = f"{event} {args[1]}", error
        elif event == "sys._getframe" and args[0].f_code in codes:
            what, raised = event, no_frame  # what libraries catch when they ask for a caller's frame
        else:
            return
        reached += (what,)
        raise raised(f"the grader's worker does not allow {what} (it reaches the grader's own code)")

    return hook


def _adam() -> None:
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


# What the operations use, imported before the submission: a library that fails here fails on the
# grading machine, and the grader says so naming it, instead of a student's train() raising later.
LIBRARIES = (("numpy", lambda: importlib.import_module("numpy")),
             ("torch", lambda: importlib.import_module("torch")),
             ("safetensors", lambda: importlib.import_module("safetensors.torch")),
             ("torch.optim (an optimizer imports torch._dynamo)", _adam),
             ("common.py (MNIST loading)", lambda: importlib.import_module("common")))


def import_libraries() -> dict[str, str] | None:
    """None, or the first library that failed: an Error's LIBRARY, TYPE and MESSAGE."""
    for name, load in LIBRARIES:
        try:
            load()
        except BaseException as error:  # anything a broken installation raises
            return {protocol.Error.LIBRARY: name, protocol.Error.TYPE: type(error).__name__,
                    protocol.Error.MESSAGE: str(error)[:1000]}
    return None


def serve(requests: int, answers: int) -> None:
    """Answer requests until the grader closes the pipe."""
    failed = import_libraries()
    if failed:
        protocol.write_frame(answers, {protocol.ID: protocol.READY_ID, protocol.OK: False,
                                       protocol.LIBRARY_ERROR: failed})
        return
    import torch

    # Private copies, taken before the submission runs (see the module docstring): the table is a
    # tuple (no entry of it can be set), the locals of this frame cannot be rebound from Python
    # once the guard refuses trace functions, and what is watched is put back before every use.
    kept = snapshot()
    table = tuple(OPS.items())
    read, write, describe, repair, audit = protocol.read_frame, protocol.write_frame, describe_error, altered, sys.audit
    torch.set_num_threads(int(os.environ.get("VAE_WORKER_THREADS", "0")) or len(os.sched_getaffinity(0)))
    write(answers, {protocol.ID: protocol.READY_ID, protocol.OK: True, protocol.TORCH: torch.__version__})
    sys.addaudithook(guard(*protected(kept)))
    vae, import_error = None, None
    start = time.perf_counter()
    try:
        vae = load_submission()
    except BaseException as error:  # the submission may raise anything, SystemExit included
        import_error = describe(error)
    pending = repair(kept)  # what the import swapped: put back, and reported with the first answer
    write(answers, {protocol.ID: protocol.IMPORT_ID, protocol.OK: import_error is None, protocol.ERROR: import_error,
                    protocol.SECONDS: time.perf_counter() - start})
    while True:
        try:
            header, tensors = read(requests)
        except EOFError:
            return
        swapped, pending = pending + repair(kept), []  # first: the field names below are put back too
        request_id = header.get(protocol.ID)
        try:
            if vae is None:
                raise RuntimeError("the submission did not import")
            operation = None
            for op, function in table:
                if op == header[protocol.OP]:
                    operation = function
            if operation is None:
                raise KeyError(header[protocol.OP])
            info, out = operation(vae, header, tensors)
            ok, during = True, repair(kept)  # swapped while this answer was computed: the answer is refused
        except BaseException as error:  # report it; the grader decides what it costs
            info, out, ok, during = {protocol.ERROR: describe(error)}, {}, False, repair(kept)
        reached: list[str] = []
        audit(REACHED, reached)
        swapped += during + [f"refused.{what}" for what in reached]
        report = {protocol.ALTERED: swapped} if swapped else {}
        if during:
            info, out, ok = {protocol.ERROR: {protocol.Error.TYPE: protocol.ALTERED_ERROR, protocol.Error.TRACEBACK: "",
                                              protocol.Error.MESSAGE: f"the grader's worker was changed "
                                                                      f"({', '.join(during)[:300]})"}}, {}, False
        write(answers, {**info, protocol.OK: ok, protocol.ID: request_id, **report}, out)


def main() -> None:
    global SUBMISSION
    requests, answers = int(sys.argv[1]), int(sys.argv[2])
    SUBMISSION = Path(sys.argv[3]).resolve()
    sys.path[:0] = [str(SUBMISSION.parent), str(Path(__file__).resolve().parent)]
    serve(requests, answers)


if __name__ == "__main__":
    main()
