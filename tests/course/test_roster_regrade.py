"""`make grade-class` on an exact class (a roster or a list), with a dry run, posting as its own
step, regrades shown before they are posted, and what produced each grade.

The class and GitHub are fakes (tests/classroom_fakes.py): nothing here needs the network.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.course import membership, plan, provenance, regrade, roster, shards
from autograder.course.classroom import main
from autograder.course.grade_all import discover, grade_all, write_gradebook
from autograder.paths import ROOT

from classroom_fakes import (FAKE_GRADER, PREFIX, TOKEN, FakeGitHub,  # noqa: F401
                             fake_grader,  # a fixture
                             git, grade_class, push)

SHA = "a" * 40


def write_roster(path: Path, rows: list[tuple[str, str]]) -> Path:
    """GitHub Classroom's roster CSV with these (identifier, login) rows."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["identifier", "github_username", "github_id", "name"])
        for number, (identifier, login) in enumerate(rows, start=1):
            writer.writerow([identifier, login, str(number) if login else "", ""])
    return path


# --- Which repositories are the class ----------------------------------------------------------------


def test_a_roster_matches_prefix_plus_login_without_case_and_lists_the_rest(tmp_path):
    path = write_roster(tmp_path / "roster.csv", [("a@uni", "Alice"), ("b@uni", "bob"), ("c@uni", ""),
                                                  ("d@uni", "dora")])
    names = ["vae-homework-alice", "VAE-Homework-BOB", "vae-homework", "vae-homework-template",
             "vae-homework-zed", "vae-grader", "lecture-notes"]
    found = membership.by_roster(names, "vae-homework-", roster.read(path))
    assert [(m.repo, m.student, m.identifier) for m in found.members] == \
        [("VAE-Homework-BOB", "bob", "b@uni"), ("vae-homework-alice", "Alice", "a@uni")]
    assert found.unclaimed == ["vae-homework-template", "vae-homework-zed"]
    assert found.others == ["lecture-notes", "vae-grader", "vae-homework"]
    assert found.missing == [("c@uni", membership.UNLINKED),
                             ("d@uni (dora)", "no repository vae-homework-dora in the organisation")]


def test_a_prefix_alone_grades_what_it_did_and_warns():
    found = membership.by_prefix(["vae-homework-alice", "vae-homework-template", "vae-grader"], "vae-homework-")
    assert [m.student for m in found.members] == ["alice", "template"]
    assert found.others == ["vae-grader"] and found.missing == [] and found.unclaimed == []
    assert "--roster" in found.warnings[0] and "template" in found.warnings[0]


def test_a_repository_list_is_exact_and_says_which_names_the_organisation_lacks(tmp_path):
    listed = tmp_path / "repos.txt"
    listed.write_text("# the class\nvae-homework-alice\n\nVAE-homework-bob  # spelt otherwise\nvae-homework-gone\n"
                      "not a name\nvae-homework-alice\n")
    names, problems = membership.read_list(listed)
    assert names == ["vae-homework-alice", "VAE-homework-bob", "vae-homework-gone"]
    assert problems == [f"{listed}:6: 'not a name' is not {membership.REPO_RULE}: line left out",
                        f"{listed}:7: 'vae-homework-alice' is listed already on line 2 (names ignore case): "
                        f"line left out"]
    found = membership.by_list(["vae-homework-alice", "vae-homework-bob", "vae-homework-carl", "vae-grader"],
                               names, "vae-homework-")
    assert [(m.repo, m.student) for m in found.members] == [("vae-homework-alice", "alice"),
                                                             ("vae-homework-bob", "bob")]
    assert found.unclaimed == ["vae-homework-carl"] and found.others == ["vae-grader"]
    assert [who for who, _ in found.missing] == ["vae-homework-gone"]


def test_a_repository_list_that_cannot_be_read_is_one_clear_error(tmp_path):
    with pytest.raises(membership.ListError, match="cannot be read"):
        membership.read_list(tmp_path / "none.txt")
    (tmp_path / "bin.txt").write_bytes(b"vae-\xff\n")
    with pytest.raises(membership.ListError, match="bin.txt: not UTF-8"):
        membership.read_list(tmp_path / "bin.txt")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True),
                                st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)), max_size=12))
