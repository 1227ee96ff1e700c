"""`make release`: write the repository a student gets, and prove it gives nothing away.

    python -m autograder.deploy.release [--out build/release]

The release holds the student folder `assignment/` (as `make assignment` wrote it, public
checks included), the shipped MNIST files, the pinned requirements, and the student-side
templates of autograder/deploy/release_files/ (README, Makefile, .gitignore, the CI workflow). It is
written to a staging folder, audited, and only then moved to `--out`. The audit refuses a
release that holds solution-region text, grader files, grader settings, or a stub that no
longer raises NotImplementedError.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder import config
from autograder.paths import ASSIGNMENT, AUTOGRADER, DEPLOY, ROOT, SOLUTIONS
from autograder.authoring.stubs import BEGIN, END, enclosing_name, stub_source

TEMPLATES = DEPLOY / "release_files"
# Template -> its path in the release.
TEMPLATE_TARGETS = {
    "README.md": "README.md",
    "Makefile": "Makefile",
    "gitignore": ".gitignore",
    "autograde.yml": ".github/workflows/autograde.yml",
}
COPIED_FILES = ("requirements.txt", "data/README.md", "data/SHA256SUMS")
DATA_GLOB = "MNIST/raw/*.gz"  # under data/: the packed IDX files, never the unpacked ones
ASSIGNMENT_SUFFIXES = {".py", ".ipynb", ".md"}
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", "results", ".pytest_cache"}
# Paths that must never be in a release: the instructor side of this repository.
FORBIDDEN_TOP = {"autograder", "solutions", "tests", "docs", ".ci", "build"}
TEXT_SUFFIXES = {".py", ".ipynb", ".md", ".txt", ".yml", ".yaml", ".toml", ".cfg", ".json", ""}
MIN_LEAK_CHARS = 8  # shorter solution lines (`)`, `pass`) say nothing
# Solution lines that the instructor decided students may see (e.g. an API call that the
# notebook's prose teaches). Empty: every solution line is a secret.
ALLOWED_IN_RELEASE: frozenset[str] = frozenset()


class ReleaseError(RuntimeError):
    """The release cannot be written, or would give something away."""


@dataclass(frozen=True)
class Region:
    """One solution region: where it is and the lines that must stay secret."""

    source: Path  # relative to the repository root, e.g. solutions/vae.py
    function: str  # the function holding it (VAE.encode), or a notebook cell ("cell 14 (q1-answer)")
    secret_lines: tuple[str, ...]


# --- What the solutions hide ---------------------------------------------------------------


def _chunks(path: Path) -> list[tuple[str, str]]:
    """(label, text) pieces of a source in which markers pair up: a notebook's cells, or the file."""
    text = path.read_text()
    if path.suffix != ".ipynb":
        return [("", text)]
    chunks = []
    for number, cell in enumerate(json.loads(text).get("cells", []), start=1):
        source = cell.get("source", "")
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        chunks.append((f"cell {number}" + (f" ({grade_id})" if grade_id else ""),
                       "".join(source) if isinstance(source, list) else source))
    return chunks


def _notebook_text(path: Path) -> str:
    """A notebook's cells joined, so that its code reads as plain lines (JSON escapes quotes)."""
    return "\n".join(text for _, text in _chunks(path))


