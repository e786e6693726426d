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


def test_every_scorer_declares_its_prediction_layout():
    from eval.layouts import LAYOUT_FIELDS, benchmark_fields
    from eval.scorers import CORPUS_SCORERS, LAYOUTS, SCORERS
    names = [*SCORERS, *CORPUS_SCORERS]
    assert set(LAYOUTS) == set(names) and set(LAYOUTS.values()) <= set(LAYOUT_FIELDS)
    pred = {"id": "7", "question": "q?", "prediction": "p", "answers": ["a"]}
    assert benchmark_fields("mvbench", pred) == {"question": "q?", "answer": "a", "pred": "p"}
    assert benchmark_fields("gqa", pred)["question_id"] == "7"
    import pytest

    from keeplora.errors import UserError
    with pytest.raises(UserError, match="unknown scorer 'nope'"):
        benchmark_fields("nope", pred)