def test_each_line_of_a_repository_list_is_a_name_a_comment_or_one_problem_naming_its_line(tmp_path, lines):
    listed = tmp_path / "repos.txt"
    listed.write_text("\n".join(lines), encoding="utf-8")
    names, problems = membership.read_list(listed)
    text = listed.read_bytes().decode("utf-8-sig")  # as written: a lone \r is no line end
    for number, line in enumerate(text.split("\n"), start=1):
        name = line.split("#", 1)[0].strip()
        named = [p for p in problems if p.startswith(f"{listed}:{number}: ")]
        assert len(named) <= 1 and not (named and not name), "a problem for each bad line, and only then"
        if name and not named:
            assert name in names
    assert len(names) == len({n.lower() for n in names}), "each repository once"
    assert len(names) + len(problems) == sum(1 for line in text.split("\n") if line.split("#", 1)[0].strip())


LOGIN = st.from_regex(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,6}", fullmatch=True)
NAME = st.from_regex(r"[A-Za-z0-9._-]{1,14}", fullmatch=True)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(logins=st.lists(LOGIN, max_size=8), linked=st.lists(st.booleans(), min_size=8, max_size=8),
       extra=st.lists(NAME, max_size=8), spelled=st.lists(st.sampled_from(["lower", "upper", "same"]), min_size=8,
                                                          max_size=8),
       having=st.lists(st.booleans(), min_size=8, max_size=8), prefix=st.sampled_from(["vae-homework-", "hw1_", "X"]))
def test_every_repository_is_a_students_or_listed_never_both_and_nothing_is_guessed(
        tmp_path, logins, linked, extra, spelled, having, prefix):
    unique = list({login.lower(): login for login in logins}.values())
    rows = [(f"id{i}", login if linked[i] else "") for i, login in enumerate(unique)]
    path = write_roster(tmp_path / "roster.csv", rows)
    read = roster.read(path)
    spell = {"lower": str.lower, "upper": str.upper, "same": str}
    names = [spell[spelled[i]](prefix + login) for i, (_, login) in enumerate(rows) if login and having[i]]
    names += [name for name in extra if name.lower() not in {n.lower() for n in names}]
    names = list({n.lower(): n for n in names}.values())  # GitHub's names are unique without case
    found = membership.by_roster(names, prefix, read)
    member_repos = [m.repo for m in found.members]
    assert sorted(member_repos + found.unclaimed + found.others) == sorted(names), "each repository once"
    by_login = read.by_login()
    for member in found.members:  # exactly PREFIX + a roster login, without case: nothing guessed
        assert member.repo.lower() == (prefix + member.student).lower()
        assert by_login[member.student.lower()].identifier == member.identifier
    for name in found.unclaimed + found.others:
        assert not (name.lower().startswith(prefix.lower()) and name.lower()[len(prefix):] in by_login)
    assert all(name.lower().startswith(prefix.lower()) for name in found.unclaimed)
    graded = {m.identifier for m in found.members}
    missing = [who for who, _ in found.missing]
    for student in read.students:  # each student has a repository or is listed without one, never both
        listed = [who for who in missing if who == student.identifier or who.startswith(f"{student.identifier} (")]
        assert (student.identifier in graded) != bool(listed)


# --- The plan: what will be posted ------------------------------------------------------------------


def entry(repo: str = "course/vae-homework-alice", **changes) -> plan.Entry:
    fields = {"student": "alice", "sha": SHA, "state": "failure", "description": "Points 15/100",
              "comment": "| table |", "target_url": "", **changes}
    return plan.Entry(repo=repo, **fields)


def test_a_plan_saved_and_loaded_is_the_same_and_shards_merge_by_concatenation(tmp_path):
    one, two = [entry()], [entry("course/vae-homework-bob", student="bob", comment="ü | ✓\n")]
    plan.save(one, tmp_path / "a" / plan.FILE)
    plan.save(two, tmp_path / "b" / plan.FILE)
    assert plan.load(tmp_path / "a" / plan.FILE) == one
    both = tmp_path / "both.jsonl"
    both.write_bytes((tmp_path / "a" / plan.FILE).read_bytes() + (tmp_path / "b" / plan.FILE).read_bytes())
    assert plan.load(both) == one + two == plan.merge(one, two)
    assert plan.load(tmp_path / "none.jsonl") == []


