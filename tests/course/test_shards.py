"""A class graded in shards (autograder/course/shards.py): which shard grades whom, merging the
shards' OUT folders, and the sharded workflow. The class and GitHub are fakes
(tests/classroom_fakes.py) and the grader is the fake grader: nothing here needs the network.
"""
from __future__ import annotations

import csv
import json
import shutil
import string
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from unittest import mock

import pytest
import yaml
from github import Github
from hypothesis import HealthCheck, given, settings, strategies as st

from autograder.course import classroom, plan, policy, shards
from autograder.course.classroom import RECORDS, main as classroom_main
from autograder.course.grade_all import Outcome, write_gradebook
from autograder.evidence import shard_bench
from autograder.paths import ROOT

from classroom_fakes import (ORG, PREFIX, TOKEN, FakeGitHub,  # noqa: F401
                             fake_grader,  # a fixture
                             grade_class, push)

# GitHub's repository names: ASCII letters, digits, `.`, `-` and `_`.
NAMES = st.text(string.ascii_letters + string.digits + ".-_", min_size=1, max_size=30)
CLASSES = st.lists(NAMES, max_size=60, unique_by=str.lower)
COUNTS = st.integers(min_value=1, max_value=40)


# --- Which shard grades whom ---------------------------------------------------------------------


@given(CLASSES, COUNTS)
def test_every_repository_is_in_exactly_one_shard_in_its_given_order(names, n):
    parts = [shards.select(names, k, n) for k in range(1, n + 1)]
    assert sorted(name for part in parts for name in part) == sorted(names)
    for part in parts:
        assert part == [name for name in names if name in part], "each shard keeps the class's order"


@given(CLASSES, CLASSES, COUNTS, st.randoms())
def test_a_repository_keeps_its_shard_when_others_join_or_leave(names, others, n, random):
    """Not its place in a sorted list: a student joining late moves nobody else's grading."""
    grown = names + [o for o in others if o.lower() not in {name.lower() for name in names}]
    random.shuffle(grown)
    for k in range(1, n + 1):
        assert set(shards.select(names, k, n)) == set(shards.select(grown, k, n)) & set(names)


@given(NAMES, COUNTS)
def test_the_shard_ignores_case_as_github_does(name, n):
    assert shards.shard_of(name.upper(), n) == shards.shard_of(name.lower(), n)


def test_shards_share_a_class_out_fairly():
    names = [f"vae-homework-student{i}" for i in range(3000)]
    sizes = [len(shards.select(names, k, 8)) for k in range(1, 9)]
    assert max(sizes) < 1.15 * 3000 / 8 and min(sizes) > 0.85 * 3000 / 8, sizes


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_parse_reads_k_of_n_and_refuses_k_outside_one_to_n(k, n):
    if k <= n:
        assert shards.parse(f"{k}/{n}") == (k, n) == shards.parse(f" {k} / {n} ")
    else:
        with pytest.raises(shards.ShardError, match="1 <= K <= N"):
            shards.parse(f"{k}/{n}")


@given(st.text(max_size=12))
def test_parse_gives_a_pair_or_says_what_was_expected(text):
    try:
        k, n = shards.parse(text)
    except shards.ShardError as error:
        assert "expected K/N" in str(error) and "\n" not in str(error)
    else:
        assert 1 <= k <= n


@pytest.mark.parametrize("text", ["0/4", "5/4", "3", "3/", "/4", "-1/4", "1/0", "a/b", "1/4/2", "١/٤", "1.0/4"])
def test_parse_refuses_what_is_not_k_of_n(text):
    with pytest.raises(shards.ShardError, match=r"expected K/N"):
        shards.parse(text)


@pytest.mark.parametrize("k,n", [(0, 3), (4, 3), (1, 0), (-1, 2)])
def test_select_refuses_a_shard_outside_the_count(k, n):
    with pytest.raises(shards.ShardError):
        shards.select(["a", "b"], k, n)


# --- Merging the shards' OUT folders --------------------------------------------------------------


