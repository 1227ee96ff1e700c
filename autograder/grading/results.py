"""The results format (Gradescope's results.json): its one owner, for the grader and every reader.

A result is a plain dict, as JSON holds it: `tests` (one entry per check: name, score,
max_score, status, output, tags, visibility, extra_data) and, around them, `score`,
`execution_time`, `output`, `visibility`, `stdout_visibility`, `extra_data` (which holds
`integrity_flags`: what a person should look at, autograder/sandbox/integrity.py; never points). This module builds
entries and results, sums them (the score, the maximum, the points per rubric tag: the one place
a total is computed), reads their extra fields (one accessor per field: isolation, limits,
timings, measured_elbo, ...; each name is written once, here), and writes and reads them. What it writes is strict JSON (no NaN or Infinity, which strict parsers reject)
and bounded: every string is cut to config.RESULTS_TEXT_CHARS, the file stays under
config.RESULTS_MAX_BYTES, whatever a submission managed to put into a message; and every string
is valid Unicode (valid_text: no lone surrogate, which UTF-8 cannot hold), so every reader, the
table on stdout, the gradebook and the comments posted included, can write it.

Standard library and autograder.config only: the CI report reads results before (or without)
the grader's virtual environment.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterable, TypedDict

from autograder import config, files
from autograder.grading import causes, student_text

VISIBLE = "visible"
RUBRIC_MAXIMUM = float(sum(points for points, _ in config.RUBRIC.values()))  # the autograded points possible
# The fields of the result's extra_data (autograder/grading/grade.py writes them), each read below:
INTEGRITY_FLAGS = "integrity_flags"  # a sorted list of short strings
ISOLATION, LIMITS = "isolation", "limits"  # the sandbox's isolation and limits modes, as `make setup` prints them
WORKER_STARTS, TIMINGS = "worker_starts", "timings"  # how often the worker started; seconds per stage
# The fields of the elbo check's extra_data (autograder/hidden/test_training.py records them):
TEST_NEGATIVE_ELBO = "test_negative_elbo"  # what it measured after one epoch, nats per image
EPOCH_SECONDS, TRAIN_DEVICE = "epoch_seconds", "train_device"  # the epoch's time in the sandbox; its device
ELBO_TAG = "elbo"
MAX_DEPTH = 20  # of nested lists and dicts in extra_data
ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # a byte that was not UTF-8, in a file name (os.fsdecode)
SURROGATE = re.compile("[\ud800-\udfff]")


class Entry(TypedDict, total=False):
    """One check's line in results.json."""

    name: str
    score: float
    max_score: float
    status: str  # "passed" or "failed"
    output: str  # the message to the student ("" when passed)
    tags: list[str]  # exactly one rubric tag (config.RUBRIC)
    visibility: str
    extra_data: dict[str, Any]  # for instructors and benchmarks


class Results(TypedDict, total=False):
    """A whole results.json."""

    score: float
    execution_time: float
    output: str
    visibility: str
    stdout_visibility: str
    tests: list[Entry]
    extra_data: dict[str, Any]
    output_format: str  # how Gradescope shows the strings: student_text.GRADESCOPE, plain text
    test_output_format: str
    test_name_format: str


class ResultsError(ValueError):
    """A results file that is not JSON, or not this format."""


# --- Building ------------------------------------------------------------------------------------


def entry(tag: str, name: str, max_score: float, passed: bool, output: str = "",
          extra: dict[str, Any] | None = None, note: str = "", cause: str = causes.UNKNOWN) -> Entry:
    """One check: all of `max_score` if it passed, else nothing and `output` says why, and
    extra_data's `cause` the code of the mistake it diagnosed (autograder/grading/causes.py).

    `note` is the output of a check that passed: advice that costs nothing (usually empty)."""
    line = Entry(name=f"{tag}: {name}", score=max_score if passed else 0.0, max_score=max_score,
                 status="passed" if passed else "failed", output=note if passed else output, tags=[tag],
                 visibility=VISIBLE)
    if not passed:
        extra = {**(extra or {}), causes.CAUSE: cause}
    if extra is not None:
        line["extra_data"] = extra
    return line


def zero_entry(tag: str, message: str, cause: str = causes.NOT_RUN) -> Entry:
    """A rubric line that earned nothing because its check could not run, saying why."""
    points, description = config.RUBRIC[tag]
    return entry(tag, description, float(points), False, message, cause=cause)


def zero_tests(message: str, cause: str = causes.NOT_RUN) -> list[Entry]:
    """Every rubric line at 0 points, each saying `message`: the points still add up to the rubric."""
    return [zero_entry(tag, message, cause) for tag in config.RUBRIC]


def _rubric_order(test: Entry) -> int:
    tags = test.get("tags") or [""]
    return list(config.RUBRIC).index(tags[0]) if tags[0] in config.RUBRIC else len(config.RUBRIC)


