"""The sandbox's wire protocol (autograder/sandbox/protocol.py): frames, limits, names."""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest
import torch

from autograder.paths import SANDBOX, SOLUTIONS
from autograder.sandbox import protocol, worker
from autograder.sandbox.protocol import ProtocolError


def _parse(frame: bytes) -> tuple[dict, dict]:
    head_len, body_len = protocol.decode_prefix(frame[:protocol.PREFIX.size])
    rest = frame[protocol.PREFIX.size:]
    return protocol.parse_frame(rest[:head_len], rest[head_len:head_len + body_len])


def test_a_frame_round_trips_its_header_and_tensors():
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    header, tensors = _parse(protocol.encode_frame({"id": 7, "ok": True}, {"x": x}))
    assert header == {"id": 7, "ok": True}
    assert torch.equal(tensors["x"], x)


def test_a_frame_round_trips_through_a_pipe():
    read_fd, write_fd = os.pipe()
    try:
        protocol.write_frame(write_fd, {"id": protocol.READY_ID, "ok": True})
        assert protocol.read_frame(read_fd) == ({"id": protocol.READY_ID, "ok": True}, {})
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_closed_pipe_mid_frame_is_end_of_file():
    read_fd, write_fd = os.pipe()
    os.write(write_fd, protocol.encode_frame({"id": 1})[:-2])
    os.close(write_fd)
    with pytest.raises(EOFError):
        protocol.read_frame(read_fd)
    os.close(read_fd)


def test_a_bad_magic_is_refused():
    frame = b"EVIL" + protocol.encode_frame({"id": 1})[4:]
    with pytest.raises(ProtocolError, match="magic"):
        _parse(frame)


@pytest.mark.parametrize("head_len, body_len", [(protocol.MAX_HEADER + 1, 0), (2, protocol.MAX_BODY + 1)])
def test_an_oversized_frame_is_refused_before_it_is_read(head_len, body_len):
    with pytest.raises(ProtocolError, match="oversized"):
        protocol.decode_prefix(protocol.PREFIX.pack(protocol.MAGIC, head_len, body_len))


@pytest.mark.parametrize("head, body", [
    (b"[" * 100_000 + b"]" * 100_000, b""),  # nested past Python's recursion limit
    (b"{not json", b""),
    (b"[1, 2]", b""),  # JSON, but not an object
    (json.dumps({"id": 1}).encode(), b"\x10\x00\x00\x00\x00\x00\x00\x00{broken safetensors"),
])
def test_an_unreadable_frame_is_a_protocol_error(head, body):
    with pytest.raises(ProtocolError):
        protocol.parse_frame(head, body)


def test_weights_travel_under_the_state_prefix_and_come_back_under_their_names():
    state = {"fc1.weight": torch.ones(2, 2), "fc1.bias": torch.zeros(2)}
    tensors = {**protocol.with_state_prefix(state), "mu": torch.ones(1)}
    assert set(tensors) == {"state.fc1.weight", "state.fc1.bias", "mu"}
    assert protocol.state_in(tensors) == state


def test_every_operation_has_a_distinct_name():
    assert len(set(protocol.OPS)) == len(protocol.OPS) == 10
    assert len({protocol.loss_input(case, a) for case in ("a", "b") for a in protocol.LOSS_ARGUMENTS}) == 8


def test_the_protocol_holds_no_grading_logic():
    """Both sides import it; the worker from inside the sandbox, with nothing of autograder."""
    source = protocol.__file__
    with open(source) as f:
        text = f.read()
    assert "import autograder" not in text and "from autograder" not in text
    assert "config" not in text and "reference" not in text


def test_a_transposed_view_travels_like_any_tensor():
    """Correct code may return a view (mu.t().t(), a slice): it must reach the grader intact."""
    import torch

    from autograder.sandbox.protocol import PREFIX, decode_prefix, encode_frame, parse_frame

    view = torch.arange(12.0).reshape(3, 4).t()
    frame = encode_frame({"id": 1}, {"mu": view})
    head_len, body_len = decode_prefix(frame[:PREFIX.size])
    _, tensors = parse_frame(frame[PREFIX.size:PREFIX.size + head_len], frame[PREFIX.size + head_len:])
    assert torch.equal(tensors["mu"], view)


