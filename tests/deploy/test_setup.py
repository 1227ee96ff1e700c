"""`make setup` (setup.mk): the Python is checked first, a failed or interrupted set-up is repaired
by the next one, TORCH=cpu takes PyTorch from its CPU-only index.

Nothing here installs anything: each test runs the student release's Makefile and setup.mk in a
temporary folder with a fake Python (a shell script) that logs what it is asked to do. Its
`-m venv` behaves as CPython's venv does on an existing folder: without --clear it keeps the
links already in bin/ (venv's symlink_or_copy skips a `dst` that is a link), so a .venv made by
an older Python keeps running that Python.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from autograder.paths import ROOT

FAKE_PYTHON = r"""#!/usr/bin/env bash
VERSION=@VERSION@
echo "$VERSION $*" >> "@LOG@"
case "$1" in
  --version) echo "Python $VERSION" ;;
  -c) case "$2" in
        *version_info*) [ "${VERSION#3.}" -ge 11 ] ;;
        *print*) echo "Python $VERSION" ;;
      esac ;;
  -m)
    case "$2 $3" in
      "venv --clear") rm -rf "$4"; dir="$4" ;;
      "venv "*) dir="$3" ;;
      "pip --version") [ -e "$(dirname "$0")/pip" ]; exit ;;
      "pip install") [ -z "$FAKE_PIP_INTERRUPT" ] || exit 130; exit 0 ;;
      *) exit 0 ;;
    esac
    mkdir -p "$dir/bin"
    [ -L "$dir/bin/python" ] || ln -s "$(readlink -f "$0")" "$dir/bin/python"
    touch "$dir/bin/pip" ;;
esac
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The release's set-up files, and two fake Pythons: bin/python3.10 and bin/python3.11."""
    for source, name in ((ROOT / "autograder/deploy/release_files/Makefile", "Makefile"),
                         (ROOT / "setup.mk", "setup.mk"), (ROOT / "requirements.txt", "requirements.txt")):
        shutil.copyfile(source, tmp_path / name)
    (tmp_path / "bin").mkdir()
    for version in ("3.10", "3.11"):
        fake = tmp_path / "bin" / f"python{version}"
        fake.write_text(FAKE_PYTHON.replace("@VERSION@", version).replace("@LOG@", str(tmp_path / "log")))
        fake.chmod(0o755)
    return tmp_path


def make(tree: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {"PATH": "/usr/bin:/bin", **env}
    return subprocess.run(["make", "--no-print-directory", "-C", str(tree), *args],
                          capture_output=True, text=True, env=environment, timeout=60)


def log(tree: Path) -> list[str]:
    path = tree / "log"
    return path.read_text().splitlines() if path.exists() else []


def test_setup_refuses_a_python_older_than_311_in_one_line_before_anything(tree: Path) -> None:
    run = make(tree, "setup", f"PYTHON={tree}/bin/python3.10")
    assert run.returncode != 0
    lines = run.stdout.splitlines()
    assert len(lines) == 1 and "needs Python 3.11 or newer" in lines[0] and "Python 3.10" in lines[0], run.stdout
    assert "make setup PYTHON=python3.11" in lines[0], "the line should say what to run instead"
    assert not (tree / ".venv").exists(), "nothing is created with a Python that cannot install the pins"
    assert not [line for line in log(tree) if "venv" in line or "pip" in line]


def test_a_missing_python_is_named(tree: Path) -> None:
    run = make(tree, "setup", "PYTHON=python-that-is-not-here")
    assert run.returncode != 0 and "PYTHON=python-that-is-not-here is missing" in run.stdout, run.stdout


def test_an_interrupted_install_does_not_count_and_the_next_setup_repairs_it(tree: Path) -> None:
    python = f"PYTHON={tree}/bin/python3.11"
    run = make(tree, "setup", python, FAKE_PIP_INTERRUPT="1")
    assert run.returncode != 0 and (tree / ".venv" / "bin" / "python").exists()
    assert not (tree / ".venv" / ".installed").exists()
    check = make(tree, "check")
    assert check.returncode != 0 and "run 'make setup' first" in check.stdout, (
        "a .venv whose pip install was interrupted must not count as installed:\n" + check.stdout
    )
    run = make(tree, "setup", python)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tree / ".venv" / ".installed").exists()
    assert log(tree)[-2:] == ["3.11 -m pip install --disable-pip-version-check -r requirements.txt",
                              "3.11 assignment/common.py"]
    assert re.search(r"^\.venv installed: \S+$", run.stdout, re.M), "the end of the install says its size"


def test_a_venv_left_by_an_older_python_is_made_again(tree: Path) -> None:
    subprocess.run([tree / "bin" / "python3.10", "-m", "venv", tree / ".venv"], check=True)
    run = make(tree, "setup", f"PYTHON={tree}/bin/python3.11")
    assert run.returncode == 0, run.stdout + run.stderr
    installs = [line for line in log(tree) if "pip install" in line]
    assert installs and all(line.startswith("3.11 ") for line in installs), (
        f"pip ran under the old venv's Python: {installs}"
    )
    assert "creating .venv with Python 3.11" in run.stdout


def test_a_complete_venv_is_kept(tree: Path) -> None:
    assert make(tree, "setup", f"PYTHON={tree}/bin/python3.11").returncode == 0
    (tree / ".venv" / "keep").touch()
    (tree / ".venv" / ".installed").unlink()  # as after a change of requirements.txt
    assert make(tree, "setup", f"PYTHON={tree}/bin/python3.11").returncode == 0
    assert (tree / ".venv" / "keep").exists(), "a working .venv is updated in place, not made again"


