"""Grading a class across machines: which shard grades which repository, and merging the shards.

A class too big for one runner's scheduled slot is graded by N jobs (a GitHub Actions matrix,
`instructor_files/grade-class-sharded.yml`): job K runs the grading command with `--shard K/N`,
which grades only `select(names, K, N)` and posts nothing, and uploads its OUT folder; one more
job merges those folders into one OUT with `merge`, then posts once (classroom.py's `post`).

    python -m autograder.course.shards merge OUT SHARD_OUT... [--org ORG --prefix PREFIX [--roster FILE]]
    python -m autograder.course.shards trim SHARD_OUT    # in each shard, before it uploads

Every shard starts from the whole class's kept state (restored from the cache); `trim` leaves in
its OUT only its own students' kept gradings, so that the artifacts hold each record once.

The SHARD_OUT folders are given in shard order: the K-th of N is shard K/N. One that is missing
(its job failed, its artifact never came) is reported and the others are merged; with `--org`
and `--prefix` (and CLASSROOM_TOKEN) the class is listed to name the students it held, who are
ungraded this run: nothing is posted for them, and the next run grades them.

A repository's shard depends on its own name only (sha256 of the lower-cased name, mod N), not
on its place in a sorted list: when students join or leave, everyone else keeps their shard.

What `merge` writes into OUT, from each shard's OUT (classroom.py's layout):
- gradebook.csv: one header, every shard's rows, sorted by student: one machine's order (by
  repository) wherever the students' names are their repositories' names less one prefix. A
  shard's gradebook and plan say which students it handled: their folders below come from it;
- plan.jsonl, what to post (plan.py): every shard's entries, for `classroom post`;
- results/<student>/ (grade_all's results) and graded/<student>/ (classroom.py's kept gradings):
  copied from the student's shard over what OUT holds (the merge job first restores the previous
  run's kept state into OUT); a student no shard handled keeps what OUT holds;
- arrivals.json, the first sightings of commits (policy.py): the union of OUT's and the shards',
  the earliest wins;
- results/report.md, the class report (class_report.py) of the merged gradebook, which
  results/gradebook.csv links to (the report reads each student's results beside its gradebook);
- report.md: what the merge did (shards merged, missing, students refused, ungraded), then each
  shard's own report.md.
A student found in two shards (a bad split, a re-run uploaded twice) is refused: neither copy is
merged, the merge says so and exits 1; the rest of the class is merged.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path

from github import GithubException
from requests import RequestException

from autograder.cleanup import remove_tree
from autograder.course import class_report, gradebook, plan, policy
from autograder.grading import student_text

GRADEBOOK, REPORT, RESULTS = gradebook.FILE, "report.md", "results"
_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*", re.ASCII)


class ShardError(ValueError):
    """A bad `K/N`, or a shard's output that cannot be merged."""


# --- Which shard grades which repository ---------------------------------------------------------


