"""Which of an organisation's repositories are the class, and who is missing: nothing guessed.

Three ways to say who the class is, most exact first (`make grade-class`, docs/course.md section 3):

- a roster (`--roster FILE`, GitHub Classroom's roster CSV, autograder/course/roster.py): a
  repository is a student's when its name is PREFIX + the student's GitHub login, compared
  without case (GitHub Classroom names a student's repository `<assignment>-<login>`; GitHub's
  names ignore case). The template and the grader repositories are no student's login, so they
  never match;
- an exact list (`--repos FILE`): one repository name per line (`#` starts a comment);
- a name prefix alone (today's behaviour): every repository named PREFIX..., with a warning,
  since the template's or another repository can be named so too.

`Membership` splits the organisation's repository names into exactly one of: `members` (graded),
`unclaimed` (named like the class, PREFIX..., but no student's: listed, never graded) and
`others` (the rest of the organisation: not the class, counted only); and lists `missing`, the
students (or listed names) that have no repository, each with why.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import roster as roster_format
from autograder.grading import student_text

# GitHub's rule for a repository name: ASCII letters, digits, '.', '-' and '_', at most 100.
REPO_RULE = "a repository name: letters, digits, '.', '-' or '_', at most 100 characters, one per line"
REPO_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
LIST_MAX_BYTES = 4 << 20
UNLINKED = "no repository (no GitHub account linked)"


class ListError(ValueError):
    """The repository list cannot be read at all (the message names the file)."""


@dataclass(frozen=True)
class Member:
    """A repository of the class and whose it is."""

    repo: str  # the name as GitHub spells it
    student: str  # the name the class's files use (results/<student>/): the login, or the name less PREFIX
    identifier: str = ""  # the roster's identifier of the student, when matched by a roster


@dataclass
class Membership:
    """The organisation's repositories split three ways, the students without one, and warnings."""

    members: list[Member] = field(default_factory=list)
    unclaimed: list[str] = field(default_factory=list)  # named like the class, but no student's
    others: list[str] = field(default_factory=list)  # not the class
    missing: list[tuple[str, str]] = field(default_factory=list)  # (who, why): no repository
    warnings: list[str] = field(default_factory=list)


def student_name(repo_name: str, prefix: str) -> str:
    """`vae-homework-alice` with prefix `vae-homework-` -> `alice` (any case of the prefix)."""
    if not repo_name.lower().startswith(prefix.lower()):
        return repo_name
    return repo_name[len(prefix):].strip("-_") or repo_name


def _named_like_the_class(name: str, prefix: str) -> bool:
    return bool(prefix) and name.lower().startswith(prefix.lower())


def by_prefix(names: list[str], prefix: str) -> Membership:
    """Every repository named PREFIX... is a member (today's behaviour), with a warning."""
    found = Membership(warnings=[f"matching by the prefix {prefix!r} alone: every repository named so is "
                                 f"graded, the template's or any other too; pass --roster (GitHub Classroom's "
                                 f"roster CSV) or --repos to grade exactly the class"])
    for name in sorted(names):
        if name.startswith(prefix):
            found.members.append(Member(name, student_name(name, prefix)))
        else:
            found.others.append(name)
    return found


def by_roster(names: list[str], prefix: str, roster: roster_format.Roster) -> Membership:
    """A member per repository named PREFIX + a roster login (without case); nothing else."""
    found = Membership(warnings=list(roster.problems))
    logins = roster.by_login()
    claimed: set[str] = set()
    for name in sorted(names):
        login = name.lower()[len(prefix):] if _named_like_the_class(name, prefix) else None
        if login in logins and login not in claimed:
            claimed.add(login)
            student = logins[login]
            found.members.append(Member(name, student.login, student.identifier))
        elif login is not None:
            found.unclaimed.append(name)
        else:
            found.others.append(name)
    for student in roster.students:
        if not student.login:
            found.missing.append((student.identifier, UNLINKED))
        elif student.login.lower() not in claimed:
            found.missing.append((f"{student.identifier} ({student.login})",
                                  f"no repository {prefix}{student.login} in the organisation"))
    return found


def by_list(names: list[str], wanted: list[str], prefix: str = "") -> Membership:
    """A member per listed name the organisation has (GitHub's spelling; names compared without
    case); listed names it lacks are missing; PREFIX... repositories not listed are unclaimed."""
    found = Membership()
    listed = {name.lower(): name for name in wanted}
    for name in sorted(names):
        if name.lower() in listed:
            found.members.append(Member(name, student_name(name, prefix)))
        elif _named_like_the_class(name, prefix):
            found.unclaimed.append(name)
        else:
            found.others.append(name)
    present = {m.repo.lower() for m in found.members}
    found.missing = [(name, "no such repository in the organisation (or archived, or the token cannot see it)")
                     for name in wanted if name.lower() not in present]
    return found


def read_list(path: Path) -> tuple[list[str], list[str]]:
    """(the names of a `--repos` file, one problem per bad line: file, line, what was expected).
    A bad or repeated line costs that line only; a file that cannot be read is a ListError."""
    try:
        if path.stat().st_size > LIST_MAX_BYTES:
            raise ListError(f"{path}: larger than {LIST_MAX_BYTES:,} bytes: expected one repository name per line")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ListError(f"{path}: cannot be read ({error.strerror or error}): expected one repository name "
                        f"per line") from None
    except UnicodeDecodeError:
        raise ListError(f"{path}: not UTF-8 text: expected one repository name per line") from None
    names: list[str] = []
    problems, seen = [], {}
    for number, raw in enumerate(text.split("\n"), start=1):  # lines as an editor counts them
        name = raw.split("#", 1)[0].strip()
        if not name:
            continue
        if not REPO_NAME.fullmatch(name) or name in {".", ".."}:
            problems.append(f"{path}:{number}: {student_text.line(name, 60)!r} is not {REPO_RULE}: line left out")
        elif name.lower() in seen:
            problems.append(f"{path}:{number}: {name!r} is listed already on line {seen[name.lower()]} "
                            f"(names ignore case): line left out")
        else:
            seen[name.lower()] = number
            names.append(name)
    return names, problems