def test_torch_cpu_takes_torch_and_torchvision_from_the_cpu_index_first(tree: Path) -> None:
    dry = make(tree, "-n", "setup", "TORCH=cpu", "PYTHON=python3.11")
    assert "--index-url https://download.pytorch.org/whl/cpu" in dry.stdout, dry.stdout
    run = make(tree, "setup", "TORCH=cpu", f"PYTHON={tree}/bin/python3.11")
    assert run.returncode == 0, run.stdout + run.stderr
    installs = [line for line in log(tree) if "pip install" in line]
    pins = re.findall(r"^torch(?:vision)?==\S+", (ROOT / "requirements.txt").read_text(), re.M)
    assert len(pins) == 2 and installs == [
        "3.11 -m pip install --disable-pip-version-check --index-url https://download.pytorch.org/whl/cpu "
        + " ".join(pins),
        "3.11 -m pip install --disable-pip-version-check -r requirements.txt",
    ]


def test_default_setup_uses_pypi_only(tree: Path) -> None:
    dry = make(tree, "-n", "setup", "PYTHON=python3.11")
    assert "download.pytorch.org" not in dry.stdout and "-r requirements.txt" in dry.stdout


def test_an_unknown_torch_variant_is_refused(tree: Path) -> None:
    run = make(tree, "setup", "TORCH=cuda", f"PYTHON={tree}/bin/python3.11")
    assert run.returncode != 0 and "TORCH=cuda is not offered" in run.stderr
    assert not (tree / ".venv").exists()


def test_this_repository_sets_up_with_the_same_file() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^include setup\.mk$", makefile, re.M) and "$(STAMP): requirements.txt" not in makefile


# --- Every CI route reuses the installed .venv ---------------------------------------------------

WORKFLOWS = {
    "student": (ROOT / "autograder/deploy/release_files/autograde.yml", "autograde", ".venv"),
    "instructor": (ROOT / "autograder/course/instructor_files/grade-class.yml", "grade", "/opt/grader/.venv"),
}


@pytest.mark.parametrize("route", sorted(WORKFLOWS))
def test_ci_caches_the_venv_keyed_on_the_python_and_the_pins_before_make_setup(route: str) -> None:
    path, job, venv = WORKFLOWS[route]
    steps = yaml.safe_load(path.read_text())["jobs"][job]["steps"]
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    python = steps[uses.index("actions/setup-python")]
    cache = steps[uses.index("actions/cache")] if "actions/cache" in uses else None
    assert cache is not None, f"{path.name}: no actions/cache step: every run installs all the packages again"
    assert cache["with"]["path"] == venv and python["id"] == "python"
    key = cache["with"]["key"]
    assert "${{ steps.python.outputs.python-version }}" in key, "a new Python needs a new .venv"
    hashed = re.findall(r"hashFiles\('requirements\.txt', 'setup\.mk'\)|steps\.graders\.outputs\.setup-hash", key)
    assert hashed, f"the key must change with requirements.txt and setup.mk: {key}"
    setup = next(i for i, step in enumerate(steps) if "make setup" in step.get("run", "")
                 or "setup\n" in step.get("run", ""))
    assert uses.index("actions/cache") < setup, "the cache must be restored before `make setup` runs"
    assert "cache" not in python.get("with", {}), "pip's download cache is redundant beside the .venv's"


def test_instructor_cache_key_hashes_the_set_up_files() -> None:
    path, job, _ = WORKFLOWS["instructor"]
    steps = yaml.safe_load(path.read_text())["jobs"][job]["steps"]
    graders = next(step for step in steps if step.get("id") == "graders")
    assert "/opt/grader/requirements.txt /opt/grader/setup.mk" in graders["run"]


# --- The stated Python is the one setup.mk checks -------------------------------------------------

def min_python() -> str:
    return re.search(r"^MIN_PYTHON := (\S+)$", (ROOT / "setup.mk").read_text(), re.M).group(1)


def test_pyproject_requires_the_python_setup_checks() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={min_python()}"


@pytest.mark.parametrize("readme", ["README.md", "autograder/deploy/release_files/README.md"])
def test_readme_states_the_python_setup_checks(readme: str) -> None:
    text = (ROOT / readme).read_text()
    stated = set(re.findall(r"Python (3\.\d+)", text))
    assert stated == {min_python()}, f"{readme} names Python {sorted(stated)}; setup.mk checks {min_python()}"


# --- Line endings and what set-up writes, in this repository --------------------------------------

def git(*args: str) -> list[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.splitlines()


def test_files_that_sh_or_make_runs_keep_lf_endings_in_any_checkout() -> None:
    must_be_lf = ["Makefile", "setup.mk", "autograder/deploy/gradescope_files/setup.sh",
                  "autograder/deploy/gradescope_files/run_autograder", "autograder/deploy/release_files/Makefile",
                  ".ci/run", "requirements.txt", "solutions/vae.py", "data/SHA256SUMS"]
    assert git("check-attr", "eol", "--", *must_be_lf) == [f"{path}: eol: lf" for path in must_be_lf]
    assert git("check-attr", "binary", "--", "data/MNIST/raw/t10k-images-idx3-ubyte.gz") == [
        "data/MNIST/raw/t10k-images-idx3-ubyte.gz: binary: set"]


def test_what_training_from_assignment_writes_is_ignored() -> None:
    written = ["assignment/results/samples.png", "build/train/samples.png"]
    assert git("check-ignore", "--no-index", "--", *written) == written