def shard_of(name: str, n: int) -> int:
    """The 1-based shard of repository `name` among `n`: case-insensitive (GitHub's names are)
    and independent of every other name in the class."""
    digest = hashlib.sha256(name.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def _check(k: int, n: int) -> None:
    if n < 1 or not 1 <= k <= n:
        raise ShardError(f"shard {k}/{n}: expected K/N with 1 <= K <= N, e.g. 3/8")


def select(names: list[str], k: int, n: int) -> list[str]:
    """The names shard `k` of `n` (1-based) grades, in their given order: every name falls in
    exactly one shard."""
    _check(k, n)
    return [name for name in names if shard_of(name, n) == k]


def parse(text: str) -> tuple[int, int]:
    """`"3/8"` -> (3, 8); anything else is a ShardError saying what was expected."""
    found = _SHARD.fullmatch(text)
    if not found:
        raise ShardError(f"--shard {text!r}: expected K/N, two whole numbers with 1 <= K <= N, e.g. 3/8")
    k, n = int(found[1]), int(found[2])
    _check(k, n)
    return k, n


# --- Merging the shards' OUT folders -------------------------------------------------------------


@dataclass
class Merged:
    """What a merge found: the problems to report, and who is left out of this run."""

    students: list[str] = field(default_factory=list)  # merged, as in the gradebook
    missing: list[int] = field(default_factory=list)  # shards (K) lost: no output, or one that cannot be read
    ungraded: list[str] = field(default_factory=list)  # the missing shards' repositories, when the class is known
    duplicates: list[str] = field(default_factory=list)  # students found in more than one shard: refused
    problems: list[str] = field(default_factory=list)  # one line each, for the log and report.md

    @property
    def ok(self) -> bool:
        return not (self.missing or self.problems)


def read_gradebook(path: Path) -> gradebook.Gradebook:
    """A shard's gradebook; a ShardError naming the file and line unless it has the gradebook's
    header and every row its cells."""
    book = gradebook.read(path)
    if not book.header or book.header[0] != gradebook.STUDENT:
        raise ShardError(f"{path}, line 1: expected a gradebook header starting with `student`")
    for row in book.rows:
        if len(row.written) != len(book.header):
            raise ShardError(f"{path}, line {row.line}: expected {len(book.header)} cells as in the header, "
                             f"found {len(row.written)}")
    return book


@dataclass
class Shard:
    """What one shard handed in: its gradebook and its plan (what it would post)."""

    k: int
    folder: Path
    book: gradebook.Gradebook
    entries: list[plan.Entry]

    def students(self) -> set[str]:
        """Whom this shard handled: its gradebook's students and those it plans a post for."""
        return {row.student for row in self.book.rows} | {entry.student for entry in self.entries}


def merge(shard_outs: list[Path], out: Path, class_names: Callable[[], list[str] | None] | None = None) -> Merged:
    """Merge the OUT folders of shards 1..N (`shard_outs`, in shard order) into `out`.

    `class_names` gives the class's repository names (called only when a shard is lost): the lost
    shard's students are named (`select` tells which were its). The gradebook's rows and the plan's
    entries are the union of the shards', sorted by student; a student (or a repository) in two
    shards is refused: left out and reported. A shard that cannot be read costs only its students."""
    merged, n = Merged(), len(shard_outs)
    listed = cache(class_names or (lambda: None))

    def lose(k: int, why: str) -> None:
        merged.missing.append(k)
        merged.problems.append(f"shard {k}/{n}: {why}; its students are ungraded this run and nothing is posted "
                               "for them")
        merged.ungraded += select(listed() or [], k, n)

    read: list[Shard] = []
    for k, folder in enumerate(shard_outs, start=1):
        try:
            read.append(Shard(k, folder, read_gradebook(folder / GRADEBOOK), plan.load(folder / plan.FILE)))
        except FileNotFoundError:
            lose(k, f"no {GRADEBOOK} in {folder}: its job failed or uploaded nothing")
        except (ShardError, plan.PlanError, OSError, UnicodeDecodeError, csv.Error) as error:
            lose(k, str(error))
    header = read[0].book.header if read else [gradebook.STUDENT]
    for shard in [shard for shard in read if shard.book.header != header]:  # graded by other graders' versions
        read.remove(shard)
        lose(shard.k, f"{shard.folder / GRADEBOOK}, line 1: expected the same columns as shard {read[0].k}'s")
    holders: dict[str, set[int]] = {}  # student -> the shards that handled them
    planned: dict[str, set[int]] = {}  # repository -> the shards that plan a post on it
    for shard in read:
        for student in shard.students():
            holders.setdefault(student, set()).add(shard.k)
        for entry in shard.entries:
            planned.setdefault(entry.repo.lower(), set()).add(shard.k)
    for entry in (e for shard in read for e in shard.entries):  # one repository under two names is one student
        holders[entry.student] |= planned[entry.repo.lower()]
    merged.duplicates = sorted(student for student, ks in holders.items() if len(ks) > 1)
    merged.problems += [f"student {student_text.line(s)} is in shards {', '.join(map(str, sorted(holders[s])))} "
                        f"of {n}: a student belongs to one shard; left out of this merge" for s in merged.duplicates]
    refused = set(merged.duplicates)
    rows = sorted((row for shard in read for row in shard.book.rows if row.student not in refused),
                  key=lambda row: row.student)
    out.mkdir(parents=True, exist_ok=True)
    gradebook.Gradebook(header, rows).save(out / GRADEBOOK)
    entries = sorted((e for shard in read for e in shard.entries if e.student not in refused), key=lambda e: e.student)
    plan.save(plan.merge(entries, where=str(out / plan.FILE)), out / plan.FILE)
    merged.students = [row.student for row in rows]
    owners = {student: shard.k for shard in read for student in shard.students() if student not in refused}
    _copy_students(shard_outs, owners, refused, out)
    _merge_ledgers(shard_outs, out, merged)
    _class_report(out)
    _write_report(out / REPORT, shard_outs, merged)
    return merged


def _copy_students(shard_outs: list[Path], owners: dict[str, int], refused: set[str], out: Path) -> None:
    """Each student's folders from the shard that handled them (`owners`), over what `out` holds
    (the previous run's state, restored from the cache by the merge job). A student no shard
    handled (no commits yet, a fetch that failed) keeps what `out` holds, or else the copy a
    shard kept (shards merged by hand, untrimmed). A refused student's folders are not merged."""
    from autograder.course import classroom  # here: classroom imports this module for --shard

    for folder in (RESULTS, classroom.RECORDS):  # grade_all's results, classroom's kept gradings
        before = {p.name for p in (out / folder).glob("*/")} if (out / folder).is_dir() else set()
        for k, shard in enumerate(shard_outs, start=1):
            for source in sorted((shard / folder).glob("*/")) if (shard / folder).is_dir() else []:
                student = source.name
                mine = owners.get(student) == k
                if student not in refused and (mine or (student not in owners and student not in before)):
                    _copy_folder(source, out / folder / student)
                    before.add(student)


def _copy_folder(source: Path, target: Path) -> None:
    """A student's folder, replacing what an earlier merge left there (links are left out)."""
    if target.exists():
        remove_tree(target)
    shutil.copytree(source, target, ignore=lambda d, names: [n for n in names if (Path(d) / n).is_symlink()])


def _merge_ledgers(shard_outs: list[Path], out: Path, merged: Merged) -> None:
    """The first sightings (policy.LEDGER) `out` holds and every shard's: the earliest wins."""
    ledgers = []
    for name, folder in [("the merged folder", out)] + [(f"shard {k}/{len(shard_outs)}", shard)
                                                        for k, shard in enumerate(shard_outs, start=1)]:
        try:
            ledgers.append(policy.load_ledger(folder / policy.LEDGER))
        except policy.PolicyError as error:
            merged.problems.append(f"{name}: {error}; its first sightings are not merged")
    if any(ledgers):
        policy.save_ledger(out / policy.LEDGER, policy.merge_ledgers(*ledgers))


def trim(out: Path) -> list[str]:
    """Leave in a shard's OUT only the kept gradings of the students it handled (its gradebook
    and plan): every shard restored the whole class's, and uploading them N times would cost N
    times the class's records in artifacts; the merge job restores them itself. Returns the
    students whose kept gradings were removed."""
    from autograder.course import classroom  # here: classroom imports this module for --shard

    handled = Shard(0, out, read_gradebook(out / GRADEBOOK), plan.load(out / plan.FILE)).students()
    removed = sorted(p.name for p in (out / classroom.RECORDS).glob("*/") if p.name not in handled)
    for student in removed:
        remove_tree(out / classroom.RECORDS / student)
    return removed


def _class_report(out: Path) -> None:
    """The class report of the merged class, in results/ (class_report reads each student's
    results beside its gradebook: results/gradebook.csv is a link to the one gradebook)."""
    (out / RESULTS).mkdir(exist_ok=True)
    link = out / RESULTS / GRADEBOOK
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path("..") / GRADEBOOK)
    class_report.write_report(link)


