"""Copied code found (autograder/course/similarity.py): planted copies found, independent work not paired.

Planted copies are made here, by program, from the independent correct implementations of
tests/submissions/thirdparty/ (public VAE code ported into the homework's contract, each in its
own idioms): every parameter and local variable renamed, functions and methods reordered,
comments and docstrings changed, the layout reformatted, and combinations of these (Hypothesis
draws the names, the orders and the combinations). Each copy must be paired with its source;
no two independent implementations (nor one and the reference) may be paired; two hand-ins of
the starter code alone share nothing once it is subtracted. Hand-ins that cannot be read are
listed with their reason, and the class report shows the section and its figure.
"""
from __future__ import annotations

import ast
import csv
import io
import json
import keyword
import random
import re
import tokenize
import tomllib
from collections.abc import Callable
from pathlib import Path

import matplotlib.image
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from autograder import config
from autograder.course import similarity
from autograder.paths import ASSIGNMENT, SOLUTIONS, THIRDPARTY

MANIFEST = tomllib.loads((THIRDPARTY / "manifest.toml").read_text())
PORTS = {name: (THIRDPARTY / f"{name}.py").read_text() for name in MANIFEST}
CORRECT = sorted(name for name, spec in MANIFEST.items() if spec["kind"] == "correct")


# --- Planting copies: each transform keeps the program and changes how it reads -------------------


def rename(source: str, names: Callable[[], str]) -> str:
    """Every parameter and local variable of every function renamed (names() gives each new one),
    in place: comments and layout stay as they were."""
    tree = ast.parse(source)
    edits = []  # (line, byte offset, old name, new name)
    for function in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        arguments = function.args
        local = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                 *filter(None, [arguments.vararg, arguments.kwarg])]}
        local |= {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        mapping = {old: names() for old in sorted(local)}
        edits += [(n.lineno, n.col_offset, n.id, mapping[n.id]) for n in ast.walk(function)
                  if isinstance(n, ast.Name) and n.id in mapping]
        edits += [(n.lineno, n.col_offset, n.arg, mapping[n.arg]) for n in ast.walk(function)
                  if isinstance(n, ast.arg) and n.arg in mapping]
    lines = [line.encode() for line in source.splitlines(keepends=True)]
    for row, col, old, new in sorted(set(edits), reverse=True):  # right to left: offsets stay true
        assert lines[row - 1][col:col + len(old)] == old.encode()
        lines[row - 1] = lines[row - 1][:col] + new.encode() + lines[row - 1][col + len(old):]
    return b"".join(lines).decode()


def _permuted(lines: list[str], body: list[ast.stmt], order: Callable[[int], list[int]]) -> list[str]:
    """`lines` with the function and class definitions of `body` in another order (order(n) gives it)."""
    slots = [(min([n.lineno, *(d.lineno for d in n.decorator_list)]) - 1, n.end_lineno) for n in body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    if len(slots) < 2:
        return lines
    blocks = [lines[start:end] for start, end in slots]
    out, position = [], 0
    for (start, end), index in zip(slots, order(len(slots))):
        out += lines[position:start] + blocks[index]
        position = end
    return out + lines[position:]


def reorder(source: str, seed: int) -> str:
    """The module's functions and classes, and each class's methods, in an order drawn from `seed`
    (comments and layout kept: blocks of lines move)."""
    rng = random.Random(seed)

    def order(n: int) -> list[int]:
        return rng.sample(range(n), n)

    lines = source.splitlines(keepends=True)
    for cls in sorted((n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)), key=lambda n: -n.lineno):
        lines = _permuted(lines, cls.body, order)  # from the bottom up: earlier line numbers stay true
    lines = _permuted(lines, ast.parse("".join(lines)).body, order)
    return "".join(lines)


def recomment(source: str, seed: int) -> str:
    """Every comment removed, every docstring rewritten, new comments added between lines."""
    rng = random.Random(seed)
    tree = ast.parse(source)
    docstrings = {n.body[0].lineno: n.body[0].end_lineno for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)
                  and isinstance(n.body[0].value.value, str)}
    comments = {t.start: t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                if t.type == tokenize.COMMENT}
    out, skip_until = [], 0
    for number, text in enumerate(source.splitlines(), start=1):
        if number <= skip_until:
            continue
        indent = text[:len(text) - len(text.lstrip())]
        if number in docstrings:
            out.append(f'{indent}"""My own words, version {rng.randint(0, 999)}."""')
            skip_until = docstrings[number]
            continue
        cut = next((col for (row, col) in comments if row == number), None)
        if cut is not None:
            text = text[:cut].rstrip()
            if not text.strip():
                continue
        if text.strip() and rng.random() < 0.3 and not text.rstrip().endswith((",", "(", "[", "\\")):
            out.append(f"{indent}# step {rng.randint(0, 99)}: see my notes")
        out.append(text)
    return "\n".join(out) + "\n"


