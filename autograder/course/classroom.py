"""`make grade-class ORG=... PREFIX=...`: grade every student repository's newest commit, on the
instructor's side, and post the grade on the commit.

    CLASSROOM_TOKEN=... python -m autograder.course.classroom --org ORG --prefix PREFIX
        [--out build/grade-class] [--jobs N] [--force] [--api-url URL] [--run-url URL]

1. Lists the repositories of ORG whose name starts with PREFIX (GitHub Classroom names them
   `<assignment>-<username>`; the rest of the name is the student).
2. Clones each one (bare, into OUT/repos/) or fetches it, and takes the newest commit of its
   default branch. A commit that already carries a final `autograder` status (success or
   failure) posted by this token's user was graded: it is skipped unless `--force`. An
   `error` status (the grader itself failed) is retried; a status posted by anyone else (a
   student may post one) is ignored.
3. Writes the files of just those commits to OUT/batch/<student>/ (regular files only: a
   symlink could point the grader at a file outside the submission) and grades them with
   grade_all.grade_all (parallel, the same sandbox; resumable: a commit graded by a run that
   stopped before posting is not graded twice on the same machine). Results in OUT/results/.
4. Posts on each graded commit a commit status (context `autograder`, description
   `Points X/Y`, a link to the run) and a commit comment with the per-check table. A check run
   would show the table better, but only a GitHub App may create check runs; a token may not.
5. Writes OUT/gradebook.csv (this run's grades, one column per rubric tag) and OUT/report.md
   (the whole class: each repository, its newest commit, its points).

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
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from github import Auth, Github, GithubException

from autograder import config
from autograder.cleanup import remove_tree
from autograder.course import report
from autograder.course.grade_all import JOB_TIMEOUT_S, Command, Outcome, discover, grade_all, write_gradebook
from autograder.grading import student_text
from autograder.paths import BUILD

CONTEXT = "autograder"  # the commit status's name; the student workflow looks for it
TOKEN_ENV = "CLASSROOM_TOKEN"
DEFAULT_OUT = BUILD / "grade-class"
GRADED_STATES = {"success", "failure"}  # an `error` status means "not graded yet": retried
DESCRIPTION_CHARS = 140  # GitHub's limit on a status description
MAXIMUM = sum(points for points, _ in config.RUBRIC.values())


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


# --- The class and its commits ----------------------------------------------------------------


def student_name(repo_name: str, prefix: str) -> str:
    """`vae-homework-alice` with prefix `vae-homework-` -> `alice`."""
    return repo_name[len(prefix):].strip("-_") or repo_name


def class_repositories(client: Any, org: str, prefix: str) -> list[Any]:
    """The organisation's repositories named PREFIX..., archived ones left out, by name."""
    repos = [r for r in client.get_organization(org).get_repos(type="all")
             if r.name.startswith(prefix) and not r.archived]
    return sorted(repos, key=lambda r: r.name)


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


def posted_status(repo: Any, sha: str, login: str) -> Any | None:
    """The newest `autograder` status that `login` (this token's user) posted on a commit, or
    None. Anyone who may push may post a status too: one posted by a student is not a grade."""
    return next((s for s in repo.get_commit(sha).get_statuses()  # the newest first
                 if s.context == CONTEXT and s.creator is not None and s.creator.login == login), None)


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


# --- What is posted ---------------------------------------------------------------------------------


def verdict(outcome: Outcome, problem: str) -> tuple[str, str]:
    """(status state, description): full marks succeed, fewer points fail, no grade is an error.

    `problem` is why the submission had nothing to grade (no vae.py): a grade of 0 the student
    can act on. Any other failure is the grader's, told to the instructor in report.md. GitHub
    shows the description as plain text: one line, at most DESCRIPTION_CHARS characters.
    """
    if outcome.results is not None:
        score, maximum = report.points(outcome.results)
        return ("success" if score >= maximum else "failure"), report.points_line(outcome.results)
    if problem:
        return "failure", student_text.line(f"Points 0/{report.number(MAXIMUM)}: {problem}", DESCRIPTION_CHARS)
    return "error", "Not graded yet: the grader failed on this commit; it will try again"


def comment(outcome: Outcome, sha: str) -> str:
    """The commit comment: the per-check table (hidden checks' feedback held back)."""
    return (report.markdown(outcome.results) + f"\nGraded commit `{sha[:12]}` with the course's hidden graders. "
            f"This is the grade of record for this commit.\n")


def post(head: Head, outcome: Outcome, problem: str, run_url: str | None) -> str:
    """Post the status (and, when graded, the table); returns the points line or the error."""
    state, description = verdict(outcome, problem)
    commit = head.repo.get_commit(head.sha)
    extra = {"target_url": run_url} if run_url else {}
    commit.create_status(state=state, description=description, context=CONTEXT, **extra)
    if outcome.results is not None:
        commit.create_comment(comment(outcome, head.sha))
    return description


