"""MMBench: the option read as MMBench's evaluator reads it without its GPT fallback, scored by CircularEval.

Reading (VLMEvalKit's ``can_infer``): punctuation ``.()[],:;!*#{}`` becomes spaces; if exactly one option
letter stands alone among the words, that letter; else if exactly one option's text occurs in the answer
(lower-cased), that option; else nothing (wrong — the official evaluator would ask GPT here, so answers a
model phrases freely score lower than on the leaderboard). CircularEval: a question counts only when each
of its rotations (``id`` = ``question@round``, ``data_prep.mmbench``) is answered right. The options are read
back from the prompt's ``X. text`` lines.
"""
from __future__ import annotations

import re
from collections import defaultdict

from . import CorpusScore, check_ids, register_corpus_scorer, register_id_form

__all__ = ["mmbench_option", "mmbench"]

_OPTION_LINE = re.compile(r"^([A-E])\. (.*)$", re.MULTILINE)
_PUNCTUATION = str.maketrans({c: " " for c in ".()[],:;!*#{}"})


def options_in(prompt: str) -> dict[str, str]:
    return dict(_OPTION_LINE.findall(prompt))


def mmbench_option(answer: str, options: dict[str, str]) -> str:
    words = answer.translate(_PUNCTUATION).split()
    letters = [k for k in options if k in words]
    if len(letters) == 1:
        return letters[0]
    texts = [k for k, text in options.items() if text.lower() in answer.lower()]
    return texts[0] if len(texts) == 1 else ""


@register_corpus_scorer("mmbench", layout="llava")
def mmbench(preds: list[dict]) -> CorpusScore:
    check_ids("mmbench", [p["id"] for p in preds], "mmbench")
    rounds: dict[str, dict[int, bool]] = defaultdict(dict)
    for p in preds:
        question, _, r = str(p["id"]).rpartition("@")
        read = mmbench_option(p["prediction"], options_in(p["question"]))
        rounds[question][int(r)] = read == str(p["answers"][0]).strip()
    circular = sum(all(r.values()) for r in rounds.values()) / len(rounds)
    first = [r[min(r)] for r in rounds.values()]
    return CorpusScore(circular, {"circular": 100 * circular, "single_pass": 100 * sum(first) / len(first),
                                  "questions": float(len(rounds))})


register_id_form("mmbench", lambda i: i.rpartition("@")[0] != "" and i.rpartition("@")[2].isdigit(),
                 "'question@round', as python -m data_prep.mmbench writes them")
