"""Tampering flags (autograder/sandbox/integrity.py) and the worker's self-check (worker.py).

The static scan reads source only, so most of these take milliseconds; the sandbox tests at
the end run one tiny submission that tampers on request (the first pixel of encode's input
says how), with the small limits of tests/sandbox/test_sandbox.py.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from autograder.evidence import corpus
from autograder.grading.results import build, integrity_flags
from autograder.sandbox import protocol
from autograder.sandbox.client import Sandbox, SandboxFailure
from autograder.sandbox.integrity import (FRAMES, NATIVE, NATIVE_LOADED, PIPES, PROTOCOL_ANOMALY, SHARED_MEMORY,
                                          SHARED_MEMORY_OPEN, WORKER_ALTERED, WORKER_MODULE, WORKER_OPS, look_at, scan)
from autograder.sandbox.limits import Limits

# --- The static scan ------------------------------------------------------------------------------


@pytest.mark.parametrize("source, expected", [
    ('import sys\nsys.modules["__main__"].OPS["gradient_flow"] = forge', {WORKER_MODULE, WORKER_OPS}),
    ("import worker", {WORKER_MODULE}),
    ("import __main__", {WORKER_MODULE}),
    ("from protocol import write_frame", {WORKER_MODULE, PIPES}),
    ('table = getattr(main, "OPS")', {WORKER_OPS}),
    ("target.__code__ = forged.__code__", {WORKER_OPS}),
    ("target.__defaults__ = (forged,)", {WORKER_OPS}),
    ('target.__globals__["keep_tensor"] = forged', {WORKER_OPS}),
    ("import sys\nsys.settrace(rebind_locals)", {FRAMES}),
    ("import sys\ncaller = sys._getframe(1).f_globals", {FRAMES}),
    ("import inspect\nframes = inspect.stack()", {FRAMES}),
    ("import gc\nfound = [o for o in gc.get_objects() if isinstance(o, dict)]", {FRAMES}),
    ('import os\nos.write(4, b"VAEW")', {PIPES}),
    ("from os import close\nclose(3)", {PIPES}),
    ("import os\nos.dup2(null, fd)", {PIPES}),
    ('import os\nfds = os.listdir("/proc/self/fd")', {PIPES}),
    ("import ctypes\nlibc = ctypes.CDLL(None)", {NATIVE}),
    ("from ctypes import cdll", {NATIVE}),
    ("import torch\ntorch.ops.load_library(path)", {NATIVE}),
    ("from multiprocessing import shared_memory", {SHARED_MEMORY}),
    ("from multiprocessing.shared_memory import SharedMemory", {SHARED_MEMORY}),
    ('import os\nfd = os.memfd_create("x")', {SHARED_MEMORY}),
    ('channel = open("/dev/shm/answers", "w")', {SHARED_MEMORY}),
    ("import mmap", {SHARED_MEMORY}),
])
def test_each_kind_of_reaching_into_the_worker_is_flagged(source, expected):
    assert scan(source) == expected


@pytest.mark.parametrize("source", [
    'if __name__ == "__main__":\n    main()',
    'with open("log.txt") as f:\n    first = f.read(1)\n    f.write("x")',
    "import os\nos.makedirs(out, exist_ok=True)",
    "x = torch.zeros(3)\nlogvar.exp()",
])
def test_ordinary_code_is_not_flagged(source):
    assert scan(source) == set()


def test_the_reference_and_every_correct_and_buggy_variant_raise_no_flags():
    assert scan(corpus.reference_code()) == set()
    flagged = {name: scan(corpus.source(name)) for name, spec in corpus.variants().items()
               if spec["kind"] != "hostile"}
    assert {name: flags for name, flags in flagged.items() if flags} == {}


def test_unparsable_source_has_no_flags():
    assert scan("def encode(self, x)\n    return x") == set()


# --- /proc of a running process -------------------------------------------------------------------

HOLDS = '''
import ctypes, os, sys, time
if sys.argv[1] == "memfd":
    fd = os.memfd_create("channel")
elif sys.argv[1] == "library":
    ctypes.CDLL(sys.argv[2])
print("ready", flush=True)
time.sleep(60)
'''


def _flags_of_a_process_that(*args: str) -> set[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLDS, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        return look_at([child.pid])
    finally:
        child.kill()
        child.wait()


def test_a_process_that_holds_a_memfd_is_flagged():
    assert _flags_of_a_process_that("memfd") == {SHARED_MEMORY_OPEN}
    assert _flags_of_a_process_that("nothing") == set()


def test_a_shared_library_loaded_from_outside_the_system_is_flagged(tmp_path):
    import _ctypes

    copy = tmp_path / "libcopy.so"
    shutil.copyfile(_ctypes.__file__, copy)  # any shared object will do
    assert _flags_of_a_process_that("library", str(copy)) == {NATIVE_LOADED}
    assert _flags_of_a_process_that("library", _ctypes.__file__) == set()  # from the Python installation


# --- results.json -------------------------------------------------------------------------------


def test_results_carry_sorted_flags_and_flags_change_no_points():
    tests = [{"name": "kl: x", "score": 15.0, "max_score": 15.0, "tags": ["kl"]}]
    flagged = build(tests, flags={"shared_memory", "native_code"}, extra={"isolation": "bwrap"})
    assert flagged["extra_data"]["integrity_flags"] == ["native_code", "shared_memory"]
    assert flagged["score"] == build(tests)["score"] == 15.0
    assert build(tests, flags=set())["extra_data"]["integrity_flags"] == []
    assert integrity_flags(flagged) == ["native_code", "shared_memory"]
    assert integrity_flags({"extra_data": {"integrity_flags": "native_code"}}) == []  # not a list: none


# --- The worker's self-check, in a real sandbox ----------------------------------------------------

LIMITS = Limits(import_timeout_s=120, call_timeout_s=10, memory_mb=1200, output_kb=4, tasks=64)
ANSWER, SWAP_DECODE, MEMFD, FORGE = range(4)

TAMPERS_PRELUDE = '''
import os, sys
import torch

HELD = []

def _forged_decode(vae, header, tensors):
    return {}, {"recon": torch.zeros(1, 784)}

'''
TAMPERS_BRANCHES = '''        if mode == 1:
            sys.modules["__main__"].OPS["decode"] = _forged_decode
        elif mode == 2:
            HELD.append(os.memfd_create("channel"))
        elif mode == 3:
            import protocol
            header = b'{"id": 999, "ok": true}'
            os.write(int(sys.argv[2]), protocol.PREFIX.pack(protocol.MAGIC, len(header), 0) + header)
'''
TAMPERS_METHODS = '''
    def decode(self, z):
        return z
'''


def _sandbox(folder: Path, source: str) -> Sandbox:
    folder.chmod(0o755)
    (folder / "vae.py").write_text(source)
    return Sandbox((folder / "vae.py").read_bytes(), threads=1, limits=LIMITS)


@pytest.fixture
def tampering(tmp_path, misbehaving_vae):
    box = _sandbox(tmp_path, misbehaving_vae(TAMPERS_PRELUDE, TAMPERS_BRANCHES, TAMPERS_METHODS))
    yield box
    box.close()


def _encode(box: Sandbox, mode: int) -> torch.Tensor:
    answer = box.call(protocol.ENCODE, {"seed": 0}, {"x": torch.full((1, 2), float(mode))}, function="VAE.encode")
    assert answer.ok, answer.error
    return answer.tensors["mu"]


def _decode(box: Sandbox) -> None:
    box.call(protocol.DECODE, {"seed": 0}, {"z": torch.zeros(1, 2)}, function="VAE.decode")


@pytest.mark.slow
def test_an_answer_computed_while_an_operation_was_swapped_is_refused_and_the_swap_undone(tampering):
    _encode(tampering, ANSWER)
    _decode(tampering)
    assert tampering.flags == set()
    with pytest.raises(SandboxFailure) as caught:
        _encode(tampering, SWAP_DECODE)  # swaps OPS["decode"] while encode runs
    assert caught.value.kind == "protocol" and "swapped" in caught.value.detail
    assert tampering.flags == {WORKER_ALTERED}
    assert _encode(tampering, ANSWER).tolist() == [[0.0, 0.0]]
    answer = tampering.call(protocol.DECODE, {"seed": 0}, {"z": torch.ones(1, 2)}, function="VAE.decode")
    assert answer.tensors["recon"].tolist() == [[1.0, 1.0]]  # the submission's own decode, not the forged one


@pytest.mark.slow
def test_shared_memory_still_open_at_the_end_is_flagged(tmp_path, misbehaving_vae):
    box = _sandbox(tmp_path, misbehaving_vae(TAMPERS_PRELUDE, TAMPERS_BRANCHES, TAMPERS_METHODS))
    try:
        _encode(box, MEMFD)
        assert box.flags == set()
    finally:
        box.close()  # looks at the processes, then kills them
    assert box.flags == {SHARED_MEMORY_OPEN}


@pytest.mark.slow
def test_a_frame_for_another_request_is_flagged_as_a_protocol_anomaly(tampering):
    with pytest.raises(SandboxFailure):
        _encode(tampering, FORGE)
    assert tampering.flags == {PROTOCOL_ANOMALY}


# --- Attacks on the worker's private copies, code and frames (issue 16, section 4) -----------------
# Each mode of encode tampers one way (or tries to), then answers; a decode request afterwards
# shows whether the forged `decode` answers (recon of shape (1, 784)) or the honest one (z itself).

ATTACKS_PRELUDE = '''
import gc, os, sys
import torch

def _forged_decode(vae, header, tensors):
    return {}, {"recon": torch.zeros(1, 784)}

def _forged_keep_tensor(name, value, info, out):
    out[name] = torch.zeros(1, 784)

def _worker():
    return sys.modules["__main__"]

def _swap_in_every_table(table):
    try:
        table["decode"] = _forged_decode
    except TypeError:  # not a dict: cannot be patched
        pass

class _QuietJson:
    """A json whose dumps drops the worker's report of what was swapped, and its refusal."""
    def __init__(self, real):
        self.real = real

    def dumps(self, header, **kwargs):
        header = {key: value for key, value in header.items() if key not in ("altered", "error")}
        return self.real.dumps({**header, "ok": True}, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)

