"""The class as tests see it: local bare git repositories, a fake GitHub API on 127.0.0.1 that
serves the endpoints the class commands use and records what was posted, and a fake grader. For
tests/course/test_classroom.py and every other test of the class commands: nothing here needs the
network.
"""
from __future__ import annotations

import csv
import functools
import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from github import Github

import autograder.course.classroom as classroom_module
import autograder.course.grade_all as grade_all_module
from autograder.course.classroom import main

ORG, PREFIX, TOKEN = "course", "vae-homework-", "test-token-123"
RUN_URL = "https://github.com/course/vae-grader/actions/runs/7"

# Stands in for `python -m autograder.grading.grade`: the graded file says `SCORE n` (n of
# 100 points), or holds no such word (0 points). Each call appends "file token-seen results" to calls.log.
FAKE_GRADER = '''\
import json, os, sys
from pathlib import Path
handin, results = Path(sys.argv[1]), Path(sys.argv[2])  # the student's folder, as handed in
with open(Path(__file__).with_name("calls.log"), "a") as log:
    log.write(f"{handin} {'CLASSROOM_TOKEN' in os.environ} {results}\\n")
found = sorted(handin.rglob("vae.py"))
words = found[0].read_text().split() if found else []
score = float(words[words.index("SCORE") + 1]) if "SCORE" in words else 0.0
results.write_text(json.dumps({"score": score, "tests": [
    {"name": "kl", "score": score, "max_score": 15, "tags": ["kl"], "output": "the KL term"},
    {"name": "the rest", "score": 0, "max_score": 85, "tags": ["elbo"]}]}))
'''


# --- A fake GitHub ------------------------------------------------------------------------------


class FakeGitHub:
    """The REST endpoints the command uses, over local bare repositories; records every request."""

    def __init__(self, repos: dict[str, Path], archived: frozenset[str] = frozenset()):
        self.repos, self.archived = repos, archived
        self.statuses: dict[tuple[str, str], list[dict]] = {}  # newest first, as GitHub lists them
        self.comments: list[dict] = []
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Authorization)
        self.unexpected: list[str] = []
        # GitHub's record of pushes ("List repository activities"), newest first: record_push()
        self.activity: dict[str, list[dict]] = {}
        self.activity_down = False  # True: the endpoint answers 403, as for a token without access
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def repo_json(self, name: str) -> dict:
        return {"id": abs(hash(name)) % 10**6, "name": name, "full_name": f"{ORG}/{name}", "private": True,
                "url": f"{self.url}/repos/{ORG}/{name}", "clone_url": str(self.repos[name]),
                "default_branch": "main", "archived": name in self.archived}

    def posted(self, name: str) -> list[dict]:
        """The statuses posted to repository `name`, oldest first."""
        return [s for (repo, _), found in self.statuses.items() if repo == name for s in reversed(found)]

    def record_push(self, name: str, sha: str, when: datetime, ref: str = "refs/heads/main",
                    activity_type: str = "push") -> None:
        """Record that `sha` was pushed to `ref` of repository `name` at `when` (GitHub's clock)."""
        before = self.activity.get(name, [{}])[0].get("after", "0" * 40)
        self.activity.setdefault(name, []).insert(0, {
            "id": sum(map(len, self.activity.values())) + 1, "node_id": "RA_x", "before": before, "after": sha,
            "ref": ref, "timestamp": when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "activity_type": activity_type, "actor": {"login": "student"}})

    @staticmethod
    def login(auth: str) -> str:
        """Who a token belongs to: the instructor's token, or a student's."""
        return "instructor" if auth.endswith(TOKEN) else "student"

    def answer(self, method: str, path: str, body: dict, auth: str) -> tuple[int, object]:
        parts = path.split("?")[0].strip("/").split("/")
        if method == "GET" and parts == ["orgs", ORG, "repos"]:
            return 200, [self.repo_json(name) for name in self.repos]
        if method == "GET" and parts == ["user"]:
            return 200, {"login": self.login(auth), "id": 1}
        if method == "GET" and len(parts) == 4 and parts[:2] == ["repos", ORG] and parts[3] == "activity":
            if self.activity_down:
                return 403, {"message": "Resource not accessible by personal access token"}
            return 200, self.activity.get(parts[2], [])
        if method == "GET" and len(parts) == 5 and parts[:2] == ["repos", ORG] and parts[3] == "statuses":
            return 200, self.statuses.get((parts[2], parts[4]), [])
        if method == "POST" and len(parts) == 5 and parts[:2] == ["repos", ORG] and parts[3] == "statuses":
            status = {"id": len(self.statuses) + 1, "sha": parts[4], "creator": {"login": self.login(auth)}, **body}
            self.statuses.setdefault((parts[2], parts[4]), []).insert(0, status)
            return 201, status
        if method == "POST" and len(parts) == 6 and parts[:2] == ["repos", ORG] and parts[5] == "comments":
            comment = {"id": len(self.comments) + 1, "repo": parts[2], "commit_id": parts[4],
                       "user": {"login": self.login(auth)}, **body}
            self.comments.append(comment)
            return 201, comment
        if method == "GET" and len(parts) == 6 and parts[:2] == ["repos", ORG] and parts[5] == "comments":
            return 200, [c for c in self.comments if (c["repo"], c["commit_id"]) == (parts[2], parts[4])]
        self.unexpected.append(f"{method} {path}")
        return 404, {"message": "Not Found"}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                auth = self.headers.get("Authorization", "")
                fake.requests.append((method, self.path, auth))
                code, data = fake.answer(method, self.path, body, auth)
                payload = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._reply("GET")

            def do_POST(self) -> None:
                self._reply("POST")

            def log_message(self, *args) -> None:
                pass

        return Handler

    def __enter__(self) -> FakeGitHub:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- A class of local repositories ------------------------------------------------------------------


GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Student", "GIT_AUTHOR_EMAIL": "s@example.org",
                "GIT_COMMITTER_NAME": "Student", "GIT_COMMITTER_EMAIL": "s@example.org"}


def git(*args: str, cwd: Path | None = None, dated: str | None = None) -> str:
    """git as the student; `dated` (ISO time): the commit's author and committer dates, back-dated."""
    dates = {"GIT_AUTHOR_DATE": dated, "GIT_COMMITTER_DATE": dated} if dated else {}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_IDENTITY, **dates}).stdout.strip()


def push(bare: Path, files: dict[str, str], links: dict[str, str] | None = None, dated: str | None = None) -> str:
    """Commit `files` (path -> text) to `bare`'s main branch, as a student's push; returns the sha.
    `dated`: the commit says it was made then (the student's clock); GitHub's record is record_push's."""
    work = bare.with_suffix(".work")
    if not bare.exists():
        git("init", "--quiet", "--bare", "-b", "main", str(bare))
        git("init", "--quiet", "-b", "main", str(work))
        git("remote", "add", "origin", str(bare), cwd=work)
    for path, text in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    for path, target in (links or {}).items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).symlink_to(target)
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "--allow-empty", "-m", "work", cwd=work, dated=dated)
    git("push", "--quiet", "origin", "main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@pytest.fixture
def fake_grader(tmp_path, monkeypatch):
    """Replace the grader's command in grade_all by FAKE_GRADER; returns a reader of its calls."""
    script = tmp_path / "fake" / "grade.py"
    script.parent.mkdir()
    script.write_text(FAKE_GRADER)

    def command(folder: Path, results: Path, uid: int | None, threads: int | None = None) -> list[str]:
        return [sys.executable, str(script), str(folder), str(results)]

    monkeypatch.setattr(grade_all_module, "grade_command", command)

    def calls() -> list[list[str]]:
        log = script.with_name("calls.log")
        return [line.split() for line in log.read_text().splitlines()] if log.exists() else []

    return calls


def grade_class(fake: FakeGitHub, out: Path, monkeypatch, *extra: str) -> int:
    """One run of the instructor command, as the workflow runs it (token in the environment).
    PyGithub's pause between requests (0.25 s, 1 s between writes: politeness towards GitHub's
    rate limits) is left out against the local fake: it made each run seconds long."""
    monkeypatch.setenv("CLASSROOM_TOKEN", TOKEN)
    monkeypatch.setattr(classroom_module, "Github",
                        functools.partial(Github, seconds_between_requests=0, seconds_between_writes=0))
    return main(["--org", ORG, "--prefix", PREFIX, "--out", str(out), "--api-url", fake.url,
                 "--run-url", RUN_URL, "--jobs", "2", *extra])


# --- A class that pushes at chosen times (deadlines: tests/course/test_deadlines.py, test_deadline_visibility.py) ---

UTC = timezone.utc
DEADLINE = datetime(2026, 12, 20, 22, 59, tzinfo=UTC)  # 23:59 in the policy's +01:00


def policy_file(folder: Path, deadline: str = "2026-12-20T23:59:00+01:00", late: bool = True,
                extensions: str = "") -> Path:
    """A policy file: a tenth per started day late, last day three days after the deadline."""
    path = folder / "policy.toml"
    text = f"deadline = {deadline}\n"
    if late:
        text += "[late]\npenalty_per_day = 0.1\nlast_day = 2026-12-23T23:59:00+01:00\n"
    path.write_text(text + (f"[extensions]\n{extensions}\n" if extensions else ""))
    return path


class Class:
    """Students' repositories whose pushes GitHub records at chosen times, and the run's clock."""

    def __init__(self, tmp_path: Path, monkeypatch, students: tuple[str, ...]):
        self.bares = {f"{PREFIX}{s}": tmp_path / "class" / f"{s}.git" for s in students}
        self.out, self.monkeypatch = tmp_path / "out", monkeypatch
        self.fake = FakeGitHub(self.bares)

    def push(self, student: str, score: float | None, at: datetime, dated: str | None = None) -> str:
        """`student` pushes a vae.py worth `score` (None: a commit without vae.py); GitHub records
        the push at `at`."""
        files = {"assignment/vae.py": f"SCORE {score}\n"} if score is not None else {"notes.md": f"{at}\n"}
        sha = push(self.bares[f"{PREFIX}{student}"], files, dated=dated)
        self.fake.record_push(f"{PREFIX}{student}", sha, at)
        return sha

    def run(self, at: datetime, *extra: str) -> int:
        self.monkeypatch.setattr(classroom_module, "now", lambda: at)
        return grade_class(self.fake, self.out, self.monkeypatch, *extra)

    def statuses(self, student: str) -> list[tuple[str, str, str]]:
        """(sha, state, description) of each status posted, oldest first."""
        return [(s["sha"], s["state"], s["description"]) for s in self.fake.posted(f"{PREFIX}{student}")]

    def comments(self, student: str) -> list[str]:
        return [c["body"] for c in self.fake.comments if c["repo"] == f"{PREFIX}{student}"]

    def gradebook(self) -> dict[str, dict[str, str]]:
        with open(self.out / "gradebook.csv", newline="") as f:
            return {row["student"]: row for row in csv.DictReader(f)}

    def report(self) -> str:
        return (self.out / "report.md").read_text()

    def __enter__(self) -> Class:
        self.fake.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.fake.__exit__(*exc)
