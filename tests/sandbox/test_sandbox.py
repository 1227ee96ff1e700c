"""The sandbox (autograder/sandbox/) against tiny submissions that misbehave on request.

One vae.py whose `encode` does what the first pixel of its input says (answer, sleep, exit,
allocate, print, fork, forge frames, start threads, hoard memory where no RSS counts it, start
a thousand tasks): each check sends the number it needs.
The limits are small ones passed in (a 2 s call, 1.2 GB), so the whole file takes seconds, not
the course's minutes. Run as root with bubblewrap this is "bwrap" mode; as a user, "process".
"""
from __future__ import annotations

import ast
import tempfile
import time
from pathlib import Path

import pytest
import torch

from autograder import config
from autograder.paths import SANDBOX, SOLUTIONS
from autograder.sandbox import cgroups, isolation, protocol
from autograder.sandbox.client import WORKER_FILES, Sandbox, SandboxFailure
from autograder.sandbox.limits import Limits, sandbox_processes

LIMITS = Limits(import_timeout_s=120, call_timeout_s=2, memory_mb=1200, output_kb=4, tasks=64)
ANSWER, SLEEP, EXIT, ALLOCATE, PRINT, FORK, FORGE, LATE_FRAME, THREADS, MEMFD, SHM, TMP, TASKS = range(13)

SUBMISSION_PRELUDE = '''
import os, sys, threading, time
import torch

HOARD = []  # what the memory modes keep open

def _hoard(new_file) -> None:
    """1.6 GB past a 1.2 GB limit that no process's RSS counts: 8 files of 200 MB (under the
    file size limit), 50 MB a write."""
    for i in range(8):
        HOARD.append(new_file(i))
        for _ in range(4):
            os.write(HOARD[-1] if isinstance(HOARD[-1], int) else HOARD[-1].fileno(), b"x" * (50 << 20))
            time.sleep(0.02)  # give a polling watchdog its chance

def _tasks(count: int) -> tuple[int, int]:
    """Start up to `count` threads, then up to `count` processes: how many of each started."""
    threads = processes = 0
    try:
        for _ in range(count):
            threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
            threads += 1
    except RuntimeError:
        pass
    try:
        for _ in range(count):
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            processes += 1
    except OSError:
        pass
    return threads, processes

def _frame(header: bytes) -> bytes:
    import protocol  # the worker's own copy, beside it in the sandbox
    return protocol.PREFIX.pack(protocol.MAGIC, len(header), 0) + header

def _forge(header: bytes, delay: float = 0.0) -> None:
    time.sleep(delay)
    os.write(int(sys.argv[2]), _frame(header))  # the worker's answer pipe

'''
SUBMISSION_BRANCHES = '''        if mode == 1:
            time.sleep(60)
        elif mode == 2:
            os._exit(3)
        elif mode == 3:
            held = [torch.ones(256 << 20, dtype=torch.uint8) for _ in range(20)]  # 5 GB, resident
        elif mode == 4:
            sys.stdout.write("x" * 1_000_000)
            sys.stderr.write("y" * 1_000_000)
        elif mode == 5:
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
        elif mode == 6:
            _forge(b'{"id": 999, "ok": true}')
        elif mode == 7:
            threading.Thread(target=_forge, args=(b'{"id": 0, "ok": true}', 0.3)).start()
        elif mode == 8:
            for _ in range(200):
                threading.Thread(target=time.sleep, args=(3,), daemon=True).start()
        elif mode == 9:
            _hoard(lambda i: os.memfd_create(f"hoard{i}"))
        elif mode in (10, 11):
            folder = "/dev/shm" if mode == 10 else os.environ["TMPDIR"]  # the worker's own tmp
            _hoard(lambda i: open(f"{folder}/hoard{i}", "wb"))
        elif mode == 12:
            return torch.tensor([_tasks(1000)], dtype=torch.float32), x
'''


