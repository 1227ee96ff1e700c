"""Tampering flags for a person to look at (the trusted side; nothing here is copied in).

A submission runs in the worker's own process, so it can reach the worker: rewrite its
operation table, write to its pipes, load native code, open shared memory. worker.py checks
itself (best effort); this module is what the grader sees on its side, without trusting the
worker's word: `scan(source)` reads the submission's source (ast only: it is never imported
here), and `look_at(pids)` reads /proc for the sandbox's processes before they are killed.
The client adds the protocol anomalies and what the worker reported (client.Sandbox.flags).

A flag is a short stable string, in results.json's `extra_data.integrity_flags` and the
gradebook's `flags` column. Flags never change points by themselves: honest code can trip
the static ones (a student who imports mmap), so a person decides.
"""
from __future__ import annotations

import ast
import io
import os
import re
import sys
import tokenize
from pathlib import Path

from autograder import config
from autograder.sandbox import protocol

# --- The flags --------------------------------------------------------------------------------
# From the source (scan):
WORKER_MODULE = "worker.module_touched"  # sys.modules, __main__, the worker's, protocol's or probe's module
WORKER_OPS = "worker.ops_touched"  # the operation table, the worker's functions, code objects
FRAMES = "worker.frames_inspected"  # the call stack or the garbage collector's objects
PIPES = "pipes_touched"  # raw file descriptors: the worker's pipes, /proc/self/fd
NATIVE = "native_code"  # ctypes, cffi, loading a shared library
SHARED_MEMORY = "shared_memory"  # multiprocessing.shared_memory, memfd_create, /dev/shm, mmap
# From the running sandbox (client.py, look_at):
WORKER_ALTERED = "worker.altered"  # the worker found its own code swapped
PROTOCOL_ANOMALY = "protocol_anomaly"  # a frame that was not the answer asked for
NATIVE_LOADED = "native_code.loaded"  # a shared object mapped from outside the system and Python
SHARED_MEMORY_OPEN = "shared_memory.open"  # a memfd or /dev/shm file open or mapped

# Module names (their first part) whose import alone is a flag.
IMPORTED = {"worker": WORKER_MODULE, "protocol": WORKER_MODULE, "probe": WORKER_MODULE, "__main__": WORKER_MODULE,
            "ctypes": NATIVE, "_ctypes": NATIVE, "cffi": NATIVE, "mmap": SHARED_MEMORY, "_posixshmem": SHARED_MEMORY,
            "multiprocessing.shared_memory": SHARED_MEMORY, "torch.utils.cpp_extension": NATIVE}
# Names, as attributes (x.name), bare names or string constants (getattr(x, "name")).
NAMES = {
    "OPS": WORKER_OPS, "serve": WORKER_OPS, "new_model": WORKER_OPS, "keep_tensor": WORKER_OPS,
    "load_submission": WORKER_OPS, "__code__": WORKER_OPS, "__defaults__": WORKER_OPS, "__kwdefaults__": WORKER_OPS,
    "__globals__": WORKER_OPS, "settrace": FRAMES, "setprofile": FRAMES, "addaudithook": FRAMES,
    **{f"op_{op}": WORKER_OPS for op in protocol.OPS},  # the worker's operation functions
    "_getframe": FRAMES, "currentframe": FRAMES, "getouterframes": FRAMES, "f_back": FRAMES, "f_globals": FRAMES,
    "f_locals": FRAMES, "tb_frame": FRAMES, "get_objects": FRAMES, "get_referrers": FRAMES, "get_referents": FRAMES,
    "write_frame": PIPES, "read_frame": PIPES, "encode_frame": PIPES, "dup2": PIPES, "closerange": PIPES,
    "set_inheritable": PIPES,
    "CDLL": NATIVE, "PyDLL": NATIVE, "cdll": NATIVE, "pydll": NATIVE, "LoadLibrary": NATIVE, "dlopen": NATIVE,
    "load_library": NATIVE, "setdlopenflags": NATIVE, "ExtensionFileLoader": NATIVE,
    "SharedMemory": SHARED_MEMORY, "ShareableList": SHARED_MEMORY, "memfd_create": SHARED_MEMORY,
    "shm_open": SHARED_MEMORY,
}
# Dotted names flagged as a whole (too common a last part to flag alone).
DOTTED = {"sys.modules": WORKER_MODULE, "inspect.stack": FRAMES, "inspect.trace": FRAMES, "sys.argv": PIPES}
# Functions of os and io on file descriptors: flagged when given a small integer (a pipe's
# number, below config.FD_LIMIT) directly.
FD_FUNCTIONS = {"write", "read", "close", "dup", "fdopen", "open", "lseek", "fstat", "ftruncate", "fsync"}
# os.write(5, ...) in source the ast cannot read (scan_text)
FD_CALL = re.compile(rf"(?<![\w.])(?:(?:os|io)\.)?(?:{'|'.join(sorted(FD_FUNCTIONS))})\(\s*\d+\s*[,)]")
TEXT = [(re.compile(r"/dev/shm"), SHARED_MEMORY), (re.compile(r"/proc/[^/\s]+/(fd|mem|maps)"), PIPES)]
SHARED_OBJECT = re.compile(r"\.so(\.|$| )")  # libx.so, libx.so.6, "libx.so (deleted)"
WORD = re.compile(r"\w+")


