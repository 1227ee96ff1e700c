"""Cause codes: the mistake a failed check diagnosed, as data.

Every failed check in results.json carries one code in its `extra_data["cause"]`, beside the
message the student reads. The codes are stable (a gradebook from last year still reads): add
new ones, never rename. The hidden graders name a code when they fail (autograder/hidden/
checks.py's `fail(message, cause)`), the corpus states the code each mistake must get
(tests/submissions/corpus.toml), and the class report counts them (autograder/deploy/).

Standard library only: the class report reads it without the grader's virtual environment.
"""
from __future__ import annotations

from typing import Any, Mapping

UNKNOWN = "unknown"
NOT_RUN = "grader.not_run"
INTERNAL = "grader.internal"
CAUSE = "cause"  # the key in a failed entry's extra_data

# code -> what it means, in one line (for instructors; students read the checks' messages).
CAUSES: dict[str, str] = {
    UNKNOWN: "the check failed and no known mistake matched its evidence",
    NOT_RUN: "the check could not run (nothing gradable handed in, or a grader error): a person should look",
    INTERNAL: "the grader could not interpret what the code returned (a grader bug?): a person should look",
}


def cause_of(entry: Mapping[str, Any]) -> str | None:
    """The cause code of a failed entry (UNKNOWN when it has none), None for a passed one."""
    if entry.get("status") == "passed":
        return None
    extra = entry.get("extra_data")
    code = extra.get(CAUSE) if isinstance(extra, Mapping) else None
    return code if isinstance(code, str) and code in CAUSES else UNKNOWN
