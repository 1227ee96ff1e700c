"""`make similarity SUBMISSIONS=folder`: pairs of hand-ins whose code is too similar to be independent.

    python -m autograder.course.similarity SUBMISSIONS [--out build/grade-all] [--base FILE ...]

What is compared is what is graded: each student's code as autograder/grading/handin.py resolves
it (vae.py, or what a notebook's `vae-code` cell runs), so a notebook hand-in is compared on its
code too. Winnowing, as MOSS and copydetect do it (Schleimer, Wilkerson and Aiken, "Winnowing:
local algorithms for document fingerprinting", SIGMOD 2003):

1. Python's own `tokenize` reads the code; comments, docstrings (a string that is a statement),
   type hints and layout are dropped; every name that is not a keyword or an attribute, and
   every number, becomes one token `N` (renamed variables and parameters still match, and
   `nn.Linear(784, 400)` is the starter's `nn.Linear(INPUT_DIM, HIDDEN_DIM)`; an attribute such
   as `.view` or `.fc1` is the code's own choice and stays); every other string becomes `S`.
2. Each run of SIMILARITY_K tokens (a k-gram) within one definition is hashed (none spans two
   functions, so functions in another order keep every fingerprint); in every window of
   SIMILARITY_WINDOW consecutive hashes the smallest is kept (winnowing guarantees that any
   common run of K + WINDOW - 1 tokens shares a fingerprint). A hand-in's fingerprints are a
   set: the order of its functions does not count.
3. Every k-gram of the starter code (assignment/vae.py and the released notebook's cells) and
   of the reference solution (solutions/vae.py) is subtracted. The starter is what every
   student was given. The reference is subtracted too because the homework is five short
   functions of the lecture's formulas: independent correct solutions share them
   (`-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())` is the lecture's line, not a
   copy); what two students share *beyond* the lecture is the evidence. The price, said
   honestly: a hand-in that is the reference, or the reference with a line changed, keeps too
   few fingerprints to be paired with anyone (two such hand-ins are not told apart from two
   students who wrote the docstrings' formulas as given); the report names these hand-ins.
   Public code the course knows students start from (pytorch/examples' vae/main.py, say) can
   be given as `--base FILE`: it is subtracted as the starter is.
4. A pair's score is shared fingerprints / the smaller set's size (containment, not Jaccard: a
   copy with extra code of its own added keeps its score, where Jaccard would dilute it), and a
   pair is listed when the score reaches SIMILARITY_THRESHOLD and it shares at least
   SIMILARITY_MIN_SHARED fingerprints (a score over a handful of fingerprints says nothing).

How K, WINDOW and the threshold were chosen (autograder/config.py says it with the numbers):
on the 17 independent ports of public VAE code in tests/submissions/thirdparty/ and the
reference (153 pairs), and on planted copies of them made by tests/course/test_similarity.py's
transforms (names renamed, functions reordered, comments and docstrings changed, layout
reformatted); the threshold sits between the highest independent pair and the lowest planted
copy with a margin on both sides.

Hand-written rather than copydetect (0.5.0, MIT, "Beta"): copydetect tokenizes with Pygments
and hashes with Python's per-process salted hash(), keeps docstrings as strings, lets k-grams
span functions, and compares files on disk, where this compares what handin.resolve grades (a
notebook's cell included) and shows line ranges; the winnowing itself is twenty lines.

A score is evidence for a person to read, never a verdict: the class report shows each pair's
matched line ranges so that the two files can be opened side by side.
A hand-in that cannot be compared (nothing to grade, not UTF-8, a syntax error, no code) is
listed with the reason and skipped; the rest of the class is compared. Cost: one set
intersection per pair, n^2 / 2 for n hand-ins.
"""
from __future__ import annotations

import argparse
import ast
import bisect
import hashlib
import io
import itertools
import keyword
import sys
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from autograder import config, files
from autograder.course import grade_all, gradebook
from autograder.grading import handin, student_text
from autograder.paths import ASSIGNMENT, GRADE_ALL_OUT, SOLUTIONS

