"""assignment/ is exactly what `make assignment` writes, holds no answers, and its stubs raise."""
from __future__ import annotations

import ast
import difflib
import re
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from autograder.authoring.markers import find_leaks, has_markers, readable_text, solution_regions, stub_message
from autograder.paths import ASSIGNMENT

# Made by running things in a folder, never by `make assignment`; .gitignore ignores them too.
BYPRODUCTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


def files_under(folder: Path) -> set[Path]:
    return {
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file() and not BYPRODUCTS.intersection(path.relative_to(folder).parts)
    }


@pytest.fixture(scope="module")
def generated(generated_assignment) -> Path:
    return generated_assignment


@pytest.mark.slow
def test_assignment_has_exactly_the_files_generation_writes(generated):
    shipped, fresh = files_under(ASSIGNMENT), files_under(generated)
    assert shipped == fresh, (
        f"run `make assignment`: only in assignment/: {sorted(map(str, shipped - fresh))}; "
        f"only in a fresh generation: {sorted(map(str, fresh - shipped))}"
    )


@pytest.mark.slow
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
        if has_markers((ASSIGNMENT / relative).read_text(encoding="utf-8", errors="replace"))
    ]
    assert not marked, f"solution markers left in {marked}"


@pytest.fixture(scope="module")
def regions():
    return solution_regions()


def test_every_solution_region_hides_a_line(regions):
    # Else the next test would check nothing, and the region's answer shows outside the regions.
    assert regions, "no solution regions found in solutions/"
    shown = [(str(region.source), region.function) for region in regions if not region.secret_lines]
    assert not shown, f"regions whose every line shows elsewhere in the solutions: {shown}"


@pytest.mark.parametrize("relative", sorted(files_under(ASSIGNMENT)), ids=str)
def test_no_line_of_a_solution_region_survives_in_the_assignment(regions, relative):
    leaked = [(region.function, line) for region, line in find_leaks(readable_text(ASSIGNMENT / relative), regions)]
    assert not leaked, f"assignment/{relative} contains solution lines: {leaked}"


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
    with pytest.raises(NotImplementedError, match="^" + re.escape(stub_message(name)) + "$"):
        call(student_vae)


def test_vae_docstring_runs_the_set_up_python_not_a_system_one():
    docstring = ast.get_docstring(ast.parse((ASSIGNMENT / "vae.py").read_text()))
    commands = re.findall(r"`([^`]*python[^`]*)`", docstring)
    assert commands, "the docstring should say how to train from the command line"
    bare = [command for command in commands if re.match(r"python3? ", command)]
    assert not bare, f"vae.py's docstring runs {bare}: a system Python lacks torch; use ../.venv/bin/python"
