"""The sandbox's wire protocol (autograder/sandbox/protocol.py): frames, limits, names."""
from __future__ import annotations

import json
import os

import pytest
import torch

from autograder.sandbox import protocol
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