PAIRS_CSV = "similar_pairs.csv"
FIGURE = "report-similarity.png"
SECTION = "similarity.md"  # the CLI's own page: the class report's section, alone
DEFAULT_OUT = GRADE_ALL_OUT
RANGES_SHOWN = 4  # matched line ranges shown per side of a pair in the report (the CSV has them all)
NAMES_SHOWN = 30  # hand-ins named in one sentence, then "and N more"
CELL_CHARS = 300  # of a student's name, or a reason, in a table cell
_SKIPPED_TOKENS = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                             tokenize.ENCODING, tokenize.ENDMARKER})
_STATEMENT_ENDS = (tokenize.NEWLINE, tokenize.ENDMARKER)
_STATEMENT_BEFORE = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)  # a token after these opens one
_LAYOUT = (tokenize.NL, tokenize.COMMENT)  # looked past when finding the token before or after
_FSTRING = (getattr(tokenize, "FSTRING_START", None), getattr(tokenize, "FSTRING_END", None))  # Python 3.12+


class NotComparable(ValueError):
    """A hand-in whose code cannot be fingerprinted; the message says why, in one line."""


# --- Tokens and fingerprints ----------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    text: str  # normalised: "N" for a name or a number, "S" for a string, else the token itself
    first: int  # its lines in the code compared
    last: int
    opens: bool = False  # whether it starts a definition (`def`, `class` or a decorator's `@`)


def _statement_starts(raw: list[tokenize.TokenInfo]) -> list[bool]:
    """For each token, whether it is the first of a statement (or of a decorator line)."""
    starts, before = [], None
    for token in raw:
        starts.append(before is None or before.type in _STATEMENT_BEFORE)
        if token.type not in _LAYOUT:
            before = token
    return starts


def _lone_strings(raw: list[tokenize.TokenInfo], starts: list[bool]) -> set[int]:
    """The strings that are statements of their own (docstrings, strings used as comments), in one
    pass each way: a file of many strings costs no more than one of few."""
    ends_after, after = [False] * len(raw), True  # whether the next token but layout and strings ends a statement
    for i in range(len(raw) - 1, -1, -1):
        ends_after[i] = after
        if raw[i].type not in (*_LAYOUT, tokenize.STRING):
            after = raw[i].type in _STATEMENT_ENDS or raw[i].string == ";"
    lone, before = set(), -1  # the last token before this one but layout
    for i, token in enumerate(raw):
        if token.type == tokenize.STRING and ends_after[i] and (
                starts[i] or (before >= 0 and (raw[before].string == ";" or before in lone))):
            lone.add(i)  # a string that opens a statement, or continues one that does ("a" "b")
        if token.type not in _LAYOUT:
            before = i
    return lone


def _annotations(tree: ast.AST) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (start, end) positions of the type hints in `tree`: they change nothing the code does, and
    the reference has them where most hand-ins do not."""
    hints = [n.annotation for n in ast.walk(tree) if isinstance(n, (ast.arg, ast.AnnAssign)) and n.annotation]
    hints += [n.returns for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.returns]
    return [((h.lineno, h.col_offset), (h.end_lineno, h.end_col_offset)) for h in hints]


def _hinted(raw: list[tokenize.TokenInfo], tree: ast.AST) -> set[int]:
    """The indices in `raw` of the type hints' tokens and of the `:` or `->` before each."""
    starts, inside = [t.start for t in raw], set()
    for start, end in _annotations(tree):
        first = last = bisect.bisect_left(starts, start)
        while last < len(raw) and raw[last].end <= end:
            last += 1
        if first < last:
            inside.update(range(first, last))
            if first and raw[first - 1].string in (":", "->"):
                inside.add(first - 1)
    return inside