def reformat(source: str, seed: int) -> str:
    """The same tokens laid out otherwise: tokenize's compatibility mode respaces every line, and
    blank lines are added and removed."""
    spaced = tokenize.untokenize((t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(source).readline))
    in_strings = {row for t in tokenize.generate_tokens(io.StringIO(spaced).readline) if t.type == tokenize.STRING
                  and t.end[0] > t.start[0] for row in range(t.start[0], t.end[0] + 1)}  # kept as they are
    rng = random.Random(seed)
    return "".join(line + ("\n" if number not in in_strings and rng.random() < 0.2 else "")
                   for number, line in enumerate(spaced.splitlines(keepends=True), start=1)
                   if line.strip() or number in in_strings or rng.random() < 0.5)


def fresh_names(seed: int) -> Callable[[], str]:
    """A source of new, distinct identifiers."""
    rng, used = random.Random(seed), set()

    def draw() -> str:
        while True:
            name = rng.choice("abcdefghjkmnpqrstuvwxyz") + "".join(rng.choices("abcdefghijkmnopqrstuvwxyz0123456789_",
                                                                              k=rng.randint(1, 8)))
            if name not in used and not keyword.iskeyword(name) and name not in dir(__builtins__):
                used.add(name)
                return name

    return draw


TRANSFORMS = {
    "rename": lambda s, seed: rename(s, fresh_names(seed)),
    "reorder": reorder,
    "recomment": recomment,
    "reformat": reformat,
}
# Each transform alone, then the combinations a student who copies tends to use.
PLANTINGS = [("rename",), ("reorder",), ("recomment",), ("reformat",), ("reorder", "rename"),
             ("recomment", "reorder"), ("recomment", "reorder", "reformat"),
             ("recomment", "reorder", "rename", "reformat")]


def plant(source: str, transforms: tuple[str, ...], seed: int) -> str:
    for number, name in enumerate(transforms):
        source = TRANSFORMS[name](source, seed + number)
    ast.parse(source)  # still a program
    return source


def prints(name: str, source: str, base: tuple[str, ...] = ()) -> similarity.Fingerprints:
    return similarity.fingerprint(name, source, base=base)


def listed(fingerprints: list[similarity.Fingerprints]) -> set[frozenset[str]]:
    return {frozenset((p.a, p.b)) for p in similarity.compare(fingerprints)[0]}


def class_folder(folder: Path, members: dict[str, str | bytes]) -> Path:
    """folder/<student>/vae.py for each member (text or raw bytes)."""
    for name, code in members.items():
        (folder / name).mkdir(parents=True)
        target = folder / name / "vae.py"
        target.write_bytes(code) if isinstance(code, bytes) else target.write_text(code)
    return folder


REFERENCE = (SOLUTIONS / "vae.py").read_text()
STARTER = (ASSIGNMENT / "vae.py").read_text()
# The ports that pytorch/examples' vae/main.py was the source of, or that copied its training loop:
# the one public text two of them share. Given as public base code, it is subtracted as the starter is.
PYTORCH_EXAMPLES = PORTS["pytorch_examples_2019"]


# --- Tokens and fingerprints -----------------------------------------------------------------------


