"""CoIN / LLaVA per-task rules on the edge cases of benchmarks.md §2.3 and §2.7."""
import pytest

from eval.scorers import score


@pytest.mark.parametrize("pred, llava, coin", [
    ("B", 1.0, 1.0), ("B. a cat", 1.0, 1.0), ("The answer is B.", 1.0, 1.0),
    ("(B)", 0.0, 1.0), ("Answer: B", 0.0, 1.0), ("b", 0.0, 1.0),
    ("The answer is B. The answer is C.", 0.0, 1.0), ("", 0.0, 0.0),           # llava: two hits = FAILED
])
def test_the_two_official_scienceqa_parsers(pred, llava, coin):
    assert score("scienceqa_llava", pred, ["B"]) == llava
    assert score("scienceqa_coin", pred, ["B"]) == coin


def test_coin_parser_quirk_takes_any_single_letter_word():
    assert score("scienceqa_coin", "a cat", ["A"]) == 1.0


@pytest.mark.parametrize("pred, expected", [("tabby cat", 1.0), ("cat", 1.0), ("Cat", 0.0), ("", 1.0), ("dog", 0.0)])
def test_imagenet_substring_either_way(pred, expected):
    assert score("imagenet_substring", pred, ["cat"]) == expected


def test_gqa_and_ocrvqa():
    assert score("gqa", "Yes.", ["yes"]) == 1.0 and score("gqa", "yes!", ["yes"]) == 0.0
    assert score("ocrvqa", "THE HOBBIT", ["The Hobbit"]) == 1.0
    assert score("ocrvqa", "Unanswerable: The Hobbit", ["The Hobbit"]) == 0.0
    assert score("ocrvqa", "unanswerable", ["unanswerable"]) == 1.0             # only the capitalised word
