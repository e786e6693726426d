"""UCIT / CoIN exact match, and the scorer lookup."""
import pytest

from eval.scorers import score
from keeplora.errors import UserError


@pytest.mark.parametrize("pred, answers, expected", [
    ("Red", ["red"], 1.0), ("  red\n", ["red"], 1.0), ("red.", ["red"], 0.0), ("", ["red"], 0.0),
    ("blue", ["red", "blue"], 1.0), ("a red", ["red"], 0.0),
])
def test_exact_match_is_case_insensitive_and_nothing_else(pred, answers, expected):
    assert score("exact_match", pred, answers) == expected


def test_unknown_scorer_lists_the_known_ones():
    with pytest.raises(UserError, match="unknown scorer 'bleu'; known: .*exact_match.*vqa_soft"):
        score("bleu", "x", ["x"])