def _write_report(path: Path, shard_outs: list[Path], merged: Merged) -> None:
    """report.md: what the merge did, then each merged shard's own report."""
    n = len(shard_outs)
    lines = ["## Merged shards", "", f"{n - len(merged.missing)} of {n} shards merged; "
             f"{len(merged.students)} students in the gradebook."]
    lines += [""] + [f"- {student_text.literal(problem)}" for problem in merged.problems] if merged.problems else []
    if merged.ungraded:
        lines += ["", "Ungraded this run (their shard is missing): "
                  + ", ".join(student_text.literal(name) for name in merged.ungraded)]
    for k, folder in enumerate(shard_outs, start=1):
        report = folder / REPORT
        if k not in merged.missing and report.is_file():
            lines += ["", f"## Shard {k}/{n}", "", report.read_text(encoding="utf-8", errors="replace").strip()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- The command line -----------------------------------------------------------------------------


def class_names(args: argparse.Namespace) -> list[str] | None:
    """The class's repository names, listed as the shards list them (classroom.the_class, with the
    same --prefix and --roster or --repos), with the token in CLASSROOM_TOKEN: to name a missing
    shard's students. None, with a line saying why, when the class cannot be listed."""
    from github import Auth, Github

    from autograder.course import classroom, membership, roster  # here: classroom imports this module

    token = os.environ.get(classroom.TOKEN_ENV, "")
    if not token:
        print(f"shards merge: set {classroom.TOKEN_ENV} to list the class: the missing shards' students are not named",
              file=sys.stderr)
        return None
    client = Github(auth=Auth.Token(token), base_url=args.api_url, lazy=True)
    try:
        members, _ = classroom.the_class(client, args.org, args.prefix or "", args.roster, args.repos)
    except (GithubException, RequestException, roster.RosterError, membership.ListError) as error:
        print(f"shards merge: the class of {args.org} cannot be listed ({student_text.line(error, 200)}): "
              "the missing shards' students are not named", file=sys.stderr)
        return None
    return [repo.name for repo, _ in members]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("merge", help="merge the shards' OUT folders into OUT")
    command.add_argument("out", type=Path, help="the merged OUT folder (then: classroom post --out OUT)")
    command.add_argument("shard_outs", type=Path, nargs="+", help="each shard's OUT folder, shard 1 first")
    command.add_argument("--org", help="list the class (as the shards did) to name a missing shard's students")
    command.add_argument("--prefix", help="the repositories' name prefix, as the shards were given it")
    whom = command.add_mutually_exclusive_group()
    whom.add_argument("--roster", type=Path, help="the roster the shards were given, if any")
    whom.add_argument("--repos", type=Path, help="the list of repositories the shards were given, if any")
    command.add_argument("--api-url", default=os.environ.get("GITHUB_API_URL", "https://api.github.com"))
    command = commands.add_parser("trim", help="before a shard uploads OUT: keep only its own students' gradings")
    command.add_argument("out", type=Path, help="the shard's OUT folder")
    args = parser.parse_args(argv)
    if args.command == "trim":
        try:
            removed = trim(args.out)
        except (ShardError, plan.PlanError, OSError) as error:
            print(f"shards trim: {error}; nothing removed", file=sys.stderr)
            return 1
        print(f"shards trim: {len(removed)} other shards' students' kept gradings left out of {args.out}")
        return 0
    merged = merge(args.shard_outs, args.out, partial(class_names, args) if args.org else None)
    for problem in merged.problems:
        print(f"shards merge: {problem}", file=sys.stderr)
    if merged.ungraded:
        print(f"shards merge: ungraded this run: {', '.join(merged.ungraded)}", file=sys.stderr)
    print(f"shards merge: {len(merged.students)} students from {len(args.shard_outs) - len(merged.missing)} "
          f"of {len(args.shard_outs)} shards into {args.out} (report {args.out / REPORT})")
    return 0 if merged.ok else 1


if __name__ == "__main__":
    sys.exit(main())
