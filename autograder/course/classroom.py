"""`make grade-class ORG=... PREFIX=...`: grade every student repository's newest commit, on the
instructor's side, and post the grade on the commit.

    CLASSROOM_TOKEN=... python -m autograder.course.classroom --org ORG --prefix PREFIX
        [--roster ROSTER.csv | --repos LIST] [--dry-run | --regrade | --shard K/N]
        [--out build/grade-class] [--jobs N] [--force] [--api-url URL] [--run-url URL] [--policy FILE]
    CLASSROOM_TOKEN=... python -m autograder.course.classroom post [--out build/grade-class]

1. Lists the class's repositories of ORG (membership.py): with `--roster`, GitHub Classroom's
   roster CSV, those named PREFIX + a student's login (without case; Classroom names them
   `<assignment>-<login>`); with `--repos`, exactly the listed names; with PREFIX alone, every
   name starting with it (a warning: the template's may too). Students without a repository and
   PREFIX... repositories without a student are listed in the report and on stdout, never graded.
   `--shard K/N` keeps shard K's repositories (shards.select).
2. Clones each one (bare, into OUT/repos/) or fetches it, and takes the newest commit of its
   default branch. A commit that already carries a final `autograder` status (success or
   failure) posted by this token's user was graded: it is skipped unless `--force`. An
   `error` status (the grader itself failed) is retried; a status posted by anyone else (a
   student may post one) is ignored. With `--policy` (the term's deadline, extensions and late
   policy: policy.py), the graded commit is instead the one that arrived last by the student's
   last day, arrival being GitHub's record of the push (`push_times`) or else the grader's first
   sighting (OUT/arrivals.json), never a commit date; its penalty follows, recomputed each run.
   config.GRADED_ATTEMPTS_PER_DAY and HOLD_BACK_DETAILS_UNTIL_DEADLINE apply here (`attempts_left`,
   `holding_back`).
3. Writes the files of just those commits to OUT/batch/<student>/ (regular files only: a
   symlink could point the grader at a file outside the submission) and grades them with
   grade_all.grade_all (parallel, the same sandbox; resumable: a commit graded by a run that
   stopped before posting is not graded twice on the same machine). Results in OUT/results/.
4. Plans, then posts, on each graded commit a commit status (context `autograder`, description
   `Points X/Y`, a link to the run) and a commit comment with the per-check table. A check run
   would show the table better, but only a GitHub App may create check runs; a token may not.
   The plan (OUT/plan.jsonl, plan.py) is written first; then `post_plan` posts it, in the same
   run, unless `--dry-run`, `--regrade` or `--shard`: those post nothing (a dry run reads GitHub
   and grades, since the points it would post exist only once graded; the grading is kept, so
   the next run does not grade again) and `post` posts the plan later. Posting is idempotent: a
   status equal to the newest one this token's user posted on the commit, or a comment equal to
   one of theirs, is not posted again.
5. Writes OUT/gradebook.csv (this run's grades, one column per rubric tag, then what produced
   each: the commit, the graders' version, the environment's lock: provenance.py; and the grade
   of record's commit, arrival, deadline and lateness: `of_record`; its total is after the penalty) and
   OUT/report.md (the whole class: each repository, its newest commit, its points; who and what
   was not graded). `--regrade` grades every newest commit again and writes OUT/regrade.md and
   OUT/regrade.csv (regrade.py: old and new points, the checks that changed).

OUT's layout (what the shards' merge, shards.py, reads and merges):
- plan.jsonl: what is still to post (plan.py; shards' plans merge by concatenation);
  posted.jsonl: what `post` posted, one entry a line with its result;
- graded/<student>/<sha>.json: each commit's kept grading (results, problem, provenance, what
  was posted and what is planned; `load_record`);
- arrivals.json: the ledger of first sightings, {repository name: {sha: UTC time first seen}}
  (policy.load_ledger, save_ledger; shards merge by union, the earliest sighting winning:
  policy.merge_ledgers);
- results/<student>/: the newest grading (grade_all: results.json, feedback.png, grade.log,
  provenance.json); batch/<student>/: the files of each student's graded commit, graded this run
  or before (`make similarity SUBMISSIONS=OUT/batch` compares them); repos/<name>.git: the bare clones;
- gradebook.csv, report.md, and after `--regrade` regrade.md and regrade.csv.

Trust: the token is read from the environment variable CLASSROOM_TOKEN and removed from it at
once, so no grader process (let alone a student's code) inherits it; git gets it in an HTTP
header through its environment, never in a URL or a command line. Permissions it needs, on the
class's repositories only: Contents read (clone), Commit statuses read and write, and Contents
write for the commit comment (docs/course.md, section 3).
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from github import Auth, Github, GithubException

from autograder import config, files
from autograder.cleanup import remove_tree
from autograder.course import membership, plan, policy as term_policy, provenance, regrade, report, roster, shards
from autograder.course.membership import Member, Membership
from autograder.course.policy import Lateness, Policy, PolicyError, Terms
from autograder.course.grade_all import JOB_TIMEOUT_S, Command, Outcome, discover, grade_all, write_gradebook
from autograder.grading import results as results_format, student_text
from autograder.paths import GRADE_CLASS_OUT

CONTEXT = "autograder"  # the commit status's name; the student workflow looks for it
TOKEN_ENV = "CLASSROOM_TOKEN"
DEFAULT_OUT = GRADE_CLASS_OUT
GRADED_STATES = {"success", "failure"}  # an `error` status means "not graded yet": retried
PUSHES = {"push", "force_push", "branch_creation", "pr_merge", "merge_queue_merge"}  # activities that bring commits
ACTIVITY_PAGES = 50  # of 100 activities each: GitHub's record of a term's pushes to one repository
RECORDS = "graded"  # OUT/graded/<student>/<sha>.json: one commit's grading, kept for every later run


class ClassroomError(RuntimeError):
    """The class cannot be listed or a repository cannot be fetched."""


@dataclass
class Head:
    """One student repository and its newest commit."""

    student: str
    repo: Any  # github.Repository.Repository
    sha: str = ""
    # "graded before", "no commits", "fetch failed"; then for new commits: "graded",
    # "grader failed" (an error status, retried next run) or "post failed"
    state: str = ""
    points: str = ""  # what the commit's status says (or will say)
    note: str = ""
    # Under a policy file (autograder/course/policy.py): the branch's newest commit (`sha` is the
    # graded one), when the graded one arrived and how that is known, the student's terms.
    tip: str = ""
    arrived: datetime | None = None
    source: str = ""
    terms: Terms | None = None
    late: Lateness = Lateness()
    planned: plan.Entry | None = None  # what this run would post on the commit (plan.py)


# --- The class and its commits ----------------------------------------------------------------


def the_class(client: Any, org: str, prefix: str, roster_file: Path | None = None, repos_file: Path | None = None,
              shard: tuple[int, int] | None = None) -> tuple[list[tuple[Any, Member]], Membership]:
    """The class's repositories, each with whose it is (membership.py: by a roster, an exact list
    or the prefix alone), archived ones left out; with `shard` (K, N), only shard K's
    (shards.select). A roster or list that is no such file raises RosterError or ListError."""
    repos = {r.name: r for r in client.get_organization(org).get_repos(type="all") if not r.archived}
    if roster_file is not None:
        found = membership.by_roster(list(repos), prefix, roster.read(roster_file))
    elif repos_file is not None:
        names, problems = membership.read_list(repos_file)
        found = membership.by_list(list(repos), names, prefix)
        found.warnings[:0] = problems
    else:
        found = membership.by_prefix(list(repos), prefix)
    kept = set(shards.select([m.repo for m in found.members], *shard)) if shard else None
    return [(repos[m.repo], m) for m in found.members if kept is None or m.repo in kept], found


def git_env(token: str | None) -> dict[str, str]:
    """The environment for git: the token as an HTTP header (never in a URL), no prompts."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraheader",
                    "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}"})
    return env


