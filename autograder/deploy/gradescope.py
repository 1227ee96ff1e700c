"""Gradescope: build the autograder zip, and grade one upload inside Gradescope's container.

    python -m autograder.deploy.gradescope zip [--out build/autograder.zip]   # `make autograder-zip`
    python -m autograder.deploy.gradescope run [--root /autograder]           # what run_autograder does

The zip holds, at its root, Gradescope's two entry points (autograder/deploy/gradescope_files/:
`setup.sh` builds the image once, `run_autograder` runs per submission) and the grader's
source: autograder/, solutions/ (the reference), data/ (packed), requirements.txt, Makefile.

`run` finds the student's file in <root>/submission (autograder/grading/submissions.py: `vae.py` at
the top or nested, else a notebook), copies it to a fresh folder the sandbox user may read,
and runs `python -m autograder.grading.grade` on it, which writes <root>/results/results.json. When
the upload holds nothing to grade, or the grader itself fails, `run` still leaves a
results.json that tells the student what happened.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder.paths import BUILD, DEPLOY, ROOT, SKIP_DIRS
from autograder.grading.submissions import AmbiguousSubmission, describe_contents, find_submission

ENTRY_POINTS = DEPLOY / "gradescope_files"
DEFAULT_ROOT = Path("/autograder")
# What the zip holds besides the entry points: the grader's side of this repository.
SOURCE_FOLDERS = ("autograder", "solutions", "data")
SOURCE_FILES = ("requirements.txt", "Makefile", "pyproject.toml")


def _included(relative: Path) -> bool:
    if not SKIP_DIRS.isdisjoint(relative.parts[1:]):  # below the source folder (data/ is one)
        return False
    if relative.parts[0] == "data":  # never the unpacked 50 MB: setup.sh unpacks and verifies
        return relative.suffix in {".gz", ".md"} or relative.name == "SHA256SUMS"
    return True


def source_files(root: Path = ROOT) -> list[Path]:
    """The repository files the zip carries, relative to `root`."""
    files = [Path(name) for name in SOURCE_FILES if (root / name).is_file()]
    for folder in SOURCE_FOLDERS:
        files += [p.relative_to(root) for p in (root / folder).rglob("*")
                  if p.is_file() and _included(p.relative_to(root))]
    return sorted(files)


def _add(archive: zipfile.ZipFile, source: Path, name: str, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # same bytes for the same files
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, source.read_bytes())


def build_zip(out: Path, root: Path = ROOT) -> list[str]:
    """Write the autograder zip to `out`; returns the names it holds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for script in ("setup.sh", "run_autograder"):
            _add(archive, ENTRY_POINTS / script, script, 0o755)
        for relative in source_files(root):
            _add(archive, root / relative, relative.as_posix(), 0o644)
        names = archive.namelist()
    partial.replace(out)
    return names


def _write_results(path: Path, output: str) -> None:
    """A results.json with no points and a message: for when there is nothing to grade."""
    path.write_text(json.dumps({"score": 0.0, "output": output, "visibility": "visible",
                                "stdout_visibility": "hidden", "tests": []}, indent=2))


def _add_output(path: Path, message: str) -> None:
    """Put `message` before the grader's own output in results.json."""
    results = json.loads(path.read_text())
    results["output"] = message + ("\n\n" + results["output"] if results.get("output") else "")
    path.write_text(json.dumps(results, indent=2))


def run(root: Path = DEFAULT_ROOT) -> int:
    """Grade <root>/submission into <root>/results/results.json; the grader's exit status."""
    upload, results = root / "submission", root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    try:
        found = find_submission(upload)
    except AmbiguousSubmission as error:
        _write_results(results, f"Nothing was graded: {error}.")
        return 0
    # A fresh folder that the sandbox user can read and nobody else wrote to.
    work = Path(tempfile.mkdtemp(prefix="submission-"))
    work.chmod(0o755)
    if found is not None:
        shutil.copyfile(found, work / found.name)
        (work / found.name).chmod(0o644)
    target = work / found.name if found is not None and found.name.endswith(".py") else work
    print(f"run_autograder: grading {found.relative_to(upload) if found else 'nothing'} from {upload}")
    try:
        grading = subprocess.run([sys.executable, "-m", "autograder.grading.grade", "--submission", str(target),
                                  "--results", str(results)], cwd=ROOT)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if grading.returncode != 0 or not results.exists():
        _write_results(results, "The autograder itself failed on this submission (not a problem in your "
                                "code that it could name). Your instructor can see the log; try again later "
                                "or tell them.")
        return grading.returncode or 1
    if found is None:
        _add_output(results, f"No vae.py was found in your upload. Upload assignment/vae.py (the file "
                             f"itself, or a zip holding it). Your upload held: {describe_contents(upload)}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    zip_command = commands.add_parser("zip", help="write the autograder zip to upload to Gradescope")
    zip_command.add_argument("--out", type=Path, default=BUILD / "autograder.zip")
    run_command = commands.add_parser("run", help="grade one upload (run_autograder calls this)")
    run_command.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="Gradescope's /autograder")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.root)
    names = build_zip(args.out)
    print(f"autograder-zip: wrote {args.out} ({len(names)} files, {args.out.stat().st_size / 1e6:.1f} MB): "
          f"upload it under Configure Autograder (docs/course.md, 'Gradescope')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