'''
ATTACKS = {
    "private table through the garbage collector": '''
            for holder in gc.get_referrers(_worker().op_decode):
                if isinstance(holder, dict) and "decode" in holder and holder is not _worker().OPS:
                    _swap_in_every_table(holder)''',
    "private table through the frames": '''
            frame = sys._getframe()
            while frame is not None:
                if "table" in frame.f_locals:
                    _swap_in_every_table(frame.f_locals["table"])
                frame = frame.f_back''',
    "code object": '''
            _worker().op_decode.__code__ = _forged_decode.__code__''',
    "default arguments": '''
            _worker().new_model.__defaults__ = ({"state.fc1.weight": torch.zeros(2, 2)},)''',
    "a global of the worker's functions": '''
            _worker().op_decode.__globals__["keep_tensor"] = _forged_keep_tensor''',
    "protocol.write_frame": '''
            import protocol
            real = protocol.write_frame
            protocol.write_frame = lambda fd, header, tensors=None: real(fd, {**header, "ok": True}, tensors)''',
    "the protocol's json, hiding the swap": '''
            import protocol
            protocol.json = _QuietJson(protocol.json)
            _worker().OPS["decode"] = _forged_decode''',
}
ATTACK_BRANCHES = "".join(f"        if mode == {number}:\n            try:\n{textwrap.indent(textwrap.dedent(code), ' ' * 16)}\n"
                          "            except Exception:\n                pass\n"
                          for number, code in enumerate(ATTACKS.values(), start=1))


@pytest.mark.slow
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_tampering_with_the_workers_copies_code_or_frames_is_flagged_or_forges_nothing(tmp_path, misbehaving_vae,
                                                                                     attack):
    box = _sandbox(tmp_path, misbehaving_vae(ATTACKS_PRELUDE, ATTACK_BRANCHES, TAMPERS_METHODS))
    try:
        mode = list(ATTACKS).index(attack) + 1
        try:
            _encode(box, mode)
        except (AssertionError, SandboxFailure):
            pass  # the answer of the request that tampered may be refused
        answers = []
        for _ in range(2):  # the second one from a fresh worker where the first was refused
            try:
                answer = box.call(protocol.DECODE, {"seed": 0}, {"z": torch.ones(1, 2)}, function="VAE.decode")
                answers.append(answer.tensors.get("recon"))
            except SandboxFailure:
                answers.append(None)
    finally:
        box.close()
    forged = [recon for recon in answers if recon is not None and tuple(recon.shape) == (1, 784)]
    assert not forged, f"{attack}: the forged decode answered, flags {box.flags}"
    assert answers[-1] is not None and answers[-1].tolist() == [[1.0, 1.0]], f"{attack}: no honest answer, flags {box.flags}"
    if box.flags != {WORKER_ALTERED}:
        assert attack == "private table through the frames" and box.flags == set(), box.flags  # no change made
