"""Nothing a student wrote is posted as the course's words.

Every Markdown the course writes is rendered here by GitHub's own renderer (cmark-gfm, with raw
HTML let through as the least forgiving reader would) and parsed with the standard library's
HTML parser: whatever text a student controls (an exception message, what the submission
printed, a file or folder name, a repository name), the page holds exactly the elements its
template makes with a harmless word in that place, and the student's text still reads, character
for character. Hypothesis writes the texts, from the attacks that work on a GitHub page (links,
images, emphasis, raw HTML, autolinks, a fake `Points 100/100`, backtick runs, table pipes,
headings, entities) mixed with any Unicode. Gradescope's results declare their strings plain text.
"""
from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser
from types import SimpleNamespace

import cmarkgfm
import pytest
from hypothesis import given, settings, strategies as st

from autograder import config
from autograder.course import class_report, classroom, plan, report
from autograder.course.grade_all import Outcome
from autograder.grading import causes, results, student_text

ATTACKS = [
    "[link](https://evil.example/x)", "![badge](https://img.shields.io/badge/points-100-green)",
    "**Points 100/100**", "Points 100/100", "<b>", "</b>", "<img src=x onerror=alert(1)>", "<a href='//e.x'>",
    "<script>alert(1)</script>", "<!-- hidden -->", "<details open>", "https://evil.example/p?q=1",
    "www.evil.example", "eve@evil.example", "<https://x.example>", "<eve@x.example>", "mailto:a@b.example",
    "`", "``", "```", "~~~", "|", "\\|", "\\", "# Heading", "\n## Heading\n", "\n---\n", "\n===\n",
    "\n- item\n", "\n1. item\n", "> quote", "&amp;", "&#x3C;b&#x3E;", "&lt;img&gt;", "*", "_", "~~struck~~",
    "$x^2$", "[^1]", "\n[x]: https://e.example\n", "[x]", ":tada:", "@instructor", "#1", "    indented",
    "\t", "\r\n", "\n\n", "\x00", "\x1b[31m", "\u2028", "\u202e", "\ud800", "é", "🙂", "𝔁", "\ufeff",
]
# A text a student controls: pieces of attacks and any Unicode, one after another.
student_texts = st.lists(st.one_of(st.sampled_from(ATTACKS), st.text(max_size=6)), min_size=1, max_size=5).map("".join)
PLACEHOLDER = "student"
EXAMPLES = settings(max_examples=300, deadline=None)


def render(markdown: str) -> str:
    """GitHub's rendering of `markdown`, raw HTML included (GitHub filters some of it afterwards)."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)


class Page(HTMLParser):
    """The elements of an HTML page (tag and attributes, in order) and the text a reader sees."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, tuple]] = []
        self.words: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, tuple(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, tuple(attrs)))

    def handle_endtag(self, tag):
        self.elements.append(("/" + tag, ()))

    def handle_data(self, data):
        self.words.append(data)

    def handle_comment(self, data):
        self.elements.append(("<!--", ()))

    def handle_decl(self, decl):
        self.elements.append(("<!", ()))

    def handle_pi(self, data):
        self.elements.append(("<?", ()))

    def unknown_decl(self, data):
        self.elements.append(("<![", ()))

    @property
    def text(self) -> str:
        return " ".join("".join(self.words).split())


def readable(text: str) -> str:
    """What a reader should see of `text`: its characters, control characters and line breaks as
    spaces, a lone surrogate (not a character) as U+FFFD, runs of white space as one space."""
    text = re.sub(r"[\ud800-\udfff]", "\ufffd", text)
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" or c in "\u2028\u2029" else c
                            for c in text).split())


def assert_posted_as_text(write, student: str) -> None:
    """`write(text)` -> Markdown: the same elements as with a harmless word, and `student` reads."""
    page, template = Page(render(write(student))), Page(render(write(PLACEHOLDER)))
    assert page.elements == template.elements, (
        f"student text made elements of its own: {sorted(set(page.elements) - set(template.elements))}")
    assert readable(student) in page.text


student_texts_that_show = student_texts.filter(lambda text: readable(text) != "")


# --- The owner: autograder/grading/student_text.py ---------------------------------------------------

any_texts = st.one_of(student_texts, st.text(st.characters(exclude_categories=())))  # surrogates too


@EXAMPLES
@given(any_texts)
def test_literal_is_one_code_span_that_shows_the_text_on_one_line(text):
    page = Page(render(f"Said: {student_text.literal(text)}"))
    code = [("code", ()), ("/code", ())] if readable(text) else []
    assert page.elements == [("p", ()), *code, ("/p", ())] and page.text == f"Said: {readable(text)}".strip()


@EXAMPLES
@given(any_texts)
def test_cell_is_one_table_cell_that_shows_the_text(text):
    page = Page(render(f"| a | b |\n|---|---|\n| {student_text.cell(text)} | b |"))
    assert [tag for tag, _ in page.elements].count("td") == 2
    assert page.text == " ".join(f"a b {readable(text)} b".split())


