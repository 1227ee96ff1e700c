"""The corpus itself: it builds from today's reference and covers what the grader issue asks."""
from __future__ import annotations

import pytest

from autograder import config
from autograder.evidence import corpus
from autograder.grading import causes
from autograder.sandbox import integrity


def test_every_variant_builds_from_the_current_reference_and_compiles(tmp_path):
    for name in corpus.variants():
        source = corpus.source(name)
        if name != "hostile_syntax_error":
            compile(source, f"{name}.py", "exec")


def test_the_fixed_text_is_added_by_kind_not_repeated_in_the_corpus_file():
    for name, spec in corpus.variants().items():
        assert corpus.REST not in spec["why"] and "HOSTILE: " not in spec["why"], f"{name}: boilerplate in `why`"
        docstring = corpus.source(name).split('"""')[1]
        assert docstring.endswith(corpus.TAILS[spec["kind"]]) and docstring.count(corpus.REST) == 1, name


def test_an_edit_that_no_longer_matches_the_reference_names_its_variant(monkeypatch):
    broken = {"buggy_x": {"kind": "buggy", "why": "x", "loses": ["kl"], "edit": [{"old": "no such text", "new": ""}]}}
    monkeypatch.setattr(corpus, "variants", lambda: broken)
    with pytest.raises(ValueError, match="buggy_x, edit 1"):
        corpus.source("buggy_x")


def test_each_rubric_tag_has_at_least_two_buggy_variants():
    counts = {tag: 0 for tag in config.RUBRIC}
    for spec in corpus.variants().values():
        for tag in spec.get("loses", []) if spec["kind"] == "buggy" else []:
            counts[tag] += 1
    assert all(count >= 2 for count in counts.values()), counts


def test_the_corpus_has_the_correct_and_hostile_variants_the_issue_names():
    names = set(corpus.variants())
    assert {"correct_distributions", "correct_clamped_bce", "correct_verbose_train", "correct_eval_mode_mean"} <= names
    assert {"hostile_exit_at_import", "hostile_infinite_loop_in_train", "hostile_memory_bomb_in_encode",
            "hostile_output_flood_in_train", "hostile_forged_results", "hostile_monkeypatch_comparisons",
            "hostile_background_writer", "hostile_read_solution"} <= names
    assert {"hostile_rewrite_worker_ops", "hostile_calls_probe_replay", "hostile_zero_init_constant_encode",
            "hostile_ctypes_native", "hostile_shared_memory"} <= names


def test_every_flag_a_hostile_variant_expects_is_one_the_grader_raises():
    known = {value for name, value in vars(integrity).items() if name.isupper() and isinstance(value, str)}
    expected = {flag for spec in corpus.variants().values() for flag in spec.get("flags", [])}
    assert expected and expected <= known, expected - known


def test_every_buggy_variant_names_the_causes_its_failed_checks_record():
    """`causes`: the cause codes (autograder/grading/causes.py) a variant's failed checks record;
    every buggy variant has them, every code is in the table, a correct variant has none."""
    for name, spec in corpus.variants().items():
        listed = spec.get("causes", [])
        assert isinstance(listed, list) and set(listed) <= set(causes.CAUSES), f"{name}: {set(listed) - set(causes.CAUSES)}"
        assert len(set(listed)) == len(listed), f"{name}: a code listed twice"
        if spec["kind"] == "buggy":
            assert listed, f"{name}: a buggy variant names the causes its failed checks record"
        if spec["kind"] == "correct":
            assert not listed, f"{name}: a correct variant records no cause"
