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
import re
import shutil
from pathlib import Path

from autograder import config
from autograder.paths import ASSIGNMENT, AUTOGRADER, DEPLOY, RELEASE_OUT, ROOT, SOLUTIONS, homework_files
from autograder.authoring.markers import find_leaks, readable_text, solution_regions, stub_source

TEMPLATES = DEPLOY / "release_files"
# Template -> its path in the release.
TEMPLATE_TARGETS = {
    "README.md": "README.md",
    "Makefile": "Makefile",
    "gitignore": ".gitignore",
    "autograde.yml": ".github/workflows/autograde.yml",
}
COPIED_FILES = ("requirements.txt", "setup.mk", ".gitattributes", "data/README.md", "data/SHA256SUMS")
DATA_GLOB = "MNIST/raw/*.gz"  # under data/: the packed IDX files, never the unpacked ones
# Paths that must never be in a release: the instructor side of this repository.
FORBIDDEN_TOP = {"autograder", "solutions", "tests", "docs", ".ci", "build"}
TEXT_SUFFIXES = {".py", ".ipynb", ".md", ".txt", ".yml", ".yaml", ".toml", ".cfg", ".json", ""}


class ReleaseError(RuntimeError):
    """The release cannot be written, or would give something away."""


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
    for relative in homework_files(assignment):
        _copy(assignment / relative, out / "assignment" / relative)
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
        text = readable_text(path)
        for region, line in find_leaks(text, regions):
            problems.append(f"{relative}: holds solution text of {region.function} ({region.source}): {line!r}")
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
    parser.add_argument("--out", type=Path, default=RELEASE_OUT)
    args = parser.parse_args()
    try:
        files = build(args.out.resolve())
    except ReleaseError as error:
        raise SystemExit(f"release: {error}") from None
    print(f"release: wrote {len(files)} files to {args.out} (audited: no solution text, "
          f"no grader files or settings, stubs raise NotImplementedError)")
    print("release: next, push it as the template repository (docs/course.md, 'Release')")


if __name__ == "__main__":
    main()