def _encode(sandbox: Sandbox, mode: int, function: str = "VAE.encode", timeout: float | None = None) -> torch.Tensor:
    answer = sandbox.call(protocol.ENCODE, {"seed": 0}, {"x": torch.full((1, 2), float(mode))}, function=function,
                          timeout=timeout)
    assert answer.ok, answer.error
    return answer.tensors["mu"]


@pytest.fixture(scope="module")
def submission(tmp_path_factory, misbehaving_vae) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    folder.chmod(0o755)
    path = folder / "vae.py"
    path.write_text(misbehaving_vae(SUBMISSION_PRELUDE, SUBMISSION_BRANCHES))
    return path


@pytest.fixture(scope="module")
def sandbox(submission):
    box = Sandbox(submission.read_bytes(), threads=1, limits=LIMITS)
    box.launch()
    yield box
    box.close()


def _fails(sandbox: Sandbox, mode: int, function: str, timeout: float | None = None) -> SandboxFailure:
    with pytest.raises(SandboxFailure) as caught:
        _encode(sandbox, mode, function, timeout)
    return caught.value


@pytest.mark.slow
def test_an_honest_call_answers_with_the_submissions_tensors(sandbox):
    assert _encode(sandbox, ANSWER).tolist() == [[0.0, 0.0]]
    assert sandbox.mode == isolation.isolation_mode()


@pytest.mark.slow
def test_a_call_past_its_time_limit_is_a_timeout_and_the_function_is_not_called_again(sandbox):
    start = time.monotonic()
    failure = _fails(sandbox, SLEEP, "sleeps")
    assert (failure.kind, failure.function, failure.seconds) == ("timeout", "sleeps", LIMITS.call_timeout_s)
    assert time.monotonic() - start < LIMITS.call_timeout_s + 10
    assert _fails(sandbox, ANSWER, "sleeps") is failure  # at once, from memory
    assert _encode(sandbox, ANSWER).tolist() == [[0.0, 0.0]]  # a fresh worker for the others


@pytest.mark.slow
def test_an_exit_in_the_submission_is_reported_with_its_status(sandbox):
    failure = _fails(sandbox, EXIT, "exits")
    assert (failure.kind, failure.exit_code) == ("died", 3)
    assert _encode(sandbox, ANSWER).tolist() == [[0.0, 0.0]]


@pytest.mark.slow
def test_memory_past_the_limit_is_stopped_and_reported(sandbox):
    failure = _fails(sandbox, ALLOCATE, "allocates", timeout=60)  # the watchdog, not the clock, stops it
    assert (failure.kind, failure.limit_mb) == ("memory", LIMITS.memory_mb)
    assert _encode(sandbox, ANSWER).tolist() == [[0.0, 0.0]]


def test_printing_is_kept_to_its_head_and_tail(sandbox):
    _encode(sandbox, PRINT)
    time.sleep(0.5)  # the drain threads read what is still in the pipes
    assert sandbox.output.total >= 2_000_000
    text = sandbox.output.text()
    assert "bytes not shown" in text and len(text) <= LIMITS.output_kb * 1024 + 100


@pytest.mark.slow
def test_a_forged_answer_costs_only_its_own_request(sandbox):
    starts = sandbox.starts
    failure = _fails(sandbox, FORGE, "forges")
    assert failure.kind == "protocol" and "another request" in failure.detail
    assert _encode(sandbox, ANSWER, "forges").tolist() == [[0.0, 0.0]]  # not blacklisted
    assert sandbox.starts == starts + 1


@pytest.mark.slow
def test_a_frame_after_the_answer_never_lands_on_a_later_request(sandbox):
    starts = sandbox.starts
    assert _encode(sandbox, LATE_FRAME).tolist() == [[14.0, 14.0]]
    time.sleep(1)  # the stray frame is in the pipe now
    assert _encode(sandbox, ANSWER).tolist() == [[0.0, 0.0]]
    assert sandbox.starts == starts + 1, "the worker that wrote a stray frame should have been replaced"