def tokens(source: str) -> list[Token]:
    """`source`'s tokens, normalised (the module docstring, step 1); NotComparable if it is not Python."""
    try:
        tree = ast.parse(source)
        raw = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (SyntaxError, tokenize.TokenError) as error:
        where = f"line {error.lineno}: " if getattr(error, "lineno", None) else ""
        raise NotComparable(f"its code does not parse ({where}{getattr(error, 'msg', None) or error})") from None
    except (ValueError, RecursionError, MemoryError) as error:
        raise NotComparable(f"its code cannot be read as Python ({type(error).__name__}: {error})"[:200]) from None
    hinted, starts = _hinted(raw, tree), _statement_starts(raw)
    lone = _lone_strings(raw, starts)
    found, depth = [], 0
    for i, token in enumerate(raw):
        if token.type in _FSTRING or depth:  # an f-string's parts are one string
            depth += (token.type == _FSTRING[0]) - (token.type == _FSTRING[1])
            if token.type == _FSTRING[1] and not depth:
                found.append(Token("S", token.start[0], token.end[0]))
            continue
        if token.type in _SKIPPED_TOKENS or i in hinted or i in lone:
            continue
        text = token.string
        if token.type == tokenize.STRING:
            text = "S"
        elif token.type == tokenize.NUMBER:
            text = "N"  # an operand, as a name is: nn.Linear(784, 400) is the starter's nn.Linear(INPUT_DIM, HIDDEN_DIM)
        elif token.type == tokenize.NAME and not keyword.iskeyword(text) and not (found and found[-1].text == "."):
            text = "N"
        opens = text in ("def", "class", "@") and starts[i] and not (found and found[-1].opens)
        found.append(Token(text, token.start[0], token.end[0], opens))
    return found


def _hash(gram: Iterable[str]) -> int:
    """A k-gram's hash, the same in every process (Python's hash() of a str is salted per process)."""
    return int.from_bytes(hashlib.blake2b("\x1f".join(gram).encode(), digest_size=8).digest(), "big")


def definitions(found: list[Token]) -> list[list[Token]]:
    """`found` cut where each definition starts (the module docstring, step 2: no k-gram spans two)."""
    parts: list[list[Token]] = [[]]
    for token in found:
        if token.opens and parts[-1]:
            parts.append([])
        parts[-1].append(token)
    return parts


def kgrams(found: list[Token], k: int) -> list[tuple[int, int, int]]:
    """(hash, first line, last line) of each run of k tokens, in order."""
    return [(_hash(t.text for t in found[i:i + k]), found[i].first, found[i + k - 1].last)
            for i in range(len(found) - k + 1)]


def winnow(grams: list[tuple[int, int, int]], window: int) -> list[tuple[int, int, int]]:
    """The k-grams winnowing keeps: the smallest hash of each window (the rightmost on a tie), each
    position once. A text shorter than one window keeps its smallest."""
    kept, last = [], -1
    for start in range(max(len(grams) - window + 1, 1 if grams else 0)):
        span = grams[start:start + window]
        low = min(h for h, _, _ in span)
        position = start + max(i for i, (h, _, _) in enumerate(span) if h == low)
        if position != last:
            kept.append(grams[position])
            last = position
    return kept


@dataclass(frozen=True)
class Fingerprints:
    """One hand-in's fingerprints after the starter and the reference are subtracted."""

    name: str
    lines: dict[int, tuple[tuple[int, int], ...]]  # fingerprint -> the line ranges where it occurs

    @property
    def hashes(self) -> frozenset[int]:
        return frozenset(self.lines)


@cache
def shared_material(k: int, base: tuple[str, ...] = ()) -> tuple[frozenset[int], frozenset[int]]:
    """Every k-gram hash of the starter code (assignment/vae.py, the released notebook's cells up to
    its graded cell, and `base`: public code the course knows students start from), and of the
    reference (solutions/vae.py): what is subtracted."""
    starter = [(ASSIGNMENT / "vae.py").read_text(), *base]
    cell, earlier = handin.graded_cell((ASSIGNMENT / "vae.ipynb").read_bytes())
    starter += [cell, *earlier]

    def hashes(texts: list[str]) -> frozenset[int]:
        found = set()
        for text in texts:
            try:
                found |= {h for part in definitions(tokens(text)) for h, _, _ in kgrams(part, k)}
            except NotComparable:
                continue  # a released cell with notebook magics: it holds no student code
        return frozenset(found)

    return hashes(starter), hashes([(SOLUTIONS / "vae.py").read_text()])


