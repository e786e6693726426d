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


def test_dcl_edge_cases_as_mcitlib_scores_them():
    from eval.scorers import score
    for name in ("dcl_pvqa", "dcl_finvis", "dcl_sci", "dcl_mapqa", "dcl_mapqa_states", "dcl_ai2d"):
        assert score(name, "Unanswerable: yes", ["yes"]) == 0.0            # every evaluator: wrong, still counted
    assert score("dcl_pvqa", "unanswerable, but yes", ["yes"]) == 1.0       # the check is case-sensitive
    assert score("dcl_sci", " b\n", ["B"]) == 1.0 and score("dcl_sci", "b", ["B "]) == 0.0    # model_vqa strips
    assert score("dcl_finvis", "A. ", ["a"]) == 1.0
    states = "alabama, texas, ohio"
    assert score("dcl_mapqa_states", "alabama, texas, ohio", [states]) == 1.0
    assert score("dcl_mapqa_states", "alabama,texas", [states]) == pytest.approx(1 / 3)    # spaces kept
    assert score("dcl_mapqa_states", "texas, alabama", [states]) == 0.0     # reordered: the spaces move with it
