"""Run a submission in a separate, limited process and talk to it (the trusted side).

Isolation, strongest first; `Sandbox.mode` says which one is in force:
- "bwrap": the grader runs as root and bubblewrap works. The worker sees only /usr, the
  Python installation, a private /tmp and its own folder (no repository, no hidden graders,
  no reference, no other submissions), has no network, its own PID namespace, and runs as an
  unprivileged uid with no capabilities.
- "uid": root without bubblewrap. The worker runs as an unprivileged uid; the grader has
  made the repository's folders unreadable to it (grade.protect_repository) and checks that.
- "process": the grader runs as an ordinary user. The worker is a separate process with its
  own session and the limits below, but it runs as that user, so it can read whatever that
  user can (the reference included) and write where that user can. Grade untrusted code as
  root (CI, Gradescope), or in a container, for the stronger modes.
In every mode: wall-clock limit per call, a CPU-time limit, resident memory of all its
processes together, capped stdout/stderr, no core files, and every process it started is
killed (the grader is a child subreaper, so even daemonised grandchildren are found).
"""
from __future__ import annotations

import ctypes
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import config
from autograder.paths import DATA, SANDBOX, SOLUTIONS
from autograder.sandbox.worker import PREFIX, ProtocolError, decode_frame, encode_frame, parse_frame

INSIDE = Path("/sandbox")  # the worker's folder as the worker sees it in "bwrap" mode
WORKER_FILES = (SANDBOX / "worker.py", SANDBOX / "probe.py", SOLUTIONS / "common.py")
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
PR_SET_CHILD_SUBREAPER = 36


class SandboxFailure(Exception):
    """A call did not come back: timeout, crash, memory, or a broken answer."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Answer:
    ok: bool
    info: dict[str, Any]
    tensors: dict = field(default_factory=dict)

    @property
    def error(self) -> dict[str, str]:
        return self.info.get("error") or {}


class CappedOutput:
    """Keeps the first and last `limit / 2` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.half, self.head, self.tail, self.total = limit // 2, bytearray(), bytearray(), 0
        self.lock = threading.Lock()

    def add(self, chunk: bytes) -> None:
        with self.lock:
            self.total += len(chunk)
            room = self.half - len(self.head)
            self.head += chunk[:room]
            self.tail += chunk[room:] if room > 0 else chunk
            del self.tail[: max(0, len(self.tail) - self.half)]

    def text(self) -> str:
        with self.lock:
            skipped = self.total - len(self.head) - len(self.tail)
            middle = f"\n... [{skipped} bytes not shown] ...\n" if skipped > 0 else ""
            return (bytes(self.head).decode(errors="replace") + middle + bytes(self.tail).decode(errors="replace"))


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _become_subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: descendants that daemonise may outlive grading


def _processes() -> list[tuple[int, int, int, int]]:
    """(pid, ppid, owner uid, resident KiB) of every live process we can see (cheap: one stat
    each). Zombies are left out: they hold no memory and are reaped by their parent."""
    found = []
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in (b"Z", b"X"):
            found.append((int(entry), int(fields[1]), uid, int(fields[21]) * page_kib))
    return found


