"""Remove a folder tree whatever it holds: the grader's scratch folders and each sandbox's folder.

A hand-in (a zip) or a submission (at run time, in its own folder) can build a tree thousands of
levels deep, deeper than PATH_MAX and than Python's recursion limit: shutil.rmtree then fails
(RecursionError, which even ignore_errors lets through, or ENAMETOOLONG) and the folder stays
behind. remove_tree walks down and back up one folder at a time, holding one descriptor and
never a whole path, so depth costs nothing but time; `rm -rf` is the fallback for anything it
could not remove (e.g. a folder the submission made unwritable, graded as an ordinary user).
Call it only once nothing writes into the tree any more (every sandbox process is killed).
"""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _clear(fd: int) -> str | None:
    """Unlink every entry of the open folder `fd` that is not a folder; return a subfolder's name, if any."""
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                return entry.name
            try:
                os.unlink(entry.name, dir_fd=fd)
            except PermissionError:
                os.chmod(fd, stat.S_IRWXU)  # a folder made read-only: ours, so we may open it up
                os.unlink(entry.name, dir_fd=fd)
    return None


def _remove(path: Path) -> None:
    try:
        fd = os.open(path, _DIRECTORY)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(path)
        return
    names: list[str] = []  # the folders we are in, below `path`
    try:
        while True:
            child = _clear(fd)
            if child is not None:
                try:
                    inner = os.open(child, _DIRECTORY, dir_fd=fd)
                except PermissionError:
                    os.chmod(child, stat.S_IRWXU, dir_fd=fd)
                    inner = os.open(child, _DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = inner
                names.append(child)
                continue
            if not names:
                break
            parent = os.open("..", _DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)


def remove_tree(path: Path) -> bool:
    """Remove `path` and everything under it (links are removed, never followed); True when it is gone."""
    try:
        _remove(path)
    except OSError:
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return not os.path.lexists(path)