def fingerprint(name: str, source: str, k: int | None = None, window: int | None = None,
                base: tuple[str, ...] = ()) -> Fingerprints:
    """`source`'s fingerprints (the module docstring, steps 1 to 3), with the code of `base` subtracted
    as the starter is; NotComparable if there are none to take."""
    k, window = k or config.SIMILARITY_K, window or config.SIMILARITY_WINDOW
    found = tokens(source)
    if not found:
        raise NotComparable("it holds no code (empty, or only comments and docstrings)")
    starter, reference = shared_material(k, base)
    lines: dict[int, list[tuple[int, int]]] = {}
    for h, first, last in (g for part in definitions(found) for g in winnow(kgrams(part, k), window)):
        if h not in starter:
            lines.setdefault(h, []).append((first, last))
    return Fingerprints(name, {h: tuple(r) for h, r in lines.items() if h not in reference})


# --- Pairs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """Two hand-ins, their score (shared fingerprints / the smaller set's size), how many they share,
    and where: the line ranges of each side's code that hold the shared fingerprints, merged."""

    a: str
    b: str
    score: float
    shared: int
    shared_lines: tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]


def merged(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Line ranges, overlapping or adjacent ones joined, in order."""
    out: list[list[int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return tuple((first, last) for first, last in out)


def score(a: Fingerprints, b: Fingerprints) -> tuple[float, int]:
    """(shared fingerprints / the smaller set's size, shared fingerprints); 0 when either has none."""
    shared = len(a.lines.keys() & b.lines.keys())
    smaller = min(len(a.lines), len(b.lines))
    return (shared / smaller if smaller else 0.0), shared


def pair(a: Fingerprints, b: Fingerprints) -> Pair:
    value, count = score(a, b)
    common = a.lines.keys() & b.lines.keys()
    return Pair(a.name, b.name, value, count, (merged(r for h in common for r in a.lines[h]),
                                              merged(r for h in common for r in b.lines[h])))


def is_similar(value: float, shared: int) -> bool:
    """Whether a pair is listed: the one rule, config's threshold and its minimum of shared fingerprints."""
    return value >= config.SIMILARITY_THRESHOLD and shared >= config.SIMILARITY_MIN_SHARED


@dataclass
class Review:
    """A class compared: the pairs listed (highest score first), every pair's score (for the figure),
    the hand-ins compared and those skipped with the reason."""

    pairs: list[Pair]
    scores: list[float]
    compared: list[Fingerprints]
    skipped: list[tuple[str, str]]


def compare(prints: Sequence[Fingerprints]) -> tuple[list[Pair], list[float]]:
    """Every pair of `prints`: those is_similar lists, highest score first, and all pairs' scores."""
    listed, scores = [], []
    for a, b in itertools.combinations(prints, 2):
        value, shared = score(a, b)
        scores.append(value)
        if is_similar(value, shared):
            listed.append(pair(a, b))
    return sorted(listed, key=lambda p: (-p.score, p.a, p.b)), scores


# --- A class ----------------------------------------------------------------------------------------


def handins(folder: Path) -> list[tuple[str, Path]]:
    """(student, what they handed in) for each student folder, in grade-all's layouts (its discover)."""
    return [(s.student, s.folder) for s in grade_all.discover(folder)]


def read(name: str, path: Path, base: tuple[str, ...] = ()) -> Fingerprints:
    """The fingerprints of what `path` would be graded on (NotComparable saying why there are none)."""
    code = handin.resolve(path)
    if code.source is None:
        raise NotComparable(f"nothing is graded: {code.note}")
    try:
        text = code.source.decode()
    except UnicodeDecodeError as error:
        raise NotComparable(f"its code is not UTF-8 text (byte {error.start:,})") from None
    return fingerprint(name, text, base=base)


def review(class_: Path | Sequence[Path | tuple[str, Path]], base: Sequence[Path] = ()) -> Review:
    """Compare a class: a folder of student folders, or a list of hand-ins (a path, named by its last
    part, or a (name, path) pair). `base`: files of public code to subtract as the starter is. A
    hand-in that cannot be read is skipped with its reason; the others are compared."""
    entries = handins(class_) if isinstance(class_, Path) else [
        entry if isinstance(entry, tuple) else (Path(entry).name, Path(entry)) for entry in class_]
    texts = tuple(path.read_text() for path in base)
    compared, skipped = [], []
    for name, path in entries:
        try:
            compared.append(read(name, path, texts))
        except NotComparable as reason:
            skipped.append((name, student_text.line(reason)))
    pairs, scores = compare(compared)
    return Review(pairs, scores, compared, skipped)


def similarity(class_: Path | Sequence[Path | tuple[str, Path]], base: Sequence[Path] = ()) -> list[Pair]:
    """The pairs of hand-ins too similar to be independent, highest score first (review's pairs)."""
    return review(class_, base).pairs


# --- What the course writes -------------------------------------------------------------------------


def ranges(lines: tuple[tuple[int, int], ...], shown: int | None = None) -> str:
    """Line ranges as `12-18, 30`, the first `shown` of them and how many more."""
    parts = [f"{a}-{b}" if b > a else f"{a}" for a, b in lines[:shown]]
    more = len(lines) - len(parts)
    return ", ".join(parts) + (f" and {more} more" if more else "")


def write_csv(found: Review, path: Path) -> None:
    """similar_pairs.csv: a row per pair listed (a, b, score, shared fingerprints, each side's line
    ranges); names that look like a formula are quoted as the gradebook quotes them (gradebook.safe_cell)."""
    files.write_rows(path, [["a", "b", "score", "shared", "a_lines", "b_lines"]]
                     + [[gradebook.safe_cell(p.a), gradebook.safe_cell(p.b), f"{p.score:.3f}", p.shared,
                         ranges(p.shared_lines[0]), ranges(p.shared_lines[1])] for p in found.pairs])


def figure(found: Review) -> Figure:
    """A histogram of every pair's score, the threshold marked: the listed pairs stand apart from
    the class, or the threshold sits inside it (then read the pairs with care)."""
    fig = Figure(figsize=(7, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.add_subplot()
    if found.scores:
        axes.hist(found.scores, bins=50, range=(0, 1), color="#4878a8", log=True)
        axes.set_ylim(bottom=0.7)  # a bin of one pair still shows on the log scale
    else:
        axes.text(0.5, 0.5, "fewer than two hand-ins compared", ha="center", va="center", transform=axes.transAxes)
    axes.axvline(config.SIMILARITY_THRESHOLD, color="#c44e52", linestyle="--",
                 label=f"threshold {config.SIMILARITY_THRESHOLD:g} (and {config.SIMILARITY_MIN_SHARED} shared)")
    axes.legend(loc="upper right", fontsize=8)
    axes.set(xlabel="similarity: shared fingerprints / the smaller hand-in's (starter and reference subtracted)",
             ylabel="pairs" + (" (log scale)" if found.scores else ""), xlim=(0, 1),
             title=f"Similarity of {len(found.scores)} pairs ({len(found.compared)} hand-ins), {len(found.pairs)} listed")
    return fig


def markdown(found: Review, figure_name: str = FIGURE) -> str:
    """The class report's section: what the score means, the figure, the pairs listed with their
    matched lines, the hand-ins skipped and why. Student text goes through student_text."""
    lines = ["## Similar code", "",
             f"Pairs of hand-ins whose graded code shares at least {config.SIMILARITY_THRESHOLD:.0%} of the smaller "
             f"one's fingerprints (and at least {config.SIMILARITY_MIN_SHARED}), after the starter code and the "
             "reference solution are subtracted; names, comments, docstrings, layout and the order of functions do "
             "not count (autograder/course/similarity.py). A score is evidence for a person to read side by side, "
             "not a verdict: two students may share a public source, or a helper the course gave out.", "",
             f"![Similarity of every pair]({figure_name})", ""]
    if found.pairs:
        lines += ["| a | b | score | shared | lines of a | lines of b |", "|---|---|---:|---:|---|---|"]
        lines += [f"| {student_text.cell(p.a, CELL_CHARS)} | {student_text.cell(p.b, CELL_CHARS)} | {p.score:.2f} | "
                  f"{p.shared} | {ranges(p.shared_lines[0], RANGES_SHOWN)} | {ranges(p.shared_lines[1], RANGES_SHOWN)} |"
                  for p in found.pairs]
    else:
        lines.append(f"No pair: {len(found.compared)} hand-ins compared, {len(found.scores)} pairs.")
    few = sorted(f.name for f in found.compared if len(f.lines) < config.SIMILARITY_MIN_SHARED)
    if few:
        shown = ", ".join(student_text.literal(name, CELL_CHARS) for name in few[:NAMES_SHOWN])
        lines += ["", f"{len(few)} hand-ins hold fewer than {config.SIMILARITY_MIN_SHARED} fingerprints of their own "
                  "(little beyond the starter and the reference's lines, which the lecture's formulas are), so no "
                  "pair of theirs can be listed: " + shown + (f" and {len(few) - NAMES_SHOWN} more" if len(few) > NAMES_SHOWN else "") + "."]
    if found.skipped:
        lines += ["", "Not compared:", "", "| student | why |", "|---|---|"]
        lines += [f"| {student_text.cell(name, CELL_CHARS)} | {student_text.cell(why, CELL_CHARS)} |"
                  for name, why in found.skipped]
    return "\n".join(lines) + "\n"


def write(found: Review, out: Path) -> list[Path]:
    """similar_pairs.csv, the figure and the section (similarity.md) into `out`; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(found, out / PAIRS_CSV)
    figure(found).savefig(out / FIGURE)
    (out / SECTION).write_text(markdown(found))
    return [out / PAIRS_CSV, out / FIGURE, out / SECTION]


def report_section(folder: Path, submissions: Path | None) -> str:
    """The class report's section, with similar_pairs.csv and the figure written into `folder` (beside
    the report); without the submissions folder, a line saying how to add it."""
    if submissions is None:
        return ("## Similar code\n\nNot compared: the report was built without the submissions (`make class-report "
                "GRADEBOOK=... SUBMISSIONS=folder`, or `make similarity SUBMISSIONS=folder`).\n")
    try:
        found = review(submissions)
    except grade_all.DiscoveryError as error:
        return f"## Similar code\n\nNot compared: {student_text.literal(error, CELL_CHARS)}\n"
    write_csv(found, folder / PAIRS_CSV)
    figure(found).savefig(folder / FIGURE)
    return markdown(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="the folder of student folders (as for grade-all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write (default: %(default)s)")
    parser.add_argument("--base", type=Path, action="append", default=[],
                        help="public code students may start from, subtracted as the starter is (repeat it)")
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.base if not path.is_file()]
    if missing:
        print(f"similarity: --base {', '.join(missing)}: not a file", file=sys.stderr)
        return 2
    try:
        found = review(args.submissions, args.base)
    except grade_all.DiscoveryError as error:
        print(f"similarity: {error}", file=sys.stderr)
        return 2
    for path in write(found, args.out):
        print(f"similarity: {path}")
    print(f"similarity: {len(found.compared)} hand-ins compared, {len(found.skipped)} skipped, "
          f"{len(found.pairs)} pairs at or above {config.SIMILARITY_THRESHOLD:g}")
    for p in found.pairs:
        print(f"  {student_text.line(p.a, 60)} ~ {student_text.line(p.b, 60)}: {p.score:.2f} ({p.shared} shared)")
    for name, why in found.skipped:
        print(f"  skipped {student_text.line(name, 60)}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