def build(tests: list[Entry], output: str = "", execution_time: float = 0.0,
          extra: dict[str, Any] | None = None, flags: Iterable[str] | None = None) -> Results:
    """A whole result around `tests`; its score is their sum. `flags`, when given, go to
    extra_data's INTEGRITY_FLAGS, sorted (an empty list when none): they change no points."""
    tests = sorted(tests, key=_rubric_order)  # the README's order; a tag's checks keep theirs
    results = Results(score=round(sum(check_score(t) for t in tests), 2),
                      execution_time=round(execution_time, 2), output=output, visibility=VISIBLE,
                      stdout_visibility="hidden", tests=tests, **student_text.GRADESCOPE)
    if flags is not None:
        extra = {**(extra or {}), INTEGRITY_FLAGS: sorted(set(flags))}
    if extra is not None:
        results["extra_data"] = extra
    return results


def zero_result(message: str, output: str = "", extra: dict[str, Any] | None = None) -> Results:
    """The rubric-wide zero result: every tag at 0 points, each saying `message`."""
    return build(zero_tests(message), output=output, extra=extra)


# --- Summing -------------------------------------------------------------------------------------


def finite(value: object) -> float | None:
    """`value` (a number, or text of one) as a finite float; None for anything else (NaN, an
    infinity, a bool, None, other text): a number read from a file, never trusted."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _number(value: Any) -> float:
    """A score as a float; anything else (missing, text, NaN) counts 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def check_score(test: Entry) -> float:
    """The points one check earned (0 when its score is no finite number)."""
    return _number(test.get("score"))


def check_maximum(test: Entry) -> float:
    """The points one check could earn (0 when its max_score is no finite number)."""
    return _number(test.get("max_score"))


def maximum(results: Results) -> float:
    """The points possible: the sum of the tests' max_score."""
    return sum(check_maximum(t) for t in results.get("tests", []))


def score(results: Results) -> float:
    """The points earned: the top-level score if given, else the sum of the tests' scores."""
    if results.get("score") is not None:
        return _number(results["score"])
    return sum(check_score(t) for t in results.get("tests", []))


def by_tag(results: Results | None) -> dict[str, tuple[float, float]]:
    """tag -> (points earned, points possible): every rubric tag (0, 0 without tests), then any other."""
    totals = {tag: [0.0, 0.0] for tag in config.RUBRIC}
    for test in (results or {}).get("tests", []):
        for tag in test.get("tags", []):
            earned = totals.setdefault(str(tag), [0.0, 0.0])
            earned[0] += check_score(test)
            earned[1] += check_maximum(test)
    return {tag: (earned, possible) for tag, (earned, possible) in totals.items()}


def integrity_flags(results: Results | None) -> list[str]:
    """The result's integrity flags (strings only; [] when none or unreadable)."""
    flags = extra_data(results).get(INTEGRITY_FLAGS)
    return [str(flag) for flag in flags if isinstance(flag, str)] if isinstance(flags, list) else []