@pytest.mark.skipif(isolation.isolation_mode() == "process", reason="the task cap needs a sandbox uid of its own")
def test_threads_past_the_task_cap_are_refused(sandbox):
    answer = sandbox.call(protocol.ENCODE, {"seed": 0}, {"x": torch.full((1, 2), float(THREADS))},
                          function="VAE.encode")
    assert not answer.ok and "thread" in answer.error["message"]


def _hoards(sandbox: Sandbox, mode: int) -> None:
    """memfd and tmpfs pages belong to no process's RSS: the control group charges them (the
    kernel kills the worker), or the watchdog counts them (or the private /dev/shm, as large as
    the limit, fills and the write fails). Either way a fresh worker answers the next call."""
    try:
        answer = sandbox.call(protocol.ENCODE, {"seed": 0}, {"x": torch.full((1, 2), float(mode))},
                              function=f"hoards {mode}", timeout=60)
    except SandboxFailure as failure:
        assert (failure.kind, failure.limit_mb) == ("memory", LIMITS.memory_mb)
    else:
        assert sandbox.limits_mode == "rlimit" and mode == SHM, f"1.6 GB held past a 1.2 GB limit: {answer}"
        assert not answer.ok and "No space left" in answer.error["message"]
        sandbox.kill()  # the full tmpfs goes with the worker
    assert _encode(sandbox, ANSWER).tolist() == [[0.0, 0.0]]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [MEMFD, SHM], ids=["memfd", "dev_shm"])
def test_memfd_and_shm_files_are_held_to_the_memory_limit(sandbox, mode):
    _hoards(sandbox, mode)
    assert not list(Path("/dev/shm").glob("hoard*")), "the worker's /dev/shm was the grader's"


@pytest.mark.slow
@pytest.mark.skipif(cgroups.limits_mode() == "rlimit", reason="the watchdog does not count the worker's own folder")
def test_files_in_a_tmp_on_tmpfs_are_held_to_the_memory_limit(submission, monkeypatch):
    """The worker writes in its own folder (TMPDIR): put there on a tmpfs, those are pages of
    memory too."""
    monkeypatch.setattr(tempfile, "tempdir", "/dev/shm")
    box = Sandbox(submission.read_bytes(), threads=1, limits=LIMITS)
    try:
        assert box.workdir.parent == Path("/dev/shm")
        _hoards(box, TMP)
    finally:
        box.close()
    assert not box.workdir.exists()


@pytest.mark.slow
@pytest.mark.skipif(isolation.isolation_mode() == "process" and cgroups.limits_mode() == "rlimit",
                    reason="the task cap needs a control group or a sandbox uid of its own")
def test_a_thousand_threads_and_processes_are_held_to_the_task_cap(submission):
    box = Sandbox(submission.read_bytes(), threads=1, limits=LIMITS)
    try:
        threads, processes = _encode(box, TASKS, timeout=60)[0].tolist()
        assert threads < LIMITS.tasks and processes < LIMITS.tasks, (threads, processes)
        assert len(sandbox_processes(box.uid)) >= 2, "the worker and its forked children"
    finally:
        box.close()
    assert sandbox_processes(box.uid) == []
    if box.cgroup:
        assert box.limits_mode == cgroups.limits_mode()
        assert not any(folder.exists() for folder in box.cgroup.folders), "the control group was left behind"


def test_a_group_is_made_below_the_graders_own_as_its_mount_shows_it(tmp_path):
    """/proc/self/cgroup names groups from the hierarchy's root; a container's mount may show
    only a subtree of it (its root in mountinfo)."""
    (tmp_path / "process_api" / "abc").mkdir(parents=True)
    assert cgroups._below(tmp_path, "/", "/process_api/abc") == tmp_path / "process_api" / "abc"
    assert cgroups._below(tmp_path, "/docker/1", "/docker/1") == tmp_path
    assert cgroups._below(tmp_path, "/docker/1", "/docker/1/process_api/abc") == tmp_path / "process_api" / "abc"
    assert cgroups._below(tmp_path, "/docker/1", "/other") is None
    assert cgroups._below(tmp_path, "/", "/missing") is None