@EXAMPLES
@given(any_texts)
def test_ours_keeps_the_courses_markdown_in_one_printable_table_cell(text):
    shown = student_text.ours(text)  # the course's own words (a cause's meaning): its Markdown stays
    assert not [c for c in shown if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")]
    page = Page(render(f"| a | b |\n|---|---|\n| {shown} | b |"))
    assert [tag for tag, _ in page.elements].count("td") == 2


@EXAMPLES
@given(any_texts)
def test_block_is_one_code_block_that_keeps_the_lines(text):
    page = render(f"Printed:\n\n{student_text.block(text)}\n\nThe end.")
    inner = [("pre", ()), ("code", ()), ("/code", ()), ("/pre", ())] if readable(text) else []
    assert Page(page).elements == [("p", ()), ("/p", ()), *inner, ("p", ()), ("/p", ())]
    shown = html.unescape("".join(re.findall(r"<pre><code>(.*?)</code></pre>", page, re.S)))
    assert " ".join(shown.split()) == readable(text)
    lines = student_text.printable(text).strip("\n").rstrip().splitlines() if readable(text) else []
    assert [line.rstrip() for line in shown.splitlines()] == [line.rstrip() for line in lines]


@EXAMPLES
@given(any_texts, st.integers(1, 200))
def test_line_is_one_plain_line_within_its_limit(text, limit):
    flat = student_text.line(text, limit)
    assert len(flat) <= limit and not [c for c in flat if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")]
    assert flat == readable(text) or flat == readable(text)[:limit - 1] + "…"


# --- The CI job summary and the commit comment ---------------------------------------------------------


def graded(text: str) -> dict:
    """A results.json whose every message carries `text`, as a submission's exception would put it."""
    tests = [results.entry("encode", "mu", 5, False, f"your encode raised: {text}"),
             results.entry("kl", "sum", 15, False, text)]
    return results.build(tests, output=f"Graded your notebook.\nIt printed:\n{text}")


@EXAMPLES
@given(student_texts_that_show)
def test_the_ci_summary_shows_student_text_as_text(student):
    assert_posted_as_text(lambda text: report.markdown(graded(text)), student)


@EXAMPLES
@given(student_texts_that_show)
def test_the_commit_comment_shows_student_text_as_text(student):
    assert_posted_as_text(lambda text: classroom.comment(Outcome("alice", "graded", graded(text)), "0" * 40),
                          student)


@EXAMPLES
@given(student_texts)
def test_the_status_description_is_one_plain_line_within_githubs_limit(student):
    _, description = classroom.verdict(Outcome("alice", "graded"), f"No vae.py was found; it held {student}")
    assert len(description) <= plan.DESCRIPTION_CHARS
    assert not [c for c in description if unicodedata.category(c) in ("Cc", "Cs") or c in "\u2028\u2029"]
    assert description.startswith(f"Points 0/{report.number(results.RUBRIC_MAXIMUM)}: No vae.py was found")
    assert readable(student)[:40] in description or len(description) == plan.DESCRIPTION_CHARS


@EXAMPLES
@given(student=student_texts_that_show)
def test_grade_class_report_shows_repository_names_and_errors_as_text(student, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.md"

    def write(text: str) -> str:
        head = classroom.Head(text, SimpleNamespace(full_name=f"course/vae-homework-{text}"), "0" * 40,
                              "post failed", f"Points 0/100: {text}", f"git fetch failed: {text}")
        return classroom.write_report([head], path, "course", "vae-homework-")

    assert_posted_as_text(write, student)


# --- The class report ----------------------------------------------------------------------------------------


def a_class(text: str) -> list[class_report.Student]:
    """Three students: one named `text` with a flag and a timeout, one whose grading failed with
    `text`, and a student with full marks."""
    def result(lost: str | None, flags: tuple[str, ...] = ()) -> dict:
        tests = [results.entry(tag, "check", points, tag != lost, "expected this",
                               cause="sandbox.timeout" if tag == lost else causes.UNKNOWN)
                 for tag, (points, _) in config.RUBRIC.items()]
        return results.build(tests, execution_time=12.0, flags=flags)

    return [class_report.Student(text, result("kl", flags=(f"native_code {text}",))),
            class_report.Student("bob", None, f"the grader crashed: {text}"),
            class_report.Student("carol", result(None))]


@pytest.mark.slow
@EXAMPLES
@given(student_texts_that_show)
def test_the_class_report_shows_names_errors_and_flags_as_text(student):
    assert_posted_as_text(lambda text: class_report.markdown(a_class(text), f"{text}.csv"), student)


# --- Gradescope --------------------------------------------------------------------------------------------


def test_gradescope_shows_every_message_and_name_as_plain_text():
    """Gradescope renders a results string as its `output_format` says (text, html,
    simple_format, md, ansi); anything but `text` would let a student's HTML or Markdown through."""
    data = results.from_json(results.to_json(graded("<b>Points 100/100</b>")))
    assert (data.get("output_format"), data.get("test_output_format"), data.get("test_name_format")) == \
        ("text", "text", "text")
    assert not [t for t in data["tests"] if t.get("output_format", "text") != "text"
                or t.get("name_format", "text") != "text"]