def test_names_numbers_strings_comments_docstrings_and_type_hints_do_not_count():
    plain = 'def f(a, b):\n    return a.view(-1, 784) + g(b, "x")\n'
    disguised = ('def other(first: torch.Tensor, second=None) -> float:\n    """Said otherwise."""\n'
                 "    # a comment\n    return first.view(- 1,\n        28*28) + helper(second, 'y')  # more\n")
    assert [t.text for t in similarity.tokens(plain)] == ["def", "N", "(", "N", ",", "N", ")", ":", "return", "N",
                                                          ".", "view", "(", "-", "N", ",", "N", ")", "+", "N", "(",
                                                          "N", ",", "S", ")"]
    tokens = [t.text for t in similarity.tokens(disguised)]
    assert "S" in tokens and "view" in tokens and "Tensor" not in tokens and "float" not in tokens
    assert tokens.count("S") == 1  # the docstring is gone, the argument stays
    assert [t.text for t in similarity.tokens(plain)] != [t.text for t in similarity.tokens(
        plain.replace(".view", ".reshape"))]  # an attribute is the code's own choice: it counts


def test_definitions_in_another_order_give_the_same_fingerprints():
    source = PORTS["yunjey_pytorch_tutorial"]
    for seed in range(5):
        assert prints("a", reorder(source, seed)).hashes == prints("b", source).hashes


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["x", "y", "+", "(", ")", "1", "z.w", ","]), min_size=0, max_size=40),
       st.lists(st.sampled_from(["a", "b", "*", "-", "2", "q.r"]), min_size=15, max_size=40),
       st.lists(st.sampled_from(["x", "y", "+", "(", ")", "1", "z.w", ","]), min_size=0, max_size=40))
def test_any_common_run_of_k_plus_window_minus_one_tokens_shares_a_fingerprint(before, common, after):
    k, window = config.SIMILARITY_K, config.SIMILARITY_WINDOW
    found = [similarity.Token(text, 1, 1) for text in before + common + after]
    alone = [similarity.Token(text, 1, 1) for text in common]
    if len(common) >= k + window - 1:
        assert ({h for h, _, _ in similarity.winnow(similarity.kgrams(found, k), window)}
                & {h for h, _, _ in similarity.winnow(similarity.kgrams(alone, k), window)})


@pytest.mark.parametrize("source, reason", [
    ("def f(:\n    pass\n", "does not parse (line 1"),
    ("x = 'unterminated\n", "does not parse"),
    ("", "holds no code"),
    ('"""Only a docstring."""\n# and a comment\n', "holds no code"),
    ("a = 1\x00\n", "does not parse (source code string cannot contain null bytes)"),
    ("a" + ".b" * 100_000 + "\n", "cannot be read as Python (RecursionError"),
])
def test_code_that_cannot_be_fingerprinted_says_why_in_one_line(source, reason):
    with pytest.raises(similarity.NotComparable, match=re.escape(reason)) as error:
        prints("x", source)
    assert "\n" not in str(error.value)


def _parameters(source: str) -> set[str]:
    return {a.arg for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) for a in n.args.args}


def _definition_order(source: str) -> list[str]:
    return [n.name for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]


def _comments(source: str) -> set[str]:
    return {t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT}


@pytest.mark.parametrize("source", ["mechagabe_per_batch_mean", "julyfun_sampling_module", "yunjey_pytorch_tutorial"])
def test_each_planting_transform_changes_what_it_says_and_keeps_the_program(source):
    """The transforms are real disguises, so that finding the copies means something."""
    original = PORTS[source]
    renamed = rename(original, fresh_names(1))
    assert not (_parameters(original) - {"self"}) & _parameters(renamed)
    assert sorted(_definition_order(reorder(original, 3))) == sorted(_definition_order(original))
    assert any(_definition_order(reorder(original, seed)) != _definition_order(original) for seed in range(5))
    assert not _comments(original) & _comments(recomment(original, 2))
    spaced = reformat(original, 4)
    assert spaced.splitlines() != original.splitlines()
    assert [t.string for t in tokenize.generate_tokens(io.StringIO(spaced).readline) if t.type not in (
        tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)] == [
        t.string for t in tokenize.generate_tokens(io.StringIO(original).readline) if t.type not in (
            tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)]


# --- Planted copies are found ------------------------------------------------------------------------