def outcome(student: str, score: float | None) -> Outcome:
    """One row of a gradebook: graded (score under the `kl` tag) or failed (no results)."""
    if score is None:
        return Outcome(student, "failed", error="the grader failed with exit status 3: boom")
    results = {"score": score, "tests": [{"name": "kl", "score": score, "max_score": 15, "tags": ["kl"]},
                                         {"name": "the rest", "score": 0, "max_score": 85, "tags": ["elbo"]}]}
    return Outcome(student, "graded", results)


def write_shard(folder: Path, outcomes: list[Outcome]) -> None:
    """A shard's OUT as classroom.py leaves it: results/<student>/, gradebook.csv, report.md."""
    for o in outcomes:
        (folder / "results" / o.student).mkdir(parents=True)
        (folder / "results" / o.student / "results.json").write_text(json.dumps(o.results) if o.results else "")
    folder.mkdir(parents=True, exist_ok=True)
    write_gradebook(outcomes, folder / "gradebook.csv")
    (folder / "report.md").write_text(f"## Class\n\n{len(outcomes)} graded\n")


STUDENTS = st.dictionaries(st.text(string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=12),
                           st.one_of(st.none(), st.integers(0, 15).map(float)), max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STUDENTS, st.integers(min_value=1, max_value=6))
def test_the_shards_gradebooks_merged_are_the_one_machine_gradebook(students, n):
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(shards.class_report, "write_report"):
        tmp = Path(tmp)
        everyone = sorted((outcome(s, score) for s, score in students.items()), key=lambda o: o.student)
        write_gradebook(everyone, tmp / "one-machine.csv")
        outs = [tmp / f"shard-{k}" for k in range(1, n + 1)]
        for k, folder in enumerate(outs, start=1):
            mine = set(shards.select(list(students), k, n))
            write_shard(folder, [o for o in everyone if o.student in mine])
        merged = shards.merge(outs, tmp / "out")
        assert merged.ok and merged.students == sorted(students)
        assert (tmp / "out" / "gradebook.csv").read_bytes() == (tmp / "one-machine.csv").read_bytes()
        assert sorted(p.name for p in (tmp / "out" / "results").iterdir() if p.is_dir()) == sorted(students)


def test_a_student_in_two_shards_is_refused_and_the_rest_merged(tmp_path):
    write_shard(tmp_path / "s1", [outcome("ann", 15), outcome("bob", 3)])
    write_shard(tmp_path / "s2", [outcome("bob", 7), outcome("cat", 9)])
    merged = shards.merge([tmp_path / "s1", tmp_path / "s2"], tmp_path / "out")
    assert not merged.ok and merged.duplicates == ["bob"] and merged.students == ["ann", "cat"]
    assert any("bob is in shards 1, 2 of 2" in p for p in merged.problems)
    with open(tmp_path / "out" / "gradebook.csv") as f:
        assert [row["student"] for row in csv.DictReader(f)] == ["ann", "cat"]
    assert not (tmp_path / "out" / "results" / "bob").exists()
    assert "bob is in shards 1, 2" in (tmp_path / "out" / "report.md").read_text()


def test_a_repository_planned_by_two_shards_is_refused_whatever_its_students_name(tmp_path):
    """Two shards run with different settings (a roster, a prefix) may name one repository's
    student differently: the repository is still graded twice, and neither post is merged."""
    sha = "a" * 40
    for k, student in ((1, "Bob"), (2, "bob")):
        write_shard(tmp_path / f"s{k}", [outcome(student, 3.0 * k)])
        plan.save([plan.Entry(f"{ORG}/{PREFIX}bob", student, sha, "failure", f"Points {3 * k}/100")],
                  tmp_path / f"s{k}" / plan.FILE)
    write_shard(tmp_path / "s3", [outcome("cat", 1.0)])
    merged = shards.merge([tmp_path / f"s{k}" for k in (1, 2, 3)], tmp_path / "out")
    assert merged.duplicates == ["Bob", "bob"] and merged.students == ["cat"] and not merged.ok
    assert plan.load(tmp_path / "out" / plan.FILE) == []


