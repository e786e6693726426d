"""MLLM-DCL rules (benchmarks.md §2.5) on their edge cases."""
import pytest

from eval.scorers import score


@pytest.mark.parametrize("pred, gt, expected", [
    ("Airport", "airport", 1.0), ("It is an airport.", "airport", 1.0), ("airports", "airport", 1.0),
    ("airports here", "airport", 0.0), ("the airports here", "airport", 1.0),   # word-start match only
    ("dense residential area", "dense residential", 1.0), ("residential", "dense residential", 0.0),
    ("Unanswerable airport", "airport", 0.0), ("yes.", "yes.", 1.0),
])
def test_dcl_ai2d(pred, gt, expected):
    assert score("dcl_ai2d", pred, [gt]) == expected


def test_dcl_pvqa_and_finvis():
    assert score("dcl_pvqa", "Yes, there is a tumor", ["yes"]) == 1.0
    assert score("dcl_pvqa", "no", ["yes"]) == 0.0
    assert score("dcl_finvis", " B. ", ["b"]) == 1.0 and score("dcl_finvis", "True", ["true"]) == 1.0
    assert score("dcl_finvis", "B because", ["b"]) == 0.0
