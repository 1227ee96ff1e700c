"""The sandbox's wire protocol: frames, request ids, operation names, every field and tensor name,
and the failures both sides name.

Both sides import this file and nothing else of each other: the grader as
`autograder.sandbox.protocol`, the worker inside the sandbox as `protocol` (it is copied in
beside worker.py). So it holds no grading logic and needs only the standard library and
safetensors (imported when a frame with tensors is built or read).

Frame: b"VAEW", header length (4 bytes), body length (8 bytes), JSON header, body.
The body is a safetensors blob (tensors by name) or empty.

Requests carry `op` (one of OPS) and `id` (the client's counter, from 1). Every answer carries
the `id` of its request; the worker's two start-up answers carry READY_ID and IMPORT_ID. The
client reads exactly one answer per request: any other frame (another id, a second frame, a
malformed or oversized one) is a ProtocolError. The submission runs in the worker's process
and can write frames itself, so an answer is data to check, never a verdict; the id only makes
sure that a stray frame costs the request it arrived in, not every later one.
"""
from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

MAGIC = b"VAEW"
PREFIX = struct.Struct("<4sIQ")  # magic, header length, body length
MAX_HEADER = 1 << 20  # bytes of JSON
MAX_BODY = 1 << 29  # bytes of tensors

# --- Fields -----------------------------------------------------------------------------------
# Every header field and tensor name is one of the names below, or made by one of the functions
# below (with_state_prefix, loss_input, type_of, error_of, gradients_of): both sides read and
# write them through these, so renaming a field is one edit. Each operation's class lists what
# travels for it: the request's header fields and tensors, the answer's fields and tensors.

# Every request carries OP (one of OPS) and ID; every answer ID, OK and, where OK is false, ERROR.
OP, ID, OK, ERROR = "op", "id", "ok", "error"
SEED = "seed"  # a request's seed of every RNG the worker uses (each operation's but LOSS's)


class Error:
    """The fields of an ERROR (an answer's, an import's, a loss case's, a device run's): what the
    worker caught, the traceback holding only the submission's own lines."""

    TYPE, MESSAGE, TRACEBACK = "type", "message", "traceback"
    LIBRARY = "library"  # LIBRARY_ERROR's only (with TYPE and MESSAGE): the library that failed to import


def type_of(name: str) -> str:
    """The answer field that names what came back instead of tensor `name`, when it is no tensor."""
    return f"{name}_type"


def error_of(case: str) -> str:
    """The answer field holding the Error a loss case raised instead of giving a value."""
    return f"{case}_error"


def gradients_of(case: str) -> str:
    """The answer field listing the arguments a gradient reaches from a loss case (None: unknown)."""
    return f"{case}_gradients"


READY_ID = "ready"  # the worker's first answer: Python and torch are up
TORCH = "torch"  # ...with torch's version in this field
# ...or not: a READY answer with ok=false names, in this field, the library that failed to import
# inside the sandbox (an Error's LIBRARY, TYPE, MESSAGE): the grading machine's fault, not the student's.
LIBRARY_ERROR = "library_error"
IMPORT_ID = "import"  # its second: the submission imported (ok) or not (ERROR)
SECONDS = "seconds"  # ...and how long the import took

# An answer's list of what the worker found swapped since before the import (worker.py's
# self-check, best effort): present only when something was; a request whose own operation or
# the worker's shared code was swapped is answered ok=false with error type ALTERED_ERROR.
ALTERED = "altered"

# Operations (the `op` of a request); worker.OPS maps each to the function that answers it, and
# the class of the same name below lists its fields.
PARAMETERS = "parameters"
ENCODE = "encode"
DECODE = "decode"
REPARAMETERIZE = "reparameterize"
GRADIENT_FLOW = "gradient_flow"
LOSS = "loss"
TRAIN_PROBE = "train_probe"
# Whether the VAE computes something else in evaluation mode: asked apart from TRAIN_PROBE, which
# runs no student model, so a forward that kills its worker costs the training loop nothing.
MODE_MATTERS = "mode_matters"
TRAIN_ELBO = "train_elbo"
# One student function on PyTorch's `meta` device (worker.op_device). One call per function, so
# that a function that kills, hangs or floods its worker costs only its own device check.
DEVICE = "device"

# Tensor names. A model's weights travel as "state.<parameter name>"; a loss request's inputs
# as "<case>.<argument>" for each case it names.
STATE_PREFIX = "state."


