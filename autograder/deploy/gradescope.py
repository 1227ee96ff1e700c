"""Gradescope: build the autograder zip, and grade one upload inside Gradescope's container.

    python -m autograder.deploy.gradescope zip [--out build/autograder.zip]   # `make autograder-zip`
    python -m autograder.deploy.gradescope run [--root /autograder]           # what run_autograder does

The zip holds, at its root, Gradescope's two entry points (autograder/deploy/gradescope_files/:
`setup.sh` builds the image once, `run_autograder` runs per submission) and what grading an
upload needs, nothing more (GRADER_FOLDERS, GRADER_FILES, the packed MNIST): the grader, the
reference vae.py, what `make setup` reads. Never the solution notebook (model answers), the
public checks, the instructor's workflows and deploy tools, the authoring tools, the evidence
or this repository's tests.

`run` hands <root>/submission, the upload as the student made it, to `python -m
autograder.grading.grade`, which resolves it exactly as `make grade` and `grade-all` do
(autograder/grading/handin.py: vae.py at the top or nested, a notebook beside it or alone, a
zip) and writes <root>/results/results.json. When the upload holds nothing to grade, the
grader's results say so; when the grader itself fails, `run` still leaves a results.json (every
rubric line at 0 points) that tells the student what happened.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

from autograder.grading import results
from autograder.paths import BUILD, DEPLOY, ROOT, SKIP_DIRS

ENTRY_POINTS = DEPLOY / "gradescope_files"
DEFAULT_ROOT = Path("/autograder")
# What the zip holds besides the entry points: what grading one upload needs, relative to the
# repository. Every file of these folders (caches left out) ...
GRADER_FOLDERS = ("autograder/grading", "autograder/hidden", "autograder/sandbox")
# ... these files (`make setup` reads the Makefile, setup.mk and requirements.txt, and unpacks and checks
# MNIST with solutions/common.py; handin.py reads solutions/graded.py; run_autograder calls this module) ...
GRADER_FILES = ("autograder/__init__.py", "autograder/config.py", "autograder/paths.py", "autograder/cleanup.py",
                "autograder/deploy/__init__.py", "autograder/deploy/gradescope.py",
                "solutions/vae.py", "solutions/common.py", "solutions/graded.py", "requirements.txt", "Makefile",
                "setup.mk", "data/SHA256SUMS")
# ... and MNIST packed (setup.sh unpacks and verifies it: never the unpacked 50 MB).
PACKED_DATA = "data/MNIST/raw/*.gz"
GRADER = (sys.executable, "-m", "autograder.grading.grade")
GRADER_FAILED = ("The autograder itself failed on this submission (not a problem in your code that it could "
                 "name). Your instructor can see the log; try again later or tell them.")


def source_files(root: Path = ROOT) -> list[Path]:
    """The repository files the zip carries, relative to `root`."""
    files = [Path(name) for name in GRADER_FILES] + [p.relative_to(root) for p in root.glob(PACKED_DATA)]
    for folder in GRADER_FOLDERS:
        files += [p.relative_to(root) for p in (root / folder).rglob("*")
                  if p.is_file() and SKIP_DIRS.isdisjoint(p.relative_to(root / folder).parts)]
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


def run(root: Path = DEFAULT_ROOT, grader: tuple[str, ...] = GRADER) -> int:
    """Grade <root>/submission into <root>/results/results.json; the grader's exit status."""
    upload, path = root / "submission", root / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    print(f"run_autograder: grading {upload}")
    grading = subprocess.run([*grader, f"--submission={upload}", f"--results={path}"], cwd=ROOT)
    if grading.returncode != 0 or not path.exists():
        results.write(results.zero_result(GRADER_FAILED, output=GRADER_FAILED), path)
        return grading.returncode or 1
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
