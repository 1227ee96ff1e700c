"""A control group per sandbox: the cap on memory and tasks that nothing in the sandbox escapes.

A process's resident memory misses what a submission can hold elsewhere: a memfd or a file in
/tmp or /dev/shm (tmpfs) is memory no process's RSS counts. A control group's memory limit
charges those pages to the group that touched them, and its pids limit counts threads as well
as processes. The kernel enforces both; past the memory limit it kills a process of the group
(counted in oom_kill, so the grader can say "memory" rather than "crashed").

Limits, strongest first (`limits_mode()` says which one is in force; `make setup` prints it):
- "cgroup2": a cgroup2 hierarchy whose memory and pids controllers the grader may enable below
  its own group: memory.max and memory.swap.max, pids.max.
- "cgroup1": writable cgroup v1 memory and pids hierarchies (root on most CI machines):
  memory.limit_in_bytes and memory.memsw.limit_in_bytes where swap is accounted, pids.max.
- "rlimit": no group can be made (not root, no such controllers). limits.py's watchdog sums
  the resident memory, open memfd and shm files and the private tmpfs of the submission's
  processes, bubblewrap bounds /tmp and /dev/shm, and RLIMIT_NPROC caps the sandbox uid's tasks.

Each group is created below the grader's own (it stays inside whatever limits the grader has)
and named `vae-grader-<uid>`: the sandbox uid is one grader's alone (isolation.allocate_uid).
"""
from __future__ import annotations

import errno
import itertools
import os
import time
from pathlib import Path
from typing import Callable

from autograder.sandbox.limits import kill_until_gone

CONTROLLERS = ("memory", "pids")
_unnamed = itertools.count()


def _mounts() -> list[tuple[Path, str, str, set[str]]]:
    """(mount point, root inside the hierarchy, file system type, super options) of every
    cgroup mount, from /proc/self/mountinfo."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((Path(fields[4]), fields[3], tail[0], set(tail[2].split(","))))
    return found


def _own_groups() -> dict[str, str]:
    """Controller (or "" for cgroup2) -> the grader's own group's path, from /proc/self/cgroup."""
    groups = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            groups[name] = path
    return groups


def _below(mount: Path, root: str, path: str) -> Path | None:
    """The folder of group `path` in a hierarchy mounted at `mount` (showing `root`)."""
    relative = os.path.relpath(path, root)
    if relative.startswith(".."):
        return None
    folder = (mount / relative).resolve()
    return folder if folder.is_dir() else None


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _parents() -> tuple[str, list[Path]] | None:
    """("cgroup2" or "cgroup1", the folders new groups are made in) where both controllers are
    there to use, else None."""
    own = _own_groups()
    for mount, root, fstype, _ in _mounts():
        if fstype == "cgroup2" and "" in own:
            parent = _below(mount, root, own[""])
            try:
                available = set((parent / "cgroup.controllers").read_text().split()) if parent else set()
            except OSError:
                continue
            if set(CONTROLLERS) <= available:
                return "cgroup2", [parent]
    folders = []
    for controller in CONTROLLERS:
        for mount, root, fstype, options in _mounts():
            if fstype == "cgroup" and controller in options and controller in own:
                parent = _below(mount, root, own[controller])
                if parent and parent not in folders:
                    folders.append(parent)
                break
        else:
            return None
    return "cgroup1", folders


class Cgroup:
    """One sandbox's group (a folder per hierarchy: one for cgroup2, memory's and pids' for v1)."""

    def __init__(self, version: str, folders: list[Path]) -> None:
        self.version, self.folders = version, folders

    @classmethod
    def create(cls, name: str, memory_mb: int, tasks: int) -> Cgroup | None:
        """A group capped at `memory_mb` (shared memory and tmpfs included, no swap) and `tasks`
        processes and threads; None where none can be made. One left by a grader that died is
        emptied and reused."""
        found = _parents()
        if found is None:
            return None
        version, parents = found
        group = cls(version, [parent / name for parent in parents])
        try:
            if version == "cgroup2":
                subtree = (parents[0] / "cgroup.subtree_control").read_text().split()
                if not set(CONTROLLERS) <= set(subtree):
                    _write(parents[0] / "cgroup.subtree_control", " ".join(f"+{c}" for c in CONTROLLERS))
            for folder in group.folders:
                folder.mkdir(exist_ok=True)
            group.kill()
            group._set_limits(memory_mb << 20, tasks)
        except OSError:
            group.remove()
            return None
        return group

    def _file(self, name: str) -> Path:
        """The folder holding control file `name` (v1: memory.* in memory's, pids.* in pids')."""
        for folder in self.folders:
            if (folder / name).exists():
                return folder / name
        raise FileNotFoundError(name)

    def _set_limits(self, memory: int, tasks: int) -> None:
        if self.version == "cgroup2":
            _write(self._file("memory.max"), str(memory))
            if (self.folders[0] / "memory.swap.max").exists():
                _write(self._file("memory.swap.max"), "0")
        else:
            try:  # memsw may not be lowered below limit_in_bytes, nor the reverse: order matters
                _write(self._file("memory.limit_in_bytes"), str(memory))
                if (self.folders[0] / "memory.memsw.limit_in_bytes").exists():
                    _write(self._file("memory.memsw.limit_in_bytes"), str(memory))
            except OSError:
                if (self.folders[0] / "memory.memsw.limit_in_bytes").exists():
                    _write(self._file("memory.memsw.limit_in_bytes"), str(memory))
                _write(self._file("memory.limit_in_bytes"), str(memory))
        _write(self._file("pids.max"), str(tasks))

    def joiner(self) -> Callable[[], None]:
        """A function for the worker's process to run before exec (as root, before it drops
        privileges): it moves itself into the group, so every task it starts is counted."""
        paths = [str(folder / "cgroup.procs") for folder in self.folders]

        def join() -> None:
            for path in paths:  # raw system calls only: this runs between fork and exec
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, str(os.getpid()).encode())
                finally:
                    os.close(fd)

        return join

    def pids(self) -> list[int]:
        found: set[int] = set()
        for folder in self.folders:
            try:
                found.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return sorted(found)

    def oom_kills(self) -> int:
        """How many of the group's processes the kernel killed for memory, so far."""
        name = "memory.events" if self.version == "cgroup2" else "memory.oom_control"
        try:
            for line in self._file(name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def kill(self) -> None:
        """SIGKILL every process in the group, until none is left."""
        kill_until_gone(self.pids)

    def remove(self) -> None:
        """Kill what is left and delete the group (its charges go to the grader's own)."""
        self.kill()
        for folder in self.folders:
            for _ in range(250):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as error:  # EBUSY: a killed task is still on its way out
                    if error.errno != errno.EBUSY:
                        break
                    time.sleep(0.02)


def group_name(uid: int | None) -> str:
    """`vae-grader-<uid>`, or one of this process's own where the worker has no uid."""
    return f"vae-grader-{uid}" if uid is not None else f"vae-grader-pid{os.getpid()}-{next(_unnamed)}"


_MODE: str | None = None


def limits_mode() -> str:
    """"cgroup2", "cgroup1" or "rlimit": what caps memory and tasks here (a group is made and
    removed to be sure)."""
    global _MODE
    if _MODE is None:
        probe = Cgroup.create(group_name(None), 64, 8)
        _MODE = probe.version if probe else "rlimit"
        if probe:
            probe.remove()
    return _MODE
