"""Every isolation mode the grader can choose (bwrap, uid, process) is a complete environment.

CI runs as root with bubblewrap, so without these tests only the bwrap mode would ever run. Each
mode is forced with config.ISOLATION_ENV. The uid mode needs what a course machine without
bubblewrap has: root, and a Python that the sandbox uid may run; `uid_python` arranges the
second (a virtual environment on the system's own interpreter that reads this environment's
packages), as the course's set-up would.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from autograder import config
from autograder.evidence import corpus
from autograder.grading import grade as grading
from autograder.paths import ROOT, SOLUTIONS
from autograder.sandbox import client, isolation, protocol

from expectations import check_causes, check_tags, messages

ROOT_ONLY = pytest.mark.skipif(not isolation.is_root(), reason="the bwrap and uid modes need root")


# --- Choosing the mode ---------------------------------------------------------------------------


def test_an_unset_mode_is_the_strongest_that_works(monkeypatch):
    monkeypatch.delenv(config.ISOLATION_ENV, raising=False)
    monkeypatch.setattr(isolation, "is_root", lambda: True)
    monkeypatch.setattr(isolation, "bwrap_works", lambda: False)
    assert isolation.isolation_mode() == "uid"
    monkeypatch.setattr(isolation, "bwrap_works", lambda: True)
    assert isolation.isolation_mode() == "bwrap"
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    assert isolation.isolation_mode() == "process"


def test_a_weaker_mode_can_be_forced_and_uid_mode_skips_the_bubblewrap_probe(monkeypatch):
    monkeypatch.setattr(isolation, "is_root", lambda: True)
    monkeypatch.setattr(isolation, "bwrap_works", lambda: pytest.fail("probed bubblewrap for uid mode"))
    monkeypatch.setenv(config.ISOLATION_ENV, "uid")
    assert isolation.isolation_mode() == "uid"
    monkeypatch.setenv(config.ISOLATION_ENV, "process")
    assert isolation.isolation_mode() == "process"


@pytest.mark.parametrize("forced, root, bwrap", [("bwrap", True, False), ("bwrap", False, False),
                                                 ("uid", False, False), ("sandbox", True, True)])
def test_a_mode_stronger_than_what_works_or_unknown_is_a_grader_error_never_a_downgrade(
        monkeypatch, forced, root, bwrap):
    monkeypatch.setattr(isolation, "is_root", lambda: root)
    monkeypatch.setattr(isolation, "bwrap_works", lambda: bwrap)
    monkeypatch.setenv(config.ISOLATION_ENV, forced)
    with pytest.raises(isolation.IsolationError, match=config.ISOLATION_ENV):
        isolation.isolation_mode()


def test_the_workers_environment_is_complete_and_inside_its_own_folder(tmp_path):
    env = isolation.worker_environment(tmp_path, threads=2)
    assert env["USER"] == env["LOGNAME"] == config.SANDBOX_USER
    for name in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR",
                 "CUDA_CACHE_PATH", "MPLCONFIGDIR"):
        assert Path(env[name]).is_relative_to(tmp_path), name


# --- Each mode, for real -------------------------------------------------------------------------


def _others_may_run(python: Path) -> bool:
    probe = ["/usr/bin/setpriv", f"--reuid={config.SANDBOX_UID}", f"--regid={config.SANDBOX_UID}",
             "--clear-groups", str(python), "-I", "-c", "import torch, safetensors, numpy"]
    return subprocess.run(probe, capture_output=True, timeout=120).returncode == 0


def _let_others_through(path: Path, changed: list[tuple[Path, int]]) -> None:
    """Give others search (x) permission on `path`'s folders that lack it, as a course machine's
    shared installation has; remember the old modes in `changed`."""
    for folder in reversed([path, *path.parents]):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            changed.append((folder, stat.S_IMODE(mode)))
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


@pytest.fixture(scope="module")
def uid_python():
    """An interpreter the sandbox uid may run, with this environment's packages (uid mode runs the
    worker on the grader's own interpreter)."""
    if not isolation.is_root():
        pytest.skip("uid mode needs root")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = next((Path(d) / version for d in ("/usr/bin", "/usr/local/bin") if (Path(d) / version).exists()), None)
    if system is None:
        pytest.skip(f"no system {version} for the sandbox uid to run")
    # Not under pytest's own owner-only folder: Python finds a virtual environment only where it
    # may read the folders above it.
    venv = Path(tempfile.mkdtemp(prefix="vae-uid-python-"))
    venv.chmod(0o755)
    changed: list[tuple[Path, int]] = []
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    packages = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    target = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                  "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip())
    (target / "vae-homework.pth").write_text("\n".join(sorted(packages)) + "\n")
    for folder in (*packages, venv):
        _let_others_through(Path(folder), changed)
    python = venv / "bin" / "python"
    try:
        if not _others_may_run(python):
            pytest.fail(f"uid {config.SANDBOX_UID} cannot import torch with {python}")
        yield python
    finally:
        for folder, mode in changed:
            folder.chmod(mode)
        shutil.rmtree(venv)