@pytest.mark.parametrize("source", sorted(PORTS))
def test_every_planted_copy_of_an_independent_implementation_is_found(source):
    original = prints(source, PORTS[source])
    for number, transforms in enumerate(PLANTINGS):
        copy = prints("copy", plant(PORTS[source], transforms, 7 * number))
        value, shared = similarity.score(original, copy)
        assert similarity.is_similar(value, shared), f"{'+'.join(transforms)}: {value:.2f} ({shared} shared)"
        assert listed([original, copy]) == {frozenset((source, "copy"))}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(PORTS)), st.permutations(list(TRANSFORMS)), st.integers(1, 4),
       st.integers(0, 10 ** 6))
def test_copies_under_any_mix_of_renaming_reordering_and_rewording_are_found(source, order, count, seed):
    copy = plant(PORTS[source], tuple(order[:count]), seed)
    assert similarity.is_similar(*similarity.score(prints(source, PORTS[source]), prints("copy", copy)))


def test_a_planted_copy_is_found_among_the_whole_corpus_and_its_source_alone():
    copy = plant(PORTS["brainvae_helpers"], ("recomment", "reorder", "rename", "reformat"), 3)
    everyone = [prints(name, source, (PYTORCH_EXAMPLES,)) for name, source in PORTS.items()]
    assert listed([*everyone, prints("copy", copy, (PYTORCH_EXAMPLES,))]) == {frozenset(("brainvae_helpers", "copy"))}


# --- Independent work is not paired --------------------------------------------------------------------


def test_no_two_independent_implementations_nor_the_reference_are_paired():
    """The 17 ports and the reference, with pytorch/examples' vae/main.py as public base code: 153
    pairs, none listed (config.py gives the highest score measured and the margin)."""
    everyone = [prints(name, source, (PYTORCH_EXAMPLES,)) for name, source in PORTS.items()]
    everyone.append(prints("reference", REFERENCE, (PYTORCH_EXAMPLES,)))
    pairs, scores = similarity.compare(everyone)
    assert len(scores) == 153 and not pairs
    assert max(scores) < config.SIMILARITY_THRESHOLD - 0.15  # a margin, not a near miss


def test_without_the_public_source_the_pair_listed_shares_pytorch_examples_training_loop():
    """lyeoni's notebook took pytorch/examples' training loop (its progress line, word for word): two
    hand-ins that copied one public source are paired, as they should be, until the course gives
    that source as base code (the test above)."""
    everyone = [prints(name, source) for name, source in PORTS.items()]
    pairs = similarity.compare(everyone)[0]
    assert {frozenset((p.a, p.b)) for p in pairs} == {frozenset(("pytorch_examples_2019", "lyeoni_pytorch_mnist_vae"))}
    lyeoni = pairs[0].shared_lines[[pairs[0].a, pairs[0].b].index("lyeoni_pytorch_mnist_vae")]
    progress = 1 + next(i for i, line in enumerate(PORTS["lyeoni_pytorch_mnist_vae"].splitlines())
                        if "Train Epoch" in line)
    assert any(first <= progress <= last for first, last in lyeoni)


def test_hand_ins_of_the_starter_code_are_not_paired_and_would_be_without_the_subtraction(monkeypatch):
    stub_again = recomment(reformat(STARTER, 1), 2)
    assert listed([prints("a", STARTER), prints("b", stub_again)]) == set()
    assert not prints("a", STARTER).lines
    monkeypatch.setattr(similarity, "shared_material", lambda k, base=(): (frozenset(), frozenset()))
    assert listed([prints("a", STARTER), prints("b", stub_again)]) == {frozenset("ab")}


def test_solutions_that_write_the_lecture_formulas_as_given_are_not_paired():
    """The corpus's correct variants: the reference's lines, each with its own change (the KL from
    torch.distributions, a clamped BCE, another loop...), as students who follow the docstrings'
    formulas write them. Sharing the lecture's lines is no evidence: with the reference subtracted
    no two are paired; without it, they would be."""
    from autograder.evidence import corpus  # noqa: PLC0415 - the corpus builder, for these tests only
    variants = [prints(name, corpus.source(name)) for name, spec in corpus.variants().items()
                if spec["kind"] == "correct"]
    assert len(variants) >= 10 and listed(variants) == set()


def test_copies_of_the_reference_keep_too_few_fingerprints_to_be_paired():
    """The honest limit of subtracting the reference: its copies are not told apart from the
    lecture's formulas written as given (the report names such hand-ins instead)."""
    copy = prints("x", plant(REFERENCE, ("rename", "recomment"), 5))
    assert len(copy.lines) < config.SIMILARITY_MIN_SHARED
    assert listed([copy, prints("y", REFERENCE)]) == set()


