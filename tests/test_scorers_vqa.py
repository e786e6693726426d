"""EvalAI normalisation and VQA soft score against the outputs of the official evaluator
(benchmarks.md §3.1-3.2, verified there by running LLaVA's m4c_evaluator)."""
import pytest

from eval.scorers import score
from eval.scorers.vqa import evalai_normalize


@pytest.mark.parametrize("raw, expected", [
    ("Yes.", "yes"), ("A dog", "dog"), ("two", "2"), ("The answer is 10,000!", "answer is 10000"),
    ("dont know", "don't know"), ("3.5", "3.5"), ("red, white", "red white"),
    ("5. dogs", "5 dogs"),                       # the mistyped lookbehind: the period before a space goes
    ("(left)", "left"), ("x-y", "x y"), ("x - y", "x y"), ("Two cats\n", "2 cats"),
])
def test_evalai_normalize(raw, expected):
    assert evalai_normalize(raw) == expected


@pytest.mark.parametrize("pred, answers, expected", [
    ("Yes.", ["yes"] * 10, 1.0),
    ("two", ["2", "2", "two"] + ["3"] * 7, 0.9),
    ("red", ["red", "red"] + ["blue"] * 8, 0.6),
    ("a dog", ["dog"] * 10, 1.0),
    ("blue", ["red"] * 10, 0.0),
])
def test_vqa_soft_oracle(pred, answers, expected):
    assert score("vqa_soft", pred, answers) == pytest.approx(expected)


def test_vqa_soft_needs_ten_answers():
    with pytest.raises(ValueError, match="10 human answers"):
        score("vqa_soft", "x", ["x"])
