"""The hidden graders against real VAE code nobody here wrote (tests/submissions/thirdparty/).

Each file is a public implementation (a tutorial, a course's homework, an older pytorch/examples,
a blog's notes) ported into the homework's contract with its own idioms kept; manifest.toml
names its source and what it must earn. Graded end to end like the repository's own corpus
(tests/grading/test_graders.py, whose helpers these tests reuse): a correct port must score full marks,
a buggy one must lose points under its own tags only, and the feedback must name the cause.
"""
from __future__ import annotations

import tomllib

import pytest
import torch

from autograder.paths import SOLUTIONS, THIRDPARTY

from expectations import FULL, check_feedback, check_tags, messages
from gradings import graded

FOLDER = THIRDPARTY
PORTS = tomllib.loads((FOLDER / "manifest.toml").read_text())


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("thirdparty")


def _ports(kind: str) -> list:
    return [pytest.param(name, spec, id=name) for name, spec in PORTS.items() if spec["kind"] == kind]


def test_every_port_has_its_file_and_every_file_its_entry():
    files = {path.stem for path in FOLDER.glob("*.py")}
    assert files == set(PORTS)
    for name, spec in PORTS.items():
        assert spec["kind"] in ("correct", "buggy") and spec["source"], name
        assert (spec["kind"] == "buggy") == bool(spec.get("loses")), f"{name}: only a buggy port loses tags"
        assert (FOLDER / f"{name}.py").read_text().startswith('"""'), f"{name}: its docstring states its source"


def test_a_loop_that_passes_the_loss_its_arguments_by_keyword_is_probed_like_the_reference(import_path):
    """`loss_function(recon_x=..., x=..., mu=..., logvar=...)` reaches the probe's loss in order."""
    from autograder.sandbox import worker

    ports, runs = FOLDER / "haanju_keyword_loss_call.py", []
    for path in (ports, SOLUTIONS / "vae.py"):
        info, weights = worker.op_train_probe(import_path(path, f"probed_{path.stem}"), {"seed": 6}, {})
        runs.append((info, weights))
    (theirs, their_weights), (ours, our_weights) = runs
    assert theirs == ours
    assert all(torch.equal(their_weights[name], our_weights[name]) for name in our_weights)


@pytest.mark.slow
@pytest.mark.parametrize("name, spec", _ports("correct"))
def test_correct_port_scores_full_marks(name, spec, results_dir):
    code, results, output = graded(FOLDER / f"{name}.py", results_dir)
    assert code == 0, output
    assert results["score"] == pytest.approx(FULL), messages(results)


@pytest.mark.slow
@pytest.mark.parametrize("name, spec", _ports("buggy"))
def test_buggy_port_loses_only_its_own_tags_and_is_told_why(name, spec, results_dir):
    code, results, output = graded(FOLDER / f"{name}.py", results_dir)
    assert code == 0, output
    check_tags(name, spec, results)
    check_feedback(name, spec, results)
