"""How the worker is kept apart from the grader: the isolation modes and the sandbox uid.

Isolation, strongest first (`isolation_mode()` says which one is in force):
- "bwrap": the grader runs as root and bubblewrap works. The worker sees only /usr, the
  Python installation, a private /tmp, a minimal /dev (plus the NVIDIA device nodes on a GPU
  host) and its own folder (no repository, no hidden graders, no reference, no other
  submissions), has no network, its own PID namespace, and runs as an unprivileged uid with
  no capabilities.
- "uid": root without bubblewrap. The worker runs as an unprivileged uid; the grader has
  made the repository's folders unreadable to it (protect_repository) and checks that. Where
  the kernel allows it (private_proc_works), it has its own PID namespace and /proc, so no
  other process's command line (which names classmates' hand-ins) is in its sight.
- "process": the grader runs as an ordinary user (or config.ISOLATION_ENV asks for it). The worker is a separate process with its
  own session and the limits of limits.py, but it runs as that user, so it can read whatever
  that user can (the reference included) and write where that user can. Grade untrusted code
  as root (CI, Gradescope), or in a container, for the stronger modes.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from autograder import config
from autograder.paths import AUTOGRADER, ROOT

INSIDE = Path("/sandbox")  # the worker's folder as the worker sees it in "bwrap" mode
UID_RANGE = 1000  # uids tried, from the preferred one downwards


class IsolationError(RuntimeError):
    """The submission cannot be kept apart from the grader here: grading must not go on."""


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def has_gpu() -> bool:
    """An NVIDIA driver is loaded (its control device exists)."""
    return Path("/dev/nvidiactl").exists()


def nvidia_devices() -> list[str]:
    return sorted(glob.glob("/dev/nvidia*"))


def _bind_with_parents(path: Path, source: Path) -> list[str]:
    """Bind `source` read-only at `path`, creating the folders above it (traversable)."""
    args = []
    for parent in reversed(path.parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    return args + ["--ro-bind", str(source), str(path)]


def device_args(gpu: Callable[[], bool] = has_gpu, devices: Callable[[], list[str]] = nvidia_devices,
                tmpfs_mb: int = config.MEMORY_LIMIT_MB) -> list[str]:
    """A minimal /dev with a private /dev/shm of at most `tmpfs_mb`; on a GPU host, the NVIDIA
    nodes and /sys too (read-only: the CUDA driver reads the PCI topology there)."""
    args = ["--dev", "/dev", "--perms", "1777", "--size", str(tmpfs_mb << 20), "--tmpfs", "/dev/shm"]
    if gpu():
        for node in devices():
            args += ["--dev-bind", node, node]
        args += ["--ro-bind", "/sys", "/sys"]
    return args


def bwrap_prefix(workdir: Path, uid: int, gpu: Callable[[], bool] = has_gpu,
                 devices: Callable[[], list[str]] = nvidia_devices,
                 tmpfs_mb: int = config.MEMORY_LIMIT_MB) -> list[str]:
    """bubblewrap's arguments: a minimal read-only system, the worker folder, no network; /tmp
    and /dev/shm are private tmpfs of at most `tmpfs_mb` each (the memory limit bounds them
    together where a control group charges them, limits.MemoryWatchdog counts them elsewhere)."""
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # A fresh /tmp first, then the Python installation (which may itself live under /tmp), at
    # its real path and at the path it was started from (a linked .venv).
    args += ["--size", str(tmpfs_mb << 20), "--tmpfs", "/tmp"]
    for prefix in sorted({Path(sys.base_prefix), Path(sys.prefix)}):
        for seen_as in sorted({prefix.absolute(), prefix.resolve()}):
            if not str(seen_as).startswith("/usr/"):
                args += _bind_with_parents(seen_as, source=prefix.resolve())
    args += device_args(gpu, devices, tmpfs_mb)
    args += ["--proc", "/proc", "--bind", str(workdir), str(INSIDE), "--chdir", str(INSIDE)]
    return args + drop_privileges(uid)


def drop_privileges(uid: int) -> list[str]:
    """setpriv's arguments: become `uid`, with no groups, no capabilities, no new privileges."""
    return ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all", "--bounding-set=-all"]


def private_proc_prefix(uid: int) -> list[str]:
    """uid mode: the worker gets its own PID namespace and /proc (util-linux unshare, as root),
    then becomes `uid`. Other processes' command lines, which name classmates' hand-ins (the
    class folder on `grade_all`'s, a hand-in on a grader's), are then out of its sight."""
    return ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "--", *drop_privileges(uid)]


_PRIVATE_PROC_WORKS: bool | None = None