def _git(*args: str, env: dict[str, str]) -> bytes:
    """git's output; its error (the last of stderr) as a ClassroomError."""
    run = subprocess.run(["git", *args], env=env, capture_output=True, stdin=subprocess.DEVNULL)
    if run.returncode != 0:
        raise ClassroomError(f"git {args[0]} failed: {run.stderr.decode(errors='replace').strip()[-300:]}")
    return run.stdout


def fetch(clone_url: str, branch: str, clone: Path, env: dict[str, str]) -> str:
    """Clone (bare) or update `clone`; the sha of `branch`'s tip, or "" for an empty repository."""
    if not (clone / "HEAD").exists():
        clone.parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "--bare", "--quiet", clone_url, str(clone), env=env)
    else:
        _git("-C", str(clone), "fetch", "--quiet", "--prune", clone_url, "+refs/heads/*:refs/heads/*", env=env)
    found = subprocess.run(["git", "-C", str(clone), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                           capture_output=True, text=True, env=env)
    return found.stdout.strip() if found.returncode == 0 else ""


def posted_status(commit: Any, login: str) -> Any | None:
    """The newest `autograder` status that `login` (this token's user) posted on `commit` (a
    github.Commit), or None. Anyone who may push may post a status too: one posted by a student
    is not a grade."""
    return next((s for s in commit.get_statuses()  # the newest first
                 if s.context == CONTEXT and s.creator is not None and s.creator.login == login), None)


def _posted(repo: Any, sha: str, login: str) -> str:
    """The description of the newest `autograder` status `login` posted on the commit ('' if none)."""
    try:
        return getattr(posted_status(repo.get_commit(sha), login), "description", "") or ""
    except GithubException:
        return ""


def forget_files(out: Path, student: str) -> None:
    """Remove a student's files from OUT/batch/ once no commit of theirs is graded (a moved deadline,
    a policy problem): batch/ holds exactly the graded commits, which `make similarity` compares."""
    folder = out / "batch" / student
    if folder.exists():
        remove_tree(folder)
    folder.with_name(f".{student}.commit").unlink(missing_ok=True)


def export(clone: Path, sha: str, folder: Path) -> bool:
    """Write the files of commit `sha` into `folder`; False when it already holds them.

    The files get the current time, so that grade_all's "graded after the file changed" test
    grades a new commit even where an older one's results.json is newer than the commit date.
    Only regular files and folders are written: never a link, never outside `folder`.
    """
    marker = folder.with_name(f".{folder.name}.commit")
    if folder.is_dir() and marker.exists() and marker.read_text().strip() == sha:
        return False
    archive = _git("-C", str(clone), "archive", "--format=tar", sha, env=git_env(None))
    if folder.exists():
        remove_tree(folder)  # however deep an earlier commit's tree was
    folder.mkdir(parents=True)
    now = time.time()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # Nothing deeper than a hand-in may be (handin.resolve never looks there): a commit holding
        # a tree thousands of levels deep is written without it, and the class goes on.
        members = [m for m in tar.getmembers() if (m.isfile() or m.isdir())
                   and len(Path(m.name).parts) <= config.HANDIN_MAX_DEPTH]
        for member in members:
            member.mtime = now
        tar.extractall(folder, members=members, filter="data")
    marker.write_text(sha + "\n")
    return True


# --- Which commit is graded (autograder/course/policy.py owns the rules) ---------------------------


def now() -> datetime:
    """This run's time, in UTC (the one clock the deadlines are compared with; tests set it)."""
    return datetime.now(timezone.utc)


def push_times(repo: Any) -> list[tuple[datetime, str]] | None:
    """GitHub's record of the pushes to `repo` (REST "List repository activities",
    GET /repos/{owner}/{repo}/activity): (time, pushed head sha) for each push, force push,
    branch creation or merge, on any branch (a commit reaches GitHub on whichever branch it is
    pushed to). None when the record is unavailable or not as documented: first sightings then."""
    url: str | None = f"{repo.url}/activity"
    params: dict[str, Any] | None = {"per_page": 100}
    pushes = []
    try:
        for _ in range(ACTIVITY_PAGES):
            headers, page = repo.requester.requestJsonAndCheck("GET", url, parameters=params)
            for entry in page:
                if entry["activity_type"] in PUSHES and str(entry["ref"]).startswith("refs/heads/"):
                    pushes.append((datetime.fromisoformat(entry["timestamp"]), str(entry["after"])))
            link = {k.lower(): v for k, v in (headers or {}).items()}.get("link", "")
            following = re.search(r'<([^>]+)>;\s*rel="next"', link)
            if following is None:
                return pushes
            url, params = following.group(1), None
    except (GithubException, KeyError, TypeError, ValueError, AttributeError):
        return None
    return None  # more pushes than ACTIVITY_PAGES pages hold: not the whole record


def history(clone: Path, sha: str) -> list[str]:
    """`sha` and its ancestors, children before their parents ([] when `sha` is not in `clone`)."""
    found = subprocess.run(["git", "-C", str(clone), "rev-list", "--topo-order", sha, "--"],
                           capture_output=True, text=True, env=git_env(None))
    return found.stdout.split() if found.returncode == 0 else []


def pick(head: Head, clone: Path, ledger: dict[str, dict[str, str]], policy: Policy | None, moment: datetime) -> None:
    """Set `head.sha` to the student's graded commit (policy.choose) with its arrival and terms.
    Every commit of the branch is recorded in the ledger at its first sighting, policy or not,
    so that a policy added later, or GitHub's record gone, still finds when each one arrived."""
    commits = history(clone, head.tip)
    sightings = term_policy.sight(ledger, head.repo.name, commits, moment)
    if policy is None:
        head.sha = head.tip
        return
    head.terms = policy.terms(head.student)
    pushes = push_times(head.repo)
    if pushes is None:
        head.note = "GitHub's record of pushes unavailable: arrival times are the grader's first sightings"
    reachable: dict[str, list[str]] = {}
    arrived = term_policy.arrivals(pushes or [], lambda sha: reachable.setdefault(sha, history(clone, sha)),
                                   sightings)
    head.sha = term_policy.choose(commits, arrived, head.terms) or ""
    if head.sha:
        head.arrived, head.source = arrived[head.sha]
        head.late = term_policy.lateness(head.arrived, head.terms)
    if head.sha != head.tip:
        head.note = "; ".join(filter(None, [head.note, f"newest commit {head.tip[:12]} arrived after the last day "
                                            f"{_when(head.terms.last_day)}: not counted"]))


def _when(moment: datetime) -> str:
    """A time as students read it: in UTC, to the minute."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _utc(moment: datetime) -> str:
    """A time as the gradebook writes it: ISO 8601 in UTC."""
    return moment.astimezone(timezone.utc).isoformat()


def record_path(out: Path, student: str, sha: str) -> Path:
    return out / RECORDS / student / f"{sha}.json"


def load_record(path: Path) -> dict[str, Any] | None:
    """A kept grading: {"results", "problem", "graded_at", "attempt" (whether it counts against
    config.GRADED_ATTEMPTS_PER_DAY), "posted" (the status description last posted), "comment"
    ("", "score" or "details": the kind of comment last posted)}; None if none."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save_record(path: Path, record: dict[str, Any]) -> None:
    """Keep a grading (whole or not at all: a run stopped mid-write must not leave half a record)."""
    files.write_text(path, json.dumps(record, sort_keys=True) + "\n")


def attempts_left(out: Path, student: str, moment: datetime) -> bool:
    """Whether the student may have one more grading today (config.GRADED_ATTEMPTS_PER_DAY, UTC
    days). An attempt is a kept grading in which the hidden checks ran: a grader failure (no
    record) and a commit with nothing to grade (no vae.py: no results) cost none, as on Gradescope;
    nor does an older commit that a changed policy chose (`attempt`: the newest commit was graded)."""
    limit = config.GRADED_ATTEMPTS_PER_DAY
    if limit is None:
        return True
    today = moment.astimezone(timezone.utc).date()
    used = sum(1 for path in (out / RECORDS / student).glob("*.json")
               if (record := load_record(path)) and record.get("results") is not None and record.get("attempt", True)
               and term_policy.parse_time(record["graded_at"]).date() == today)
    return used < limit


def attempts_status(moment: datetime) -> str:
    """The status description of a commit held back by the limit on graded attempts per day."""
    tomorrow = datetime.combine(moment.astimezone(timezone.utc).date() + timedelta(days=1), datetime.min.time(),
                                timezone.utc)
    limit = config.GRADED_ATTEMPTS_PER_DAY
    return (f"Not graded yet: {limit} graded attempt{'s' * (limit != 1)} a day, all used today; "
            f"graded after {_when(tomorrow)}")


def holding_back(head: Head, moment: datetime) -> bool:
    """Whether the checks' details are held back from this student now (before their deadline)."""
    return config.HOLD_BACK_DETAILS_UNTIL_DEADLINE and head.terms is not None and moment < head.terms.deadline


# --- What is posted ---------------------------------------------------------------------------------


def verdict(outcome: Outcome, problem: str, late: Lateness = Lateness()) -> tuple[str, str]:
    """(status state, description): full marks succeed, fewer points fail, no grade is an error.

    `problem` is why the submission had nothing to grade (no vae.py): a grade of 0 the student
    can act on. Any other failure is the grader's, told to the instructor in report.md. GitHub
    shows the description as plain text: one line, at most plan.DESCRIPTION_CHARS characters. A late
    commit's points are after the penalty, the penalty said after them (`Points X/Y` first: the
    student's workflow reads it).
    """
    if outcome.results is not None:
        score, maximum = report.points(outcome.results)
        after = term_policy.after_penalty(score, late)
        description = f"Points {report.number(after)}/{report.number(maximum)}"
        if late.days:
            description += (f" ({report.number(score)} less {report.number(100 * late.fraction)}%: "
                            f"{late.days} day{'s' * (late.days != 1)} late)")
        return ("success" if after >= maximum else "failure"), description
    if problem:
        return "failure", student_text.line(f"Points 0/{report.number(results_format.RUBRIC_MAXIMUM)}: {problem}", plan.DESCRIPTION_CHARS)
    return "error", "Not graded yet: the grader failed on this commit; it will try again"


def comment(outcome: Outcome, sha: str, head: Head | None = None, held: bool = False) -> str:
    """The commit comment: the per-check table, or, while `held` (before the deadline, with
    config.HOLD_BACK_DETAILS_UNTIL_DEADLINE), the points alone and when the table will come.
    Under a policy, when the commit arrived and the lateness applied."""
    results = outcome.results or {}
    if held:
        text = (f"## Autograding\n\n**{verdict(outcome, outcome.problem)[1]}**\n\nThe checks' details are held back "
                f"until your deadline, {_when(head.terms.deadline)}: the first grading run after it posts them here.\n")
    else:
        past = head is not None and head.terms is not None and now() >= head.terms.deadline
        shown = {**results, "tests": [{**t, "visibility": "visible"} if past and t.get("visibility") == "after_due_date"
                                      else t for t in results.get("tests", [])]}
        text = report.markdown(shown)
    if head is not None and head.arrived is not None:
        how = "GitHub's record of the push" if head.source == term_policy.PUSHED else "the grader's first sighting"
        text += (f"\nArrived {_when(head.arrived)} ({how}); your deadline {_when(head.terms.deadline)}, "
                 f"last day {_when(head.terms.last_day)}.")
        if head.late.days:
            days = f"{head.late.days} started day{'s' * (head.late.days != 1)}"
            text += f" {days} late: {verdict(outcome, '', head.late)[1]}."
        text += "\n"
    return text + (f"\nGraded commit `{sha[:12]}` with the course's hidden graders. "
                   f"This is the grade of record for this commit.\n")


def to_post(head: Head, outcome: Outcome, problem: str, run_url: str | None, held: bool = False) -> plan.Entry:
    """What to post on the graded commit (the plan's entry): the status and, when graded, the
    comment. Nothing is posted here: `post_plan` does, after the run (or `post`, later)."""
    state, description = verdict(outcome, problem, head.late)
    text = comment(outcome, head.sha, head, held) if outcome.results is not None else ""
    return plan.Entry(head.repo.full_name, head.student, head.sha, state, description, text, run_url or "")


def post_plan(client: Any, entries: list[plan.Entry], out: Path) -> dict[str, str]:
    """Post each entry, idempotently: a status equal to the newest `autograder` status this
    token's user posted on the commit (state and description) is not posted again, nor a
    comment equal to one of theirs on the commit. Then the commit's record says what was posted
    (record_path: "planned" becomes "posted"), posted entries go to OUT/posted.jsonl and the
    plan keeps only what failed. Returns, per repository, "posted", "posted before" or the error."""
    login = client.get_user().login
    done: dict[str, str] = {}
    for entry in entries:
        try:
            commit = client.get_repo(entry.repo).get_commit(entry.sha)  # lazy: the client is
            newest = posted_status(commit, login)
            fresh = newest is None or (newest.state, newest.description) != (entry.state, entry.description)
            if fresh:
                commit.create_status(state=entry.state, description=entry.description, context=CONTEXT,
                                     **({"target_url": entry.target_url} if entry.target_url else {}))
            said = fresh or entry.comment and not any(c.body == entry.comment and c.user is not None
                                                      and c.user.login == login for c in commit.get_comments())
            if entry.comment and said:
                commit.create_comment(entry.comment)
        except GithubException as error:  # one repository's failure must not stop the others
            done[entry.repo] = f"post failed: {type(error).__name__}: {error}"
            continue
        done[entry.repo] = "posted" if said else "posted before"
        path = record_path(out, entry.student, entry.sha)
        if (record := load_record(path)) and (record.get("planned") or {}).get("posted") == entry.description:
            save_record(path, {**record, **record["planned"], "planned": {}})
    plan.save([e for e in entries if done[e.repo].startswith("post failed")], out / plan.FILE)
    with open(out / "posted.jsonl", "a", encoding="utf-8") as log:
        log.writelines(json.dumps({**vars(e), "result": done[e.repo]}, ensure_ascii=False) + "\n"
                       for e in entries if not done[e.repo].startswith("post failed"))
    return done


def settle(head: Head, out: Path, run_url: str | None, moment: datetime) -> Outcome:
    """Plan what the kept grading of `head.sha` means under today's policy, where it differs from
    what was posted (a moved deadline: a new penalty; the deadline passed: the held-back table),
    and record what is planned (post_plan records it as posted). Returns the grading, for the
    gradebook."""
    path = record_path(out, head.student, head.sha)
    record = load_record(path)
    outcome = Outcome(head.student, "graded", record["results"], record["problem"], problem=record["problem"],
                      provenance=record.get("provenance") or {})
    held = holding_back(head, moment)
    description = verdict(outcome, outcome.problem, head.late)[1]
    kind = "score" if held and outcome.results is not None else "details"
    shown = record.get("comment", "")
    if record.get("posted") == description and (shown == kind or shown == "details"):
        head.points = description
        if head.state == "kept":
            head.state = "graded before"
        return outcome
    head.planned = to_post(head, outcome, outcome.problem, run_url, held)
    head.points = description
    head.state = "graded" if head.state == "new" else "posted again"
    save_record(path, {**record, "planned": {"posted": description, "comment": kind}})
    return outcome


# --- One run ------------------------------------------------------------------------------------


def run_url_from_env() -> str | None:
    """The link to this GitHub Actions run, when running in one."""
    server, repository, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repository}/actions/runs/{run}" if server and repository and run else None


