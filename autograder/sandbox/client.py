"""The trusted side of the sandbox: start the worker, send it requests, read its answers.

`Sandbox(code)` writes the submission's code and copies WORKER_FILES into a fresh folder, starts
worker.py there (isolation.py says how it is kept apart, limits.py what it may use) and
answers `call(op, header, tensors, function=...)` with an Answer, or raises SandboxFailure
with the facts of what went wrong (its `kind`: timeout, died, memory, protocol). The
sentences a student reads about a failure are written by the hidden graders
(autograder/hidden/checks.py), not here. After a failure the worker is restarted for the next
call; a function that hung, died or ran out of memory is not called again. `flags` collects
what a person should look at (integrity.py): protocol anomalies, what the worker reported
swapped, and what /proc shows of the sandbox's processes before they are killed.

The rule for WORKER_FILES: nothing copied into the sandbox can produce an answer the grader
accepts. The submission can read and run every copied file, so they hold only what its code
is run on (the worker, the protocol, the probe's model, loss and data, MNIST loading), never
a reference implementation or the replay of a correct training loop (autograder/hidden/replay.py).
tests/sandbox/test_sandbox.py checks this list.
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import config
from autograder.cleanup import remove_tree
from autograder.paths import DATA, SANDBOX, SOLUTIONS
from autograder.sandbox import cgroups, integrity, isolation, protocol
from autograder.sandbox.limits import (CappedOutput, Limits, MemoryWatchdog, before_exec, become_subreaper, kill_all,
                                       reap_orphans, sandbox_processes)
from autograder.sandbox.protocol import ProtocolError, WorkerAltered

WORKER_FILES = (SANDBOX / "worker.py", SANDBOX / "protocol.py", SANDBOX / "probe.py", SOLUTIONS / "common.py")
# The modules the sandbox holds of its own: a hand-in's file of the same name never goes in beside them.
SANDBOX_MODULES = frozenset({"vae", *(path.stem for path in WORKER_FILES)})
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
IMPORTING = "importing vae.py"  # the `function` of the import, in failures
IMPORT_FAILED = "import_failed"  # an Answer's field where the submission did not import (its ERROR says why)


class SandboxFailure(Exception):
    """A call did not come back. `kind`: TIMEOUT, DIED, MEMORY or PROTOCOL; the facts:
    `function` (what was running), `seconds` (the time limit), `limit_mb` (the memory limit),
    `exit_code` (negative: the signal), `detail` (what was wrong with a frame)."""

    TIMEOUT, DIED, MEMORY, PROTOCOL = "timeout", "died", "memory", "protocol"

    def __init__(self, kind: str, function: str, *, seconds: float | None = None, limit_mb: int | None = None,
                 exit_code: int | None = None, detail: str = "") -> None:
        super().__init__(f"{kind} during {function}" + (f": {detail}" if detail else ""))
        self.kind, self.function, self.seconds, self.limit_mb = kind, function, seconds, limit_mb
        self.exit_code, self.detail = exit_code, detail


@dataclass
class Answer:
    ok: bool
    info: dict[str, Any]
    tensors: dict = field(default_factory=dict)

    @property
    def error(self) -> dict[str, str]:
        return self.info.get(protocol.ERROR) or {}


class LibraryFailure(RuntimeError):
    """A library the worker needs failed to import inside the sandbox: the grading machine's fault
    (its installation, or the sandbox's environment), never the submission's."""

    def __init__(self, mode: str, failed: Any) -> None:
        failed = failed if isinstance(failed, dict) else {}
        self.library = str(failed.get(protocol.Error.LIBRARY, "an unnamed library"))
        super().__init__(f"inside the sandbox ({mode} mode), {self.library} failed to import: "
                         f"{failed.get(protocol.Error.TYPE, 'Error')}: "
                         f"{str(failed.get(protocol.Error.MESSAGE, ''))[:500]}. "
                         "This is the grading machine's environment, not the submission.")


class Sandbox:
    """One submission's worker: started on demand, restarted after a failure."""

    def __init__(self, code: bytes, uid: int | None = None, threads: int | None = None,
                 limits: Limits | None = None, modules: tuple[tuple[str, bytes], ...] = ()) -> None:
        """`code`: the submission's vae.py as handin.resolve read it (never read again from a path:
        what runs is what integrity.scan read); `modules`: (name, code) of the hand-in's other
        files that the submission imports."""
        become_subreaper()
        self.limits = limits or Limits()
        self.mode = isolation.isolation_mode()
        self.uid, self._uid_lock = None, None
        if self.mode != "process":
            self.uid, self._uid_lock = isolation.allocate_uid(config.SANDBOX_UID if uid is None else uid)
        # Memory and tasks: a control group of its own where one can be made, else the watchdog.
        self.cgroup = cgroups.Cgroup.create(cgroups.group_name(self.uid), self.limits.memory_mb, self.limits.tasks)
        self.limits_mode = self.cgroup.version if self.cgroup else "rlimit"
        # uid mode: a private /proc where the kernel allows one (unshare, then setpriv drops to the uid);
        # elsewhere the worker's process becomes the uid before exec.
        self.private_proc = self.mode == "uid" and isolation.private_proc_works()
        self._oom_kills = 0
        self.code = code
        self.modules = modules
        self.threads = threads or len(os.sched_getaffinity(0))  # parallel graders: 1 each
        self.workdir = Path(tempfile.mkdtemp(prefix="vae-sandbox-"))
        self.output = CappedOutput(self.limits.output_kb * 1024)
        self.process: subprocess.Popen | None = None
        self.import_error: dict[str, str] | None = None
        self.import_failure: SandboxFailure | None = None
        self.library_failure: LibraryFailure | None = None
        self.hung: dict[str, SandboxFailure] = {}  # student function -> how it failed
        self.flags: set[str] = set()  # integrity flags for a person (integrity.py); never points
        self.starts = 0
        # Where the time goes (the first start's): the worker up with its libraries, the submission
        # imported (seconds since the start; results.json's extra_data.timings, `make gpu-check`).
        self.timings: dict[str, float] = {}
        self._started_at = 0.0
        self._next_id = 1
        self._awaiting_import = False
        self._watchdog: MemoryWatchdog | None = None
        self._prepare()

    # -- set-up ---------------------------------------------------------------------------
    def _prepare(self) -> None:
        try:
            self._copy_in()
        except BaseException:
            self.close()  # nothing is left behind: the folder, the control group, the uid
            raise

    def _copy_in(self) -> None:
        for folder in ("submission", "tmp", "home"):
            (self.workdir / folder).mkdir()
        # Never cut: what runs is what integrity.scan read (handin.resolve refuses larger code).
        if len(self.code) > config.SUBMISSION_MAX_BYTES:
            raise ValueError("the code is larger than config.SUBMISSION_MAX_BYTES: resolve the hand-in with "
                             "autograder/grading/handin.py first")
        (self.workdir / "submission" / "vae.py").write_bytes(self.code)
        for name, module in self.modules:  # the worker's own modules are never replaced
            if not name.isidentifier() or name in SANDBOX_MODULES:
                raise ValueError(f"{name}.py cannot go into the sandbox: resolve the hand-in with handin.py")
            (self.workdir / "submission" / f"{name}.py").write_bytes(module)
        for source in WORKER_FILES:
            shutil.copyfile(source, self.workdir / source.name)
        for name in TRAIN_FILES:
            shutil.copyfile(DATA / "MNIST" / "raw" / name, self.workdir / name)
        if self.uid is not None:
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, self.uid, self.uid)
            self.workdir.chmod(0o700)

    def _command(self) -> tuple[list[str], Path]:
        here = isolation.INSIDE if self.mode == "bwrap" else self.workdir
        # -I ignores PYTHON* variables: -u and -B say unbuffered output and no bytecode files themselves.
        worker = [sys.executable, "-I", "-u", "-B", str(here / "worker.py")]
        prefix = (isolation.bwrap_prefix(self.workdir, self.uid, tmpfs_mb=self.limits.memory_mb)
                  if self.mode == "bwrap" else isolation.private_proc_prefix(self.uid) if self.private_proc else [])
        return prefix + worker, here

    def start(self) -> None:
        self.starts += 1
        self._started_at = time.monotonic()
        req_r, self._req_w = os.pipe()
        self._ans_r, ans_w = os.pipe()
        command, here = self._command()
        command += [str(req_r), str(ans_w), str(here / "submission" / "vae.py")]
        env = isolation.worker_environment(here, self.threads)
        if self.cgroup:
            self._oom_kills = self.cgroup.oom_kills()
        preexec = before_exec(self.limits, own_uid=self.uid is not None,
                              join=self.cgroup.joiner() if self.cgroup else None,
                              user=self.uid if self.mode == "uid" and not self.private_proc else None)
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(req_r, ans_w), cwd=self.workdir, env=env, start_new_session=True, preexec_fn=preexec,
        )
        os.close(req_r)
        os.close(ans_w)
        self._drains = [threading.Thread(target=self._drain, args=(s,), daemon=True)
                        for s in (self.process.stdout, self.process.stderr)]
        for thread in self._drains:
            thread.start()
        if not self.cgroup:
            self._watchdog = MemoryWatchdog(self.uid, self.limits.memory_mb, self.kill)

    def launch(self) -> None:
        """Start the worker now without waiting for it (it imports torch meanwhile)."""
        if self.process is None:
            self.start()
            self._awaiting_import = True

    def _drain(self, stream: Any) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            self.output.add(chunk)

    # -- ending ---------------------------------------------------------------------------
    def kill(self) -> None:
        """SIGKILL every process of the submission, the worker included."""
        def also() -> list[int]:
            worker = [self.process.pid] if self.process and self.process.poll() is None else []
            return worker + (self.cgroup.pids() if self.cgroup else [])

        kill_all(self.uid, also)

    def _look(self) -> None:
        """Flag what /proc shows of the sandbox's processes (native code, shared memory)."""
        if self.process and self.process.poll() is None:
            self.flags |= integrity.look_at([self.process.pid, *(pid for pid, _ in sandbox_processes(self.uid))])

    def _shutdown(self) -> None:
        self._look()  # before the kill: what they had loaded and opened goes with them
        if self._watchdog:
            self._watchdog.stop()
            self._watchdog = None
        self.kill()
        if self.process:
            self.process.wait()
            for thread in self._drains:
                thread.join(timeout=5)
            for fd in (self._req_w, self._ans_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.process = None
        reap_orphans(self.uid)  # what it started and left to us, the subreaper

    def close(self) -> None:
        """Kill every process, then remove the folder (however deep a tree the submission wrote
        there) and the control group."""
        self._shutdown()
        if not remove_tree(self.workdir):
            print(f"grader: could not remove the sandbox folder {self.workdir}", file=sys.stderr)
        if self.cgroup:
            self.cgroup.remove()
        if self._uid_lock is not None:
            os.close(self._uid_lock)  # the uid is free again: none of its processes is left

    # -- talking --------------------------------------------------------------------------
    def _read(self, deadline: float, expected_id: Any) -> tuple[dict[str, Any], dict]:
        """The answer to request `expected_id`; any other frame is a ProtocolError."""
        header, tensors = protocol.read_frame(self._ans_r, deadline)
        if header.get(protocol.ID) != expected_id:
            raise ProtocolError(f"an answer to another request (id {str(header.get(protocol.ID))[:20]!r}, "
                                f"expected {expected_id!r})")
        if not isinstance(header.get(protocol.OK), bool):
            raise ProtocolError("an answer without a true or false `ok`")
        return header, tensors

    def _pending(self) -> bool:
        """Bytes wait on the answer pipe that no request asked for."""
        return bool(select.select([self._ans_r], [], [], 0)[0])

    def _send(self, frame: bytes, deadline: float) -> None:
        """Write a request without ever blocking past the deadline (the worker may not read)."""
        os.set_blocking(self._req_w, False)
        view = memoryview(frame)
        while view:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [self._req_w], [], left)[1]:
                raise TimeoutError
            try:
                view = view[os.write(self._req_w, view):]
            except BlockingIOError:
                continue

    def _failure(self, error: BaseException, function: str, seconds: float) -> SandboxFailure:
        """Stop the worker (the next call starts a fresh one) and say what happened."""
        exit_code = self.process.poll() if self.process else None
        if isinstance(error, EOFError) and self.process and exit_code is None:
            try:  # the answer pipe closed as the worker ended: wait for its exit status
                exit_code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        exceeded = bool(self._watchdog and self._watchdog.exceeded) or self._out_of_memory()
        self._shutdown()
        if isinstance(error, ProtocolError) and not isinstance(error, WorkerAltered):
            self.flags.add(integrity.PROTOCOL_ANOMALY)
        if exceeded:
            return SandboxFailure(SandboxFailure.MEMORY, function, limit_mb=self.limits.memory_mb)
        if isinstance(error, TimeoutError):
            return SandboxFailure(SandboxFailure.TIMEOUT, function, seconds=seconds)
        if isinstance(error, EOFError):
            return SandboxFailure(SandboxFailure.DIED, function, exit_code=exit_code)
        return SandboxFailure(SandboxFailure.PROTOCOL, function, detail=f"{type(error).__name__}: {str(error)[:200]}")

    def _out_of_memory(self) -> bool:
        """The kernel killed a process of this worker's control group for memory."""
        return bool(self.cgroup) and self.cgroup.oom_kills() > self._oom_kills

    def _ensure_started(self) -> None:
        if self.import_failure or self.library_failure:
            raise self.import_failure or self.library_failure
        if not self._awaiting_import:
            if self.process and self.process.poll() is None:
                if not self._pending():
                    return
                self.flags.add(integrity.PROTOCOL_ANOMALY)
                self._shutdown()  # a frame nobody asked for arrived after the last answer
            self.start()
        self._awaiting_import = False
        deadline = time.monotonic() + self.limits.import_timeout_s
        try:
            ready, _ = self._read(deadline, protocol.READY_ID)  # Python and its libraries are up
            if not ready[protocol.OK]:
                self.library_failure = LibraryFailure(self.mode, ready.get(protocol.LIBRARY_ERROR))
                self._shutdown()
                raise self.library_failure
            self.timings.setdefault("worker_ready_s", round(time.monotonic() - self._started_at, 3))
            answer, _ = self._read(deadline, protocol.IMPORT_ID)
            self.timings.setdefault("submission_imported_s", round(time.monotonic() - self._started_at, 3))
        except (TimeoutError, EOFError, ProtocolError, OSError) as error:
            self.import_failure = self._failure(error, IMPORTING, self.limits.import_timeout_s)
            raise self.import_failure from None
        if not answer.get(protocol.OK):
            self.import_error = answer.get(protocol.ERROR) or {protocol.Error.TYPE: "Error", protocol.Error.MESSAGE: "",
                                                               protocol.Error.TRACEBACK: ""}

    def _check_altered(self, info: dict[str, Any]) -> None:
        """Flag what the worker reported swapped; a refused request costs its check like a
        protocol failure (the worker is restarted for the next call)."""
        if info.get(protocol.ALTERED):
            self.flags.add(integrity.WORKER_ALTERED)
        error = info.get(protocol.ERROR)
        refused = isinstance(error, dict) and error.get(protocol.Error.TYPE) == protocol.ALTERED_ERROR
        if not info[protocol.OK] and refused:
            self.flags.add(integrity.WORKER_ALTERED)
            raise WorkerAltered(f"the worker's code was swapped ({str(info.get(protocol.ALTERED))[:200]})")

    def call(self, op: str, header: dict[str, Any], tensors: dict | None, *, function: str,
             uses: tuple[str, ...] = (), timeout: float | None = None) -> Answer:
        """One request that exercises the student's `function` (and relies on `uses`).

        A function that hung, died or ran out of memory once is not called again: the checks
        that need it fail at once with the first failure. A protocol failure (a frame that is
        not this request's one answer) costs this call only: the next one gets a fresh worker.
        """
        for name in (function, *uses):
            if name in self.hung:
                raise self.hung[name]
        timeout = timeout or self.limits.call_timeout_s
        self._ensure_started()
        if self.import_error:
            return Answer(False, {protocol.ERROR: self.import_error, IMPORT_FAILED: True})
        request_id, self._next_id = self._next_id, self._next_id + 1
        try:
            deadline = time.monotonic() + timeout
            self._send(protocol.encode_frame({**header, protocol.OP: op, protocol.ID: request_id}, tensors), deadline)
            info, out = self._read(deadline, request_id)
            if self._pending():
                raise ProtocolError("a second frame after the answer")
            self._check_altered(info)
        except (TimeoutError, EOFError, ProtocolError, OSError) as error:
            failure = self._failure(error, function, timeout)
            if failure.kind != SandboxFailure.PROTOCOL:
                self.hung[function] = failure
            raise failure from None
        return Answer(info[protocol.OK], info, out)