def test_a_missing_shard_is_reported_with_its_students_and_the_others_merged(tmp_path):
    names = [f"s{i}" for i in range(12)]
    outs = [tmp_path / f"shard-{k}" for k in (1, 2, 3)]
    for k in (1, 3):
        write_shard(outs[k - 1], [outcome(s, 1.0) for s in shards.select(names, k, 3)])
    merged = shards.merge(outs, tmp_path / "out", class_names=lambda: names)
    assert merged.missing == [2] and merged.ungraded == shards.select(names, 2, 3)
    assert merged.students == sorted(shards.select(names, 1, 3) + shards.select(names, 3, 3))
    report = (tmp_path / "out" / "report.md").read_text()
    assert "2 of 3 shards merged" in report and "shard 2/3: no gradebook.csv" in report
    assert all(f"`{s}`" in report for s in merged.ungraded)


def test_a_shard_with_other_columns_or_a_broken_row_is_reported_by_file_and_line(tmp_path):
    write_shard(tmp_path / "s1", [outcome("ann", 15)])
    (tmp_path / "s2").mkdir()
    (tmp_path / "s2" / "gradebook.csv").write_text("student,total,extra\nbob,3,x\n")
    (tmp_path / "s3").mkdir()
    (tmp_path / "s3" / "gradebook.csv").write_text((tmp_path / "s1" / "gradebook.csv").read_text() + "cat,1\n")
    merged = shards.merge([tmp_path / "s1", tmp_path / "s2", tmp_path / "s3"], tmp_path / "out")
    assert merged.students == ["ann"] and sorted(merged.missing) == [2, 3]
    [other, broken] = sorted(p for p in merged.problems if "shard 2" in p or "shard 3" in p)
    assert f"{tmp_path / 's2' / 'gradebook.csv'}, line 1: expected the same columns" in other
    assert f"{tmp_path / 's3' / 'gradebook.csv'}, line 3: expected" in broken


def test_kept_gradings_come_from_each_students_own_shard(tmp_path):
    """Every shard starts from the previous run's kept gradings (graded/<student>/): the merged
    copy of a student's is their own shard's; a student no shard graded keeps the old one."""
    for k, mine in ((1, "ann"), (2, "bob")):
        write_shard(tmp_path / f"s{k}", [outcome(mine, 5.0 * k)])
        for student in ("ann", "bob", "cat"):  # restored from the cache: the same in every shard
            (tmp_path / f"s{k}" / RECORDS / student).mkdir(parents=True)
            (tmp_path / f"s{k}" / RECORDS / student / "old.json").write_text("before\n")
        (tmp_path / f"s{k}" / RECORDS / mine / "new.json").write_text(f"graded by shard {k}\n")
    shards.merge([tmp_path / "s1", tmp_path / "s2"], tmp_path / "out")
    kept = tmp_path / "out" / RECORDS
    assert (kept / "ann" / "new.json").read_text() == "graded by shard 1\n"
    assert (kept / "bob" / "new.json").read_text() == "graded by shard 2\n"
    assert sorted(p.name for p in (kept / "cat").iterdir()) == ["old.json"]


def test_a_shard_uploads_only_its_own_students_kept_gradings_and_the_merge_keeps_the_rest(tmp_path):
    """Each shard restored the whole class's kept gradings; trimmed, it keeps its own students'
    (its gradebook's and its plan's). The merge job restored them too: whom no shard handled
    keeps that copy, and a shard's student gets the shard's."""
    shard = tmp_path / "s1"
    write_shard(shard, [outcome("ann", 1.0)])
    plan.save([plan.Entry(f"{ORG}/{PREFIX}dan", "dan", "b" * 40, "error", "Not graded yet")], shard / plan.FILE)
    for student in ("ann", "bob", "dan"):
        (shard / RECORDS / student).mkdir(parents=True)
        (shard / RECORDS / student / "r.json").write_text(f"{student} by shard 1\n")
    assert shards.main(["trim", str(shard)]) == 0
    assert sorted(p.name for p in (shard / RECORDS).iterdir()) == ["ann", "dan"]
    out = tmp_path / "out"
    for student in ("ann", "bob"):  # restored from the cache before the merge
        (out / RECORDS / student).mkdir(parents=True)
        (out / RECORDS / student / "r.json").write_text(f"{student} as the last run left it\n")
    policy.save_ledger(out / policy.LEDGER, {"r1": {"a1": "2026-12-01T10:00:00+00:00"}})
    shards.merge([shard], out)
    assert (out / RECORDS / "ann" / "r.json").read_text() == "ann by shard 1\n"
    assert (out / RECORDS / "bob" / "r.json").read_text() == "bob as the last run left it\n"
    assert (out / RECORDS / "dan" / "r.json").read_text() == "dan by shard 1\n"
    assert policy.load_ledger(out / policy.LEDGER) == {"r1": {"a1": "2026-12-01T10:00:00+00:00"}}


