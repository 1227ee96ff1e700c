"""What a grading must show for a corpus variant or a port (tests/submissions/): its tags lost and
kept, its feedback's words, its cause codes. Shared by the tests that grade them."""
from __future__ import annotations

import pytest

from autograder import config
from autograder.grading import causes
from autograder.grading.results import by_tag

FULL = sum(points for points, _ in config.RUBRIC.values())


def messages(results: dict) -> str:
    return "\n".join(f"{t['name']}: {t['output']}" for t in results["tests"] if t["status"] != "passed")


def check_feedback(name: str, spec: dict, results: dict) -> None:
    """The variant's optional `feedback` words are in what the student is told under the tags it
    loses (for a correct variant: its passed checks' notes), its `not_feedback` words are not, and
    its optional `passes` checks passed."""
    tags = set(spec.get("loses", [])) or set(config.RUBRIC)
    text = "\n".join(t["output"] for t in results["tests"] if t["tags"][0] in tags)
    for words in spec.get("feedback", []):
        assert words in text, f"{name}: the feedback should say {words!r}:\n{text}"
    for words in spec.get("not_feedback", []):
        assert words not in text, f"{name}: the feedback should not say {words!r}:\n{text}"
    status = {t["name"]: t["status"] for t in results["tests"]}
    for check in spec.get("passes", []):
        assert status.get(check) == "passed", f"{name} should pass {check!r}:\n{messages(results)}"


def check_tags(name: str, spec: dict, results: dict) -> None:
    """The variant loses points under each tag of its `loses` and keeps every other tag's points
    (those of `may_lose` may go either way)."""
    tags = by_tag(results)
    for tag in spec["loses"]:
        assert tags[tag][0] < tags[tag][1], f"{name} should lose points under {tag}:\n{messages(results)}"
    for tag, (earned, possible) in tags.items():
        if tag not in spec["loses"] and tag not in spec.get("may_lose", []):
            assert earned == pytest.approx(possible), f"{name} should keep {tag}:\n{messages(results)}"


def recorded_causes(spec: dict, results: dict) -> set[str]:
    """The distinct cause codes the failed checks record, outside the tags the variant `may_lose`
    (those go either way, and so do their codes)."""
    optional = set(spec.get("may_lose", []))
    return {causes.cause_of(t) for t in results["tests"] if t["status"] != "passed" and t["tags"][0] not in optional}


def check_causes(name: str, spec: dict, results: dict) -> None:
    """The codes the failed checks record are exactly the variant's `causes` (a mistake mapped to
    the wrong code fails here); a correct variant records none."""
    expected = set(spec.get("causes", []))
    recorded = recorded_causes(spec, results)
    assert recorded == expected, f"{name}: the failed checks record causes {sorted(recorded)}, the corpus says " \
                                 f"{sorted(expected)}:\n{messages(results)}"


def named_the_cause(spec: dict, results: dict) -> bool:
    """Whether the feedback named the mistake: its `feedback` words are there and no failed
    check's code is `unknown`."""
    tags = set(spec.get("loses", [])) | set(spec.get("may_lose", []))
    text = "\n".join(t["output"] for t in results["tests"] if t["tags"][0] in tags)
    codes = {causes.cause_of(t) for t in results["tests"] if t["status"] != "passed"}
    return all(words in text for words in spec.get("feedback", [])) and causes.UNKNOWN not in codes
