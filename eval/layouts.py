"""Prediction lines in each benchmark's own layout, so its official evaluation script reads them as they are.

Each line keeps this project's fields (``id``, ``question``, ``prediction``, ``answers``: what resuming
and scoring read) and adds the benchmark's: CoIN / LLaVA ``model_vqa`` (``question_id, prompt, text,
answer_id, model_id, metadata``), CL-VISTA (``id, question, answer, pred``), MVBench (``question, answer,
pred``). UCIT and MLLM-DCL read the LLaVA layout too.
"""
from __future__ import annotations

__all__ = ["benchmark_fields", "LAYOUT_FIELDS"]


def _llava(pred: dict, answer: str, model_id: str) -> dict:
    return {"question_id": pred["id"], "prompt": pred["question"], "text": pred["prediction"],
            "answer_id": pred["id"], "model_id": model_id, "metadata": {}}


def _question_answer_pred(pred: dict, answer: str, model_id: str) -> dict:
    return {"question": pred["question"], "answer": answer, "pred": pred["prediction"]}


LAYOUT_FIELDS = {"llava": _llava, "cl_vista": _question_answer_pred, "mvbench": _question_answer_pred}


def benchmark_fields(scorer: str, pred: dict, model_id: str = "keeplora") -> dict:
    """The fields the benchmark's own scripts expect, for one prediction (the layout its scorer declared)."""
    from eval.scorers import LAYOUTS, check_scorer
    check_scorer(scorer, "prediction layout")
    answer = pred["answers"][0] if pred["answers"] else ""
    return LAYOUT_FIELDS[LAYOUTS[scorer]](pred, answer, model_id)
