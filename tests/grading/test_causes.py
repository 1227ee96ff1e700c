"""Cause codes: the table (autograder/grading/causes.py) and how the hidden graders name them."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autograder.grading import causes
from autograder.hidden import reference
from autograder.hidden import mistakes
from autograder.paths import ROOT

HIDDEN = ROOT / "autograder" / "hidden"


def _codes_in(path: Path) -> set[str]:
    """The string literals in `path` that look like cause codes (a dotted lowercase word pair)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            head, dot, tail = node.value.partition(".")
            if dot and head in {c.split(".")[0] for c in causes.CAUSES} and tail.replace("_", "").isalpha():
                found.add(node.value)
    return found


def test_every_code_the_hidden_graders_name_is_in_the_table():
    named = set().union(*(_codes_in(path) for path in HIDDEN.glob("*.py")))
    assert named and named <= set(causes.CAUSES), named - set(causes.CAUSES)


def test_every_code_has_a_one_line_meaning():
    for code, meaning in causes.CAUSES.items():
        assert code == code.lower() and " " not in code, code
        assert meaning and "\n" not in meaning and len(meaning) < 120, code


def _cases() -> dict[str, list[torch.Tensor]]:
    """The loss check's inputs with all rows and with half of them (as the kl and bce cases are)."""
    generator = torch.Generator().manual_seed(0)
    recon = 0.01 + 0.98 * torch.rand(8, 784, generator=generator)
    x = reference.sample_images(8)
    mu, logvar = torch.randn(8, 20, generator=generator), torch.randn(8, 20, generator=generator)
    return {"kl": [[recon[:4], x[:4], mu, logvar], [recon[:4], x[:4], mu[:4], logvar[:4]]],
            "bce": [[recon, x.reshape(8, 1, 28, 28), mu[:4], logvar[:4]],
                    [recon[:4], x[:4].reshape(4, 1, 28, 28), mu[:4], logvar[:4]]]}


def _named(term: str, formula) -> str | None:
    all_rows, half_rows = _cases()[term]
    with torch.no_grad():
        measured = float(formula(*all_rows)) - float(formula(*half_rows))
    found = mistakes.matching(term, measured, all_rows, half_rows)
    return found and found[0]


@pytest.mark.parametrize("term, cause", [(term, cause) for term, table in mistakes.MISTAKES.items() for cause in table])
def test_each_common_loss_mistake_is_named_as_itself(term, cause):
    """A term computed as a common mistake computes it gets that mistake's code, not another's."""
    assert _named(term, mistakes.MISTAKES[term][cause][0]) == cause


def test_the_right_terms_match_no_common_mistake():
    assert _named("bce", lambda r, x, mu, lv: F.binary_cross_entropy(r, x.reshape(len(x), -1), reduction="sum")) is None
    assert _named("kl", lambda r, x, mu, lv: -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())) is None
