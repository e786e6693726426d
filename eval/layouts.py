"""Prediction lines in each benchmark's own layout, so its official evaluation script reads them as they are.

Each line keeps this project's fields (``id``, ``question``, ``prediction``, ``answers``: what resuming
and scoring read) and adds the benchmark's: CoIN / LLaVA ``model_vqa`` (``question_id, prompt, text,
answer_id, model_id, metadata``), CL-VISTA (``id, question, answer, pred``), MVBench (``question, answer,
pred``). UCIT and MLLM-DCL read the LLaVA layout too.
"""
from __future__ import annotations

__all__ = ["benchmark_fields"]

_LLAVA = {"exact_match", "vqa_soft", "scienceqa_llava", "scienceqa_coin", "imagenet_substring", "gqa", "ocrvqa",
          "grounding_iou", "grounding_coin", "caption_coco", "dcl_ai2d", "dcl_pvqa", "dcl_sci", "dcl_finvis",
          "dcl_mapqa", "dcl_mapqa_states"}


def benchmark_fields(scorer: str, pred: dict, model_id: str = "keeplora") -> dict:
    """The fields the benchmark's own scripts expect, for one prediction."""
    answer = pred["answers"][0] if pred["answers"] else ""
    if scorer == "cl_vista_judge":
        return {"question": pred["question"], "answer": answer, "pred": pred["prediction"]}
    if scorer == "mvbench":
        return {"question": pred["question"], "answer": answer, "pred": pred["prediction"]}
    if scorer in _LLAVA:
        return {"question_id": pred["id"], "prompt": pred["question"], "text": pred["prediction"],
                "answer_id": pred["id"], "model_id": model_id, "metadata": {}}
    return {}
