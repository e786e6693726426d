"""CL-VISTA's LLM-judge score (``eval_video_qa_qwen.py``): 0–5 per answer, task score = mean × 20.

The judge is any OpenAI-compatible chat endpoint (e.g. a local vLLM server with the official
Qwen3-30B-A3B-Instruct-2507), set with ``KEEPLORA_JUDGE_URL`` (``http://host:8000/v1``),
``KEEPLORA_JUDGE_MODEL`` and optionally ``KEEPLORA_JUDGE_API_KEY``. The prompt and the parsing are the
official ones: the reply is read as a Python dict, ``score`` is clamped to 0–5, and a reply that does not
parse scores 0. Without an endpoint a deterministic stand-in (token-F1 × 5) runs, and every output that
uses it says "not comparable".
"""
from __future__ import annotations

import ast
import json
import os
import re
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from keeplora.errors import UserError

from . import CorpusScore, register_corpus_scorer

__all__ = ["judge_messages", "parse_judge_score", "openai_judge", "token_f1_judge"]

SYSTEM = ("You are an intelligent chatbot designed for evaluating the correctness of generative outputs "
          "for question-answer pairs. Your task is to compare the predicted answer with the correct answer and "
          "determine the matching score. Here's how you can accomplish the task:------##INSTRUCTIONS: "
          "- Focus on the meaningful match between the predicted answer and the correct answer.\n"
          "- Consider synonyms or paraphrases as valid matches.\n"
          "- Evaluate the correctness of the prediction compared to the answer and provide a score from 0 to 5.\n"
          "- 0: No match at all\n- 1: Very poor match\n- 2: Poor match\n- 3: Fair match\n- 4: Good match\n"
          "- 5: Excellent/Perfect match")
USER = ("Please evaluate the following video-based question-answer pair:\n\nQuestion: {q}\nCorrect Answer: {a}\n"
        "Predicted Answer: {p}\n\nProvide your evaluation only as a score where the score is an integer value "
        "between 0 and 5, with 5 indicating the highest meaningful match. Please generate the response in the "
        "form of a Python dictionary string with key 'score' only, where value of 'score' is an INTEGER between "
        "0 and 5. DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the Python dictionary "
        "string. For example: {{'score': 4}}.")


def judge_messages(question: str, answer: str, prediction: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER.format(q=question, a=answer,
                                                                                        p=prediction)}]


def parse_judge_score(reply: str) -> int:
    """Official parsing: code fences stripped, ``ast.literal_eval``, ``int(score)`` clamped to 0–5, else 0."""
    text = reply.strip()
    if text.startswith("```"):
        text = text.split("```", 1)[-1]
    if text.endswith("```"):
        text = text[:-3]
    try:
        return max(0, min(5, int(ast.literal_eval(text.strip())["score"])))
    except (ValueError, SyntaxError, TypeError, KeyError, IndexError, MemoryError, RecursionError):
        return 0


def openai_judge(url: str, model: str, api_key: str | None = None, timeout: float = 120) -> Callable:
    """``messages -> reply`` through an OpenAI-compatible ``/chat/completions`` endpoint, greedy."""
    def complete(messages: list[dict]) -> str:
        body = json.dumps({"model": model, "messages": messages, "temperature": 0, "max_tokens": 128}).encode()
        req = urllib.request.Request(url.rstrip("/") + "/chat/completions", body,
                                     {"Content-Type": "application/json",
                                      **({"Authorization": f"Bearer {api_key}"} if api_key else {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read())["choices"][0]["message"]["content"] or ""
        except OSError as exc:
            raise UserError(f"judge endpoint {url}: {exc}; check KEEPLORA_JUDGE_URL or unset it") from None
    return complete


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def token_f1_judge(question: str, answer: str, prediction: str) -> int:
    """Deterministic stand-in: round(5 × token F1 of prediction vs answer). Not comparable to the judge."""
    a, p = _words(answer), _words(prediction)
    common = sum(min(a.count(w), p.count(w)) for w in set(a))
    if not common:
        return 0
    precision, recall = common / len(p), common / len(a)
    return round(5 * 2 * precision * recall / (precision + recall))


@register_corpus_scorer("cl_vista_judge", layout="cl_vista")
def cl_vista_judge(preds: list[dict]) -> CorpusScore:
    """Mean judge score / 5 (×100 by the harness = the official ×20); ``judge_scores`` per prediction."""
    url = os.environ.get("KEEPLORA_JUDGE_URL")
    if url:
        complete = openai_judge(url, os.environ.get("KEEPLORA_JUDGE_MODEL", "judge"),
                                os.environ.get("KEEPLORA_JUDGE_API_KEY"))
        with ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(lambda p: complete(judge_messages(p.get("question", ""), p["answers"][0],
                                                                      p["prediction"])), preds))
        scores, note = [parse_judge_score(r) for r in replies], None
    else:
        scores = [token_f1_judge(p.get("question", ""), p["answers"][0], p["prediction"]) for p in preds]
        note = "not comparable: no KEEPLORA_JUDGE_URL, deterministic token-F1 stand-in for the LLM judge"
    for p, s in zip(preds, scores):
        p["judge_score"] = s
    return CorpusScore(sum(scores) / (5 * len(scores)), {"judge_mean_0_5": sum(scores) / len(scores)}, note)
