"""The student notebook from the solution notebook, by nbgrader's own `generate_assignment`.

`generate_notebook(src, dst)` checks the solution markers first (markers.check_notebook: an
unclosed, nested or stray `### BEGIN SOLUTION` / `### END SOLUTION`, or one outside a solution
cell, is a `MarkerError` naming the cell), then runs `nbgrader generate_assignment` in a throw-away course directory:

    <tmp>/nbgrader_config.py     written from NBGRADER_CONFIG below (no user config is read)
    <tmp>/source/vae/vae.ipynb   a copy of `src`
    <tmp>/release/vae/vae.ipynb  nbgrader's output, copied to `dst`

nbgrader's pipeline (locks answer cells, replaces solution regions by the stubs, clears
outputs, computes checksums) decides the result; its gradebook database lives and dies in
<tmp>. The output depends only on `src`: the same input gives byte-identical output.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.authoring.markers import BEGIN, END, NOTEBOOK_CODE_STUB, NOTEBOOK_TEXT_STUB, check_notebook

COURSE_ID = "vae-homework"
# Every setting nbgrader needs, written to the course directory's nbgrader_config.py.
NBGRADER_CONFIG = {
    "CourseDirectory.course_id": COURSE_ID,
    "ClearSolutions.begin_solution_delimeter": BEGIN,  # nbgrader's own spelling
    "ClearSolutions.end_solution_delimeter": END,
    "ClearSolutions.code_stub": {"python": NOTEBOOK_CODE_STUB},
    "ClearSolutions.text_stub": NOTEBOOK_TEXT_STUB,
}
GENERATE_TIMEOUT_S = 300


def config_text(settings: dict[str, object] = NBGRADER_CONFIG) -> str:
    """An nbgrader_config.py that sets exactly `settings`."""
    lines = ["# Written by autograder/authoring/notebook.py for one generate_assignment run.", "c = get_config()"]
    lines += [f"c.{name} = {value!r}" for name, value in settings.items()]
    return "\n".join(lines) + "\n"


def generate_notebook(src: Path, dst: Path) -> None:
    """Write the student version of the nbgrader source notebook `src` to `dst`."""
    src, dst = Path(src).resolve(), Path(dst).resolve()
    check_notebook(json.loads(src.read_text(encoding="utf-8")), filename=str(src))
    assignment = src.stem
    with tempfile.TemporaryDirectory(prefix="nbgrader-course-") as tmp:
        course = Path(tmp)
        (course / "nbgrader_config.py").write_text(config_text(), encoding="utf-8")
        (course / "source" / assignment).mkdir(parents=True)
        shutil.copyfile(src, course / "source" / assignment / src.name)
        env = dict(os.environ)
        env["JUPYTER_NO_CONFIG"] = "1"  # read no user or system nbgrader config: same output anywhere
        env["TMPDIR"] = str(course)  # where JUPYTER_NO_CONFIG makes its empty config folder
        # nbgrader's gradebook runs the `alembic` command, installed beside this Python.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        result = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
             f"--CourseDirectory.root={course}", "--force"],
            cwd=course, env=env, capture_output=True, text=True, timeout=GENERATE_TIMEOUT_S,
        )
        released = course / "release" / assignment / src.name
        if result.returncode != 0 or not released.exists():
            raise RuntimeError(
                f"nbgrader generate_assignment failed on {src} (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(released, dst)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="nbgrader source notebook (with solutions)")
    parser.add_argument("dst", type=Path, help="where to write the student notebook")
    args = parser.parse_args()
    generate_notebook(args.src, args.dst)
    print(f"notebook: wrote {args.dst} from {args.src}")


if __name__ == "__main__":
    main()
