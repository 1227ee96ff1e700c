"""The term's policy file: the deadline, per-student extensions and the late policy; and when a
commit arrived. The one owner of "which commit is a student's grade of record, and what lateness
it carries" for `make grade-class POLICY=policy.toml` (autograder/course/classroom.py).

    deadline = 2026-12-20T23:59:00+01:00   # a time with its UTC offset (or Z): never a local time

    [late]                                 # optional: without it nothing after the deadline counts
    penalty_per_day = 0.1                  # a fraction of the student's points, per started day
    last_day = 2026-12-23T23:59:00+01:00   # nothing that arrives after it counts

    [extensions]                           # GitHub login = a new deadline, or a number of extra days
    alice = 2026-12-22T23:59:00+01:00
    bob = 3

The rules, each in one function below:

- **When a commit arrived** (`arrivals`): with the first push (GitHub's record of it, the
  repository's activity list) whose head is the commit or has it as an ancestor; where GitHub's
  record is unavailable, the grader's own first sighting of it (`LEDGER`). Never the commit's
  author or committer date: both are whatever the student's clock (or `git commit --date`) said.
- **The graded commit** (`choose`): of the branch's history, the one that arrived last at or
  before the student's last day (the deadline itself without a late policy); two that arrived
  with the same push: the newer in the history. No policy: the newest commit, as before.
- **Lateness** (`lateness`): counted in *started* days after the student's deadline (one second
  late is one day late), because that is the rule students are told most often and it needs no
  rounding convention. The penalty is `penalty_per_day` times the days, at most 1, taken as a
  fraction of the points the commit earned (`after_penalty`): late work keeps its order among
  the class and a score is never below 0. A fraction of the maximum instead would take a weak
  late hand-in to 0 at once, which punishes the weakest students most.
- **Extensions** move the student's deadline and, by the same length, their last day. A
  malformed extension (a local time, a word, zero days, a time before the deadline) is reported
  with its line and *that student is not graded* until the file is fixed (`Terms.problem`): a
  grade posted with the wrong deadline would be a wrong grade of record, a delay is not. The
  rest of the policy and the class go on.

Every grade is recomputed from the policy on each run (classroom.py keeps each commit's results
by sha), so a moved deadline or a new extension leaves no stale penalty.

The ledger of first sightings, OUT/arrivals.json (`LEDGER`), is JSON:
`{"<repository name>": {"<commit sha>": "<ISO 8601 UTC time first seen>"}}`. Merging two
(sharded runs) is a union in which the earliest sighting wins (`merge_ledgers`).
"""
from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from autograder import files
from autograder.grading.student_text import line as student_line

LEDGER = "arrivals.json"
DAY = timedelta(days=1)
MAX_EXTRA_DAYS = 366  # an extension longer than a year is a typo, not a decision
LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")  # GitHub's login rule
KEYS = {"": {"deadline", "late", "extensions"}, "late": {"penalty_per_day", "last_day"}}
EXAMPLE_TIME = "2026-12-20T23:59:00+01:00"
_TABLE = re.compile(r"^[ \t]*\[[ \t]*([^\]]*?)[ \t]*\]", re.M)
_EXTENSION_LINE = re.compile(r"^[ \t]*([\"']?)([A-Za-z0-9_-]+)\1[ \t]*=(.*)$")


class PolicyError(ValueError):
    """The policy file cannot be used at all: one line naming the file, the line and what was expected."""


@dataclass(frozen=True)
class Terms:
    """One student's deadline and last day (the deadline itself without a late policy)."""

    deadline: datetime
    last_day: datetime
    penalty_per_day: float = 0.0
    problem: str = ""  # why this student's terms cannot be read: the student is not graded


@dataclass(frozen=True)
class Lateness:
    days: int = 0  # started days after the deadline
    fraction: float = 0.0  # of the points taken away, 0 to 1


@dataclass
class Policy:
    """A checked policy file."""

    deadline: datetime
    penalty_per_day: float = 0.0
    last_day: datetime | None = None  # None: nothing after the deadline counts
    extensions: dict[str, datetime] = field(default_factory=dict)  # lower-cased login -> deadline
    problems: dict[str, str] = field(default_factory=dict)  # lower-cased login -> its extension's problem

    def terms(self, student: str) -> Terms:
        """The student's deadline, last day and penalty; GitHub logins ignore case."""
        key = student.lower()
        deadline = self.extensions.get(key, self.deadline)
        grace = (self.last_day - self.deadline) if self.last_day else timedelta(0)
        return Terms(deadline, deadline + grace, self.penalty_per_day, self.problems.get(key, ""))


# --- Reading the file ---------------------------------------------------------------------------