def grade_class(client: Any, org: str, prefix: str, out: Path, token: str | None = None,
                jobs: int | None = None, force: bool = False, run_url: str | None = None,
                timeout: float = JOB_TIMEOUT_S, command: Command | None = None,
                policy: Policy | None = None, members: list[tuple[Any, Member]] | None = None,
                regrading: bool = False) -> list[Head]:
    """Fetch the class's repositories (`members`, default: the_class by the prefix), pick each
    student's graded commit (policy.py), grade what has no kept grading (`regrading`: every
    newest commit again, and OUT/regrade.md and .csv say what changed), plan what to post
    (Head.planned; main posts it); returns one Head per repository."""
    force = force or regrading
    env = git_env(token)
    login = client.get_user().login
    moment = now()
    ledger = term_policy.load_ledger(out / term_policy.LEDGER)
    heads = []
    for repo, member in members if members is not None else the_class(client, org, prefix)[0]:
        head = Head(member.student, repo)
        heads.append(head)
        clone = out / "repos" / f"{repo.name}.git"
        try:
            head.tip = fetch(repo.clone_url, repo.default_branch, clone, env)
            if head.tip:
                pick(head, clone, ledger, policy, moment)
            status = None if force or not head.sha else posted_status(repo.get_commit(head.sha), login)
        except (ClassroomError, GithubException) as error:
            head.state, head.note = "fetch failed", str(error)
            continue
        if head.terms is not None and head.terms.problem:  # a malformed extension: this student waits
            head.sha, head.state, head.note = "", "policy problem", head.terms.problem
            forget_files(out, head.student)
            continue
        if not head.sha:
            head.state = "no commits" if not head.tip else "nothing counted"
            forget_files(out, head.student)
            continue
        if not force and record_path(out, head.student, head.sha).exists():
            head.state = "kept"
            export(clone, head.sha, out / "batch" / head.student)  # batch/ holds each graded commit (make similarity)
            continue
        if policy is None and status is not None and status.state in GRADED_STATES:
            head.state, head.points = "graded before", status.description  # graded before records were kept
            continue
        if head.sha == head.tip and not attempts_left(out, head.student, moment):
            head.state, head.points = "attempts used", attempts_status(moment)
            if status is None or status.description != head.points:
                # `pending`: not graded yet (never in GRADED_STATES), graded by a later run
                head.planned = plan.Entry(repo.full_name, head.student, head.sha, "pending", head.points, "",
                                          run_url or "")
            continue
        head.state = "new"
        export(clone, head.sha, out / "batch" / head.student)
    term_policy.save_ledger(out / term_policy.LEDGER, ledger)
    new = {h.student: h for h in heads if h.state == "new"}
    before = {s: load_record(record_path(out, s, h.sha)) for s, h in new.items()}  # what a regrade compares with
    submissions = [replace(s, commit=new[s.student].sha) for s in discover(out / "batch") if s.student in new] \
        if new else []
    outcomes = {o.student: o for o in (grade_all(submissions, out / "results", jobs, force, timeout, command)
                                       if new else [])}
    for student, outcome in outcomes.items():  # a hand-in that cannot be read is graded: 0 with the reason
        head = new[student]
        if outcome.results is not None or outcome.problem:
            posted = {k: (before[student] or {}).get(k, "") for k in ("posted", "comment")}  # a regrade's too
            save_record(record_path(out, student, head.sha),
                        {"results": outcome.results, "problem": outcome.problem, "graded_at": moment.isoformat(),
                         "attempt": head.sha == head.tip, "provenance": outcome.provenance, **posted})
            continue
        head.state, head.note = "grader failed", outcome.error  # no record: retried, and no attempt spent
        head.planned = to_post(head, outcome, "", run_url)
        head.points = head.planned.description
    if regrading:
        graders = str(provenance.current()["graders"])
        regrade.write([regrade.row(s, h.repo.full_name, h.sha, before[s],
                                   "" if before[s] else _posted(h.repo, h.sha, login),
                                   outcomes[s].results if s in outcomes else None, graders)
                       for s, h in sorted(new.items())], out)
    graded = [settle(h, out, run_url, moment) if h.state in {"new", "kept"} else outcomes.get(h.student)
              for h in heads]
    by_student = {h.student: h for h in heads}
    write_gradebook([o for o in graded if o is not None], out / "gradebook.csv", POLICY_COLUMNS,
                    lambda outcome, points: of_record(by_student[outcome.student], points))
    return heads