@pytest.mark.slow
def test_a_child_that_outlives_its_call_is_killed_when_the_sandbox_closes(submission):
    box = Sandbox(submission.read_bytes(), threads=1, limits=LIMITS)
    try:
        _encode(box, FORK)
        assert len(sandbox_processes(box.uid)) >= 2, "the worker and its forked child"
    finally:
        box.close()
    assert sandbox_processes(box.uid) == []


def test_nothing_copied_into_the_sandbox_can_produce_an_answer():
    """The rule of client.py: the copied files hold what train() runs on, no training loop,
    no reference function, and no way to the reference solution."""
    assert {f.name for f in WORKER_FILES} == {"worker.py", "protocol.py", "probe.py", "common.py"}
    assert all(f.parent in (SANDBOX, SOLUTIONS) for f in WORKER_FILES)
    answers = {"replay", "train", "loss_function", "encode", "decode", "reparameterize", "VAE"}
    for path in WORKER_FILES:
        source = path.read_text()
        tree = ast.parse(source)
        # ProbeModel's encode, reparameterize and decode are the probe's tiny stand-ins, not the lecture's.
        stand_ins = {id(node) for cls in tree.body if isinstance(cls, ast.ClassDef) and cls.name == "ProbeModel"
                     for node in cls.body}
        defined = {node.name for node in ast.walk(tree)
                   if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and id(node) not in stand_ins}
        assert not defined & answers, f"{path.name} defines {defined & answers}"
        assert ".step(" not in source and "zero_grad" not in source, f"{path.name} holds a training loop"
        assert "solutions" not in source, f"{path.name} refers to the reference solution"


def test_on_a_gpu_host_the_sandbox_sees_only_the_nvidia_nodes_and_a_private_shm():
    nodes = ["/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm"]
    args = isolation.bwrap_prefix(Path("/tmp/work"), 64000, gpu=lambda: True, devices=lambda: nodes)
    text = " ".join(args)
    assert f"--dev /dev --perms 1777 --size {config.MEMORY_LIMIT_MB << 20} --tmpfs /dev/shm" in text
    assert all(f"--dev-bind {node} {node}" in text for node in nodes)
    assert "--dev-bind /dev /dev" not in text and "--bind /dev" not in text
    cpu = " ".join(isolation.bwrap_prefix(Path("/tmp/work"), 64000, gpu=lambda: False, devices=lambda: nodes))
    assert "nvidia" not in cpu and "/sys" not in cpu


@pytest.mark.skipif(not isolation.bwrap_works(), reason="needs root and bubblewrap")
def test_the_gpu_layout_runs_under_bubblewrap(tmp_path):
    """The simulated device (/dev/null stands for a GPU node) binds, and /dev holds nothing else."""
    import subprocess
    import sys

    tmp_path.chmod(0o755)
    prefix = isolation.bwrap_prefix(tmp_path, 64000, gpu=lambda: True, devices=lambda: ["/dev/null"])
    listing = "import os; print(sorted(os.listdir('/dev'))); open('/dev/shm/x', 'w').write('x')"
    run = subprocess.run(prefix + [sys.executable, "-I", "-c", listing], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert not set(ast.literal_eval(run.stdout)) - {"console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts",
                                        "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}


@pytest.mark.parametrize("failure, expected", [
    (SandboxFailure("timeout", "train", seconds=300), "train() did not finish within 300 s"),
    (SandboxFailure("died", "VAE.encode", exit_code=-9), "ended during VAE.encode() (signal 9)"),
    (SandboxFailure("died", "importing vae.py", exit_code=0), "ended during importing vae.py (exit status 0)"),
    (SandboxFailure("memory", "VAE.encode", limit_mb=4096), "VAE.encode() used more than 4096 MB"),
    (SandboxFailure("protocol", "train", detail="ProtocolError: ..."), "only this check is affected"),
])
def test_students_read_a_failure_in_sentences_the_hidden_graders_write_from_its_facts(failure, expected):
    from autograder.hidden.checks import describe_failure

    assert expected in describe_failure(failure)
