"""Hints teach; they never hand over the solution's code (issue 17 §2).

Every message a student can read (the hidden checks', the causes', the public checks') is a
string constant in these files; none may hold a line of the solution's code, written any way
(spacing, quotes, `self.`, 784 for INPUT_DIM), unless the stub the student has already shows it.
Calls without arguments (`optimizer.step()`) are API names the lecture teaches, not lines to copy.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from autograder.paths import AUTOGRADER, SOLUTIONS

MESSAGE_FILES = [*sorted((AUTOGRADER / "hidden").glob("*.py")), AUTOGRADER / "grading" / "causes.py",
                 SOLUTIONS / "test_public.py"]


def normal(text: str) -> str:
    text = text.replace("self.", "").replace("INPUT_DIM", "784").replace('"', "'")
    return re.sub(r"\s+", "", text)


def solution_code() -> list[str]:
    """The code of the solution's blocks that calls something with arguments: each whole
    statement, and the right-hand side of each assignment."""
    source = (SOLUTIONS / "vae.py").read_text()
    block = "\n".join(re.findall(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", source, re.S))
    pieces = []
    for line in block.splitlines():
        line = line.split("#")[0].strip()
        if re.search(r"\w\([^)]", line):
            pieces += [line, *([line.split("=", 1)[1]] if re.match(r"[\w, ]+=[^=]", line) else [])]
    return [normal(piece) for piece in pieces if len(normal(piece)) >= 8]


def messages(path: Path) -> list[tuple[int, str]]:
    """The string constants of `path` that are not docstrings, with their lines."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_the_solution_code_is_found_in_the_solution():
    code = solution_code()
    assert normal("-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())") in code
    assert normal("F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')") in code


@pytest.mark.parametrize("path", MESSAGE_FILES, ids=lambda p: p.name)
def test_no_message_hands_over_a_line_of_the_solution(path):
    stubs = normal((SOLUTIONS.parent / "assignment" / "vae.py").read_text())
    given = [piece for piece in solution_code() if piece not in stubs]
    found = [(line, piece) for line, text in messages(path) for piece in given if piece in normal(text)]
    assert not found, f"{path.name}: these messages hold the solution's code (line, code): {found}"