POLICY_COLUMNS = ("commit", "arrived_at", "arrival", "deadline", "days_late", "penalty", "points_before",
                  "points_after")


def of_record(head: Head, before: float) -> tuple[float, list[object]]:
    """The gradebook's total of record for `head`'s grading of `before` points (after the late
    penalty: what the status says, and what the class report and the LMS export read), and its
    POLICY_COLUMNS: the graded commit, when it arrived and how that is known, the deadline
    applied, the started days late, the penalty (a fraction of the points) and the points before
    and after it. The lateness cells are blank where no policy applies."""
    after = round(term_policy.after_penalty(before, head.late), 2)
    timed = head.terms is not None and head.arrived is not None
    return after, [head.sha, _utc(head.arrived) if timed else "", head.source,
                   _utc(head.terms.deadline) if timed else "", head.late.days if timed else "",
                   round(head.late.fraction, 4) if timed else "", report.number(before), report.number(after)]


def write_report(heads: list[Head], path: Path, org: str, prefix: str, found: Membership | None = None) -> str:
    """The class at a glance, as markdown: each repository, its newest commit and its points;
    then who has no repository and which repositories have no student (`found`), not guessed.
    Names, points and notes (git's and GitHub's errors, a hand-in's note) are shown as text."""
    lines = [f"## Class {student_text.literal(f'{org}/{prefix}*')}", "",
             "| Student | Repository | Commit | State | Points | Note |", "|---|---|---|---|---|---|"]
    for h in heads:
        cells = (h.student, h.repo.full_name, h.sha[:12], h.state, h.points, h.note)
        lines.append("| " + " | ".join(student_text.cell(c) for c in cells) + " |")
    counts = {state: sum(h.state == state for h in heads) for state in dict.fromkeys(h.state for h in heads)}
    lines += ["", ", ".join(f"{n} {state}" for state, n in counts.items()) or "no repositories"]
    lines += _not_graded(found) if found is not None else []
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def _not_graded(found: Membership) -> list[str]:
    """The report's lines for the students without a repository, the repositories without a
    student and the warnings (a roster's bad rows, matching by prefix alone)."""
    lines = []
    if found.missing:
        lines += ["", f"### Students without a repository ({len(found.missing)}): not graded", "",
                  "| Student | Why |", "|---|---|"]
        lines += [f"| {student_text.cell(who)} | {student_text.cell(why)} |" for who, why in found.missing]
    if found.unclaimed:
        lines += ["", f"### Repositories without a student ({len(found.unclaimed)}): not graded", "",
                  ", ".join(student_text.literal(name) for name in found.unclaimed)]
    if found.warnings:
        lines += ["", "### Warnings", ""] + [f"- {student_text.literal(w)}" for w in found.warnings]
    return lines