def test_trim_without_a_gradebook_removes_nothing_and_says_why(tmp_path, capsys):
    (tmp_path / "s1" / RECORDS / "ann").mkdir(parents=True)
    assert shards.main(["trim", str(tmp_path / "s1")]) == 1
    assert "gradebook.csv" in capsys.readouterr().err and (tmp_path / "s1" / RECORDS / "ann").is_dir()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["r1", "r2", "r3"]), st.dictionaries(
    st.sampled_from(["a1", "b2", "c3"]), st.datetimes(timezones=st.just(timezone.utc)).map(datetime.isoformat),
    max_size=3), max_size=3), min_size=1, max_size=4))
def test_first_sightings_are_merged_by_union_and_the_earliest_wins(ledgers):
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(shards.class_report, "write_report"):
        outs = [Path(tmp) / f"s{k}" for k in range(len(ledgers))]
        for folder, ledger in zip(outs, ledgers):
            write_shard(folder, [])
            policy.save_ledger(folder / policy.LEDGER, ledger)
        shards.merge(outs, Path(tmp) / "out")
        merged = policy.load_ledger(Path(tmp) / "out" / policy.LEDGER)
    seen = {(repo, sha) for ledger in ledgers for repo, shas in ledger.items() for sha in shas}
    assert {(repo, sha) for repo, shas in merged.items() for sha in shas} == seen
    for repo, sha in seen:
        assert merged[repo][sha] == min((ledger[repo][sha] for ledger in ledgers if sha in ledger.get(repo, {})),
                                        key=datetime.fromisoformat)


def test_a_damaged_ledger_is_reported_and_the_others_merged(tmp_path):
    write_shard(tmp_path / "s1", [outcome("ann", 1.0)])
    policy.save_ledger(tmp_path / "s1" / policy.LEDGER, {"r1": {"a1": "2026-12-01T10:00:00+00:00"}})
    write_shard(tmp_path / "s2", [outcome("bob", 1.0)])
    (tmp_path / "s2" / policy.LEDGER).write_text("{not json")
    merged = shards.merge([tmp_path / "s1", tmp_path / "s2"], tmp_path / "out")
    assert not merged.ok and any(p.startswith("shard 2/2: ") and "ledger" in p for p in merged.problems)
    assert policy.load_ledger(tmp_path / "out" / policy.LEDGER) == {"r1": {"a1": "2026-12-01T10:00:00+00:00"}}


def test_the_class_report_is_rebuilt_from_the_merged_gradebook(tmp_path):
    write_shard(tmp_path / "s1", [outcome("ann", 15)])
    write_shard(tmp_path / "s2", [outcome("bob", 0)])
    shards.merge([tmp_path / "s1", tmp_path / "s2"], tmp_path / "out")
    report = (tmp_path / "out" / "results" / "report.md").read_text()
    assert "| 2 | 7.5 | 7.5 | 0 | 15 |" in report, "both shards' students, with their scores"
    assert "no results.json" not in report, "each student's results are read beside the merged gradebook"
    assert (tmp_path / "out" / "results" / "report-scores.png").stat().st_size > 0


# --- The sharded workflow --------------------------------------------------------------------------

SHARDED_WORKFLOW = ROOT / "autograder" / "course" / "instructor_files" / "grade-class-sharded.yml"