def _line_of(text: str, key: str, after: str = "") -> int | None:
    """The line number where `key = ` is written (after the table header `after`), for messages."""
    start = 0
    if after:
        header = re.search(rf"^[ \t]*\[[ \t]*{re.escape(after)}[ \t]*\]", text, re.M)
        start = header.end() if header else 0
    found = re.search(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", text[start:], re.M)
    return text[:start + found.start()].count("\n") + 1 if found else None


def _where(name: str, text: str, key: str, table: str = "") -> str:
    line = _line_of(text, key, table)
    return f"{name}, line {line}" if line else name


def _shown(value: Any) -> str:
    return repr(value) if not isinstance(value, (datetime, date, time)) else value.isoformat()


def _aware(value: Any) -> datetime | None:
    """A TOML offset date-time, or None (a local time, a date, a string: not a moment)."""
    return value if isinstance(value, datetime) and value.utcoffset() is not None else None


def _time_problem(value: Any) -> str:
    if isinstance(value, datetime):
        return (f"expected a time with its UTC offset, e.g. {EXAMPLE_TIME}, got {_shown(value)} "
                f"(no offset: whose clock?)")
    return f"expected a time with its UTC offset, e.g. {EXAMPLE_TIME}, got {_shown(value)}"


def _extension(value: Any, deadline: datetime) -> tuple[datetime | None, str]:
    """(new deadline, "") or (None, what was expected)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 0 < value <= MAX_EXTRA_DAYS and math.isfinite(value):
            return deadline + timedelta(days=value), ""
        return None, f"expected a number of extra days above 0 and at most {MAX_EXTRA_DAYS}, got {value!r}"
    moment = _aware(value)
    if moment is None:
        return None, (f"expected a new deadline with its UTC offset (e.g. {EXAMPLE_TIME}) or a number of "
                      f"extra days, got {_shown(value)}")
    if moment < deadline:
        return None, f"the new deadline {moment.isoformat()} is before the term's deadline {deadline.isoformat()}"
    return moment, ""


def _read_toml(text: str, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The TOML document, and the [extensions] lines that are not TOML (login -> problem): such a
    line (`carol = 2026-12-22 23:59`, a usual slip) costs its student alone, so it is left out
    and the document read again. Any other syntax error is the file's."""
    lines, broken = text.split("\n"), {}
    while True:
        try:
            return tomllib.loads("\n".join(lines)), broken
        except tomllib.TOMLDecodeError as error:
            at = re.search(r"at line (\d+)", str(error))
            index = int(at.group(1)) - 1 if at else -1
            entry = _EXTENSION_LINE.match(lines[index]) if 0 <= index < len(lines) else None
            tables = [m.group(1) for m in _TABLE.finditer("\n".join(lines[:index]))]
            if entry is None or not tables or tables[-1] != "extensions" or entry.group(2) in broken:
                raise PolicyError(f"{name}: not TOML: {error}") from None
            broken[entry.group(2)] = (f"{name}, line {index + 1}: extension for {entry.group(2)!r}: expected a new "
                                      f"deadline with its UTC offset (e.g. {EXAMPLE_TIME}) or a number of extra days, "
                                      f"got {student_line(entry.group(3))!r}, which is not a TOML value")
            lines[index] = ""


def parse(text: str, name: str = "policy.toml") -> Policy:
    """Check a policy file's text. A problem with the file as a whole raises PolicyError (one
    line: the file, the line where known, what was expected); a malformed extension is kept in
    `Policy.problems` for its student alone."""
    data, broken = _read_toml(text, name)
    for table, allowed in KEYS.items():
        found = data.get(table, {}) if table else data
        if not isinstance(found, dict):
            raise PolicyError(f"{_where(name, text, table)}: expected the table [{table}], got {_shown(found)}")
        for key in found:
            if key not in allowed:
                raise PolicyError(f"{_where(name, text, key, table)}: unknown key {key!r}"
                                  f"{f' in [{table}]' if table else ''}; expected one of {', '.join(sorted(allowed))}")
    if "deadline" not in data:
        raise PolicyError(f"{name}: no deadline: expected e.g. deadline = {EXAMPLE_TIME}")
    deadline = _aware(data["deadline"])
    if deadline is None:
        raise PolicyError(f"{_where(name, text, 'deadline')}: deadline: {_time_problem(data['deadline'])}")
    policy = Policy(deadline)
    if "late" in data:
        policy.penalty_per_day, policy.last_day = _late(data["late"], deadline, name, text)
    extensions = data.get("extensions", {})
    if not isinstance(extensions, dict):
        raise PolicyError(f"{_where(name, text, 'extensions')}: expected the table [extensions], "
                          f"got {_shown(extensions)}")
    for login, problem in broken.items():
        policy.problems[login.lower()] = problem
    for login, value in extensions.items():
        where = _where(name, text, login, "extensions")
        key = login.lower()
        if not LOGIN.fullmatch(login):
            problem = f"{login!r} is not a GitHub login (letters, digits and single hyphens, at most 39)"
        elif key in policy.extensions or key in policy.problems:
            problem = f"{login!r} has a second extension (logins ignore case): keep one"
        else:
            moment, problem = _extension(value, deadline)
            if moment is not None:
                policy.extensions[key] = moment
                continue
        policy.extensions.pop(key, None)
        policy.problems[key] = f"{where}: extension for {login!r}: {problem}"
    return policy


def _late(late: dict[str, Any], deadline: datetime, name: str, text: str) -> tuple[float, datetime]:
    """[late]'s (penalty_per_day, last_day), both required."""
    for key in ("penalty_per_day", "last_day"):
        if key not in late:
            raise PolicyError(f"{_where(name, text, 'late')}: [late] needs {key} "
                              f"(penalty_per_day = 0.1, last_day = {EXAMPLE_TIME})")
    penalty = late["penalty_per_day"]
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not 0 <= penalty <= 1:
        raise PolicyError(f"{_where(name, text, 'penalty_per_day', 'late')}: penalty_per_day: expected a fraction "
                          f"of the points from 0 to 1 (0.1: a tenth per started day), got {_shown(penalty)}")
    last_day = _aware(late["last_day"])
    if last_day is None:
        raise PolicyError(f"{_where(name, text, 'last_day', 'late')}: last_day: {_time_problem(late['last_day'])}")
    if last_day < deadline:
        raise PolicyError(f"{_where(name, text, 'last_day', 'late')}: last_day {last_day.isoformat()} is before "
                          f"the deadline {deadline.isoformat()}")
    return float(penalty), last_day


def load(path: Path) -> Policy:
    """The policy file at `path`, checked (parse)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"{path}: cannot be read: {error}") from None
    return parse(text, str(path))


# --- Lateness -------------------------------------------------------------------------------------


def lateness(arrived: datetime, terms: Terms) -> Lateness:
    """Started days after the deadline, and the share of the points they cost (at most all)."""
    if arrived <= terms.deadline:
        return Lateness()
    days = math.ceil((arrived - terms.deadline) / DAY)
    return Lateness(days, min(1.0, days * terms.penalty_per_day))


def after_penalty(points: float, late: Lateness) -> float:
    """The points left after the penalty: never below 0, never more than before."""
    return max(0.0, points * (1.0 - late.fraction))


# --- When each commit arrived, and which one is graded -------------------------------------------


PUSHED, SIGHTED = "pushed", "first seen"  # how an arrival time is known


def arrivals(pushes: Iterable[tuple[datetime, str]], reachable: Callable[[str], list[str]],
             sightings: dict[str, str]) -> dict[str, tuple[datetime, str]]:
    """sha -> (when it arrived, PUSHED or SIGHTED): with the first push (time, head sha) whose
    head is it or has it as an ancestor (`reachable(head)`: the head and its ancestors, [] where
    the head is gone, e.g. force-pushed away); a commit no push accounts for, at its first
    sighting (ISO times, the ledger's)."""
    arrived: dict[str, tuple[datetime, str]] = {}
    for when, head in sorted(pushes, key=lambda push: push[0]):
        for sha in reachable(head):
            arrived.setdefault(sha, (when, PUSHED))
    for sha, seen in sightings.items():
        arrived.setdefault(sha, (parse_time(seen), SIGHTED))
    return arrived


def choose(history: list[str], arrived: dict[str, tuple[datetime, str]], terms: Terms | None) -> str | None:
    """The graded commit of `history` (the branch's commits, newest first): without terms the
    newest; else the one that arrived last at or before the last day (None: nothing did)."""
    if terms is None:
        return history[0] if history else None
    counted = [sha for sha in history if sha in arrived and arrived[sha][0] <= terms.last_day]
    return max(counted, key=lambda sha: arrived[sha][0], default=None)  # max keeps the first of equals


# --- The ledger of first sightings ----------------------------------------------------------------


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as written in the ledger (UTC)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=timezone.utc)


def load_ledger(path: Path) -> dict[str, dict[str, str]]:
    """OUT/arrivals.json; {} when there is none yet. A damaged file is an error, never ignored:
    starting afresh would make every commit arrive now."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
            for seen in data.values():
                for when in seen.values():
                    parse_time(when)
            return data
    except (ValueError, TypeError) as error:
        raise PolicyError(f"{path}: the ledger of first sightings is damaged ({error}); restore it from the "
                          f"previous run's OUT folder") from None
    raise PolicyError(f"{path}: expected {{repository: {{sha: time}}}}, the ledger of first sightings")


def save_ledger(path: Path, ledger: dict[str, dict[str, str]]) -> None:
    """Write the ledger whole, atomically (a run stopped mid-write must not lose it)."""
    files.write_text(path, json.dumps(ledger, indent=1, sort_keys=True) + "\n")


def sight(ledger: dict[str, dict[str, str]], repo: str, shas: Iterable[str], now: datetime) -> dict[str, str]:
    """Record `now` as the first sighting of each of `shas` not seen before; the repository's sightings."""
    seen = ledger.setdefault(repo, {})
    for sha in shas:
        seen.setdefault(sha, now.astimezone(timezone.utc).isoformat())
    return seen


def merge_ledgers(*ledgers: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The union of several ledgers (sharded runs); a commit seen in several: the earliest sighting."""
    merged: dict[str, dict[str, str]] = {}
    for ledger in ledgers:
        for repo, seen in ledger.items():
            into = merged.setdefault(repo, {})
            for sha, when in seen.items():
                if sha not in into or parse_time(when) < parse_time(into[sha]):
                    into[sha] = when
    return merged