class Parameters:
    """PARAMETERS (request: SEED): the parameters of a VAE as its __init__ makes them."""

    PARAMETERS = "parameters"  # answer: parameter name -> [shape, requires_grad]


class Encode:
    """ENCODE (request: SEED, tensors X and the grader's weights): encode(x) of the VAE holding them."""

    X = "x"  # request tensor (B, 784)
    RETURNED, LENGTH = "returned", "length"  # answer: the type name of what encode returned; a pair's length
    MU, LOGVAR = "mu", "logvar"  # answer tensors: the pair's items (each, where no tensor, type_of names it)


class Decode:
    """DECODE (request: SEED, tensors Z and the grader's weights): decode(z) of the VAE holding them."""

    Z = "z"  # request tensor (B, 20)
    RECON = "recon"  # answer tensor


class Reparameterize:
    """REPARAMETERIZE (request: SEED, tensors MU and LOGVAR): two calls in training mode."""

    MU, LOGVAR = "mu", "logvar"  # request tensors
    FIRST, SECOND = "first", "second"  # answer tensors: the two calls' z


class GradientFlow:
    """GRADIENT_FLOW (request: SEED, tensors MU, LOGVAR and V): z = reparameterize(mu, logvar),
    then the gradients of z . v that reach mu and logvar."""

    MU, LOGVAR, V = "mu", "logvar", "v"  # request tensors
    Z = "z"  # answer tensor
    Z_REQUIRES_GRAD = "z_requires_grad"  # answer: bool
    MU_GRAD, LOGVAR_GRAD = "mu_grad", "logvar_grad"  # answer: whether each arrived (bool), and the tensor
    GRAD_OF = {MU: MU_GRAD, LOGVAR: LOGVAR_GRAD}


class Loss:
    """LOSS (request: CASES, and each case's inputs named by loss_input): loss_function in each case.

    The answer holds, for each case, its value as the tensor named by the case and its shape (or
    type name) in the field of that name, and the inputs a gradient reaches from it (gradients_of),
    or what it raised instead (error_of)."""

    CASES = "cases"  # request: the case names
    RECON, X, MU, LOGVAR = "recon", "x", "mu", "logvar"  # loss_function's arguments


LOSS_ARGUMENTS = (Loss.RECON, Loss.X, Loss.MU, Loss.LOGVAR)  # in loss_function's order


class TrainProbe:
    """TRAIN_PROBE (request: SEED): train() on the probe (probe.py). The answer's tensors are the
    probe's weights after it, under STATE_PREFIX; its fields count train()'s work."""

    VALUE, RETURNED = "value", "returned"  # what train() returned, as a float (or None), and its type name
    LOSS_CALLS = "loss_calls"  # the calls of loss_function
    EXAMPLES_SERVED = "examples_served"  # examples the given loader's data set handed out
    STEPS = "steps"  # optimizer steps, a dict: of the GIVEN optimizer, of any OTHER, and IN_EVAL_MODE
    GIVEN, OTHER, IN_EVAL_MODE = "given", "other", "in_eval_mode"
    LR_KEPT = "lr_kept"  # whether the given optimizer's learning rate is still the probe's


class ModeMatters:
    """MODE_MATTERS (request: SEED)."""

    MODE_MATTERS = "mode_matters"  # answer: bool, or None where the VAE's forward cannot tell


class TrainElbo:
    """TRAIN_ELBO (request: SEED, EPOCHS, BATCH_SIZE, LR, DEVICE if any, the grader's weights as
    tensors): the submission's train() on MNIST. The answer's tensors are the trained weights."""

    EPOCHS, BATCH_SIZE, LR = "epochs", "batch_size", "lr"  # request
    # Request: "cpu" trains there (the elbo check's fallback); absent, the best device. Answer: where it trained.
    DEVICE = "device"
    VALUES, EPOCH_SECONDS = "values", "epoch_seconds"  # answer: what each epoch's train() returned, its seconds
    IMAGES_SERVED, OPTIMIZER_STEPS = "images_served", "optimizer_steps"  # answer: train()'s work, counted