@pytest.fixture(scope="module")
def mode_python(uid_python):
    """The interpreter that grades in each mode (uid mode: one the sandbox uid may run)."""
    return {"bwrap": sys.executable, "uid": str(uid_python), "process": sys.executable}


def _in_mode(mode: str, python: str, *arguments: str, timeout: float = 600,
             tmp: Path | None = None) -> subprocess.CompletedProcess:
    """`python arguments` with `mode` forced (`tmp`: the TMPDIR its grader's folders go in)."""
    env = {name: value for name, value in os.environ.items() if name != config.ISOLATION_ENV}
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    if mode != "bwrap":  # bwrap: the strongest, as the grader chooses it unasked
        env[config.ISOLATION_ENV] = mode
    return subprocess.run([python, *arguments], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# A wrong formula, and a device mistake (noise made on the CPU whatever the input's device).
CORPUS_CASES = ("buggy_kl_wrong_sign", "buggy_reparam_randn_no_device")
MODES = [pytest.param("bwrap", marks=pytest.mark.skipif(not isolation.bwrap_works(), reason="needs bubblewrap")),
         "uid", "process"]

# A submission that reports, at import, what its process sees: the user name libraries ask for,
# and where its home, temporary folder and the libraries' caches are, each written to once.
REPORTER = '''
import getpass, json, os, sys, tempfile
from pathlib import Path
import torch
from torch._inductor.runtime.cache_dir_utils import cache_dir

facts = {"user": getpass.getuser(), "cwd": os.getcwd(), "inductor": cache_dir(), "written": {}}
for name in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "MPLCONFIGDIR"):
    folder = Path(os.environ[name])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe").write_text("x")
    facts["written"][name] = str(folder.resolve())
facts["tempfile"] = tempfile.gettempdir()
print("FACTS" + json.dumps(facts) + "END")

class VAE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(2, 2)
'''

DRIVER = '''
import sys
from pathlib import Path
from autograder.sandbox import protocol
from autograder.sandbox.client import Sandbox
sandbox = Sandbox(Path(sys.argv[1]).read_bytes())
try:
    sandbox.call(protocol.PARAMETERS, {"seed": 0}, None, function="VAE")
finally:
    sandbox.close()  # what the worker printed is all in once it is gone
print(sandbox.mode, sandbox.output.text())
'''


@pytest.mark.slow
@ROOT_ONLY
@pytest.mark.parametrize("mode", MODES)
def test_in_every_mode_the_worker_has_a_user_name_a_home_a_tmp_and_caches_of_its_own(mode, mode_python, tmp_path):
    submission = tmp_path / "vae.py"
    submission.write_text(REPORTER)
    run = _in_mode(mode, mode_python[mode], "-c", DRIVER, str(submission))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith(mode + " "), run.stdout[:300]
    facts = json.loads(run.stdout.split("FACTS", 1)[1].split("END", 1)[0])
    assert facts["user"] == config.SANDBOX_USER
    sandbox_folder = Path(facts["cwd"]).resolve()
    for name, folder in facts["written"].items():
        assert Path(folder).is_relative_to(sandbox_folder), (name, folder, sandbox_folder)
    assert Path(facts["inductor"]).is_relative_to(sandbox_folder)
    assert Path(facts["tempfile"]).resolve().is_relative_to(sandbox_folder)


@pytest.mark.slow
@ROOT_ONLY
@pytest.mark.parametrize("mode", MODES)
def test_in_every_mode_the_reference_scores_full_marks_and_the_corpus_its_own(mode, mode_python, tmp_path):
    """The reference 100, the stubs only the guard check's points, buggy variants lose exactly their
    corpus tags (a device mistake among them), in each mode; nothing of the submission is left behind."""
    scratch = Path(tempfile.mkdtemp(prefix="vae-test-tmp-"))  # this test's own: other tests grade meanwhile
    scratch.chmod(0o711)  # the sandbox uid passes through to its own folder
    cases = {"reference": SOLUTIONS / "vae.py", "stubs": ROOT / "assignment" / "vae.py"}
    cases.update({name: corpus.build(name, tmp_path) for name in CORPUS_CASES})
    graded = {}
    for name, submission in cases.items():
        results = tmp_path / name / "results.json"
        run = _in_mode(mode, mode_python[mode], "-m", "autograder.grading.grade", f"--submission={submission}",
                       f"--results={results}", tmp=scratch)
        assert run.returncode == 0, (name, run.stderr[-3000:])
        graded[name] = json.loads(results.read_text())
        assert graded[name]["extra_data"]["isolation"] == mode
    assert graded["reference"]["score"] == 100.0, messages(graded["reference"])
    assert graded["stubs"]["score"] == config.RUBRIC["parameter_count"][0], messages(graded["stubs"])
    for name in CORPUS_CASES:
        check_tags(name, corpus.variants()[name], graded[name])
        check_causes(name, corpus.variants()[name], graded[name])
    assert not list(scratch.iterdir()), "a sandbox or scratch folder was left behind"
    scratch.rmdir()


# --- A library that fails inside the sandbox -----------------------------------------------------


@pytest.mark.slow
def test_a_library_that_fails_to_import_in_the_sandbox_is_a_grader_error_that_names_it(tmp_path, monkeypatch,
                                                                                          capsys):
    """Not the student's train() raising: no results, exit 1, the library named."""
    broken = tmp_path / "numpy.py"  # beside worker.py in the sandbox, it shadows the real numpy there only
    broken.write_text("raise KeyError('getpwuid(): uid not found: 64000')\n")
    monkeypatch.setattr(client, "WORKER_FILES", (*client.WORKER_FILES, broken))
    results = tmp_path / "out" / "results.json"
    code = grading.main([f"--submission={SOLUTIONS / 'vae.py'}", f"--results={results}"])
    error = capsys.readouterr().err
    assert code == 1
    assert "numpy failed to import" in error and "getpwuid" in error and "not the submission" in error
    assert not results.exists()


@pytest.mark.slow
def test_a_line_printed_by_the_submission_reaches_the_grader_though_the_worker_is_killed(tmp_path):
    """The worker runs with -I, which ignores PYTHONUNBUFFERED: its output must be unbuffered anyway,
    or a short print is lost when the sandbox kills it."""
    submission = tmp_path / "vae.py"
    submission.write_text("print('a short line')\nimport torch\nclass VAE(torch.nn.Module):\n    pass\n")
    sandbox = client.Sandbox(submission.read_bytes())
    try:
        assert sandbox.call(protocol.PARAMETERS, {"seed": 0}, None, function="VAE").ok
    finally:
        sandbox.close()
    assert "a short line" in sandbox.output.text()