def _bind_with_parents(path: Path, source: Path) -> list[str]:
    """Bind `source` read-only at `path`, creating the folders above it (traversable)."""
    args = []
    for parent in reversed(path.parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    return args + ["--ro-bind", str(source), str(path)]


def bwrap_prefix(workdir: Path, uid: int) -> list[str]:
    """bubblewrap's arguments: a minimal read-only system, the worker folder, no network."""
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # A fresh /tmp first, then the Python installation (which may itself live under /tmp), at
    # its real path and at the path it was started from (a linked .venv).
    args += ["--tmpfs", "/tmp"]
    for prefix in sorted({Path(sys.base_prefix), Path(sys.prefix)}):
        for seen_as in sorted({prefix.absolute(), prefix.resolve()}):
            if not str(seen_as).startswith("/usr/"):
                args += _bind_with_parents(seen_as, source=prefix.resolve())
    if Path("/dev/nvidiactl").exists():  # the GPU's device files and driver information
        args += ["--dev-bind", "/dev", "/dev", "--ro-bind", "/sys", "/sys"]
    else:
        args += ["--dev", "/dev"]
    args += ["--proc", "/proc", "--bind", str(workdir), str(INSIDE), "--chdir", str(INSIDE)]
    return args + ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                   "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]


_BWRAP_WORKS: bool | None = None


def bwrap_works() -> bool:
    global _BWRAP_WORKS
    if _BWRAP_WORKS is None:
        _BWRAP_WORKS = False
        if _is_root() and shutil.which("bwrap") and Path("/usr/bin/setpriv").exists():
            with tempfile.TemporaryDirectory() as tmp:
                probe = bwrap_prefix(Path(tmp), config.SANDBOX_UID) + [sys.executable, "-c", "pass"]
                try:
                    _BWRAP_WORKS = subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
                except (OSError, subprocess.TimeoutExpired):
                    pass
    return _BWRAP_WORKS


def isolation_mode() -> str:
    if not _is_root():
        return "process"
    return "bwrap" if bwrap_works() else "uid"


def _limit_resources() -> None:
    """Runs in the child before exec: limits that hold for the worker and its children."""
    import resource

    cpu = config.IMPORT_TIMEOUT_S + config.TRAIN_TIMEOUT_S + 20 * config.CALL_TIMEOUT_S
    for name, value in (("RLIMIT_CORE", 0), ("RLIMIT_CPU", cpu), ("RLIMIT_FSIZE", 256 << 20),
                        ("RLIMIT_NOFILE", 1024)):
        resource.setrlimit(getattr(resource, name), (value, value))


UID_RANGE = 1000  # uids tried, from the preferred one downwards


def allocate_uid(preferred: int) -> tuple[int, int]:
    """A sandbox uid no other grader on this machine is using now, and the lock that holds it.

    The grader kills every process of its uid, so two graders must never share one: each
    holds an exclusive lock on /tmp/vae-grader-uid-<uid>.lock (owner-only) while it runs.
    """
    import fcntl

    for uid in range(preferred, preferred - UID_RANGE, -1):
        fd = os.open(f"/tmp/vae-grader-uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return uid, fd
        except BlockingIOError:
            os.close(fd)
    raise RuntimeError(f"no free sandbox uid in {preferred - UID_RANGE + 1}..{preferred}")


class Sandbox:
    """One submission's worker: started on demand, restarted after a crash or a timeout."""

    def __init__(self, submission: Path, uid: int | None = None, threads: int | None = None) -> None:
        _become_subreaper()
        self.mode = isolation_mode()
        self.uid, self._uid_lock = None, None
        if self.mode != "process":
            self.uid, self._uid_lock = allocate_uid(config.SANDBOX_UID if uid is None else uid)
        self.submission = submission
        self.threads = threads or len(os.sched_getaffinity(0))  # parallel graders: 1 each
        self.workdir = Path(tempfile.mkdtemp(prefix="vae-sandbox-"))
        self.output = CappedOutput(config.OUTPUT_LIMIT_KB * 1024)
        self.process: subprocess.Popen | None = None
        self.import_error: dict[str, str] | None = None
        self.import_failure: SandboxFailure | None = None
        self.hung: dict[str, SandboxFailure] = {}  # student function -> how it failed
        self.memory_exceeded = False
        self.starts = 0
        self._awaiting_import = False
        self._prepare()

    # -- set-up ---------------------------------------------------------------------------
    def _prepare(self) -> None:
        (self.workdir / "submission").mkdir()
        (self.workdir / "tmp").mkdir()
        # O_NOFOLLOW: never read through a link (it could point at the reference solution).
        with open(os.open(self.submission, os.O_RDONLY | os.O_NOFOLLOW), "rb") as source:
            (self.workdir / "submission" / "vae.py").write_bytes(source.read(16 << 20))
        for source in WORKER_FILES:
            shutil.copyfile(source, self.workdir / source.name)
        for name in TRAIN_FILES:
            shutil.copyfile(DATA / "MNIST" / "raw" / name, self.workdir / name)
        if self.uid is not None:
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, self.uid, self.uid)
            self.workdir.chmod(0o700)

    def _command(self) -> tuple[list[str], Path]:
        here = INSIDE if self.mode == "bwrap" else self.workdir
        worker = [sys.executable, "-I", str(here / "worker.py")]
        prefix = bwrap_prefix(self.workdir, self.uid) if self.mode == "bwrap" else []
        return prefix + worker, here

    def start(self) -> None:
        self.starts += 1
        req_r, self._req_w = os.pipe()
        self._ans_r, ans_w = os.pipe()
        command, here = self._command()
        command += [str(req_r), str(ans_w), str(here / "submission" / "vae.py")]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(here), "TMPDIR": str(here / "tmp"), "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg",
               "OMP_NUM_THREADS": str(self.threads), "VAE_WORKER_THREADS": str(self.threads)}
        env.update({k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "CUDA_", "NVIDIA_"))})
        as_user = {"user": self.uid, "group": self.uid, "extra_groups": []} if self.mode == "uid" else {}
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(req_r, ans_w), cwd=self.workdir, env=env, start_new_session=True,
            preexec_fn=_limit_resources, **as_user,
        )
        os.close(req_r)
        os.close(ans_w)
        self._drains = [threading.Thread(target=self._drain, args=(s,), daemon=True)
                        for s in (self.process.stdout, self.process.stderr)]
        for thread in self._drains:
            thread.start()
        self._watching = True
        self._watchdog = threading.Thread(target=self._watch_memory, daemon=True)
        self._watchdog.start()

    def _drain(self, stream: Any) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            self.output.add(chunk)

    # -- processes ------------------------------------------------------------------------
    def _sandbox_processes(self) -> list[tuple[int, int]]:
        """(pid, resident KiB) of every process the submission may have started."""
        table = _processes()
        children: dict[int, list[int]] = {}
        for pid, ppid, _, _ in table:
            children.setdefault(ppid, []).append(pid)
        ours, stack = set(), [os.getpid()]
        while stack:
            for child in children.get(stack.pop(), []):
                ours.add(child)
                stack.append(child)
        return [(pid, rss) for pid, _, uid, rss in table
                if pid in ours or (self.uid is not None and uid == self.uid)]

    def _watch_memory(self) -> None:
        limit_kib = config.MEMORY_LIMIT_MB * 1024
        while self._watching:
            if sum(rss for _, rss in self._sandbox_processes()) > limit_kib:
                self.memory_exceeded = True
                self.kill()
                return
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL every process of the submission, until none is left (a process that held
        gigabytes takes a while to exit, and a restarted worker must not be blamed for it)."""
        for _ in range(500):
            victims = [pid for pid, _ in self._sandbox_processes()]
            if self.process and self.process.poll() is None:
                victims.append(self.process.pid)
            if not victims:
                break
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            for pid in victims:  # reap our own children (the others reparent to us, then go)
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            time.sleep(0.02)

    def _shutdown(self) -> None:
        self._watching = False
        self.kill()
        if self.process:
            # The watchdog may still be killing; it must be done before a new worker starts,
            # or its kill loop (every process of the uid) would take the new worker too.
            self._watchdog.join()
            self.process.wait()
            for thread in self._drains:
                thread.join(timeout=5)
            for fd in (self._req_w, self._ans_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.process = None

    def close(self) -> None:
        self._shutdown()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self._uid_lock is not None:
            os.close(self._uid_lock)  # the uid is free again: none of its processes is left

    # -- talking ------------------------------------------------------------------------------
    def _read(self, deadline: float) -> tuple[dict[str, Any], dict]:
        def exactly(size: int) -> bytes:
            data = bytearray()
            while len(data) < size:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._ans_r], [], [], left)[0]:
                    raise TimeoutError
                chunk = os.read(self._ans_r, min(size - len(data), 1 << 20))
                if not chunk:
                    raise EOFError
                data += chunk
            return bytes(data)

        head_len, body_len = decode_frame(exactly(PREFIX.size))
        return parse_frame(exactly(head_len), exactly(body_len))

    def _failure(self, error: BaseException, doing: str, timeout: float) -> SandboxFailure:
        exit_code = self.process.poll() if self.process else None
        self._shutdown()
        if self.memory_exceeded:
            self.memory_exceeded = False
            return SandboxFailure("memory", f"{doing} used more than {config.MEMORY_LIMIT_MB} MB of memory and was stopped")
        if isinstance(error, TimeoutError):
            return SandboxFailure("timeout", f"{doing} did not finish within {timeout:.0f} s (an endless loop?)")
        if isinstance(error, EOFError):
            how = f"signal {-exit_code}" if exit_code and exit_code < 0 else f"exit status {exit_code}"
            return SandboxFailure("died", f"the process running your code ended during {doing} ({how}): "
                                          "sys.exit, os._exit or a crash")
        return SandboxFailure("protocol", f"{doing} produced an answer the grader cannot read ({type(error).__name__})")

    def launch(self) -> None:
        """Start the worker now without waiting for it (it imports torch meanwhile)."""
        if self.process is None:
            self.start()
            self._awaiting_import = True

    def _ensure_started(self) -> None:
        if self.import_failure:
            raise self.import_failure
        if not self._awaiting_import:
            if self.process and self.process.poll() is None:
                return
            self.start()
        self._awaiting_import = False
        deadline = time.monotonic() + config.IMPORT_TIMEOUT_S
        try:
            self._read(deadline)  # ready: Python and torch are up
            answer, _ = self._read(deadline)  # the import of vae.py
        except (TimeoutError, EOFError, ProtocolError, ValueError, OSError) as error:
            self.import_failure = self._failure(error, "importing vae.py", config.IMPORT_TIMEOUT_S)
            raise self.import_failure from None
        if not answer.get("ok"):
            self.import_error = answer.get("error") or {"type": "Error", "message": "", "traceback": ""}

    def call(self, op: str, header: dict[str, Any], tensors: dict | None, *, function: str,
             uses: tuple[str, ...] = (), timeout: float | None = None) -> Answer:
        """One request that exercises the student's `function` (and relies on `uses`).

        A function that hung, crashed or ran out of memory once is not called again: the
        checks that need it fail at once with the first failure's message.
        """
        for name in (function, *uses):
            if name in self.hung:
                raise self.hung[name]
        timeout = timeout or config.CALL_TIMEOUT_S
        self._ensure_started()
        if self.import_error:
            return Answer(False, {"error": self.import_error, "import_failed": True})
        try:
            deadline = time.monotonic() + timeout
            self._send(encode_frame({"op": op, **header}, tensors), deadline)
            info, out = self._read(deadline)
        except (TimeoutError, EOFError, ProtocolError, ValueError, OSError) as error:
            failure = self._failure(error, f"{function}()", timeout)
            self.hung[function] = failure
            raise failure from None
        if not isinstance(info.get("ok"), bool):
            raise SandboxFailure("protocol", f"{function}() produced an answer the grader cannot read")
        return Answer(info["ok"], info, out)

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
