"""`make assignment`: write the student folder `assignment/` from `solutions/`.

- `.py` files: solution regions become stubs (autograder/authoring/markers.py); files without markers
  are copied as they are.
- `.ipynb` files: nbgrader's own generate step (autograder/authoring/notebook.py).
Anything else in `solutions/` (caches, training outputs) is left out.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from autograder.paths import ASSIGNMENT, SOLUTIONS, homework_files
from autograder.authoring.markers import stub_file


def source_files(solutions: Path = SOLUTIONS) -> list[Path]:
    """The files of `solutions/` that make up the assignment, relative to it."""
    return homework_files(solutions)


def generate(solutions: Path = SOLUTIONS, target: Path = ASSIGNMENT) -> list[Path]:
    """Write the student version of `solutions` into `target` (replaced whole)."""
    files = source_files(solutions)
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    notebooks = []
    for relative in files:
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        if relative.suffix == ".py":
            stub_file(solutions / relative, staging / relative)
        elif relative.suffix == ".ipynb":
            notebooks.append(relative)
        else:
            shutil.copyfile(solutions / relative, staging / relative)
    if notebooks:
        from autograder.authoring.notebook import generate_notebook

        for relative in notebooks:
            generate_notebook(solutions / relative, staging / relative)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS)
    parser.add_argument("--out", type=Path, default=ASSIGNMENT)
    args = parser.parse_args()
    files = generate(args.solutions, args.out)
    print(f"assignment: wrote {len(files)} files to {args.out}: {', '.join(map(str, files))}")


if __name__ == "__main__":
    main()
