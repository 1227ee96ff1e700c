"""autograder/authoring/stubs.py: solution regions become stubs; everything else is kept; bad markers fail."""
from __future__ import annotations

import textwrap

import pytest

from autograder.authoring.stubs import MarkerError, stub_source


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


def test_unclosed_region_is_an_error_naming_the_begin_line():
    source = src('''
        def f():
            ### BEGIN SOLUTION
            x = 1
            return x
    ''')
    with pytest.raises(MarkerError, match=r"^f\.py:2: .*never closed"):
        stub_source(source, filename="f.py")


def test_nested_begin_is_an_error_naming_the_inner_begin_line():
    source = src('''
        def f():
            ### BEGIN SOLUTION
            x = 1
            ### BEGIN SOLUTION
            y = 2
            ### END SOLUTION
            ### END SOLUTION
    ''')
    with pytest.raises(MarkerError, match=r"^f\.py:4: nested"):
        stub_source(source, filename="f.py")


def test_stray_end_is_an_error_naming_its_line():
    source = src('''
        def f():
            x = 1
            ### END SOLUTION
            return x
    ''')
    with pytest.raises(MarkerError, match=r"^f\.py:3: .*without"):
        stub_source(source, filename="f.py")


@pytest.mark.parametrize(
    "line",
    ["x = 1  ### BEGIN SOLUTION", "### END SOLUTION  # done", "### BEGIN SOLUTION x = 1"],
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
