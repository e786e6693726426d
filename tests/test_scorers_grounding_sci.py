"""Grounding (CoIN / LLaVA RefCOCO) and MLLM-DCL Sci rules, with their edge cases."""
import pytest

from eval.scorers import score
from eval.scorers.coin import box_iou, parse_box_coin

GT = ["[0.10, 0.20, 0.50, 0.60]"]


def test_iou_boundary_is_strict():
    assert box_iou([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert box_iou([0, 0, 1, 1], [0, 0, 0.5, 1]) == pytest.approx(0.5)
    assert score("grounding_iou", "[0, 0, 1, 1]", ["[0, 0, 0.5, 1]"]) == 0.0        # IoU exactly 0.5: a miss
    assert score("grounding_iou", "[0, 0, 1, 1]", ["[0, 0, 0.51, 1]"]) == 1.0       # IoU 0.51
    assert score("grounding_iou", "[0.6, 0, 1, 1]", ["[0, 0, 0.5, 1]"]) == 0.0      # disjoint


def test_coin_parser_quirk():
    assert parse_box_coin("[0.10, 0.20, 0.50, 0.60]") == [0.1, 0.2, 0.5, 0.6]          # last digit lost: 0.6
    assert parse_box_coin("[0.1,0.2,0.5,0.6]") == [0.1, 0.2, 0.5, 0.0]                 # last coordinate gone
    assert parse_box_coin("[0, 0, 1, 1]") is None                                     # does not parse
    assert parse_box_coin("[0.1,0.2,0.5,0.6].") == [0.1, 0.2, 0.5, 0.6]                # trailing dot: harmless
    assert score("grounding_coin", "[0.1,0.2,0.5,0.6]", GT) == 0.0
    assert score("grounding_iou", "[0.1,0.2,0.5,0.6]", GT) == 1.0


def test_unparsable_and_empty_predictions_are_misses():
    for pred in ("", "the dog on the left", "[0.1, 0.2]"):
        assert score("grounding_iou", pred, GT) == 0.0 and score("grounding_coin", pred, GT) == 0.0


def test_dcl_sci_rules():
    assert score("dcl_sci", " Photosynthesis ", ["photosynthesis"]) == 1.0
    assert score("dcl_sci", "photosynthesis.", ["photosynthesis"]) == 0.0            # exact, no stripping of "."
    assert score("dcl_mapqa_states", "Texas, ohio, Maine", ["Texas, Ohio, Iowa, Utah"]) == 0.5
    assert score("dcl_mapqa_states", "", ["Texas"]) == 0.0
    assert score("dcl_mapqa", "The highest value is 42.", ["42"]) == 1.0
