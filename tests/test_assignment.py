"""assignment/ is exactly what `make assignment` writes, holds no answers, and its stubs raise."""
from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from autograder.authoring.assign import generate
from autograder.paths import ASSIGNMENT, SOLUTIONS

# Made by running things in a folder, never by `make assignment`; .gitignore ignores them too.
BYPRODUCTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def files_under(folder: Path) -> set[Path]:
    return {
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file() and not BYPRODUCTS.intersection(path.relative_to(folder).parts)
    }


def source_lines(path: Path) -> list[str]:
    """The lines of a .py file, or of every cell of a notebook, one list."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return [line for cell in cells for line in "".join(cell["source"]).splitlines()]  # source: str or list
    return path.read_text(encoding="utf-8").splitlines()


def split_regions(lines: list[str]) -> tuple[list[str], list[str]]:
    """(lines strictly between the markers, lines outside them), markers dropped."""
    inside, outside, in_region = [], [], False
    for line in lines:
        if line.strip() == BEGIN:
            in_region = True
        elif line.strip() == END:
            in_region = False
        else:
            (inside if in_region else outside).append(line)
    return inside, outside


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("generate") / "assignment"
    generate(SOLUTIONS, target)
    return target


def test_assignment_has_exactly_the_files_generation_writes(generated):
    shipped, fresh = files_under(ASSIGNMENT), files_under(generated)
    assert shipped == fresh, (
        f"run `make assignment`: only in assignment/: {sorted(map(str, shipped - fresh))}; "
        f"only in a fresh generation: {sorted(map(str, fresh - shipped))}"
    )


def test_assignment_files_are_byte_identical_to_a_fresh_generation(generated):
    stale = []
    for relative in sorted(files_under(generated) & files_under(ASSIGNMENT)):
        fresh, shipped = (generated / relative).read_bytes(), (ASSIGNMENT / relative).read_bytes()
        if fresh != shipped:
            diff = difflib.unified_diff(
                shipped.decode(errors="replace").splitlines(),
                fresh.decode(errors="replace").splitlines(),
                f"assignment/{relative}", f"generated/{relative}", lineterm="", n=1,
            )
            stale.append("\n".join(list(diff)[:20]))
    assert not stale, "assignment/ is stale; run `make assignment`:\n" + "\n\n".join(stale)


def test_no_solution_marker_text_anywhere_in_assignment():
    marked = [
        str(relative)
        for relative in sorted(files_under(ASSIGNMENT))
        if any(word in (ASSIGNMENT / relative).read_text(encoding="utf-8", errors="replace") for word in ("BEGIN SOLUTION", "END SOLUTION"))
    ]
    assert not marked, f"solution markers left in {marked}"


def solution_files() -> list[Path]:
    return sorted(
        path for pattern in ("*.py", "*.ipynb") for path in SOLUTIONS.glob(pattern)
        if BEGIN in path.read_text(encoding="utf-8")
    )


def test_solutions_have_regions_to_check():
    assert solution_files(), "no solution regions found in solutions/: the next test would check nothing"


@pytest.mark.parametrize("solution", solution_files(), ids=lambda path: path.name)
def test_no_line_of_a_solution_region_survives_in_the_assignment(solution):
    inside, outside = split_regions(source_lines(solution))
    elsewhere = {line.strip() for line in outside}
    answers = {line.strip() for line in inside} - elsewhere - {""}
    assert answers, f"{solution.name}: every region line also appears outside the regions"
    student_file = ASSIGNMENT / solution.name
    assert student_file.exists(), f"assignment/{solution.name} is missing: run `make assignment`"
    student = {line.strip() for line in source_lines(student_file)}
    leaked = sorted(answers & student)
    assert not leaked, f"assignment/{solution.name} contains solution lines: {leaked}"


@pytest.fixture(scope="module")
def student_vae(import_path):
    torch.manual_seed(0)
    return import_path(ASSIGNMENT / "vae.py", "assignment_vae")


def test_student_vae_imports_and_builds(student_vae):
    model = student_vae.VAE()
    assert isinstance(model, torch.nn.Module)
    assert sum(p.numel() for p in model.parameters()) > 0


def call_encode(m):
    m.VAE().encode(torch.rand(2, m.INPUT_DIM))


def call_reparameterize(m):
    m.VAE().reparameterize(torch.zeros(2, m.LATENT_DIM), torch.zeros(2, m.LATENT_DIM))


def call_decode(m):
    m.VAE().decode(torch.zeros(2, m.LATENT_DIM))


def call_loss_function(m):
    m.loss_function(torch.full((2, m.INPUT_DIM), 0.5), torch.rand(2, 1, 28, 28),
                    torch.zeros(2, m.LATENT_DIM), torch.zeros(2, m.LATENT_DIM))


def call_train(m):
    model = m.VAE()
    loader = DataLoader(TensorDataset(torch.rand(4, 1, 28, 28), torch.zeros(4)), batch_size=2)
    m.train(model, loader, torch.optim.Adam(model.parameters()), torch.device("cpu"))


@pytest.mark.parametrize(
    "name, call",
    [
        pytest.param(name, call, id=name)
        for name, call in [
            ("VAE.encode", call_encode),
            ("VAE.reparameterize", call_reparameterize),
            ("VAE.decode", call_decode),
            ("loss_function", call_loss_function),
            ("train", call_train),
        ]
    ],
)
def test_each_stub_raises_not_implemented_naming_itself(student_vae, name, call):
    with pytest.raises(NotImplementedError, match="^" + re.escape(name) + " is not implemented"):
        call(student_vae)