def _split(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(lines outside the regions, [(index of BEGIN, stripped lines inside)])."""
    outside: list[str] = []
    regions: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    for index, line in enumerate(text.splitlines()):
        marker = line.strip()
        if marker == BEGIN:
            current = []
            regions.append((index, current))
        elif marker == END:
            current = None
        elif current is not None:
            current.append(marker)
        else:
            outside.append(line)
    return outside, regions


def solution_regions(solutions: Path = SOLUTIONS) -> list[Region]:
    """Every solution region in `solutions`, with the lines of it that must not ship.

    A line of a Python region (the graded code) is secret unless its own file shows the same
    text outside the regions: the stub keeps `x = x.to(device)` of `evaluate` or a formula in a
    docstring anyway. Another file showing it is a leak: a notebook cell that spells out
    `train`'s loop gives `train` away. A line of a notebook region (a written answer, bonus
    code) is secret unless any solution file shows it outside the regions (a bonus model may
    repeat a public line of vae.py). Lines in ALLOWED_IN_RELEASE are never secret. A line with
    a trailing comment contributes its code part too.
    """
    sources = sorted(p for p in solutions.rglob("*") if p.suffix in {".py", ".ipynb"}
                     and not SKIP_DIRS.intersection(p.relative_to(solutions).parts))
    chunks = {path: _chunks(path) for path in sources}
    public = {path: "\n".join(line for _, text in found for line in _split(text)[0])
              for path, found in chunks.items()}
    everywhere = "\n".join(public.values())
    regions = []
    for path, found in chunks.items():
        shown = public[path] if path.suffix == ".py" else everywhere
        for label, text in found:
            for index, body in _split(text)[1]:
                where = label or enclosing_name(text.splitlines(), index)
                secret = [piece for line in body for piece in (line, line.split("  #")[0].strip())
                          if len(piece) >= MIN_LEAK_CHARS and piece not in shown
                          and piece not in ALLOWED_IN_RELEASE]
                regions.append(Region(path.relative_to(solutions.parent), where,
                                      tuple(dict.fromkeys(secret))))
    return regions


# --- Writing -------------------------------------------------------------------------------


def check_assignment_is_fresh(solutions: Path = SOLUTIONS, assignment: Path = ASSIGNMENT) -> None:
    """Each stubbed Python file in `assignment` must be what `make assignment` writes today."""
    for source in sorted(solutions.glob("*.py")):
        target = assignment / source.name
        if not target.exists():
            raise ReleaseError(f"{target} is missing: run `make assignment` first")
        if target.read_text() != stub_source(source.read_text(), filename=str(source)):
            raise ReleaseError(f"{target} differs from the stubs of {source}: "
                               f"run `make assignment`, then `make release` again")


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def write_tree(out: Path, root: Path = ROOT) -> list[Path]:
    """Copy the release's files into `out` (which must not exist); returns them, relative."""
    out.mkdir(parents=True)
    assignment = root / "assignment"
    for path in sorted(assignment.rglob("*")):
        relative = path.relative_to(assignment)
        if path.is_file() and path.suffix in ASSIGNMENT_SUFFIXES and not SKIP_DIRS.intersection(relative.parts):
            _copy(path, out / "assignment" / relative)
    for name in COPIED_FILES:
        _copy(root / name, out / name)
    for packed in sorted((root / "data").glob(DATA_GLOB)):
        _copy(packed, out / packed.relative_to(root))
    for template, target in TEMPLATE_TARGETS.items():
        _copy(TEMPLATES / template, out / target)
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


# --- The audit -----------------------------------------------------------------------------


def _is_text(path: Path) -> bool:
    return path.suffix in TEXT_SUFFIXES or path.name in {"Makefile", ".gitignore", "SHA256SUMS"}


def _grader_digests() -> dict[str, Path]:
    """SHA-256 -> file, for each grader file whose content must not be shipped under any name."""
    digests = {}
    for path in AUTOGRADER.rglob("*"):
        if (path.is_file() and TEMPLATES not in path.parents and "__pycache__" not in path.parts
                and path.stat().st_size > 200):  # __init__.py's one line is not a secret
            digests[hashlib.sha256(path.read_bytes()).hexdigest()] = path
    return digests


def _grader_settings() -> dict[str, str]:
    """Text that only the grader's settings hold -> what it is, for the message."""
    settings = {name: f"the grader setting {name}" for name in vars(config) if name.isupper()}
    for tag, (_, description) in config.RUBRIC.items():
        settings[description] = f"the rubric's description of {tag!r}"
    return settings


