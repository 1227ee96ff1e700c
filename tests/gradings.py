"""Real gradings for this repository's tests: each hand-in graded once per test session.

Many tests read the grading of the same code: the corpus tests, the class report's synthetic
class (copies of corpus variants), the third-party ports. `graded(path, results_dir)` runs
`python -m autograder.grading.grade` on `path` as `make grade` does, and keeps what it wrote
under the session's cache, keyed by what handin.resolve reads from the hand-in (the code graded,
its other modules and the note): a second test asking for the same code, in this process or in
another pytest-xdist worker, gets a copy of the first grading. `reuse=False` grades again (the
test that two gradings agree).

Run as a script, it is a drop-in for the grader's command line (the `command` of grade_all), so a
class graded with `grade_all` shares the same cache:

    python tests/gradings.py --submission=FOLDER --results=FILE [--sandbox-uid N] [--threads N]

Each grading runs as a sandbox uid private to this pytest worker (workers, and the slots of
grade_all inside one, never share one), and afterwards every process still alive under that uid
is recorded: `left_behind(path)` lists them, so a test can assert a hostile hand-in left nothing
running even when another test did the grading.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script by grade_all: the repository's modules from its root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder import config  # noqa: E402
from autograder.course.grade_all import grade_command  # noqa: E402
from autograder.grading import handin  # noqa: E402
from autograder.paths import ROOT  # noqa: E402
from autograder.sandbox.isolation import UID_RANGE  # noqa: E402

CACHE_ENV = "VAE_TEST_GRADINGS"  # the session's cache folder (conftest.py sets it for every worker)
GRADE_TIMEOUT = 600
FILES = ("results.json", "feedback.png")  # what a grading writes beside each other


def worker_index() -> int:
    """0, 1, ... for pytest-xdist's workers gw0, gw1, ...; 0 without xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name[2:].isdigit() else 0


def private_uid(offset: int = 0) -> int | None:
    """The sandbox uid of this worker's grading (`offset`: grade_all's slot): below every uid a
    grader takes unasked (config.SANDBOX_UID down by UID_RANGE), a range of its own per worker."""
    if os.geteuid() != 0:
        return None
    return config.SANDBOX_UID - UID_RANGE * (2 + worker_index()) - offset


def processes_of(uid: int | None) -> list[int]:
    """Live (not zombie) processes running as `uid`."""
    if uid is None:
        return []
    left = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
                owner = int(status.split("Uid:")[1].split()[0])
            except (OSError, IndexError, ValueError):
                continue
            if owner == uid and "State:\tZ" not in status:
                left.append(int(entry.name))
    return left


def key(path: Path) -> str | None:
    """What identifies a grading of `path`: the code handin.resolve reads from it (None when
    nothing would be graded, or the cache is off: such a hand-in is graded every time)."""
    if not os.environ.get(CACHE_ENV):
        return None
    code = handin.resolve(path)
    if code.source is None:
        return None
    digest = hashlib.sha256()
    for part in (code.source, *(name.encode() + b"\0" + module for name, module in code.modules), code.note.encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _grade(path: Path, folder: Path, uid: int | None, threads: int | None) -> None:
    """Grade `path` for real into `folder`: results.json, feedback.png, output, exit status, and
    the processes its uid still runs afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "autograder.grading.grade", f"--submission={path.absolute()}",
               f"--results={folder / 'results.json'}"]
    command += ["--sandbox-uid", str(uid)] if uid is not None else []
    command += ["--threads", str(threads)] if threads else []
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=GRADE_TIMEOUT)
    (folder / "output.txt").write_text(run.stdout + run.stderr)
    (folder / "left_behind.json").write_text(json.dumps(processes_of(uid)))
    (folder / "code").write_text(str(run.returncode))  # last: the entry is complete


def graded(path: Path, results_dir: Path, reuse: bool = True) -> tuple[int, dict, str]:
    """(exit status, results.json, stdout and stderr) of the grader on `path`; its files are in
    results_dir/<path's stem>/ as the grader writes them."""
    code, output = fetch(path, results_dir / path.stem, reuse)
    data = {}
    results = results_dir / path.stem / "results.json"
    if results.exists():  # strict JSON (no NaN or Infinity: strict readers refuse them), bounded
        raw = results.read_bytes()
        assert len(raw) <= config.RESULTS_MAX_BYTES, f"results.json of {path} holds {len(raw):,} bytes"
        data = json.loads(raw, parse_constant=_not_strict_json)
    return code, data, output


def fetch(path: Path, target: Path, reuse: bool = True, offset: int = 0, threads: int | None = None) -> tuple[int, str]:
    """The grading of `path` (graded now unless the session has it): its files copied into
    `target`; returns its exit status and output."""
    entry = _entry(path, reuse, offset, threads)
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (target / name).unlink(missing_ok=True)
        if (entry / name).exists():
            shutil.copyfile(entry / name, target / name)
    return int((entry / "code").read_text()), (entry / "output.txt").read_text()


def left_behind(path: Path) -> list[int]:
    """The processes of the sandbox uid still alive right after `path`'s (first) grading."""
    return json.loads((_entry(path, True, 0, None) / "left_behind.json").read_text())


def _entry(path: Path, reuse: bool, offset: int, threads: int | None) -> Path:
    """The folder holding a finished grading of `path`: the session's shared one, graded now if it
    is not there yet (a lock keeps two workers from grading the same code at once)."""
    name = key(path) if reuse else None
    if name is None:
        folder = Path(os.environ.get(CACHE_ENV) or ROOT / "build" / "test-gradings") / "fresh" / os.urandom(8).hex()
        _grade(path, folder, private_uid(offset), threads)
        return folder
    folder = Path(os.environ[CACHE_ENV]) / name
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "code").exists():
            shutil.rmtree(folder, ignore_errors=True)  # an entry cut short
            _grade(path, folder, private_uid(offset), threads)
    return folder


def _not_strict_json(constant: str) -> None:
    raise AssertionError(f"results.json holds {constant}, which strict JSON readers refuse")


def command(folder: Path, results: Path, uid: int | None, threads: int | None = None) -> list[str]:
    """grade_all's `command`: this file as a script, in place of the grader's command line."""
    argv = grade_command(folder, results, uid, threads)  # [python, -m, the grader, its options...]
    return [sys.executable, str(Path(__file__).resolve()), *argv[3:]]


def main() -> int:
    """The grader's command line, served from the cache: the grading's files where --results says,
    its output on stdout, its exit status."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--sandbox-uid", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    slot = config.SANDBOX_UID - args.sandbox_uid if args.sandbox_uid is not None else 0
    code, output = fetch(args.submission, args.results.parent, offset=slot, threads=args.threads)
    sys.stdout.write(output)
    return code


if __name__ == "__main__":
    sys.exit(main())