def extra_data(results: Results | Entry | None) -> dict[str, Any]:
    """The extra_data of a result or of one check ({} when none, or not an object)."""
    found = (results or {}).get("extra_data")
    return found if isinstance(found, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _measured(value: object) -> float | None:
    """A number the grader recorded: a finite JSON number, never text or a bool."""
    return finite(value) if isinstance(value, (int, float)) else None


def isolation(results: Results | None) -> str | None:
    """The sandbox's isolation mode (bwrap, uid, process); None when not recorded."""
    return _text(extra_data(results).get(ISOLATION))


def limits(results: Results | None) -> str | None:
    """How memory and tasks were limited (cgroup2, cgroup1, rlimit); None when not recorded."""
    return _text(extra_data(results).get(LIMITS))


def worker_starts(results: Results | None) -> int | None:
    """How many times the worker was started; None when not recorded."""
    value = extra_data(results).get(WORKER_STARTS)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def timings(results: Results | None) -> dict[str, float]:
    """Seconds per stage of the grading (e.g. worker_ready_s): the finite numbers recorded."""
    found = extra_data(results).get(TIMINGS)
    numbers = {str(k): _measured(v) for k, v in found.items()} if isinstance(found, dict) else {}
    return {name: value for name, value in numbers.items() if value is not None}


def execution_time(results: Results | None) -> float | None:
    """The grader's own time for the submission, in seconds; None when not a finite number."""
    return _measured((results or {}).get("execution_time"))


def _elbo_extras(results: Results | None) -> list[dict[str, Any]]:
    """The extra_data of the elbo checks, in order."""
    return [extra_data(test) for test in (results or {}).get("tests", [])
            if isinstance(test, dict) and ELBO_TAG in (test.get("tags") or [])]


def measured_elbo(results: Results | None) -> float | None:
    """The test negative ELBO the elbo check measured; None when it measured none (or no finite number)."""
    measured = (_measured(found.get(TEST_NEGATIVE_ELBO)) for found in _elbo_extras(results))
    return next((value for value in measured if value is not None), None)


def epoch_seconds(results: Results | None) -> list[float]:
    """The seconds of each epoch the elbo check's training took, measured in the sandbox ([] when none)."""
    for found in _elbo_extras(results):
        seconds = found.get(EPOCH_SECONDS)
        if isinstance(seconds, list):
            return [value for value in map(_measured, seconds) if value is not None]
    return []


def train_device(results: Results | None) -> str | None:
    """The device the elbo check's training ran on; None when not recorded."""
    devices = (_text(found.get(TRAIN_DEVICE)) for found in _elbo_extras(results))
    return next((device for device in devices if device is not None), None)


def cause_codes(results: Results | None) -> list[str]:
    """The distinct cause codes of the result's failed checks, sorted ([] when none failed)."""
    found = (causes.cause_of(test) for test in (results or {}).get("tests", []) if isinstance(test, dict))
    return sorted({code for code in found if code is not None})


def tag_points(results: Results | None) -> dict[str, float]:
    """Points earned per rubric tag, rounded (0 for every tag without results)."""
    totals = by_tag(results)
    return {tag: round(totals[tag][0], 2) for tag in config.RUBRIC}


# --- Writing and reading ---------------------------------------------------------------------------


def valid_text(text: str) -> str:
    """`text` as valid Unicode: a file name's bytes that were not UTF-8 shown as \\xff, any other
    lone surrogate (a notebook's JSON, an exception message may hold one) as U+FFFD."""
    if not SURROGATE.search(text):
        return text
    text = ESCAPED_BYTE.sub(lambda m: f"\\x{ord(m.group()) - 0xdc00:02x}", text)
    return SURROGATE.sub("\ufffd", text)


def bounded_text(text: str, limit: int = config.RESULTS_TEXT_CHARS) -> str:
    """valid_text(text), cut to `limit` characters (saying how many more there were)."""
    text = valid_text(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit:,} more characters cut)"


def _clean(value: Any, limit: int, depth: int = 0) -> Any:
    """`value` as strict JSON can hold it: strings cut to `limit`, non-finite numbers as text."""
    if isinstance(value, str):
        return bounded_text(value, limit)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 1 << 63 else "(an integer too large to keep)"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # "nan", "inf", "-inf"
    if depth >= MAX_DEPTH:
        return "(nested too deep to keep)"
    if isinstance(value, dict):
        return {bounded_text(str(key), limit): _clean(item, limit, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item, limit, depth + 1) for item in value]
    return bounded_text(f"({type(value).__name__})", limit)


def _without_extra_data(results: Results) -> Results:
    slim = {key: value for key, value in results.items() if key != "extra_data"}
    slim["tests"] = [{key: value for key, value in t.items() if key != "extra_data"} for t in results.get("tests", [])]
    slim["extra_data"] = {"dropped": "extra_data was left out to keep results.json under "
                                     f"{config.RESULTS_MAX_BYTES:,} bytes"}
    return Results(**slim)


def to_json(results: Results) -> str:
    """Strict, bounded JSON: strings cut, then cut harder, then extra_data dropped, until it fits."""
    for candidate, limit in ((results, config.RESULTS_TEXT_CHARS), (results, config.RESULTS_TEXT_CHARS // 10),
                             (_without_extra_data(results), 300)):
        text = json.dumps(_clean(candidate, limit), indent=2, allow_nan=False)
        if len(text.encode()) <= config.RESULTS_MAX_BYTES:
            return text
    raise ValueError(f"results with {len(results.get('tests', []))} tests do not fit in "
                     f"{config.RESULTS_MAX_BYTES:,} bytes")


def write(results: Results, path: Path) -> None:
    """Write results.json at `path` atomically (a reader never sees half a file)."""
    files.write_text(path, to_json(results))


def _reject_constant(name: str) -> None:
    raise ResultsError(f"is not strict JSON (it holds {name})")


def from_json(text: str) -> Results:
    """The results in `text`, checked for what readers rely on: an object with a list of tests."""
    try:
        results = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise ResultsError(f"is not JSON ({error})") from None
    if not isinstance(results, dict) or not isinstance(results.get("tests"), list) \
            or not all(isinstance(t, dict) for t in results["tests"]):
        raise ResultsError("has no list of tests: expected Gradescope's results format")
    return _clean(results, config.RESULTS_TEXT_CHARS)  # valid text, whoever wrote the file


def load(path: Path) -> Results:
    """from_json of the file at `path` (FileNotFoundError if there is none)."""
    return from_json(path.read_text(errors="replace"))
