"""What the worker may use, and how every process it started is found and ended.

In every isolation mode: a wall-clock limit per call (client.py), a CPU-time limit, a memory
limit on all its processes together, capped stdout/stderr, no core files, a cap on tasks, and
every process it started is killed (the grader is a child subreaper, so even daemonised
grandchildren are found). Memory and tasks are capped by a control group where the grader can
make one (cgroups.py); elsewhere by a watchdog (memory: resident, memfd, shm and private tmpfs)
and RLIMIT_NPROC (tasks, where the sandbox uid is its own).
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable

from autograder import config

PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Limits:
    """The sandbox's limits; the defaults are the course's (autograder/config.py). Tests pass
    smaller ones rather than waiting for the real ones."""

    import_timeout_s: float = config.IMPORT_TIMEOUT_S
    call_timeout_s: float = config.CALL_TIMEOUT_S
    memory_mb: int = config.MEMORY_LIMIT_MB
    output_kb: int = config.OUTPUT_LIMIT_KB
    tasks: int = config.TASK_LIMIT

    @property
    def cpu_s(self) -> int:
        """CPU seconds for the worker's whole life (one import, one training, the quick calls)."""
        return int(self.import_timeout_s + config.TRAIN_TIMEOUT_S + 20 * self.call_timeout_s)


def rlimits(limits: Limits, own_uid: bool) -> Callable[[], None]:
    """The function the worker's process runs before exec: limits that hold for it and its
    children. RLIMIT_NPROC counts every task of a uid, so it is set only where the sandbox
    uid is the worker's alone (bwrap and uid modes hold a lock on it)."""

    def apply() -> None:
        import resource

        values = [("RLIMIT_CORE", 0), ("RLIMIT_CPU", limits.cpu_s), ("RLIMIT_FSIZE", 256 << 20),
                  ("RLIMIT_NOFILE", config.FD_LIMIT)]
        if own_uid:
            values.append(("RLIMIT_NPROC", limits.tasks))
        for name, value in values:
            resource.setrlimit(getattr(resource, name), (value, value))

    return apply


def before_exec(limits: Limits, own_uid: bool, join: Callable[[], None] | None = None,
                user: int | None = None) -> Callable[[], None]:
    """What the worker's process runs between fork and exec, in this order: join its control
    group (`join`, as root), set its rlimits, then become `user` (uid mode; bwrap changes uid
    itself), so that no code of the submission runs outside the group."""
    apply = rlimits(limits, own_uid)

    def run() -> None:
        if join is not None:
            join()
        apply()
        if user is not None:
            os.setgroups([])
            os.setregid(user, user)
            os.setreuid(user, user)

    return run


def become_subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: descendants that daemonise may outlive grading


def process_table() -> list[tuple[int, int, int, int]]:
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


def sandbox_processes(uid: int | None) -> list[tuple[int, int]]:
    """(pid, resident KiB) of every process the submission may have started: our descendants
    (the grader is their subreaper) and, where it has its own uid, every process of that uid."""
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, ppid, _, _ in table:
        children.setdefault(ppid, []).append(pid)
    ours, stack = set(), [os.getpid()]
    while stack:
        for child in children.get(stack.pop(), []):
            ours.add(child)
            stack.append(child)
    return [(pid, rss) for pid, _, owner, rss in table if pid in ours or (uid is not None and owner == uid)]


def kill_until_gone(victims: Callable[[], list[int]]) -> None:
    """SIGKILL `victims()` again and again until it is empty (a process that held gigabytes takes
    a while to exit, and a restarted worker must not be blamed for it)."""
    for _ in range(500):
        pids = victims()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in pids:  # reap our own children (the others reparent to us, then go)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.02)


def reap_orphans(uid: int | None) -> None:
    """Reap the exited processes of sandbox uid `uid` that were left to us (the grader is their
    subreaper, so no one else will): call once the worker itself has been waited for."""
    if uid is None:
        return
    for entry in os.listdir("/proc"):
        try:
            if not entry.isdigit() or os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z" and int(fields[1]) == os.getpid():
                os.waitpid(int(entry), os.WNOHANG)
        except (OSError, IndexError, ChildProcessError):
            continue


def kill_all(uid: int | None, extra: Callable[[], list[int]] = list) -> None:
    """SIGKILL every process of the submission (and `extra()`), until none is left."""
    kill_until_gone(lambda: [pid for pid, _ in sandbox_processes(uid)] + extra())


def _private_tmpfs(pid: int, host: set[int]) -> dict[int, int]:
    """Device -> KiB used, of the /tmp and /dev/shm that process `pid` sees where they are not
    the grader's own (bubblewrap's private tmpfs)."""
    used = {}
    for folder in ("tmp", "dev/shm"):
        try:
            path = f"/proc/{pid}/root/{folder}"
            device = os.stat(path).st_dev
            if device not in host:
                stats = os.statvfs(path)
                used[device] = (stats.f_blocks - stats.f_bfree) * stats.f_frsize // 1024
        except OSError:
            pass
    return used


def _shared_files(pid: int) -> dict[tuple[int, int], int]:
    """(device, inode) -> KiB allocated, of the memfd and /dev/shm files process `pid` holds open
    (memory no process's RSS counts until it is mapped)."""
    held = {}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return {}
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith(("/memfd:", "/dev/shm/")):
                stats = os.stat(f"/proc/{pid}/fd/{fd}")
                held[(stats.st_dev, stats.st_ino)] = stats.st_blocks // 2
        except OSError:
            pass
    return held


def memory_kib(processes: list[tuple[int, int]]) -> int:
    """What the submission's processes hold: resident memory, plus the memfd and shm files
    they hold open and their private /tmp and /dev/shm (each file and file system once)."""
    host = set()
    for folder in ("/tmp", "/dev/shm"):
        try:
            host.add(os.stat(folder).st_dev)
        except OSError:
            pass
    file_systems: dict[int, int] = {}
    files: dict[tuple[int, int], int] = {}
    for pid, _ in processes:
        file_systems.update(_private_tmpfs(pid, host))
        files.update(_shared_files(pid))
    private = set(file_systems)
    return (sum(rss for _, rss in processes) + sum(file_systems.values())
            + sum(kib for (device, _), kib in files.items() if device not in private))


class MemoryWatchdog:
    """A thread that calls `on_exceeded` once the submission's processes together hold more
    than `limit_mb` (memory_kib: resident memory and the shared memory and tmpfs they hold).
    Where a control group caps memory (cgroups.py) the kernel does this, and none is started."""

    def __init__(self, uid: int | None, limit_mb: int, on_exceeded: Callable[[], None]) -> None:
        self.uid, self.limit_kib, self.on_exceeded = uid, limit_mb * 1024, on_exceeded
        self.exceeded = False
        self._watching = True
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while self._watching:
            if memory_kib(sandbox_processes(self.uid)) > self.limit_kib:
                self.exceeded = True
                self.on_exceeded()
                return
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop watching, and wait for a kill in progress: it kills every process of the uid,
        so it must be done before a new worker starts."""
        self._watching = False
        self._thread.join()


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