class Device:
    """DEVICE (request: SEED, FUNCTION, ROWS, DIMS): one student function's runs on `meta`. The
    answer has a field per run of that function (RUNS): "" where it ended without an exception,
    else its Error."""

    FUNCTION = "function"  # request: a key of RUNS
    ROWS, DIMS = "rows", "dims"  # request: the inputs' rows, and (pixels, hidden, latent)
    ENCODE, REPARAMETERIZE, DECODE, LOSS, TRAIN = "encode", "reparameterize", "decode", "loss", "train"
    # The loss with only its BCE inputs (recon_x, x) on `meta`, then only its KL inputs (mu, logvar).
    LOSS_BCE_ON_META, LOSS_KL_ON_META = "loss_bce_on_meta", "loss_kl_on_meta"
    RUNS = {ENCODE: (ENCODE,), REPARAMETERIZE: (REPARAMETERIZE,), DECODE: (DECODE,),
            LOSS: (LOSS, LOSS_BCE_ON_META, LOSS_KL_ON_META), TRAIN: (TRAIN,)}


OPS = (PARAMETERS, ENCODE, DECODE, REPARAMETERIZE, GRADIENT_FLOW, LOSS, TRAIN_PROBE, MODE_MATTERS, TRAIN_ELBO,
       DEVICE)


class ProtocolError(RuntimeError):
    """A frame that is not what the protocol allows."""


# Failures that both sides name: one class each, whose name is the error type an answer carries.
class WorkerAltered(ProtocolError):
    """The worker refused a request: the code answering it was swapped (worker.py's self-check)."""


class WeightsRejected(ValueError):
    """A VAE cannot hold the weights it is given: a layer is missing or of another shape. The worker
    raises it when the submission's VAE cannot take the grader's weights; the grader when its own
    model of the lecture's layers cannot take the submission's trained ones."""


ALTERED_ERROR = WorkerAltered.__name__
WEIGHTS_REJECTED = WeightsRejected.__name__


def with_state_prefix(state: dict) -> dict:
    """A model's state_dict as answer tensors: {"state.fc1.weight": ...}."""
    return {STATE_PREFIX + name: value for name, value in state.items()}


def state_in(tensors: dict) -> dict:
    """The weights among answer tensors, under their parameter names (the prefix removed)."""
    return {name[len(STATE_PREFIX):]: value for name, value in tensors.items() if name.startswith(STATE_PREFIX)}


def loss_input(case: str, argument: str) -> str:
    """The tensor name of one loss_function argument of one case."""
    return f"{case}.{argument}"


def encode_frame(header: dict[str, Any], tensors: dict | None = None) -> bytes:
    head = json.dumps(header).encode()
    body = b""
    if tensors:  # only then: a worker whose libraries failed to import still says which one
        from safetensors.torch import save

        # contiguous(): safetensors refuses views such as a transpose, which correct code may return.
        body = save({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()})
    if len(head) > MAX_HEADER or len(body) > MAX_BODY:
        raise ProtocolError(f"frame too large ({len(head)} header bytes, {len(body)} body bytes)")
    return PREFIX.pack(MAGIC, len(head), len(body)) + head + body


def decode_prefix(prefix: bytes) -> tuple[int, int]:
    """(header length, body length) from a frame's first PREFIX.size bytes."""
    magic, head_len, body_len = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise ProtocolError("malformed frame (bad magic)")
    if head_len > MAX_HEADER or body_len > MAX_BODY:
        raise ProtocolError(f"oversized frame ({head_len} header bytes, {body_len} body bytes)")
    return head_len, body_len


def parse_frame(head: bytes, body: bytes) -> tuple[dict[str, Any], dict]:
    """The header and tensors of a frame; anything unreadable is a ProtocolError."""
    from safetensors.torch import load

    try:
        header = json.loads(head)
        tensors = load(body) if body else {}
    except Exception as error:  # JSON, recursion (a deeply nested header), safetensors' own errors
        raise ProtocolError(f"unreadable frame ({type(error).__name__})") from None
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not an object")
    return header, tensors


def read_exactly(fd: int, size: int, deadline: float | None = None) -> bytes:
    """`size` bytes from `fd`; EOFError if it closes first. With a `deadline` (time.monotonic()),
    TimeoutError once it passes: the trusted side never waits on a worker longer than it allows."""
    chunks, left = [], size
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None) -> tuple[dict[str, Any], dict]:
    """One whole frame from `fd` (the worker blocks; the client reads with a deadline)."""
    head_len, body_len = decode_prefix(read_exactly(fd, PREFIX.size, deadline))
    return parse_frame(read_exactly(fd, head_len, deadline), read_exactly(fd, body_len, deadline))


def write_frame(fd: int, header: dict[str, Any], tensors: dict | None = None) -> None:
    data = memoryview(encode_frame(header, tensors))
    while data:
        data = data[os.write(fd, data):]