# --- One run ------------------------------------------------------------------------------------


def run_url_from_env() -> str | None:
    """The link to this GitHub Actions run, when running in one."""
    server, repository, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repository}/actions/runs/{run}" if server and repository and run else None


def grade_class(client: Any, org: str, prefix: str, out: Path, token: str | None = None,
                jobs: int | None = None, force: bool = False, run_url: str | None = None,
                timeout: float = JOB_TIMEOUT_S, command: Command | None = None) -> list[Head]:
    """List, fetch, grade what is new, post; returns one Head per repository."""
    env = git_env(token)
    login = client.get_user().login
    heads = []
    for repo in class_repositories(client, org, prefix):
        head = Head(student_name(repo.name, prefix), repo)
        heads.append(head)
        try:
            head.sha = fetch(repo.clone_url, repo.default_branch, out / "repos" / f"{repo.name}.git", env)
            status = None if force or not head.sha else posted_status(repo, head.sha, login)
        except (ClassroomError, GithubException) as error:
            head.state, head.note = "fetch failed", str(error)
            continue
        if not head.sha:
            head.state = "no commits"
            continue
        if status is not None and status.state in GRADED_STATES:
            head.state, head.points = "graded before", status.description
            continue
        head.state = "new"
        export(out / "repos" / f"{repo.name}.git", head.sha, out / "batch" / head.student)
    new = {h.student: h for h in heads if h.state == "new"}
    submissions = [s for s in discover(out / "batch") if s.student in new] if new else []
    outcomes = grade_all(submissions, out / "results", jobs, force, timeout, command) if new else []
    write_gradebook(outcomes, out / "gradebook.csv")
    for outcome in outcomes:  # a hand-in that cannot be read is graded: 0 with the reason, not retried
        head = new[outcome.student]
        head.state = "graded" if outcome.results is not None or outcome.problem else "grader failed"
        head.note = outcome.error
        try:
            head.points = post(head, outcome, outcome.problem, run_url)
        except GithubException as error:  # one repository's failure must not stop the others
            head.state, head.note = "post failed", f"{type(error).__name__}: {error}"
    return heads


def write_report(heads: list[Head], path: Path, org: str, prefix: str) -> str:
    """The class at a glance, as markdown: each repository, its newest commit and its points.
    Names, points and notes (git's and GitHub's errors, a hand-in's note) are shown as text."""
    lines = [f"## Class {student_text.literal(f'{org}/{prefix}*')}", "",
             "| Student | Repository | Commit | State | Points | Note |", "|---|---|---|---|---|---|"]
    for h in heads:
        cells = (h.student, h.repo.full_name, h.sha[:12], h.state, h.points, h.note)
        lines.append("| " + " | ".join(student_text.cell(c) for c in cells) + " |")
    counts = {state: sum(h.state == state for h in heads) for state in dict.fromkeys(h.state for h in heads)}
    lines += ["", ", ".join(f"{n} {state}" for state, n in counts.items()) or "no repositories"]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", required=True, help="the organisation that holds the class's repositories")
    parser.add_argument("--prefix", required=True, help="the repositories' name prefix, e.g. vae-homework-")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="clones, results, gradebook.csv, report.md")
    parser.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: one per core)")
    parser.add_argument("--force", action="store_true", help="grade newest commits again even if graded")
    parser.add_argument("--api-url", default=os.environ.get("GITHUB_API_URL", "https://api.github.com"))
    parser.add_argument("--run-url", default=run_url_from_env(), help="the link posted with each status")
    parser.add_argument("--timeout", type=float, default=JOB_TIMEOUT_S, help="seconds before a grader is stopped")
    args = parser.parse_args(argv)
    token = os.environ.pop(TOKEN_ENV, "")  # gone before any grader process starts
    if not token:
        print(f"grade-class: set {TOKEN_ENV} to a token that may read the class's repositories and "
              f"write their commit statuses (docs/course.md, section 3)", file=sys.stderr)
        return 2
    client = Github(auth=Auth.Token(token), base_url=args.api_url, lazy=True)  # no GET before each call
    try:
        heads = grade_class(client, args.org, args.prefix, args.out.resolve(), token, args.jobs, args.force,
                            args.run_url, args.timeout)
    except GithubException as error:
        print(f"grade-class: GitHub answered {error.status} for {args.org}: {error.data}", file=sys.stderr)
        return 1
    print(write_report(heads, args.out / "report.md", args.org, args.prefix))
    print(f"grade-class: report {args.out / 'report.md'}; gradebook {args.out / 'gradebook.csv'}")
    return 1 if any(h.state in {"fetch failed", "post failed", "grader failed"} for h in heads) else 0


if __name__ == "__main__":
    sys.exit(main())
