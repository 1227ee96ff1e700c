"""Build the test corpus's submissions from the reference (tests/submissions/corpus.toml).

Each variant is solutions/vae.py without its markers, with a few edits and its own docstring
(its `why`, then the fixed text of its kind, TAILS): the corpus stays one small file and follows
the reference when the reference changes. An edit whose `old` text no longer occurs exactly
once is an error that names the variant.
"""
from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from autograder import config
from autograder.authoring.markers import without_markers
from autograder.grading.results import by_tag
from autograder.paths import CORPUS_FILE, SOLUTIONS

_DOCSTRING = re.compile(r'\A"""(.*?)"""\n', re.S)
REST = "Everything not mentioned is the reference solution (solutions/vae.py), markers removed.\n"
# The text each variant's docstring ends with, by kind: said here once, not in every `why`.
# Correct and buggy `why`s end with their test -ELBO after one epoch at training seeds 0, 1, 2;
# the reference's own values at those seeds follow them, for comparison.
_BESIDE_THE_REFERENCE = (f"(The reference: 126.8 / 128.5 / 127.9; the elbo check passes below "
                         f"{config.ELBO_THRESHOLD:g}.)\n\n{REST}")
TAILS = {"correct": _BESIDE_THE_REFERENCE, "buggy": _BESIDE_THE_REFERENCE,
         "hostile": f"\nHOSTILE: for the grader's sandbox only. {REST}"}


@cache
def variants() -> dict[str, dict]:
    return tomllib.loads(CORPUS_FILE.read_text())


def reference_code() -> str:
    """solutions/vae.py as a student would hand it in: the marker lines removed."""
    return without_markers((SOLUTIONS / "vae.py").read_text())


def source(name: str) -> str:
    spec = variants()[name]
    text = reference_code()
    docstring = spec["why"] + TAILS[spec["kind"]]
    text = text.replace(_DOCSTRING.match(text).group(1), docstring, 1)
    for number, edit in enumerate(spec.get("edit", []), start=1):
        count = text.count(edit["old"])
        if count != 1:
            raise ValueError(f"{CORPUS_FILE.name}: {name}, edit {number}: its `old` text occurs {count} times "
                             "in the reference; update the edit to the reference as it is now")
        text = text.replace(edit["old"], edit["new"])
    return text


def build(name: str, folder: Path) -> Path:
    """Write variant `name` as folder/name/vae.py and return its path."""
    path = folder / name / "vae.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source(name))
    return path


def tag_problems(spec: dict, results: dict) -> list[str]:
    """What is not as the entry says: a tag of `loses` kept whole, another tag (not `may_lose`) lost."""
    earned = by_tag(results)
    problems = [f"keeps {tag}" for tag in spec.get("loses", []) if not earned[tag][0] < earned[tag][1]]
    optional = set(spec.get("loses", [])) | set(spec.get("may_lose", []))
    problems += [f"loses {tag}" for tag, (got, most) in earned.items() if tag not in optional and got < most]
    return problems
