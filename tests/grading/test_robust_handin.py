"""Every grading ends (issue 16, sections 1 and 4): whatever a hand-in holds and whatever the
submission does, the grader writes strict, valid results and leaves nothing behind.

Hypothesis generates the hand-ins (zips with member names of any bytes and flags, nesting and
depth; notebooks of arbitrary JSON and odd Unicode; file names of any bytes) for
handin.resolve, and the texts (lone surrogates, control characters, NUL, huge strings, RTL
marks) for every output a student or instructor reads. The slow tests grade real hand-ins.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder import config
from autograder.cleanup import remove_tree
from autograder.course import class_report, classroom, plan
from autograder.course.grade_all import Outcome, Submission, grade_one, write_gradebook
from autograder.grading import handin, results
from autograder.grading.grade import table
from autograder.sandbox import cgroups, integrity
from autograder.sandbox.client import Sandbox
from autograder.sandbox.integrity import NATIVE, PIPES, SHARED_MEMORY
from autograder.paths import ROOT, SOLUTIONS

from classroom_fakes import PREFIX, FakeGitHub, fake_grader, grade_class, push  # noqa: F401 (fake_grader: a fixture)
from hand_ins import raw_zip

SECRET = b"SECRET = 'outside the hand-in'\n"  # in a vae.py beside the hand-in folder, never to be read
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- Building hand-ins byte by byte ---------------------------------------------------------------


def notebook_json(source: object, grade_id: object = config.NOTEBOOK_CODE_CELL, cell_type: object = "code") -> str:
    """A notebook whose one cell holds `source`; json.dumps writes a lone surrogate as "\\ud800"."""
    cell = {"cell_type": cell_type, "metadata": {"nbgrader": {"grade_id": grade_id}}, "source": source}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


# Text of every kind: lone surrogates included (Hypothesis leaves them out unless asked).
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)
ODD_TEXT = st.sampled_from(["\ud800", "a\udcffb", "\x00", "\u202e\u2066evil\u2069", "\x1b[2J\x1b[1;1H100/100",
                            "\r\n| **Points 100/100** |", "\ufeff", "=cmd|' /C calc'!A0", ""])
# Beyond every cut (results' 10,000 characters, csv's 131,072 per field); built here: a short repr.
HUGE_TEXT = st.integers(140_000, 150_000).map(lambda n: "\ud800" + "x" * n)
TEXTS = st.one_of(ANY_TEXT, ODD_TEXT, HUGE_TEXT, st.lists(st.one_of(ANY_TEXT, ODD_TEXT), max_size=4).map("".join))
PY_CODE = st.sampled_from([b"class VAE: pass\ndef loss_function(): pass\ndef train(): pass\n", b"x = 1\n",
                           b"\xff\xfe not utf-8", b"\x00", b""])
CELL_SOURCE = st.one_of(TEXTS.map(lambda t: "class VAE: pass\n" + t), TEXTS, st.lists(TEXTS, max_size=3),
                        st.integers(), st.none())
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXTS,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=4),
                    max_leaves=12)
NOTEBOOK = st.one_of(
    st.builds(notebook_json, CELL_SOURCE, st.sampled_from([config.NOTEBOOK_CODE_CELL, None, 3]),
              st.sampled_from(["code", "markdown", None])).map(str.encode),
    JSON.map(lambda j: json.dumps(j).encode()),
    st.binary(max_size=200),
)
NAME_BYTES = st.one_of(st.binary(min_size=1, max_size=30),
                       st.sampled_from([b"vae.py", b"vae.ipynb", b"a/vae.py", b"../vae.py", b"/etc/passwd",
                                        b"\xff/vae.py", b"C:\\vae.py", b"./", b"a//b/", b"__MACOSX/vae.py",
                                        b".git/vae.py"]),
                       st.integers(1, 200).map(lambda n: b"d/" * n + b"vae.py"))
FILE_TYPES = st.sampled_from([0, 0o100644 << 16, 0o040755 << 16, 0o120777 << 16, 0o010644 << 16, 0xFFFF << 16])
MEMBER = st.tuples(NAME_BYTES, st.sampled_from([0, 0x800, 0x1, 0x8]), FILE_TYPES,
                   st.one_of(PY_CODE, NOTEBOOK, st.binary(max_size=50)))
ZIP = st.one_of(st.lists(MEMBER, max_size=6).map(raw_zip),
                st.lists(MEMBER, max_size=3).map(raw_zip).map(lambda inner: raw_zip([(b"inner.zip", 0, 0, inner)])),
                st.binary(max_size=100))
FILE_NAME = st.one_of(st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b
                                                                  and b not in (b".", b"..")),
                      st.sampled_from([b"vae.py", b"vae.ipynb", b"hand-in.zip", b"homework.IPYNB", b"\xff.py"]))
ENTRY = st.tuples(st.lists(FILE_NAME, min_size=1, max_size=3), st.one_of(PY_CODE, NOTEBOOK, ZIP),
                  st.sampled_from(["file", "file", "link", "fifo"]))


def write_folder(root: Path, entries: list[tuple[list[bytes], bytes, str]], outside: Path) -> None:
    """Write each (path, bytes, kind) under `root`; a link points at `outside`'s vae.py."""
    for parts, data, kind in entries:
        path = os.path.join(os.fsencode(root), *parts)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if kind == "link":
                os.symlink(outside / "vae.py", path)
            elif kind == "fifo":
                os.mkfifo(path)
            else:  # O_EXCL: never open a FIFO made by an earlier entry (it would wait for a reader)
                with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "wb") as file:
                    file.write(data)
        except OSError:
            pass  # a path the file system refuses (a name both a file and a folder): not a hand-in


