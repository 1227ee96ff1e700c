"""A control group per sandbox: the cap on memory and tasks, and the CPU share, that nothing in
the sandbox escapes.

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

CPU: where the cpu controller is there too (cgroup2's cpu.weight, v1's cpu.shares), the group
weighs config.CPU_WEIGHT, as one ordinary process does: the scheduler shares the cores between
groups first, so a submission that starts 150 spinning processes, or its own session (which
escapes the grader's priority), takes no more CPU from the gradings beside it than one process
would. Without it (`Cgroup.cpu_shared` false, and in "rlimit" mode) nothing bounds a
submission's share of the CPU beyond its CPU-time limit and task cap.

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

from autograder import config
from autograder.sandbox.limits import kill_until_gone

CONTROLLERS = ("memory", "pids")  # required: without both, no group is made
SHARE = "cpu"  # joined where it is there: the group's CPU share
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


def _v1_parent(controller: str, own: dict[str, str]) -> Path | None:
    """The grader's own group's folder in the v1 hierarchy of `controller`, if it is mounted."""
    for mount, root, fstype, options in _mounts():
        if fstype == "cgroup" and controller in options and controller in own:
            return _below(mount, root, own[controller])
    return None


def _parents() -> tuple[str, list[Path], list[str]] | None:
    """("cgroup2" or "cgroup1", the folders new groups are made in, the controllers used) where
    memory and pids are there to use (cpu too where it is), else None."""
    own = _own_groups()
    for mount, root, fstype, _ in _mounts():
        if fstype == "cgroup2" and "" in own:
            parent = _below(mount, root, own[""])
            try:
                available = set((parent / "cgroup.controllers").read_text().split()) if parent else set()
            except OSError:
                continue
            if set(CONTROLLERS) <= available:
                return "cgroup2", [parent], [*CONTROLLERS, *[SHARE] * (SHARE in available)]
    folders, used = [], []
    for controller in (*CONTROLLERS, SHARE):
        parent = _v1_parent(controller, own)
        if parent is None and controller != SHARE:
            return None
        if parent is not None:
            used.append(controller)
            if parent not in folders:
                folders.append(parent)
    return "cgroup1", folders, used


class Cgroup:
    """One sandbox's group (a folder per hierarchy: one for cgroup2; memory's, pids' and cpu's
    for v1)."""

    def __init__(self, version: str, folders: list[Path], controllers: tuple[str, ...] = CONTROLLERS) -> None:
        self.version, self.folders, self.controllers = version, folders, controllers

    @property
    def cpu_shared(self) -> bool:
        """The group has its CPU share (the cpu controller): see the module docstring."""
        return SHARE in self.controllers

    @classmethod
    def create(cls, name: str, memory_mb: int, tasks: int) -> Cgroup | None:
        """A group capped at `memory_mb` (shared memory and tmpfs included, no swap) and `tasks`
        processes and threads; None where none can be made. One left by a grader that died is
        emptied and reused."""
        found = _parents()
        if found is None:
            return None
        version, parents, controllers = found
        group = cls(version, [parent / name for parent in parents], tuple(controllers))
        try:
            if version == "cgroup2":
                subtree = (parents[0] / "cgroup.subtree_control").read_text().split()
                if not set(controllers) <= set(subtree):
                    _write(parents[0] / "cgroup.subtree_control", " ".join(f"+{c}" for c in controllers))
            for folder in group.folders:
                folder.mkdir(exist_ok=True)
            group.kill()
            group._set_limits(memory_mb << 20, tasks)
        except OSError:
            group.remove()
            return None
        return group

    def _file(self, name: str) -> Path:
        """The folder holding control file `name` (v1: memory.* in memory's, pids.* in pids', cpu.* in
        cpu's)."""
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
        if self.cpu_shared:  # cpu.shares: 1024 is v1's default, as 100 is cpu.weight's
            name, value = (("cpu.weight", config.CPU_WEIGHT) if self.version == "cgroup2"
                           else ("cpu.shares", config.CPU_WEIGHT * 1024 // 100))
            _write(self._file(name), str(value))

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


_MODE: tuple[str, bool] | None = None


def _probe() -> tuple[str, bool]:
    """(limits_mode, cpu_shared), found once by making a group and removing it."""
    global _MODE
    if _MODE is None:
        probe = Cgroup.create(group_name(None), 64, 8)
        _MODE = (probe.version, probe.cpu_shared) if probe else ("rlimit", False)
        if probe:
            probe.remove()
    return _MODE


def limits_mode() -> str:
    """"cgroup2", "cgroup1" or "rlimit": what caps memory and tasks here."""
    return _probe()[0]


def cpu_shared() -> bool:
    """Each sandbox's group has its CPU share here (the cpu controller: see the module docstring)."""
    return _probe()[1]