def _raises_not_implemented(tree: ast.Module, qualname: str) -> bool | None:
    """Whether the function `qualname` raises NotImplementedError; None if it is not defined."""
    scope: list[ast.stmt] = tree.body
    node: ast.AST | None = None
    for name in qualname.split("."):
        node = next((n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == name), None)
        if node is None:
            return None
        scope = node.body
    for child in ast.walk(node):
        if isinstance(child, ast.Raise) and child.exc is not None:
            exc = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def _secret_names(text: str) -> list[str]:
    """The secrets and grader-repository settings that `text` names, each once: the old CI
    set-up's GRADER_REPO / GRADER_TOKEN / GRADER_REF, or any `secrets.` expression. A student's
    push runs whatever workflow the release holds, so nothing that reaches the graders may
    be named in it."""
    found = re.finditer(r"\bGRADER_(?:REPO|TOKEN|REF)\b|\bsecrets\s*\.", text)
    return list(dict.fromkeys(match.group() for match in found))


def audit(release: Path, solutions: Path = SOLUTIONS) -> list[str]:
    """Everything in `release` that would give the homework away; empty when it is clean."""
    problems = []
    files = sorted(p for p in release.rglob("*") if p.is_file())
    digests = _grader_digests()
    regions = solution_regions(solutions)
    settings = _grader_settings()
    threshold = re.compile(rf"(?<![\w.]){config.ELBO_THRESHOLD:g}(\.0+)?(?![\w.])")
    for path in files:
        relative = path.relative_to(release)
        if relative.parts[0] in FORBIDDEN_TOP:
            problems.append(f"{relative}: the instructor folder {relative.parts[0]}/ must not ship")
        owner = digests.get(hashlib.sha256(path.read_bytes()).hexdigest())
        if owner is not None:
            problems.append(f"{relative}: a copy of the grader file {owner.relative_to(ROOT)}")
        if not _is_text(path):
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".ipynb":
            text += "\n" + _notebook_text(path)
        for region in regions:
            for line in region.secret_lines:
                if line in text:
                    problems.append(f"{relative}: holds solution text of {region.function} "
                                    f"({region.source}): {line!r}")
        for needle, what in settings.items():
            pattern = rf"\b{re.escape(needle)}\b" if needle.isidentifier() else re.escape(needle)
            if re.search(pattern, text):
                problems.append(f"{relative}: names {what}")
        for name in _secret_names(text):
            problems.append(f"{relative}: names {name!r}: no secret and no grader repository may "
                            f"be named where student workflows run (grade on the instructor's side)")
        if threshold.search(text):
            problems.append(f"{relative}: holds the ELBO threshold's value {config.ELBO_THRESHOLD:g}")
    for region in regions:
        stub = release / "assignment" / region.source.relative_to(region.source.parts[0])
        if stub.suffix != ".py":
            continue
        raises = _raises_not_implemented(ast.parse(stub.read_text()), region.function) if stub.exists() else None
        if raises is None:
            problems.append(f"assignment/{stub.name}: {region.function} is missing")
        elif not raises:
            problems.append(f"assignment/{stub.name}: {region.function} no longer raises NotImplementedError")
    return problems


def build(out: Path, root: Path = ROOT) -> list[Path]:
    """Write and audit the release; replace `out` only when the audit finds nothing."""
    check_assignment_is_fresh(root / "solutions", root / "assignment")
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    files = write_tree(staging, root)
    problems = audit(staging, root / "solutions")
    if problems:
        raise ReleaseError("the release would give the homework away; nothing was written:\n  "
                           + "\n  ".join(problems) + f"\n(the rejected tree is in {staging})")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "release")
    args = parser.parse_args()
    try:
        files = build(args.out.resolve())
    except ReleaseError as error:
        raise SystemExit(f"release: {error}") from None
    print(f"release: wrote {len(files)} files to {args.out} (audited: no solution text, "
          f"no grader files or settings, stubs raise NotImplementedError)")
    print(f"release: next, push it as the template repository (docs/course.md, 'Release')")


if __name__ == "__main__":
    main()