def test_a_repository_planned_twice_differently_is_refused_and_a_bad_line_is_named(tmp_path):
    assert plan.merge([entry()], [entry()]) == [entry()]
    with pytest.raises(plan.PlanError, match="planned twice"):
        plan.merge([entry()], [entry(description="Points 16/100")])
    bad = tmp_path / plan.FILE
    bad.write_text(json.dumps(vars(entry())) + "\n" + json.dumps({**vars(entry()), "state": "queued"}) + "\n")
    with pytest.raises(plan.PlanError, match=r"plan.jsonl:2: state 'queued': expected one of success"):
        plan.load(bad)
    bad.write_text("{not json\n")
    with pytest.raises(plan.PlanError, match=r"plan.jsonl:1: not a plan entry"):
        plan.load(bad)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40), state=st.sampled_from(plan.STATES), sha=st.from_regex(r"[0-9a-f]{40}",
                                                                                        fullmatch=True))
def test_any_comment_and_student_text_survive_the_plan_file(tmp_path, text, state, sha):
    surrogate_free = text.encode("utf-8", "replace").decode("utf-8")
    one = entry(student=surrogate_free, comment=surrogate_free, state=state, sha=sha)
    assert plan.load(plan.save([one], tmp_path / plan.FILE)) == [one]


# --- Regrade diffs and provenance -----------------------------------------------------------------------


def results(**scores: float) -> dict:
    return {"score": sum(scores.values()), "tests": [{"name": n, "score": s, "max_score": 50, "tags": ["kl"]}
                                                      for n, s in scores.items()]}


def test_a_regrade_row_names_each_check_whose_points_changed(tmp_path):
    before = {"results": results(kl=15, elbo=0), "problem": "", "provenance": {"graders": "git:old"}}
    row = regrade.row("alice", "course/r", SHA, before, "Points 15/100", results(kl=10, elbo=0, new=2), "git:new")
    assert (row.old, row.new, row.old_from, row.old_graders) == (15, 12, regrade.FROM_HISTORY, "git:old")
    assert row.changes == ["kl: 15 → 10", "new: - → 2"]
    from_status = regrade.row("bob", "course/s", SHA, None, "Points 7.5/100", results(kl=7.5), "git:new")
    assert (from_status.old, from_status.old_from, from_status.changes) == (7.5, regrade.FROM_STATUS, [])
    nothing = regrade.row("dan", "course/u", SHA, {"results": None, "problem": "no vae.py"}, "", results(kl=1), "")
    assert (nothing.old, nothing.new, nothing.changes) == (0, 1, ["kl: - → 1"])
    never = regrade.row("carl", "course/t", SHA, None, "", None, "git:new")
    assert (never.old, never.new, never.old_from) == (None, None, regrade.NOT_BEFORE)
    text = regrade.write([row, from_status, never], tmp_path)
    assert "1 of 3 grades change" in text
    assert "| `alice` | `course/r` | `aaaaaaaaaaaa` | `15` | `12` | `kl: 15 → 10; new: - → 2` | `kept record` |" in text
    rows = list(csv.DictReader(open(tmp_path / regrade.CSV, encoding="utf-8")))
    assert [(r["student"], r["old_points"], r["new_points"]) for r in rows] == \
        [("alice", "15", "12"), ("bob", "7.5", "7.5"), ("carl", "", "")]


def test_provenance_names_the_graders_commit_or_their_hash_and_the_installed_packages(tmp_path):
    record = provenance.write(tmp_path / "alice", "b" * 40)
    assert provenance.read(tmp_path / "alice") == record
    assert record["graders"].startswith("git:") and record["environment"].startswith("packages:")
    assert any(p.startswith("pytest==") for p in record["packages"])
    assert record["environment"] == provenance.environment_lock(record["packages"]) != provenance.environment_lock([])
    copy = tmp_path / "unpacked"  # not a git checkout: a hash of what the graders are made of
    for folder in provenance.GRADER_FOLDERS:
        (copy / folder).mkdir(parents=True)
        (copy / folder / "a.py").write_text("x = 1\n")
    version = provenance.graders_version(copy)
    assert version.startswith("tree:")
    (copy / "solutions" / "a.py").write_text("x = 2\n")
    changed = provenance.graders_version(copy)
    assert changed != version
    (copy / "solutions" / "__pycache__").mkdir()
    (copy / "solutions" / "__pycache__" / "a.pyc").write_bytes(b"cache")
    assert provenance.graders_version(copy) == changed, "a cache is not the graders"
    git("init", "--quiet", "-b", "main", cwd=copy)  # a checkout: its commit, and whether it was changed since
    git("add", "-A", cwd=copy)
    git("commit", "--quiet", "-m", "graders", cwd=copy)
    sha = git("rev-parse", "HEAD", cwd=copy)
    assert provenance.graders_version(copy) == f"git:{sha}"
    (copy / "autograder" / "a.py").write_text("x = 3\n")
    assert provenance.graders_version(copy) == f"git:{sha}+tree:{provenance.tree_hash(copy)}"


