"""`make grade`'s score table (autograder/grading/grade.py): the first sentence of each message, whole."""
from __future__ import annotations

from autograder.grading import results
from autograder.grading.grade import REASON_WIDTH, first_sentence, table


def graded(*tests) -> results.Results:
    return results.build(list(tests))


def test_the_first_sentence_of_a_long_message_is_shown_whole_on_wrapped_lines():
    sentence = ("After one epoch on a small test model, the weights show that gradients pile up from batch to "
                "batch: call optimizer.zero_grad() in every step, before loss.backward(), not once per epoch.")
    text = table(graded(results.entry("training_loop", "t", 7.5, False, sentence + " Second sentence here.")))
    words = " ".join(line.split("t ", 1)[-1].strip() if i == 0 else line.strip()
                     for i, line in enumerate(text.splitlines()[:-1]))
    assert sentence in words and "Second sentence" not in text
    assert len(text.splitlines()) > 2 and all(len(line) <= 80 + REASON_WIDTH for line in text.splitlines())


def test_first_sentence_keeps_decimals_and_calls_and_stops_at_the_full_stop():
    assert first_sentence("You returned 1.5 per batch. Use sum.") == "You returned 1.5 per batch."
    assert first_sentence("No full stop at all") == "No full stop at all"


def test_a_passed_check_with_a_note_says_ok_and_the_note():
    text = table(graded(results.entry("training_loop", "t", 7.5, True, note="train() does not call it: fine.")))
    assert "ok; train() does not call it: fine." in text