def dotted(node: ast.AST) -> str:
    """`a.b.c` for an attribute chain on a name, else ""."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return ""


def _module_flags(name: str) -> set[str]:
    return {flag for module, flag in IMPORTED.items() if name == module or name.startswith(module + ".")}


def _name_flags(name: str) -> set[str]:
    return {NAMES[name]} if name in NAMES else set()


def _on_a_descriptor(function: str) -> bool:
    """os.write, io.open, a bare write or open (from os import write), not a file object's."""
    module, _, name = function.rpartition(".")
    return name in FD_FUNCTIONS and module in ("", "os", "io")


def _small_fd(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value < config.FD_LIMIT


def _decoded(source: str | bytes) -> str:
    """The source as Python would read it (its coding line, else UTF-8), undecodable bytes replaced."""
    if isinstance(source, str):
        return source
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        return source.decode(encoding, "replace")
    except (SyntaxError, LookupError):
        return source.decode("utf-8", "replace")


def scan_text(text: str) -> set[str]:
    """The flags of source the ast cannot read, from its words: every name, module and text the
    ast scan looks for, wherever it stands (a comment too: a person looks at a flag)."""
    words = set(WORD.findall(text))
    flags = {flag for name, flag in NAMES.items() if name in words}
    flags |= {flag for module, flag in IMPORTED.items() if module != "__main__" and re.search(
        rf"(?<![\w.]){re.escape(module)}\b", text)}
    flags |= {flag for name, flag in DOTTED.items() if re.search(rf"\b{re.escape(name)}\b", text)}
    flags |= {PIPES} if FD_CALL.search(text) else set()
    return flags | {flag for pattern, flag in TEXT if pattern.search(text)}


def scan(source: str | bytes) -> set[str]:
    """The flags of a submission's source, read (never run): the bytes that run, every one of
    them. Source the ast cannot read (a syntax error, nesting beyond its limits) is scanned as
    text (scan_text), never skipped."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return scan_text(_decoded(source))
    flags: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                flags |= _module_flags(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            flags |= _module_flags(node.module)
            for alias in node.names:
                flags |= _module_flags(f"{node.module}.{alias.name}") | _name_flags(alias.name)
        elif isinstance(node, ast.Attribute):
            flags |= _name_flags(node.attr) | {DOTTED[d] for d in [dotted(node)] if d in DOTTED}
        elif isinstance(node, ast.Name):
            flags |= _name_flags(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # (not "__main__": every `if __name__ == "__main__":` holds it; sys.modules is flagged)
            flags |= _name_flags(node.value) | (_module_flags(node.value) if node.value != "__main__" else set())
            flags |= {flag for pattern, flag in TEXT if pattern.search(node.value)}
        if isinstance(node, ast.Call) and _on_a_descriptor(dotted(node.func)) and node.args \
                and _small_fd(node.args[0]):
            flags.add(PIPES)
    return flags


# --- The running sandbox -------------------------------------------------------------------------


def trusted_roots() -> tuple[str, ...]:
    """Where shared objects may come from: the system and the Python installation (its prefixes,
    and the package folders on the grader's path, which a .pth file may add from elsewhere)."""
    roots = {"/usr/", "/lib/", "/lib32/", "/lib64/", "/etc/ld.so"}
    packages = [entry for entry in sys.path if Path(entry).name in ("site-packages", "dist-packages")]
    for prefix in {sys.base_prefix, sys.prefix, *packages}:
        roots |= {str(Path(prefix).absolute()) + "/", str(Path(prefix).resolve()) + "/"}
    return tuple(sorted(roots))


def _shared_memory(path: str) -> bool:
    return path.startswith(("/memfd:", "/dev/shm/")) or "/dev/shm/" in path


def look_at(pids: list[int], roots: tuple[str, ...] | None = None) -> set[str]:
    """Flags from /proc for the sandbox's processes `pids` (read before they are killed): a
    shared object mapped from outside `roots`, a memfd or /dev/shm file mapped or open."""
    roots = roots or trusted_roots()
    flags: set[str] = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as maps:
                for line in maps:
                    path = line.split(maxsplit=5)[5].strip() if len(line.split(maxsplit=5)) > 5 else ""
                    if _shared_memory(path):
                        flags.add(SHARED_MEMORY_OPEN)
                    elif SHARED_OBJECT.search(Path(path).name) and not path.startswith(roots):
                        flags.add(NATIVE_LOADED)
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if _shared_memory(os.readlink(f"/proc/{pid}/fd/{fd}")):
                    flags.add(SHARED_MEMORY_OPEN)
        except OSError:  # the process ended meanwhile, or hides nothing we may read
            continue
    return flags