def private_proc_works() -> bool:
    """Whether private_proc_prefix runs here (root, util-linux, a kernel that allows PID and
    mount namespaces); asked once per grader."""
    global _PRIVATE_PROC_WORKS
    if _PRIVATE_PROC_WORKS is None:
        _PRIVATE_PROC_WORKS = False
        if is_root() and Path("/usr/bin/unshare").exists() and Path("/usr/bin/setpriv").exists():
            try:
                probe = subprocess.run(private_proc_prefix(config.SANDBOX_UID) + ["/bin/true"], capture_output=True,
                                       timeout=60)
                _PRIVATE_PROC_WORKS = probe.returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                pass
    return _PRIVATE_PROC_WORKS


_BWRAP_WORKS: bool | None = None


BWRAP_PROBES = 3  # tries before falling back: a busy host can refuse one start (no pids left for a moment)


def bwrap_works() -> bool:
    """Whether bubblewrap can start Python here; asked once per grader, retried before giving up
    (falling back to the weaker uid mode on a passing hiccup would be a silent downgrade)."""
    global _BWRAP_WORKS
    if _BWRAP_WORKS is None:
        _BWRAP_WORKS = False
        if is_root() and shutil.which("bwrap") and Path("/usr/bin/setpriv").exists():
            with tempfile.TemporaryDirectory() as tmp:
                probe = bwrap_prefix(Path(tmp), config.SANDBOX_UID) + [sys.executable, "-c", "pass"]
                for attempt in range(BWRAP_PROBES):
                    try:
                        if subprocess.run(probe, capture_output=True, timeout=60).returncode == 0:
                            _BWRAP_WORKS = True
                            break
                    except (OSError, subprocess.TimeoutExpired):
                        pass
                    time.sleep(attempt + 1)
    return _BWRAP_WORKS


MODES = ("bwrap", "uid", "process")  # strongest first


def isolation_mode() -> str:
    """The strongest mode that works here, or the weaker one config.ISOLATION_ENV asks for."""
    forced = os.environ.get(config.ISOLATION_ENV, "")
    if forced and forced not in MODES:
        raise IsolationError(f"{config.ISOLATION_ENV}={forced!r}: the modes are {', '.join(MODES)}.")
    if forced == "process":
        return forced
    if not is_root():
        best = "process"
    elif forced == "uid":
        best = "uid"  # no need to probe bubblewrap
    else:
        best = "bwrap" if bwrap_works() else "uid"
    if forced and MODES.index(forced) < MODES.index(best):
        raise IsolationError(f"{config.ISOLATION_ENV}={forced} asks for more isolation than works here ({best}).")
    return forced or best


def worker_environment(here: Path, threads: int) -> dict[str, str]:
    """The worker's whole environment, the same in every mode: a user name, and a home, a
    temporary folder and the caches that libraries write (PyTorch's inductor and Triton,
    CUDA's kernel cache, matplotlib), all inside the sandbox's folder (`here`, as the worker
    sees it). Nothing of the grader's environment passes but the CPU and GPU library settings."""
    home = here / "home"
    env = {"PATH": "/usr/bin:/bin", "USER": config.SANDBOX_USER, "LOGNAME": config.SANDBOX_USER,
           "HOME": str(home), "TMPDIR": str(here / "tmp"), "XDG_CACHE_HOME": str(home / ".cache"),
           "TORCHINDUCTOR_CACHE_DIR": str(home / ".cache" / "torchinductor"),
           "TRITON_CACHE_DIR": str(home / ".cache" / "triton"), "CUDA_CACHE_PATH": str(home / ".cache" / "nv"),
           "MPLCONFIGDIR": str(home / ".config" / "matplotlib"), "MPLBACKEND": "Agg", "LANG": "C.UTF-8",
           "OMP_NUM_THREADS": str(threads), "VAE_WORKER_THREADS": str(threads)}
    env.update({k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "CUDA_", "NVIDIA_"))
                and k != "CUDA_CACHE_PATH"})
    return env


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


def protect_repository(uid: int) -> None:
    """As root without bubblewrap: make this checkout unreadable to the sandbox uid, and prove it.

    The repository's folders become owner-only (the Python environment stays readable, since the
    worker runs on it). Group and other permissions come back with `chmod -R go+rX` if wanted.
    """
    os.chmod(ROOT, 0o711)  # others may pass through to .venv, not list
    for entry in ROOT.iterdir():
        if entry.is_dir() and not entry.is_symlink() and entry.name != ".venv":
            os.chmod(entry, 0o700)
    secret = AUTOGRADER / "config.py"
    try:
        probe = subprocess.run([sys.executable, "-c", f"open({str(secret)!r}).read()"], user=uid, group=uid,
                               extra_groups=[], capture_output=True, timeout=60)
    except OSError as error:  # e.g. Python under /root, which the sandbox uid cannot execute
        raise IsolationError(f"uid {uid} cannot run this Python ({error}): in uid mode the interpreter must be "
                             "executable by other users; install bubblewrap for the bwrap mode instead.") from None
    if probe.returncode == 0:
        raise IsolationError(f"uid {uid} can still read {secret}: refusing to run submissions that could read "
                             "the hidden graders. Move the repository under a folder only root can read.")
