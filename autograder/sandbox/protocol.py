"""The sandbox's wire protocol: frames, request ids, operation names, tensor names.

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
import struct
from typing import Any

MAGIC = b"VAEW"
PREFIX = struct.Struct("<4sIQ")  # magic, header length, body length
MAX_HEADER = 1 << 20  # bytes of JSON
MAX_BODY = 1 << 29  # bytes of tensors

READY_ID = "ready"  # the worker's first answer: Python and torch are up
# ...or not: a READY answer with ok=false names, in this field, the library that failed to import
# inside the sandbox ({"library", "type", "message"}): the grading machine's fault, not the student's.
LIBRARY_ERROR = "library_error"
IMPORT_ID = "import"  # its second: the submission imported (ok) or not (error)

# An answer's list of what the worker found swapped since before the import (worker.py's
# self-check, best effort): present only when something was; a request whose own operation or
# the worker's shared code was swapped is answered ok=false with error type ALTERED_ERROR.
ALTERED = "altered"
ALTERED_ERROR = "WorkerAltered"

# Operations (the `op` of a request); worker.OPS maps each to the function that answers it.
PARAMETERS = "parameters"
ENCODE = "encode"
DECODE = "decode"
REPARAMETERIZE = "reparameterize"
GRADIENT_FLOW = "gradient_flow"
LOSS = "loss"
TRAIN_PROBE = "train_probe"
# Whether the VAE computes something else in evaluation mode (header "seed"; info "mode_matters": bool
# or None): asked apart from TRAIN_PROBE, which runs no student model, so a forward that kills its
# worker costs the training loop nothing.
MODE_MATTERS = "mode_matters"
TRAIN_ELBO = "train_elbo"  # header "device": "cpu" trains there (the elbo check's fallback), else the best device
# One student function on PyTorch's `meta` device (worker.op_device): header "function" (a key of
# DEVICE_RUNS), "rows" and "dims" (pixels, hidden, latent); the answer's info maps each of that
# function's runs to its outcome. One call per function, so that a function that kills, hangs or
# floods its worker costs only its own device check.
DEVICE = "device"
DEVICE_RUNS = {"encode": ("encode",), "reparameterize": ("reparameterize",), "decode": ("decode",),
               "loss": ("loss", "loss_bce_on_meta", "loss_kl_on_meta"), "train": ("train",)}
OPS = (PARAMETERS, ENCODE, DECODE, REPARAMETERIZE, GRADIENT_FLOW, LOSS, TRAIN_PROBE, MODE_MATTERS, TRAIN_ELBO,
       DEVICE)

# Tensor names. A model's weights travel as "state.<parameter name>"; a loss request's inputs
# as "<case>.<argument>" for each case it names.
STATE_PREFIX = "state."
LOSS_ARGUMENTS = ("recon", "x", "mu", "logvar")


class ProtocolError(RuntimeError):
    """A frame that is not what the protocol allows."""


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
    """One whole frame from a blocking fd (the worker's side; the client reads with deadlines)."""
    head_len, body_len = decode_prefix(read_exactly(fd, PREFIX.size))
    return parse_frame(read_exactly(fd, head_len), read_exactly(fd, body_len))


def write_frame(fd: int, header: dict[str, Any], tensors: dict | None = None) -> None:
    data = memoryview(encode_frame(header, tensors))
    while data:
        data = data[os.write(fd, data):]