def assert_a_code_with_a_note(code: handin.Code) -> None:
    assert isinstance(code, handin.Code) and isinstance(code.note, str)
    code.note.encode("utf-8")  # valid Unicode: no lone surrogate (it raises if there is one)
    assert handin.UNREADABLE not in code.note, f"the backstop caught what the rules missed: {code.note}"
    if code.source is None:
        assert code.note, "nothing graded and no word why"
    else:
        assert isinstance(code.source, bytes) and len(code.source) <= config.SUBMISSION_MAX_BYTES
        assert SECRET not in code.source, "read a file outside the hand-in"


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A folder with a vae.py holding SECRET, beside which each generated hand-in is written."""
    root = tmp_path_factory.mktemp("robust")
    (root / "outside").mkdir()
    (root / "outside" / "vae.py").write_bytes(SECRET)
    return root


def fresh(place: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=place))




# --- The resolver, on generated hand-ins --------------------------------------------------------------


@EXAMPLES
@given(entries=st.lists(ENTRY, max_size=5))
def test_resolve_returns_a_code_with_a_note_for_any_folder(place, entries):
    folder = fresh(place)
    write_folder(folder, entries, place / "outside")
    assert_a_code_with_a_note(handin.resolve(folder))
    assert remove_tree(folder)


@EXAMPLES
@given(archive=ZIP, name=st.sampled_from(["hand-in.zip", "x.ZIP"]))
def test_resolve_returns_a_code_with_a_note_for_any_zip(place, archive, name):
    folder, scratch = fresh(place), fresh(place)
    (folder / name).write_bytes(archive)
    with mock.patch.object(tempfile, "tempdir", str(scratch)):  # where resolve unpacks
        assert_a_code_with_a_note(handin.resolve(folder / name))
        assert_a_code_with_a_note(handin.resolve(folder))  # a lone zip in a folder is opened too
    assert os.listdir(scratch) == [], "a scratch folder was left behind"
    assert remove_tree(folder) and remove_tree(scratch)


@EXAMPLES
@given(notebook=NOTEBOOK, beside=st.one_of(st.none(), PY_CODE), name=FILE_NAME)
def test_resolve_returns_a_code_with_a_note_for_any_notebook(place, notebook, beside, name):
    folder = fresh(place)
    path = folder / (os.fsdecode(name) + ".ipynb")
    path.write_bytes(notebook)
    if beside is not None:
        (folder / "vae.py").write_bytes(beside)
    assert_a_code_with_a_note(handin.resolve(path))
    assert_a_code_with_a_note(handin.resolve(folder))
    assert remove_tree(folder)


# --- The cases that stopped a grading, each named --------------------------------------------------------


def test_a_zip_name_marked_utf8_that_is_not_is_named_in_the_note(tmp_path):
    path = tmp_path / "hand-in.zip"
    path.write_bytes(raw_zip([(b"vae.py", 0x800, 0, b"x = 1\n"), (b"\xff\xfe.txt", 0x800, 0, b"")]))
    code = handin.resolve(path)
    assert code.source is None and "marks a file name as UTF-8 that is not valid UTF-8" in code.note


def test_a_lone_surrogate_in_the_graded_cell_is_refused_and_vae_py_graded_instead(tmp_path):
    (tmp_path / "vae.ipynb").write_text(notebook_json("class VAE: pass\nx = '\ud800'\n"))
    code = handin.resolve(tmp_path / "vae.ipynb")
    assert code.source is None and "not valid Unicode" in code.note and "\\ud800" in code.note
    (tmp_path / "vae.py").write_bytes(b"x = 1\n")
    code = handin.resolve(tmp_path)
    assert code.source == b"x = 1\n" and "not valid Unicode" in code.note and "vae.py was graded instead" in code.note


def test_a_zip_thousands_of_folders_deep_is_refused_and_leaves_no_scratch_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = tmp_path / "deep.zip"
    path.write_bytes(raw_zip([(b"vae.py", 0, 0, b"x = 1\n"), (b"a/" * 1500 + b"f", 0, 0, b"deep")]))
    code = handin.resolve(path)
    assert code.source is None and "1,501 folders deep" in code.note and f"up to {config.HANDIN_MAX_DEPTH} deep" \
        in code.note
    assert os.listdir(tmp_path / "tmp") == []


def test_a_folder_thousands_of_levels_deep_does_not_stop_the_search(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY)
    for _ in range(1200):  # past PATH_MAX (100-character names) and the recursion limit
        os.mkdir("d" * 100, dir_fd=fd)
        inner = os.open("d" * 100, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    (tmp_path / "vae.py").write_bytes(b"x = 1\n")
    assert handin.resolve(tmp_path).source == b"x = 1\n"
    assert remove_tree(tmp_path / ("d" * 100))


def test_a_file_name_that_is_not_utf8_is_shown_by_its_bytes(tmp_path):
    (tmp_path / os.fsdecode(b"model\xff.py")).write_bytes(b"x = 1\n")
    code = handin.resolve(tmp_path)
    assert code.source is None and "model\\xff.py" in code.note


def test_a_graded_cell_larger_than_what_runs_is_refused_never_cut(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "SUBMISSION_MAX_BYTES", 1000)
    source = "class VAE: pass\n" + "# padding\n" * 200  # 2,016 bytes
    (tmp_path / "vae.ipynb").write_text(notebook_json(source))
    code = handin.resolve(tmp_path / "vae.ipynb")
    assert code.source is None and "holds 2,016 bytes of code" in code.note and "did not cut it" in code.note
    (tmp_path / "vae.py").write_bytes(b"x = 1\n")
    assert handin.resolve(tmp_path).source == b"x = 1\n"


def test_the_sandbox_refuses_code_over_the_cap_rather_than_cut_it(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "SUBMISSION_MAX_BYTES", 1000)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    (tmp_path / "vae.py").write_bytes(b"#" * 1001)
    with pytest.raises(ValueError, match="larger than config.SUBMISSION_MAX_BYTES"):
        Sandbox((tmp_path / "vae.py").read_bytes())
    assert os.listdir(tmp_path / "tmp") == [], "the sandbox folder was left behind"


@pytest.mark.parametrize("source, flags", [
    ("import ctypes\nx = (\n", {NATIVE}),  # a syntax error: scanned as text
    ("import os\nos.write(5, b'x')\nif\n", {PIPES}),
    (b"# -*- coding: latin-1 -*-\nimport mmap\n\xff(\n", {SHARED_MEMORY}),
    ("y = " + "-" * 100_000 + "1\nopen('/dev/shm/x')\n", {SHARED_MEMORY}),  # beyond the parser's nesting
    ("x = '\0'\nimport ctypes\n", {NATIVE}),  # NUL: ast refuses it
])
def test_scan_reads_every_byte_even_of_source_the_ast_cannot_read(source, flags):
    assert integrity.scan(source) == flags


def test_remove_tree_removes_trees_deeper_than_rmtree_can_and_never_follows_a_link(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    root = tmp_path / "deep"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    for _ in range(1200):  # 1200 levels of 100-character names: past PATH_MAX and the recursion limit
        os.mkdir("d" * 100, dir_fd=fd)
        inner = os.open("d" * 100, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.symlink(outside, "link", dir_fd=fd)
    os.close(os.open("file", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd))
    os.close(fd)
    with pytest.raises((RecursionError, OSError)):
        shutil.rmtree(root)
    assert remove_tree(root) and not root.exists() and outside.read_text() == "keep"
    assert remove_tree(root), "removing what is gone is no error"


def test_describe_error_keeps_any_message_valid_utf8():
    from autograder.sandbox.worker import describe_error

    class Odd(Exception):
        def __str__(self):
            raise RuntimeError("no")

    described = describe_error(ValueError("lone \ud800 and \udcff"))
    assert described["message"] == "lone ? and ?"
    assert "could not be read" in describe_error(Odd())["message"]
    json.dumps(described, ensure_ascii=False).encode("utf-8")


# --- Every output a student or instructor reads, on generated texts ---------------------------------------


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def results_of(text: str, key: str) -> results.Results:
    tests = [results.entry("kl", text[:50], 15.0, False, text, extra={key: text}),
             results.entry("elbo", "passes", 15.0, True, note=text)]
    return results.build(tests, output=text, extra={key: [text, float("nan")]}, flags=[text])


def assert_valid_utf8(data: bytes) -> str:
    text = data.decode("utf-8")  # strict: raises on anything that is not UTF-8
    assert not results.SURROGATE.search(text)
    return text


@pytest.mark.slow
@settings(EXAMPLES, max_examples=30)  # the table wraps huge texts whole: the slowest output
@given(text=TEXTS, key=TEXTS)
def test_results_json_is_strict_valid_utf8_and_the_table_printable_whatever_the_text(tmp_path_factory, text, key):
    path = tmp_path_factory.mktemp("r") / "results.json"
    results.write(results_of(text, key), path)
    raw = path.read_bytes()
    assert len(raw) <= config.RESULTS_MAX_BYTES
    loaded = json.loads(assert_valid_utf8(raw), parse_constant=lambda name: pytest.fail(f"not strict: {name}"))
    assert not any(results.SURROGATE.search(s) for s in strings(loaded)), "a lone surrogate escaped as \\ud800"
    assert_valid_utf8(table(results.load(path)).encode("utf-8"))
    assert_valid_utf8(table(results_of(text, key)).encode("utf-8"))  # the table alone copes too
    assert not any(c in table(results_of(text, key)) for c in "\x00\x1b\r")


@EXAMPLES
@given(student=FILE_NAME.map(os.fsdecode), text=TEXTS)  # a student is a folder's name
def test_the_gradebook_the_class_report_and_the_commit_comment_are_valid_utf8(tmp_path_factory, student, text):
    out = tmp_path_factory.mktemp("class")
    loaded = results.from_json(results.to_json(results_of(text, "k")))
    unreadable = grade_one(Submission(student + "2", out / "none", problem=text), out / "results", None, 1)
    outcomes = [Outcome(student, "graded", loaded, workflow=text), unreadable]
    write_gradebook(outcomes, out / "gradebook.csv")
    with open(out / "gradebook.csv", newline="", encoding="utf-8", errors="strict") as f:
        assert len(list(csv.reader(f))) == 3
    assert_valid_utf8((out / "gradebook.csv").read_bytes())
    assert_valid_utf8(class_report.markdown(class_report.load_class(out / "gradebook.csv")).encode("utf-8"))
    assert_valid_utf8(classroom.comment(outcomes[0], "0123456789abcdef").encode("utf-8"))
    for outcome in outcomes:
        state, description = classroom.verdict(outcome, outcome.problem)
        assert_valid_utf8(description.encode("utf-8")) and len(description) <= plan.DESCRIPTION_CHARS


@EXAMPLES
@given(text=TEXTS)
def test_results_read_back_are_valid_text_whoever_wrote_them(text):
    written = json.dumps({"tests": [{"output": text, "score": 1}], "output": text})  # "\ud800" escapes kept
    assert not any(results.SURROGATE.search(s) for s in strings(results.from_json(written)))


# --- Real gradings (slow) -------------------------------------------------------------------------------------

SURROGATES = '''
import sys as _sys
_sys.stdout.buffer.write(b"bad \\xed\\xa0\\x80 \\xff\\n")
_sys.stdout.flush()
print("lone \\ud800", file=_sys.stderr)


def _raises(self, mu, logvar):
    raise ValueError("lone \\ud800 surrogate \\udcff")


VAE.reparameterize = _raises
'''
DEEP_TREE = '''
import os as _os
_fd = _os.open(_os.path.dirname(_os.path.abspath(__file__)), _os.O_RDONLY)
for _ in range(3000):  # 3000 levels of 100-character names, in its own folder, at import
    _os.mkdir("d" * 100, dir_fd=_fd)
    _inner = _os.open("d" * 100, _os.O_RDONLY, dir_fd=_fd)
    _os.close(_fd)
    _fd = _inner
_os.close(_fd)
'''


def _owner(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None  # it ended meanwhile


def grade_for_real(hand_in: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """`python -m autograder.grading.grade` on `hand_in` with a private TMPDIR and its own sandbox
    uid; asserts that it ends well and leaves nothing behind; returns the process and results."""
    scratch, out = tmp_path / "tmp", tmp_path / "out" / "results.json"
    scratch.mkdir()
    uid = 63_000 + os.getpid() % 900  # its own control group's name (vae-grader-<uid>)
    argv = [sys.executable, "-m", "autograder.grading.grade", f"--submission={hand_in}", f"--results={out}"]
    argv += ["--sandbox-uid", str(uid)] if os.geteuid() == 0 else []
    done = subprocess.run(argv, cwd=ROOT, env={**os.environ, "TMPDIR": str(scratch)}, capture_output=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert_valid_utf8(done.stdout)
    found = json.loads(assert_valid_utf8(out.read_bytes()), parse_constant=lambda name: pytest.fail(name))
    assert os.listdir(scratch) == [], "a sandbox or scratch folder was left behind"
    if os.geteuid() == 0:
        left = [pid for pid in os.listdir("/proc") if pid.isdigit() and os.path.exists(f"/proc/{pid}")
                and _owner(pid) == uid]
        assert not left, f"processes of the sandbox uid left: {left}"
    parents = cgroups._parents()
    assert parents is None or not any((p / f"vae-grader-{uid}").exists() for p in parents[1]), "a control group left"
    return done, found


@pytest.mark.slow
def test_a_submission_printing_and_raising_lone_surrogates_is_graded_to_the_end(tmp_path):
    (tmp_path / "vae.py").write_text(SOLUTIONS.joinpath("vae.py").read_text() + SURROGATES)
    _, found = grade_for_real(tmp_path / "vae.py", tmp_path)
    by_tag = results.by_tag(found)
    assert by_tag["reparameterize"][0] == 0 and by_tag["encode"] == (10, 10)
    assert "lone ? surrogate ?" in json.dumps(found)


@pytest.mark.slow
def test_a_submission_writing_a_tree_thousands_deep_keeps_its_points_and_leaves_nothing(tmp_path):
    (tmp_path / "vae.py").write_text(SOLUTIONS.joinpath("vae.py").read_text() + DEEP_TREE)
    _, found = grade_for_real(tmp_path / "vae.py", tmp_path)
    assert found["score"] == 100, results.cause_codes(found)


@pytest.mark.slow
def test_a_zip_with_a_name_marked_utf8_that_is_not_scores_zero_with_the_reason(tmp_path):
    reference = SOLUTIONS.joinpath("vae.py").read_bytes()
    (tmp_path / "hand-in.zip").write_bytes(raw_zip([(b"vae.py", 0x800, 0, reference), (b"\xff.txt", 0x800, 0, b"")]))
    done, found = grade_for_real(tmp_path / "hand-in.zip", tmp_path)
    assert found["score"] == 0 and results.cause_codes(found) == ["handin.not_gradable"]
    assert b"not valid UTF-8" in done.stdout


# --- grade-class: a commit whose hand-in cannot be read is graded, once -------------------------------------


def test_grade_class_posts_a_zero_with_the_reason_and_does_not_grade_that_commit_again(tmp_path, monkeypatch,
                                                                                      fake_grader):
    bares = {f"{PREFIX}ann": tmp_path / "ann.git", f"{PREFIX}mal": tmp_path / "mal.git"}
    push(bares[f"{PREFIX}ann"], {"assignment/vae.py": "SCORE 100\n"})
    push(bares[f"{PREFIX}mal"], {"README.md": "hi\n"})
    work = bares[f"{PREFIX}mal"].with_suffix(".work")
    (work / "hand-in.zip").write_bytes(raw_zip([(b"vae.py", 0x800, 0, b"SCORE 100\n"), (b"\xff.txt", 0x800, 0, b"")]))
    push(bares[f"{PREFIX}mal"], {})
    with FakeGitHub(bares) as fake:
        assert grade_class(fake, tmp_path / "out", monkeypatch) == 0
        [mal] = fake.posted(f"{PREFIX}mal")
        assert mal["state"] == "failure"
        assert mal["description"].startswith("Points 0/100: hand-in.zip marks a file name")
        assert fake.posted(f"{PREFIX}ann")[0]["state"] == "success"
        assert grade_class(fake, tmp_path / "out", monkeypatch) == 0  # the next scheduled run
        assert len(fake.posted(f"{PREFIX}mal")) == 1, "the same commit was graded again"
    assert [Path(call[-1]).parent.name for call in fake_grader()] == ["ann"]
