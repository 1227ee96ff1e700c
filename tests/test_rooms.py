"""The rooms of autograder/ depend one way (README, "The house"): each imports only the rooms below it.

The sandbox runs untrusted code and knows nothing of grading; the grading runs the hidden checks
by path (pytest), never by import; the checks use the grading's vocabulary (cause codes, results'
field names); the class operations and the deployment read grades, never the checks; the
evidence (benchmarks, calibration, the corpus) may use every room.
"""
from __future__ import annotations

import ast

import pytest

from autograder.paths import AUTOGRADER

BELOW = {
    "sandbox": set(),
    "authoring": set(),
    "grading": {"sandbox"},
    "hidden": {"grading", "sandbox"},
    "course": {"grading"},
    "deploy": {"authoring", "grading"},
    "evidence": {"authoring", "course", "deploy", "grading", "hidden", "sandbox"},
}


def rooms_imported(source: str) -> set[str]:
    """The rooms of autograder/ that a module's source imports (anywhere in it, functions included)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found |= {name.split(".")[1] for name in names if name.startswith("autograder.") and name.count(".") >= 1}
    return found & set(BELOW)


def test_every_folder_of_autograder_is_a_room_with_its_rule():
    assert {path.name for path in AUTOGRADER.iterdir() if (path / "__init__.py").exists()} == set(BELOW)


@pytest.mark.parametrize("room", sorted(BELOW))
def test_a_room_imports_only_the_rooms_below_it(room):
    wrong = {}
    for path in sorted((AUTOGRADER / room).rglob("*.py")):
        extra = rooms_imported(path.read_text()) - BELOW[room] - {room}
        if extra:
            wrong[str(path.relative_to(AUTOGRADER))] = sorted(extra)
    assert not wrong, f"imports against the house's direction: {wrong}"


def test_the_rule_reads_imports_of_every_form():
    source = ("import autograder.hidden.checks\nfrom autograder.course import grade_all\n"
              "def f():\n    from autograder import deploy\n")
    assert rooms_imported(source) == {"hidden", "course", "deploy"}