# --- End to end, against the fake GitHub -------------------------------------------------------------


def a_class(tmp_path: Path, scores: dict[str, float]) -> tuple[dict[str, Path], dict[str, str]]:
    """Bare repositories named PREFIX + each student (as spelt), each with one commit; returns
    (name -> bare repository, name -> sha)."""
    bares = {f"{PREFIX}{s}": tmp_path / "class" / f"{s}.git" for s in scores}
    shas = {name: push(bare, {"assignment/vae.py": f"SCORE {scores[s]}\n"}) for (name, bare), s in zip(bares.items(), scores)}
    return bares, shas


def test_a_roster_grades_exactly_its_students_and_lists_who_and_what_is_left(tmp_path, fake_grader, monkeypatch,
                                                                             capsys):
    bares, shas = a_class(tmp_path, {"alice": 15, "BOB": 7.5, "zed": 3, "template": 0})
    bares["vae-grader"] = tmp_path / "class" / "grader.git"
    push(bares["vae-grader"], {"assignment/vae.py": "SCORE 15\n"})
    rows = [("a@uni", "Alice"), ("b@uni", "bob"), ("c@uni", "carl"), ("d@uni", ""), ("e@uni", "not a login!")]
    path = write_roster(tmp_path / "roster.csv", rows)
    with FakeGitHub(bares) as fake:
        assert grade_class(fake, tmp_path / "out", monkeypatch, "--roster", str(path)) == 0
        graded = sorted(Path(call[-1]).parent.name for call in fake_grader())
        posted = {name: [s["description"] for s in fake.posted(name)] for name in bares}
    assert graded == ["Alice", "bob"]
    assert posted == {f"{PREFIX}alice": ["Points 15/100"], f"{PREFIX}BOB": ["Points 7.5/100"], f"{PREFIX}zed": [],
                      f"{PREFIX}template": [], "vae-grader": []}
    out, err = capsys.readouterr()
    report = (tmp_path / "out" / "report.md").read_text()
    for text in (report, out):
        assert "Students without a repository (2): not graded" in text
        assert "| `c@uni (carl)` | `no repository vae-homework-carl in the organisation` |" in text
        assert f"| `d@uni` | `{membership.UNLINKED}` |" in text
        assert f"Repositories without a student (2): not graded\n\n`{PREFIX}template`, `{PREFIX}zed`" in text
    assert f"{path}:6: github_username 'not a login!' of 'e@uni' is not a GitHub login" in err
    book = {row["student"]: row for row in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    assert sorted(book) == ["Alice", "bob"] and book["bob"]["commit"] == shas[f"{PREFIX}BOB"]


def test_a_file_that_is_no_roster_stops_before_anything_is_graded_with_one_clear_line(tmp_path, fake_grader,
                                                                                     monkeypatch, capsys):
    bares, _ = a_class(tmp_path, {"alice": 15})
    (tmp_path / "roster.csv").write_text("name,email\nAlice,a@uni\n")
    with FakeGitHub(bares) as fake:
        assert grade_class(fake, tmp_path / "out", monkeypatch, "--roster", str(tmp_path / "roster.csv")) == 2
        assert not fake_grader() and not fake.posted(f"{PREFIX}alice")
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"grade-class: {tmp_path / 'roster.csv'}:1: column 'identifier' missing in the header")


def test_an_exact_list_grades_only_its_repositories_and_an_unreachable_one_costs_only_itself(
        tmp_path, fake_grader, monkeypatch, capsys):
    bares, _ = a_class(tmp_path, {"alice": 15, "bob": 7.5, "carl": 2})
    bares[f"{PREFIX}gone"] = tmp_path / "class" / "gone.git"  # listed by GitHub, but cannot be cloned
    listed = tmp_path / "repos.txt"
    listed.write_text(f"{PREFIX}alice\n{PREFIX}gone\n{PREFIX}bob\n{PREFIX}nobody\n")
    with FakeGitHub(bares) as fake:
        assert grade_class(fake, tmp_path / "out", monkeypatch, "--repos", str(listed)) == 1
        assert sorted(Path(call[-1]).parent.name for call in fake_grader()) == ["alice", "bob"]
        assert [s["description"] for s in fake.posted(f"{PREFIX}bob")] == ["Points 7.5/100"]
        assert not fake.posted(f"{PREFIX}carl")
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| `gone` | `course/vae-homework-gone` |  | `fetch failed` |" in report
    assert f"| `{PREFIX}nobody` | `no such repository in the organisation" in report
    assert f"Repositories without a student (1): not graded\n\n`{PREFIX}carl`" in report