def post_main(argv: list[str]) -> int:
    """`python -m autograder.course.classroom post --out OUT`: post OUT/plan.jsonl (post_plan)."""
    parser = argparse.ArgumentParser(prog="classroom post", description="Post a grading run's plan (OUT/plan.jsonl).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the grading run's folder")
    parser.add_argument("--api-url", default=os.environ.get("GITHUB_API_URL", "https://api.github.com"))
    args = parser.parse_args(argv)
    token = os.environ.pop(TOKEN_ENV, "")
    if not token:
        print(f"grade-class post: set {TOKEN_ENV} to a token that may write the class's commit statuses",
              file=sys.stderr)
        return 2
    try:
        entries = plan.load(args.out / plan.FILE)
    except plan.PlanError as error:
        print(f"grade-class post: {error}", file=sys.stderr)
        return 2
    client = Github(auth=Auth.Token(token), base_url=args.api_url, lazy=True)
    done = post_plan(client, entries, args.out.resolve())
    for entry in entries:
        print(f"grade-class post: {entry.repo} {entry.sha[:12]} {student_text.line(entry.description)}: "
              f"{student_text.line(done[entry.repo])}")
    print(f"grade-class post: {sum(r == 'posted' for r in done.values())} posted, "
          f"{sum(r == 'posted before' for r in done.values())} posted before, "
          f"{sum(r.startswith('post failed') for r in done.values())} failed (kept in {args.out / plan.FILE})")
    return 1 if any(r.startswith("post failed") for r in done.values()) else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["post"]:
        return post_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", required=True, help="the organisation that holds the class's repositories")
    parser.add_argument("--prefix", default="", help="the repositories' name prefix, e.g. vae-homework- "
                        "(GitHub Classroom's repositories are named PREFIX + login)")
    whom = parser.add_mutually_exclusive_group()
    whom.add_argument("--roster", type=Path, help="GitHub Classroom's roster CSV: the class is PREFIX + each login")
    whom.add_argument("--repos", type=Path, help="the class as an exact list of repository names, one per line")
    parser.add_argument("--dry-run", action="store_true", help="grade and write the plan (OUT/plan.jsonl); post nothing")
    parser.add_argument("--regrade", action="store_true", help="grade the newest commits again; write OUT/regrade.md "
                        "and OUT/regrade.csv (old and new points, the checks changed); post nothing")
    parser.add_argument("--shard", help="K/N: grade only shard K of N (shards.py); post nothing")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="clones, results, gradebook.csv, report.md")
    parser.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: one per core)")
    parser.add_argument("--force", action="store_true", help="grade newest commits again even if graded")
    parser.add_argument("--api-url", default=os.environ.get("GITHUB_API_URL", "https://api.github.com"))
    parser.add_argument("--run-url", default=run_url_from_env(), help="the link posted with each status")
    parser.add_argument("--timeout", type=float, default=JOB_TIMEOUT_S, help="seconds before a grader is stopped")
    parser.add_argument("--policy", type=Path, default=None,
                        help="the term's policy file: deadline, extensions, late policy (autograder/course/policy.py)")
    args = parser.parse_args(argv)
    if not args.prefix and not args.repos:
        parser.error("--prefix is needed (with --roster, or alone); only --repos names the class without it")
    token = os.environ.pop(TOKEN_ENV, "")  # gone before any grader process starts
    if not token:
        print(f"grade-class: set {TOKEN_ENV} to a token that may read the class's repositories and "
              f"write their commit statuses (docs/course.md, section 3)", file=sys.stderr)
        return 2
    client = Github(auth=Auth.Token(token), base_url=args.api_url, lazy=True)  # no GET before each call
    out = args.out.resolve()
    try:
        shard = shards.parse(args.shard) if args.shard else None
        policy = term_policy.load(args.policy) if args.policy else None
        for problem in (policy.problems.values() if policy else ()):
            print(f"grade-class: {problem}: that student is not graded until it is fixed", file=sys.stderr)
        members, found = the_class(client, args.org, args.prefix, args.roster, args.repos, shard)
        for warning in found.warnings:
            print(f"grade-class: {student_text.line(warning)}", file=sys.stderr)
        heads = grade_class(client, args.org, args.prefix, out, token, args.jobs, args.force,
                            args.run_url, args.timeout, policy=policy, members=members, regrading=args.regrade)
    except (PolicyError, roster.RosterError, membership.ListError, shards.ShardError) as error:
        print(f"grade-class: {error}", file=sys.stderr)
        return 2
    except GithubException as error:
        print(f"grade-class: GitHub answered {error.status} for {args.org}: {error.data}", file=sys.stderr)
        return 1
    entries = [h.planned for h in heads if h.planned]
    plan.save(entries, out / plan.FILE)
    held = "dry run" if args.dry_run else "regrade" if args.regrade else "shard" if shard else ""
    done = post_plan(client, entries, out) if not held else {}
    for head in heads:
        result = done.get(head.repo.full_name, "")
        if result.startswith("post failed"):
            head.state, head.note = "post failed", result.removeprefix("post failed: ")
        elif head.planned and held:
            head.note = "; ".join(filter(None, [head.note, f"to post: {held}, not posted (make grade-class-post)"]))
    print(write_report(heads, args.out / "report.md", args.org, args.prefix, found))
    if args.regrade:
        print((out / regrade.MARKDOWN).read_text())
    print(f"grade-class: report {args.out / 'report.md'}; gradebook {args.out / 'gradebook.csv'}; "
          f"{len(entries)} to post in {args.out / plan.FILE}" + (f" (not posted: {held})" if held else ""))
    return 1 if any(h.state in {"fetch failed", "post failed", "grader failed", "policy problem"} for h in heads) else 0


if __name__ == "__main__":
    sys.exit(main())
