"""The posting plan: what a grading run of the class will post, written before anything is posted.

`make grade-class` grades, writes OUT/plan.jsonl, and then (unless `--dry-run`, `--regrade` or
`--shard`) posts it; `python -m autograder.course.classroom post --out OUT` posts a plan later,
after a person has read it. The format, JSON Lines (one JSON object per line, UTF-8):

    {"repo": "course/vae-homework-alice", "student": "alice", "sha": "<40 hex>",
     "state": "failure", "description": "Points 15/100", "comment": "<markdown, or empty>",
     "target_url": "<the run's link, or empty>"}

- `repo`: the repository's full name (owner/name); `sha`: the commit the status goes on;
- `state`, `description`: the commit status (context `autograder`): `success`, `failure` or
  `error`, and its one-line description (at most 140 characters);
- `comment`: the commit comment (the table of checks), empty for none (an `error` status);
- `target_url`: the status's link, empty for none.

Shards of one class grade disjoint repositories, so their plans merge by concatenation
(`cat a/plan.jsonl b/plan.jsonl`) or by `merge(load(a), load(b))`, which also refuses a
repository planned twice with two different posts. Every field is checked on `load`; a bad line
is a PlanError naming the file and line.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from autograder import files
from autograder.course import membership

FILE = "plan.jsonl"
STATES = ("success", "failure", "error", "pending")  # GitHub's commit status states
DESCRIPTION_CHARS = 140  # GitHub's limit on a status description
_SHA = re.compile(r"[0-9a-f]{40}")
_REPO = re.compile(r"[A-Za-z0-9-]{1,39}/" + membership.REPO_NAME.pattern)  # owner/name


class PlanError(ValueError):
    """A plan file that cannot be read or posted (the message names the file and line)."""


@dataclass(frozen=True)
class Entry:
    """One commit's status and comment, to post."""

    repo: str
    student: str
    sha: str
    state: str
    description: str
    comment: str = ""
    target_url: str = ""


FIELDS = tuple(f.name for f in fields(Entry))


def check(entry: Entry) -> str:
    """What is wrong with an entry ('' for nothing): what GitHub would refuse or a person misread."""
    if not all(isinstance(getattr(entry, name), str) for name in FIELDS):
        return f"every field must be text: {', '.join(FIELDS)}"
    if not _REPO.fullmatch(entry.repo):
        return f"repo {entry.repo[:80]!r}: expected owner/name"
    if not _SHA.fullmatch(entry.sha):
        return f"sha {entry.sha[:80]!r}: expected a commit's 40 hexadecimal digits"
    if entry.state not in STATES:
        return f"state {entry.state[:80]!r}: expected one of {', '.join(STATES)}"
    if not entry.description or len(entry.description) > DESCRIPTION_CHARS or "\n" in entry.description:
        return f"description: expected one line of 1 to {DESCRIPTION_CHARS} characters"
    return ""


def save(entries: list[Entry], path: Path) -> Path:
    """Write `entries` to `path` (whole or not at all: a crash leaves the old plan, not half a new one)."""
    for entry in entries:
        if problem := check(entry):
            raise PlanError(f"{path}: {entry.repo}: {problem}")
    files.write_text(path, "".join(json.dumps(asdict(e), ensure_ascii=False) + "\n" for e in entries))
    return path


def load(path: Path) -> list[Entry]:
    """The entries of a plan file (a missing file is an empty plan: nothing to post)."""
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):  # not splitlines: \x85 is text
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            entry = Entry(**{name: data[name] for name in FIELDS})
        except (ValueError, TypeError, KeyError) as error:
            raise PlanError(f"{path}:{number}: not a plan entry ({type(error).__name__}: {str(error)[:80]}): "
                            f"expected a JSON object with {', '.join(FIELDS)}") from None
        if problem := check(entry):
            raise PlanError(f"{path}:{number}: {problem}")
        entries.append(entry)
    return merge(entries, where=str(path))


def merge(*plans: list[Entry], where: str = "the plans") -> list[Entry]:
    """One plan from several (the shards'): each repository once; the same entry twice is kept
    once; two different posts for one repository are a PlanError (two runs graded it)."""
    merged: dict[str, Entry] = {}
    for entry in (e for plan in plans for e in plan):
        earlier = merged.setdefault(entry.repo.lower(), entry)
        if earlier != entry:
            raise PlanError(f"{where}: {entry.repo} is planned twice ({earlier.sha[:12]} {earlier.description!r}, "
                            f"{entry.sha[:12]} {entry.description!r}): expected each repository in one shard")
    return list(merged.values())
