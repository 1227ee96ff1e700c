"""autograder/authoring/markers.py: solution regions become stubs; everything else is kept; bad
markers fail; each region's secret lines are found wherever they leak."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from autograder.authoring.markers import (
    BEGIN, END, MarkerError, check_notebook, find_leaks, has_markers, readable_text, solution_regions,
    stub_message, stub_source, without_markers,
)
from autograder.paths import homework_files


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


METHOD = src('''
    class VAE:
        def encode(self, x):
            """Parameters of q(z|x)."""
            # TODO: the hidden layer, then two heads.
            ### BEGIN SOLUTION
            h1 = relu(fc1(x))
            mu, logvar = fc21(h1), fc22(h1)
            ### END SOLUTION
            return mu, logvar
''')


def stub_line(indent: str, name: str) -> str:
    return f'{indent}raise NotImplementedError("{name} is not implemented yet: write it, following its docstring")'


def test_stub_message_is_the_text_every_stub_raises():
    assert stub_line("", "train") == f'raise NotImplementedError("{stub_message("train")}")'


def test_method_region_becomes_a_stub_naming_class_and_method_and_keeps_the_rest():
    assert stub_source(METHOD).splitlines() == [
        "class VAE:",
        "    def encode(self, x):",
        '        """Parameters of q(z|x)."""',
        "        # TODO: the hidden layer, then two heads.",
        "        # YOUR CODE HERE",
        stub_line(" " * 8, "VAE.encode"),
        "        return mu, logvar",
    ]


def test_function_region_is_named_by_the_function_alone():
    source = src('''
        def loss_function(recon_x, x):
            """The negative ELBO."""
            ### BEGIN SOLUTION
            bce = f(recon_x, x)
            ### END SOLUTION
            return bce
    ''')
    out = stub_source(source).splitlines()
    assert out == [
        "def loss_function(recon_x, x):",
        '    """The negative ELBO."""',
        "    # YOUR CODE HERE",
        stub_line("    ", "loss_function"),
        "    return bce",
    ]


def test_stub_takes_the_indentation_of_the_begin_marker():
    source = src('''
        class VAE:
            def train(self, loader):
                for x in loader:
                    ### BEGIN SOLUTION
                    step(x)
                    ### END SOLUTION
                return 0.0
    ''')
    out = stub_source(source).splitlines()
    assert out[3] == " " * 12 + "# YOUR CODE HERE"
    assert out[4] == stub_line(" " * 12, "VAE.train")


def test_each_region_is_named_for_its_own_function():
    source = src('''
        class VAE:
            def encode(self, x):
                ### BEGIN SOLUTION
                a = 1
                ### END SOLUTION

            def decode(self, z):
                ### BEGIN SOLUTION
                b = 2
                ### END SOLUTION

        def train(model):
            ### BEGIN SOLUTION
            c = 3
            ### END SOLUTION
    ''')
    out = stub_source(source)
    names = [line.split('"')[1].split(" ")[0] for line in out.splitlines() if "NotImplementedError" in line]
    assert names == ["VAE.encode", "VAE.decode", "train"]
    assert "a = 1" not in out and "b = 2" not in out and "c = 3" not in out


def test_generated_stub_is_valid_python_that_raises_naming_the_method():
    namespace: dict = {}
    exec(compile(stub_source(METHOD), "<stub>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r"^VAE\.encode is not implemented yet"):
        namespace["VAE"]().encode(None)


def test_file_without_markers_is_unchanged():
    source = src('''
        """A helper module."""
        import torch


        def pick_device():
            # BEGIN and END of nothing: no markers here.
            return torch.device("cpu")
    ''')
    assert stub_source(source) == source


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([BEGIN, "x = 1", "return x"], r"^f\.py:2: .*never closed"),
        ([BEGIN, "x = 1", BEGIN, "y = 2", END, END], r"^f\.py:4: nested"),
        (["x = 1", END, "return x"], r"^f\.py:3: .*without"),
    ],
    ids=["unclosed-names-the-begin", "nested-names-the-inner-begin", "stray-end-names-its-line"],
)
def test_malformed_regions_are_an_error_naming_file_and_line(body, message):
    source = "def f():\n" + "".join(f"    {line}\n" for line in body)
    with pytest.raises(MarkerError, match=message):
        stub_source(source, filename="f.py")


@pytest.mark.parametrize(
    "line",
    ["x = 1  ### BEGIN SOLUTION", "### END SOLUTION  # done", "### BEGIN SOLUTION x = 1",
     "x = 1  # END SOLUTION"],
)
def test_marker_sharing_its_line_with_code_is_an_error_naming_the_line(line):
    source = "def f():\n    y = 0\n    " + line.strip() + "\n    return y\n"
    with pytest.raises(MarkerError, match=r"^f\.py:3: .*alone"):
        stub_source(source, filename="f.py")


def test_region_outside_any_function_is_an_error_naming_file_and_line():
    source = "x = 0\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n"
    with pytest.raises(MarkerError, match=r"^f\.py:2: "):
        stub_source(source, filename="f.py")


def test_line_endings_are_kept():
    source = "def f():\r\n    ### BEGIN SOLUTION\r\n    return 1\r\n    ### END SOLUTION\r\n"
    stub = stub_source(source, filename="f.py")
    assert stub.count("\r\n") == 3 and "\n" not in stub.replace("\r\n", "")
    assert stub_source("x = 1", filename="g.py") == "x = 1"


def test_without_markers_drops_only_the_marker_lines():
    assert without_markers(METHOD) == METHOD.replace(f"        {BEGIN}\n", "").replace(f"        {END}\n", "")
    assert not has_markers(without_markers(METHOD)) and has_markers(METHOD)


# --- Notebooks --------------------------------------------------------------------------------


def notebook(*sources: str, solution: bool = True) -> dict:
    meta = {"nbgrader": {"solution": solution, "grade_id": "answer"}}
    return {"cells": [{"id": f"c{index}", "cell_type": "code", "metadata": meta, "source": source}
                      for index, source in enumerate(sources)]}


def test_notebook_regions_pair_up_within_each_cell():
    spans = check_notebook(notebook("x = 1", ["intro\n", f"{BEGIN}\n", "answer\n", f"{END}\n"]))
    assert spans == [[], [(1, 3)]]


def test_notebook_error_names_the_file_the_cell_and_the_line():
    with pytest.raises(MarkerError, match=r"^nb\.ipynb, cell 1 \(id 'c1'\), line 2: .*never closed"):
        check_notebook(notebook("x = 1", f"x = 2\n{BEGIN}\nanswer\n"), "nb.ipynb")


def test_notebook_region_outside_a_solution_cell_is_an_error():
    with pytest.raises(MarkerError, match="not an nbgrader solution cell"):
        check_notebook(notebook(f"{BEGIN}\nanswer\n{END}", solution=False))


# --- Secrets and leaks ------------------------------------------------------------------------


@pytest.fixture
def solutions(tmp_path: Path) -> Path:
    """A small solutions/ folder: a Python file and a notebook, each with regions, and clutter."""
    folder = tmp_path / "solutions"
    folder.mkdir()
    (folder / "vae.py").write_text(src('''
        def kl(mu, logvar):
            """Uses x = x.to(device) as shown here."""
            ### BEGIN SOLUTION
            x = x.to(device)
            k = -0.5 * (1 + logvar).sum()  # the KL term
            pass
            ### END SOLUTION
            return k
    '''))
    (folder / "vae.ipynb").write_text(json.dumps(notebook(
        f"Why?\n{BEGIN}\nBecause \"the prior\" is N(0, I).\nreturn k\n{END}\n")))
    for clutter in ("results", "__pycache__", "data"):
        (folder / clutter).mkdir()
        (folder / clutter / "old.py").write_text(f"def f():\n    {BEGIN}\n    secret_in_{clutter} = 1\n    {END}\n")
    return folder


def test_solution_regions_name_each_region_and_keep_only_its_secret_lines(solutions):
    by_place = {(str(r.source), r.function): r.secret_lines for r in solution_regions(solutions)}
    assert by_place == {
        # The stub keeps x.to(device) in the docstring; `pass` is too short to give anything away;
        # the commented line counts with and without its comment.
        ("solutions/vae.py", "kl"): ("k = -0.5 * (1 + logvar).sum()  # the KL term",
                                      "k = -0.5 * (1 + logvar).sum()"),
        # `return k` is public in vae.py, which a notebook region may repeat.
        ("solutions/vae.ipynb", "cell 0 (id 'c0')"): ('Because "the prior" is N(0, I).',),
    }


def test_homework_files_leave_out_caches_outputs_and_data(solutions):
    assert homework_files(solutions) == [Path("vae.ipynb"), Path("vae.py")]


def test_find_leaks_names_the_region_of_each_leaked_line(solutions):
    regions = solution_regions(solutions)
    leaks = find_leaks("hint: k = -0.5 * (1 + logvar).sum() / 2", regions)
    assert [(region.function, line) for region, line in leaks] == [("kl", "k = -0.5 * (1 + logvar).sum()")]
    assert find_leaks("x = x.to(device)\nreturn k\npass", regions) == []


def test_readable_text_finds_a_leak_that_a_notebook_escapes(solutions, tmp_path):
    released = tmp_path / "student.ipynb"
    released.write_text(json.dumps(notebook('Because "the prior" is N(0, I).')))
    assert 'Because "the prior"' not in released.read_text()  # JSON wrote \\"the prior\\"
    [(region, _)] = find_leaks(readable_text(released), solution_regions(solutions))
    assert region.function == "cell 0 (id 'c0')"