def test_a_dry_run_only_reads_github_and_posting_is_a_separate_step_that_never_posts_twice(
        tmp_path, fake_grader, monkeypatch, capsys):
    bares, shas = a_class(tmp_path, {"alice": 15, "bob": 100})
    out = tmp_path / "out"
    with FakeGitHub(bares) as fake:
        assert grade_class(fake, out, monkeypatch, "--dry-run") == 0
        assert {method for method, _, _ in fake.requests} == {"GET"} and not fake.comments
        assert not fake.posted(f"{PREFIX}alice") and not fake.posted(f"{PREFIX}bob")
        printed = capsys.readouterr().out
        assert f"| `bob` | `course/{PREFIX}bob` | `{shas[PREFIX + 'bob'][:12]}` | `graded` | `Points 100/100` |" \
            in printed and "not posted (make grade-class-post)" in printed
        planned = plan.load(out / plan.FILE)
        assert [(e.student, e.sha, e.state, e.description) for e in planned] == \
            [("alice", shas[f"{PREFIX}alice"], "failure", "Points 15/100"),
             ("bob", shas[f"{PREFIX}bob"], "success", "Points 100/100")]
        assert "| **Total** | **15/100** |" in planned[0].comment

        monkeypatch.setenv("CLASSROOM_TOKEN", TOKEN)
        assert main(["post", "--out", str(out), "--api-url", fake.url]) == 0
        assert [s["description"] for s in fake.posted(f"{PREFIX}bob")] == ["Points 100/100"]
        assert len(fake.comments) == 2 and not fake.unexpected
        assert plan.load(out / plan.FILE) == [], "the plan keeps only what failed to post"

        (out / plan.FILE).write_text("".join(json.dumps(vars(e)) + "\n" for e in planned))  # posted again by hand
        monkeypatch.setenv("CLASSROOM_TOKEN", TOKEN)
        assert main(["post", "--out", str(out), "--api-url", fake.url]) == 0
        assert "2 posted before" in capsys.readouterr().out
        assert grade_class(fake, out, monkeypatch) == 0, "and the next scheduled run finds it all posted"
        assert sum(len(fake.posted(name)) for name in bares) == 2 and len(fake.comments) == 2
        assert len(fake_grader()) == 2, "the dry run's grading was kept: nothing graded twice"


def test_a_regrade_shows_old_and_new_points_per_check_and_posts_only_when_told(tmp_path, fake_grader, monkeypatch):
    bares, shas = a_class(tmp_path, {"alice": 15, "bob": 7.5})
    out = tmp_path / "out"
    with FakeGitHub(bares) as fake:
        assert grade_class(fake, out, monkeypatch) == 0
        first = provenance.read(out / "results" / "bob")
        assert first["commit"] == shas[f"{PREFIX}bob"] and first["graders"] == provenance.current()["graders"]
        book = {row["student"]: row for row in csv.DictReader(open(out / "gradebook.csv"))}
        assert book["bob"]["graders"] == first["graders"] and book["bob"]["environment"] == first["environment"]
        script = tmp_path / "fake" / "grade.py"  # the graders change: one more point on kl, up to its 15
        script.write_text(FAKE_GRADER.replace('if "SCORE" in words else 0.0',
                                              'if "SCORE" in words else 0.0\nscore = min(score + 1, 15)'))
        assert grade_class(fake, out, monkeypatch, "--regrade") == 0
        assert len(fake_grader()) == 4 and sum(len(fake.posted(name)) for name in bares) == 2, "nothing posted"
        rows = {row["student"]: row for row in csv.DictReader(open(out / regrade.CSV, encoding="utf-8"))}
        assert (rows["bob"]["old_points"], rows["bob"]["new_points"], rows["bob"]["changed_checks"]) == \
            ("7.5", "8.5", "kl: 7.5 → 8.5")
        assert (rows["alice"]["old_points"], rows["alice"]["new_points"], rows["alice"]["changed_checks"]) == \
            ("15", "15", "")
        assert rows["bob"]["old_from"] == regrade.FROM_HISTORY and rows["bob"]["sha"] == shas[f"{PREFIX}bob"]
        assert "1 of 2 grades change" in (out / regrade.MARKDOWN).read_text()
        assert [e.student for e in plan.load(out / plan.FILE)] == ["bob"], "only the changed grade is to post"

        monkeypatch.setenv("CLASSROOM_TOKEN", TOKEN)
        assert main(["post", "--out", str(out), "--api-url", fake.url]) == 0
        assert [s["description"] for s in fake.posted(f"{PREFIX}bob")] == ["Points 7.5/100", "Points 8.5/100"]
        assert [s["description"] for s in fake.posted(f"{PREFIX}alice")] == ["Points 15/100"]
        assert grade_class(fake, out, monkeypatch) == 0 and len(fake_grader()) == 4
        assert sum(len(fake.posted(name)) for name in bares) == 3