# Keys the worker and the client write as text that are no field of the protocol (torch's, the OS's).
NOT_FIELDS = {"lr": "an optimizer's parameter group (torch)", "VAE_WORKER_THREADS": "an environment variable"}


def _keys_spelt_out(path: Path) -> set[str]:
    """The string literals a module uses as keys: of a dict display, a subscript of a name, a .get()."""
    keys = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            keys += [key for key in node.keys if key is not None]
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            keys.append(node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            keys.append(node.args[0])
    return {key.value for key in keys if isinstance(key, ast.Constant) and isinstance(key.value, str)}


@pytest.mark.parametrize("side", ["worker.py", "client.py"])
def test_each_side_names_every_field_through_the_protocol(side):
    """Every header field and tensor name the worker and the client read or write is one of
    protocol.py's names: renaming a field is one edit there."""
    assert _keys_spelt_out(SANDBOX / side) <= set(NOT_FIELDS)


def _protocol_names(path: Path) -> set[str]:
    """The names a module reads of the protocol: `protocol.Error.TYPE`, and through a function's
    local alias (`fields = protocol.Encode`, then `fields.X`), as dotted paths below the module."""
    names = set()
    for function in ast.walk(ast.parse(path.read_text())):
        if not isinstance(function, (ast.FunctionDef, ast.Module)):
            continue
        aliases = {"protocol": ()}
        for node in ast.walk(function) if isinstance(function, ast.FunctionDef) else ():
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                pairs = (zip(node.targets[0].elts, node.value.elts) if isinstance(node.targets[0], ast.Tuple)
                         and isinstance(node.value, ast.Tuple) else [(node.targets[0], node.value)])
                for target, value in pairs:
                    if (isinstance(target, ast.Name) and isinstance(value, ast.Attribute)
                            and isinstance(value.value, ast.Name) and value.value.id == "protocol"):
                        aliases[target.id] = (value.attr,)
        for node in ast.walk(function):
            chain = []
            while isinstance(node, ast.Attribute):
                chain.insert(0, node.attr)
                node = node.value
            if chain and isinstance(node, ast.Name) and node.id in aliases:
                names.add(".".join((*aliases[node.id], *chain)))
    return names


@pytest.mark.parametrize("side", ["worker.py", "client.py"])
def test_every_protocol_name_a_side_reads_is_defined(side):
    """A misspelt field fails here, not in the rare path of a grading that reads it."""
    for name in _protocol_names(SANDBOX / side):
        value = protocol
        for part in name.split("."):
            assert hasattr(value, part), f"{side} reads protocol.{name}, which protocol.py does not define"
            value = getattr(value, part)


def test_a_failure_kind_is_named_by_its_class():
    """The error type an answer carries is the class's own name, on both sides."""
    assert protocol.WEIGHTS_REJECTED == protocol.WeightsRejected.__name__
    assert protocol.ALTERED_ERROR == protocol.WorkerAltered.__name__
    assert issubclass(protocol.WorkerAltered, ProtocolError)


@pytest.mark.parametrize("order", [list, lambda names: list(reversed(names))])
def test_weights_that_do_not_fit_are_named_the_same_whatever_order_they_arrive_in(import_path, order):
    """The first of the model's own layers that cannot take the grader's weights is named (fc1
    before fc21), however the frame's tensors happened to be ordered: one grading, one wording."""
    vae = import_path(SOLUTIONS / "vae.py", "vae_for_weights")
    names = list(vae.VAE().state_dict())
    wrong = {name: torch.zeros(3, 3) for name in order(names)}
    # The worker's `protocol` is the sandbox's top-level module, not autograder.sandbox.protocol:
    # the failure is known by its kind's name, as it travels.
    with pytest.raises(Exception, match=f"`{names[0]}` has shape") as shape:
        worker.new_model(vae, 0, protocol.with_state_prefix(wrong))
    with pytest.raises(Exception, match="no `extra.weight`") as extra:
        worker.new_model(vae, 0, protocol.with_state_prefix({**wrong, "extra.weight": torch.zeros(1)}))
    assert type(shape.value).__name__ == type(extra.value).__name__ == protocol.WEIGHTS_REJECTED