def test_sharded_workflow_passes_actionlint():
    """actionlint (pinned in requirements.txt, in .venv/bin) checks the expressions, the matrix
    built by fromJSON and the actions' inputs (and the `run:` scripts where shellcheck is installed)."""
    linter = Path(sys.executable).with_name("actionlint")
    found = subprocess.run([str(linter), "-format", "{{json .}}", str(SHARDED_WORKFLOW)],
                           capture_output=True, text=True)
    problems = [f"line {p['line']}: {p['message']}" for p in json.loads(found.stdout or "null") or []]
    assert found.returncode == 0 and not problems, "\n".join(problems) or found.stderr


def test_sharded_workflow_grades_a_matrix_of_shards_then_merges_and_posts_once():
    flow = yaml.safe_load(SHARDED_WORKFLOW.read_text())
    single = yaml.safe_load((SHARDED_WORKFLOW.parent / "grade-class.yml").read_text())
    assert flow["concurrency"] == single["concurrency"], "one group with grade-class.yml: never two posting at once"
    assert flow["permissions"] == {"contents": "read"}
    jobs = flow["jobs"]
    grade, merge = jobs["grade"], jobs["merge"]
    assert grade["strategy"]["fail-fast"] is False
    assert grade["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.shards.outputs.list) }}"
    assert "seq -s, 1" in jobs["shards"]["steps"][0]["run"]
    grading = next(s for s in grade["steps"] if "make -C /opt/grader grade-class" in s.get("run", ""))
    assert 'SHARD="$SHARD"' in grading["run"] and "post" not in grading["run"]
    assert grading["env"]["SHARD"] == "${{ matrix.shard }}/${{ needs.shards.outputs.count }}"
    assert '--preserve-env=CLASSROOM_TOKEN' in grading["run"], "grades as root, as grade-class.yml does"
    upload = next(s for s in grade["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == "grade-class-shard-${{ matrix.shard }}" and upload["if"] == "always()"
    assert "!${{ runner.temp }}/grade-class/repos" in upload["with"]["path"]
    assert merge["needs"] == ["shards", "grade"] and "always()" in merge["if"]
    download = next(s for s in merge["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["pattern"] == "grade-class-shard-*" and download["with"]["merge-multiple"] is False
    def at(steps: list[dict], text: str) -> int:
        return next(i for i, s in enumerate(steps) if text in json.dumps(s))
    assert at(grade["steps"], "shards trim") < at(grade["steps"], "upload-artifact@"), "each record uploaded once"
    steps = merge["steps"]
    assert at(steps, "cache/restore@") < at(steps, "shards merge") < at(steps, "classroom post") < at(steps, "cache/save@")
    assert merge["steps"][:4] == grade["steps"][:4], "one set-up (YAML anchors), as grade-class.yml's"

    def kept(flow: dict, action: str) -> dict:
        return next(s["with"] for job in flow["jobs"].values() for s in job["steps"] if s.get("uses") == action)
    for action in ("actions/cache/restore@v5", "actions/cache/save@v5"):  # the same state as grade-class.yml's
        assert kept(flow, action) == kept(single, action), "a term can move from one workflow to the other"
    with_secret = [step["name"] for job in jobs.values() for step in job["steps"] if "secrets." in json.dumps(step)]
    assert with_secret == ["Grade this shard", "Merge the shards", "Post the grades"]
    for job in jobs.values():
        assert all(s.get("with", {}).get("persist-credentials") is False
                   for s in job["steps"] if "checkout" in s.get("uses", ""))


# --- End to end: a class graded in shards against the fake GitHub API ------------------------------


@pytest.fixture(autouse=True)
def unpaced(monkeypatch):
    """PyGithub waits 0.25 s between requests and 1 s between writes, as GitHub asks of real
    clients; the fake GitHub needs no pacing, and this file's runs would take a minute with it."""
    monkeypatch.setattr(classroom, "Github", partial(Github, seconds_between_requests=0, seconds_between_writes=0))


def a_class(tmp_path: Path) -> dict[str, Path]:
    """Nine students' repositories, each with one commit scoring 0 to 15 (the fake grader), and
    one who handed in no vae.py; and the grader's own repository, never graded."""
    bares = {f"{PREFIX}{s}": tmp_path / "class" / f"{s}.git"
             for s in ("ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal", "ivy")}
    for number, (name, bare) in enumerate(bares.items()):
        push(bare, {"assignment/vae.py": f"SCORE {number * 1.5}\n"} if number else {"notes.md": "soon\n"})
    bares["vae-grader"] = tmp_path / "class" / "grader.git"
    push(bares["vae-grader"], {"README.md": "the graders\n"})
    return bares


def posted(fake: FakeGitHub, bares: dict[str, Path]) -> tuple[dict, list]:
    """What the class's commits show: each repository's statuses and the comments' text."""
    statuses = {name: [(s["sha"], s["state"], s["description"], s["context"], s.get("target_url"))
                       for s in fake.posted(name)] for name in bares}
    return statuses, sorted((c["repo"], c["commit_id"], c["body"]) for c in fake.comments)


def grade_in_shards(fake: FakeGitHub, tmp_path: Path, monkeypatch, n: int) -> list[Path]:
    """Each shard's grading run, as the workflow's matrix runs them; returns their OUT folders."""
    outs = [tmp_path / f"shard-{k}" for k in range(1, n + 1)]
    for k, out in enumerate(outs, start=1):
        grade_class(fake, out, monkeypatch, "--shard", f"{k}/{n}")
    return outs


def post(fake: FakeGitHub, out: Path, monkeypatch) -> int:
    monkeypatch.setenv("CLASSROOM_TOKEN", TOKEN)
    return classroom_main(["post", "--out", str(out), "--api-url", fake.url])


@pytest.mark.slow
def test_three_shards_merged_then_posted_are_one_unsharded_run(tmp_path, fake_grader, monkeypatch):
    bares = a_class(tmp_path)
    with FakeGitHub(bares) as fake:
        assert grade_class(fake, tmp_path / "one", monkeypatch) == 0
        expected = posted(fake, bares)
    assert sum(map(len, expected[0].values())) == 9 and len(expected[1]) == 8
    with FakeGitHub(bares) as fake:  # the same class, nothing posted yet
        outs = grade_in_shards(fake, tmp_path, monkeypatch, 3)
        assert {method for method, _, _ in fake.requests} == {"GET"}, "a shard posts nothing"
        assert all(shards.select(list(bares), k, 3) for k in (1, 2, 3)), "each shard has students"
        assert shards.main(["merge", str(tmp_path / "merged"), *map(str, outs)]) == 0
        assert post(fake, tmp_path / "merged", monkeypatch) == 0
        assert posted(fake, bares) == expected
        assert not fake.unexpected
    assert (tmp_path / "merged" / "gradebook.csv").read_text() == (tmp_path / "one" / "gradebook.csv").read_text()
    assert len(fake_grader()) == 2 * 8, "each student graded once per run (one had no vae.py)"


def restore(kept_from: Path, into: Path) -> None:
    """What the Actions cache gives the next run: the merged OUT's ledger and kept gradings."""
    into.mkdir(parents=True)
    shutil.copytree(kept_from / RECORDS, into / RECORDS)
    shutil.copy(kept_from / policy.LEDGER, into / policy.LEDGER)


@pytest.mark.slow
def test_the_next_sharded_run_grades_and_posts_only_the_new_push(tmp_path, fake_grader, monkeypatch):
    """As the workflow runs: each run's shards and its merge start from the kept state the last
    merge left (the cache), shards trim before uploading; a student's new push is graded once."""
    bares = a_class(tmp_path)
    with FakeGitHub(bares) as fake:
        first = grade_in_shards(fake, tmp_path / "run1", monkeypatch, 3)
        assert shards.main(["merge", str(tmp_path / "run1" / "out"), *map(str, first)]) == 0
        assert post(fake, tmp_path / "run1" / "out", monkeypatch) == 0
        before = posted(fake, bares)
        graded = len(fake_grader())
        new = push(bares[f"{PREFIX}cat"], {"assignment/vae.py": "SCORE 14\n"})
        outs = [tmp_path / "run2" / f"shard-{k}" for k in (1, 2, 3)]
        for k, out in enumerate(outs, start=1):
            restore(tmp_path / "run1" / "out", out)
            grade_class(fake, out, monkeypatch, "--shard", f"{k}/3")
            assert shards.main(["trim", str(out)]) == 0
        restore(tmp_path / "run1" / "out", tmp_path / "run2" / "out")
        assert shards.main(["merge", str(tmp_path / "run2" / "out"), *map(str, outs)]) == 0
        assert post(fake, tmp_path / "run2" / "out", monkeypatch) == 0
        after = posted(fake, bares)
    assert len(fake_grader()) == graded + 1 and Path(fake_grader()[-1][-1]).parent.name == "cat"
    assert [s[:3] for s in after[0][f"{PREFIX}cat"][len(before[0][f"{PREFIX}cat"]):]] == \
        [(new, "failure", "Points 14/100")]
    assert {name: found for name, found in after[0].items() if name != f"{PREFIX}cat"} == \
        {name: found for name, found in before[0].items() if name != f"{PREFIX}cat"}, "nobody else posted again"
    kept = tmp_path / "run2" / "out" / RECORDS
    assert sorted(p.name for p in kept.iterdir()) == ["ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal", "ivy"]
    assert (kept / "cat" / f"{new}.json").is_file()


@pytest.mark.slow
def test_a_missing_shard_costs_only_its_students_who_are_named(tmp_path, fake_grader, monkeypatch, capsys):
    bares = a_class(tmp_path)
    with FakeGitHub(bares) as fake:
        outs = grade_in_shards(fake, tmp_path, monkeypatch, 3)
        shutil.rmtree(outs[1])  # shard 2's job failed: its artifact never came
        monkeypatch.setenv("CLASSROOM_TOKEN", TOKEN)
        assert shards.main(["merge", str(tmp_path / "merged"), *map(str, outs), "--org", ORG, "--prefix", PREFIX,
                            "--api-url", fake.url]) == 1
        lost = shards.select([name for name in bares if name.startswith(PREFIX)], 2, 3)
        assert lost and f"ungraded this run: {', '.join(lost)}" in capsys.readouterr().err
        assert post(fake, tmp_path / "merged", monkeypatch) == 0
        for name in bares:
            assert bool(fake.posted(name)) == (name.startswith(PREFIX) and name not in lost), name
    report = (tmp_path / "merged" / "report.md").read_text()
    assert "2 of 3 shards merged" in report and all(f"`{name}`" in report for name in lost)
    with open(tmp_path / "merged" / "gradebook.csv") as f:
        assert sorted(row["student"] for row in csv.DictReader(f)) == sorted(
            name.removeprefix(PREFIX) for name in bares if name.startswith(PREFIX) and name not in lost)


# --- How many shards a class needs (autograder/evidence/shard_bench.py) ---------------------------


@given(st.integers(1, 100_000), st.floats(0.05, 100), st.floats(0, 29.5))
def test_the_shards_a_class_needs_grade_it_within_one_slot_and_one_fewer_would_not(students, rate, setup):
    shards = shard_bench.shards_needed(students, rate, setup)
    if shards is None:
        assert rate * (shard_bench.SLOT_MINUTES - setup) < 1
        return
    all_at_once = shard_bench.wall_minutes(students, shards, shards, rate, setup)
    assert all_at_once <= shard_bench.SLOT_MINUTES + 1e-9
    if shards > 1:
        assert shard_bench.wall_minutes(students, shards - 1, shards, rate, setup) > shard_bench.SLOT_MINUTES
    assert shard_bench.wall_minutes(students, shards, 20, rate, setup) >= all_at_once, "waves take longer"


def test_the_bench_grades_its_copies_and_prints_the_rate_and_the_table(fake_grader, capsys):
    shard_bench.main(["--copies", "4", "--jobs", "2"])
    printed = capsys.readouterr().out
    assert len(fake_grader()) == 4 and "submissions: 4 (4 with results)" in printed
    assert "submissions per minute" in printed and "load average" in printed
    for students in ("| 300 |", "| 3,000 |", "| 30,000 |"):
        assert students in printed
