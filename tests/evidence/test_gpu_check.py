"""`make gpu-check`'s pieces that need no GPU: which cases it grades, and how it judges them."""
from __future__ import annotations

from autograder.evidence import corpus, gpu_check


def _results(scores: dict[str, tuple[float, float]]) -> dict:
    return {"tests": [{"tags": [tag], "score": got, "max_score": most} for tag, (got, most) in scores.items()]}


def test_the_device_cases_are_every_corpus_and_thirdparty_submission_with_a_device_mistake(tmp_path):
    cases = gpu_check.device_cases(tmp_path)
    assert {"buggy_reparam_randn_no_device", "sksq96_randn_on_cpu", "l1aoxingyu_floattensor_noise"} <= set(cases)
    assert all(path.exists() for path, _ in cases.values())


def test_a_case_is_as_expected_when_it_loses_its_tags_and_keeps_the_others():
    spec = {"loses": ["reparameterize"], "may_lose": ["elbo"]}
    assert corpus.tag_problems(spec, _results({"reparameterize": (5, 10), "elbo": (0, 15), "kl": (15, 15)})) == []
    assert corpus.tag_problems(spec, _results({"reparameterize": (10, 10), "kl": (15, 15)})) == ["keeps reparameterize"]
    assert corpus.tag_problems(spec, _results({"reparameterize": (5, 10), "kl": (0, 15)})) == ["loses kl"]