@pytest.mark.slow
def test_copies_of_the_corpus_variants_are_found_exactly_when_they_keep_enough_of_their_own():
    """The corpus's correct variants are the reference with one edit: a copy of one is found when the
    edit leaves at least SIMILARITY_MIN_SHARED fingerprints of its own, missed otherwise (80 of 120
    found when measured; config.py)."""
    from autograder.evidence import corpus  # noqa: PLC0415 - the corpus builder, for these tests only
    found = missed = 0
    for name, spec in corpus.variants().items():
        if spec["kind"] != "correct":
            continue
        original = prints(name, corpus.source(name))
        for number, transforms in enumerate(PLANTINGS):
            hit = similarity.is_similar(*similarity.score(original, prints("copy", plant(
                corpus.source(name), transforms, 7 * number))))
            assert hit == (len(original.lines) >= config.SIMILARITY_MIN_SHARED), (name, transforms)
            found, missed = found + hit, missed + (not hit)
    assert found > missed > 0


# --- A class folder, end to end --------------------------------------------------------------------


def notebook(cell: str) -> str:
    """The released notebook with `cell` as the code of its graded cell."""
    book = json.loads((ASSIGNMENT / "vae.ipynb").read_text())
    for item in book["cells"]:
        if item.get("metadata", {}).get("nbgrader", {}).get("grade_id") == config.NOTEBOOK_CODE_CELL:
            item["source"] = cell
    return json.dumps(book, indent=1)