def test_shards_grade_disjoint_parts_post_nothing_and_their_plans_merge_into_the_class(tmp_path, fake_grader,
                                                                                        monkeypatch):
    students = {f"s{i}": i for i in range(6)}
    bares, _ = a_class(tmp_path, students)
    with FakeGitHub(bares) as fake:
        for k in (1, 2):
            assert grade_class(fake, tmp_path / f"shard{k}", monkeypatch, "--shard", f"{k}/2") == 0
        assert {method for method, _, _ in fake.requests} == {"GET"}
        one, two = (plan.load(tmp_path / f"shard{k}" / plan.FILE) for k in (1, 2))
    assert sorted(e.student for e in plan.merge(one, two)) == sorted(students) and one and two
    assert sorted(e.repo.split("/")[1] for e in one) == sorted(shards.select(list(bares), 1, 2))


# --- make and the grader repository's workflow -------------------------------------------------------


def make_argv(tmp_path: Path, *args: str) -> list[str]:
    """The arguments `make ARGS` gives the instructor command (PY is an echo)."""
    echo = tmp_path / "echo.py"
    echo.write_text("import json, sys; print(json.dumps(sys.argv[1:]))\n")
    run = subprocess.run(["make", "-s", "-C", str(ROOT), *args, f"PY={sys.executable} {echo}"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_make_passes_the_roster_the_list_the_dry_run_and_has_a_regrade_and_a_post_target(tmp_path):
    argv = make_argv(tmp_path, "grade-class", "ORG=course", "PREFIX=hw-", "ROSTER=my roster.csv", "DRY_RUN=1")
    assert "--roster=my roster.csv" in argv and "--dry-run" in argv and "--regrade" not in argv
    argv = make_argv(tmp_path, "grade-class", "ORG=course", "REPOS=list.txt")
    assert "--repos=list.txt" in argv and "--prefix=" in argv and "--dry-run" not in argv
    assert "--regrade" in make_argv(tmp_path, "grade-class-regrade", "ORG=course", "PREFIX=hw-")
    assert make_argv(tmp_path, "grade-class-post", "OUT=o")[2:] == ["post", "--out=o"]


def test_the_grader_repositorys_workflow_passes_a_configured_roster_and_keeps_the_plan():
    flow = yaml.safe_load((ROOT / "autograder" / "course" / "instructor_files" / "grade-class.yml").read_text())
    steps = flow["jobs"]["grade"]["steps"]
    grade = next(s for s in steps if "make -C /opt/grader grade-class" in s.get("run", ""))
    assert grade["env"]["ROSTER"] == "${{ vars.CLASSROOM_ROSTER }}" and 'ROSTER="$ROSTER"' in grade["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert "plan.jsonl" in upload["with"]["path"] and "posted.jsonl" in upload["with"]["path"]


def test_grading_a_local_class_folder_records_what_produced_each_grade(tmp_path, fake_grader):
    for student, score in (("alice", 15), ("bob", 7.5)):
        (tmp_path / "in" / student).mkdir(parents=True)
        (tmp_path / "in" / student / "vae.py").write_text(f"SCORE {score}\n")
    out = tmp_path / "out"
    write_gradebook(grade_all(discover(tmp_path / "in"), out, jobs=2), out / "gradebook.csv")
    again = grade_all(discover(tmp_path / "in"), out, jobs=2)  # graded before: the record is read back
    assert [o.status for o in again] == ["skipped", "skipped"]
    write_gradebook(again, out / "gradebook.csv")
    book = {row["student"]: row for row in csv.DictReader(open(out / "gradebook.csv"))}
    now = provenance.current()
    for student in ("alice", "bob"):
        assert (book[student]["graders"], book[student]["environment"]) == (now["graders"], now["environment"])
        assert provenance.read(out / student)["commit"] == "", "a folder has no commit"