@pytest.fixture
def planted_class(tmp_path: Path) -> Path:
    """Independent work, two planted copies (one handed in as a notebook's graded cell), the starter
    twice, and hand-ins that cannot be compared."""
    source = PORTS["mekadrom_helpers"]
    folder = class_folder(tmp_path / "class", {
        "ana": PORTS["yunjey_pytorch_tutorial"], "ben": PORTS["julyfun_sampling_module"],
        "cleo": source, "dan": plant(source, ("recomment", "reorder", "rename", "reformat"), 11),
        "eve": PORTS["ishikawa_tutorial"], "stub1": STARTER, "stub2": reformat(STARTER, 4),
        "broken": "def encode(self, x:\n    return x\n", "binary": b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe",
        "empty": "", "huge": "x = 1\n" * (config.SUBMISSION_MAX_BYTES // 6 + 1),
    })
    (folder / "fay").mkdir()
    (folder / "fay" / "vae.ipynb").write_text(notebook(plant(PORTS["brainvae_helpers"], ("reorder", "rename"), 2)))
    (folder / "gus").mkdir()
    (folder / "gus" / "vae.py").write_text(PORTS["brainvae_helpers"])
    (folder / "nobody").mkdir()
    return folder


def test_a_class_folder_pairs_the_planted_copies_and_skips_what_cannot_be_read(planted_class):
    found = similarity.review(planted_class)
    assert {frozenset((p.a, p.b)) for p in found.pairs} == {frozenset(("cleo", "dan")), frozenset(("fay", "gus"))}
    assert [p.score for p in found.pairs] == sorted((p.score for p in found.pairs), reverse=True)
    reasons = dict(found.skipped)
    assert sorted(reasons) == ["binary", "broken", "empty", "huge", "nobody"]
    assert "does not parse (line 1" in reasons["broken"] and "not UTF-8" in reasons["binary"]
    assert "no code" in reasons["empty"] and "bytes" in reasons["huge"] and "No vae.py" in reasons["nobody"]
    assert all("\n" not in why for why in reasons.values())
    assert len(found.compared) == 9 and len(found.scores) == 36
    assert similarity.similarity(planted_class) == found.pairs


@pytest.mark.slow
def test_the_class_report_ends_with_the_section_its_csv_and_its_figure(planted_class, tmp_path):
    from autograder.course import class_report  # noqa: PLC0415 - the report's own module, as grade-all calls it
    out = tmp_path / "out"
    out.mkdir()
    (out / "gradebook.csv").write_text("student,total,flags,causes,error\n" + "".join(
        f"{p.name},0,,,\n" for p in sorted(planted_class.iterdir())))
    report = class_report.write_report(out / "gradebook.csv", planted_class).read_text()
    section = report[report.index("## Similar code"):]
    assert "| `cleo` | `dan` |" in section or "| `dan` | `cleo` |" in section
    assert f"![Similarity of every pair]({similarity.FIGURE})" in section and "| `huge` |" in section
    assert "stub1" in section  # too little of its own to be paired, and said so
    assert matplotlib.image.imread(out / similarity.FIGURE).shape[2] in (3, 4)
    with open(out / similarity.PAIRS_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {frozenset((r["a"], r["b"])) for r in rows} == {frozenset(("cleo", "dan")), frozenset(("fay", "gus"))}
    assert all(float(r["score"]) >= config.SIMILARITY_THRESHOLD and re.fullmatch(r"\d+(-\d+)?(, \d+(-\d+)?)*",
                                                                                  r["a_lines"]) for r in rows)
    assert class_report.main([str(out / "gradebook.csv"), "--submissions", str(planted_class)]) == 0
    without = class_report.write_report(out / "gradebook.csv").read_text()
    assert "Not compared: the report was built without the submissions" in without


def test_the_command_writes_the_csv_figure_and_page_and_refuses_a_missing_folder(planted_class, tmp_path, capsys):
    out = tmp_path / "similarity"
    assert similarity.main([str(planted_class), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "9 hand-ins compared, 5 skipped, 2 pairs" in printed and "skipped huge:" in printed
    assert {p.name for p in out.iterdir()} == {similarity.PAIRS_CSV, similarity.FIGURE, similarity.SECTION}
    assert similarity.main([str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert similarity.main([str(planted_class), "--base", str(tmp_path / "missing.py")]) == 2
    assert "not a file" in capsys.readouterr().err


def test_a_class_of_one_gets_its_section_and_figure_without_pairs(tmp_path):
    folder = class_folder(tmp_path / "class", {"solo": STARTER})
    written = similarity.write(similarity.review(folder), tmp_path / "out")
    page = (tmp_path / "out" / similarity.SECTION).read_text()
    assert "No pair: 1 hand-ins compared, 0 pairs." in page and "`solo`" in page
    assert matplotlib.image.imread(written[1]).size > 0


def test_public_base_code_given_on_the_command_line_is_subtracted(tmp_path):
    folder = class_folder(tmp_path / "class", {"lyeoni": PORTS["lyeoni_pytorch_mnist_vae"],
                                               "examples": PYTORCH_EXAMPLES})
    assert len(similarity.similarity(folder)) == 1
    (tmp_path / "main.py").write_text(PYTORCH_EXAMPLES)
    assert similarity.similarity(folder, [tmp_path / "main.py"]) == []


# --- Student names are text in everything written ----------------------------------------------------

NAMES = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=40).filter(
    lambda n: n not in (".", ".."))


@settings(max_examples=60, deadline=None)
@given(NAMES, NAMES)
def test_any_student_names_show_as_text_in_the_section_and_the_csv(tmp_path_factory, a, b):
    import cmarkgfm  # noqa: PLC0415 - GitHub's own renderer, as tests/course/test_class_report.py uses it
    pair = similarity.Pair(a, b, 0.9, 40, (((1, 3),), ((4, 9), (12, 12))))
    found = similarity.Review([pair], [0.9], [], [(a, "its code does not parse (line 1: <b>x</b>)")])
    html = cmarkgfm.github_flavored_markdown_to_html(similarity.markdown(found),
                                                     options=cmarkgfm.Options.CMARK_OPT_UNSAFE)
    table = html[html.index("<table>"):html.index("</table>")]
    assert table.count("<tr>") == 2 and table.count("<td") == 6  # a header row, then one pair: six cells
    assert html.count("<img") == 1 and "<a " not in html and "<b>" not in html  # the figure, nothing of theirs
    out = tmp_path_factory.mktemp("csv")
    similarity.write_csv(found, out / "pairs.csv")
    with open(out / "pairs.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert row["a"] in (a, "'" + a) and row["b"] in (b, "'" + b) and row["a_lines"] == "1-3"
    assert not row["a"].startswith(("=", "+", "-", "@"))
