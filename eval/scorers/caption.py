"""UCIT caption score: mean of BLEU-1..4, METEOR, ROUGE-L and CIDEr-D (pycocoevalcap), a corpus-level score.

With pycocoevalcap and Java (PTB tokenizer, METEOR) the official code computes every metric. Without
them, a pure-Python path computes BLEU, ROUGE-L and CIDEr-D with pycocoevalcap's exact formulas
(checked against it in the tests) on a regex imitation of the PTB tokenizer; METEOR has no Python
equivalent, so that average is over 6 metrics and flagged "not comparable".

Quirks kept: predictions are cut to 300 characters (KeepLoRA's eval scripts); CIDEr's IDF comes from
the evaluated references only (small test sets inflate it); pycocoevalcap's CIDEr length penalty counts
bigrams, not words.
"""
from __future__ import annotations

import math
import re
import shutil
from collections import Counter
from collections.abc import Sequence

from . import CorpusScore, register_corpus_scorer

__all__ = ["ptb_tokenize", "bleu", "rouge_l", "cider_d", "caption_metrics"]

MAX_CHARS = 300
_PUNCT = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}
_TOKEN = re.compile(r"n't|'(?:s|re|ve|ll|d|m)\b|(?:[a-z]\.){2,}|\d+(?:[.,:]\d+)*|\w+(?:-\w+)*|\.\.\.|--|[^\w\s]")
# PTB escapes brackets; lower-cased, they no longer match pycocoevalcap's punctuation list and stay.
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-", '"': "''"}


def ptb_tokenize(text: str) -> str:
    """Lower-case PTB-style tokens without punctuation, space-joined (pycocoevalcap's PTBTokenizer output)."""
    text = re.sub(r"(\w)n't\b", r"\1 n't", text.lower().replace("\n", " "))
    tokens = (_BRACKETS.get(t, t) for t in _TOKEN.findall(text))
    return " ".join(t for t in tokens if t not in _PUNCT)


def _ngrams(words: list[str], n: int = 4) -> Counter:
    return Counter(tuple(words[i:i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1))


def bleu(hyps: Sequence[str], refs: Sequence[Sequence[str]], n: int = 4) -> list[float]:
    """Corpus BLEU-1..n as pycocoevalcap's BleuScorer (option "closest": the closest reference length)."""
    tiny, small = 1e-15, 1e-9
    guess, correct, test_len, ref_len = [0] * n, [0] * n, 0, 0
    for hyp, rs in zip(hyps, refs):
        words = hyp.split()
        counts, max_ref = _ngrams(words, n), Counter()
        for r in rs:
            max_ref |= _ngrams(r.split(), n)
        test_len += len(words)
        ref_len += min((abs(len(r.split()) - len(words)), len(r.split())) for r in rs)[1]
        for k in range(n):
            guess[k] += max(0, len(words) - k)
        for gram, c in counts.items():
            correct[len(gram) - 1] += min(c, max_ref[gram])
    scores, product = [], 1.0
    for k in range(n):
        product *= (correct[k] + tiny) / (guess[k] + small)
        scores.append(product ** (1.0 / (k + 1)))
    ratio = (test_len + tiny) / (ref_len + small)
    return [s * math.exp(1 - 1 / ratio) for s in scores] if ratio < 1 else scores


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(hyps: Sequence[str], refs: Sequence[Sequence[str]], beta: float = 1.2) -> float:
    """Mean ROUGE-L F (β = 1.2) with the best precision and best recall over references, as pycocoevalcap."""
    total = 0.0
    for hyp, rs in zip(hyps, refs):
        c = hyp.split(" ")
        lcs = [_lcs(r.split(" "), c) for r in rs]
        p = max(x / len(c) for x in lcs)
        r = max(x / len(ref.split(" ")) for x, ref in zip(lcs, rs))
        total += (1 + beta ** 2) * p * r / (r + beta ** 2 * p) if p and r else 0.0
    return total / len(hyps)


def _tfidf(counts: Counter, df: Counter, log_n: float):
    vec, norm, length = [{} for _ in range(4)], [0.0] * 4, 0
    for gram, tf in counts.items():
        k = len(gram) - 1
        vec[k][gram] = tf * (log_n - math.log(max(1.0, df[gram])))
        norm[k] += vec[k][gram] ** 2
        length += tf if k == 1 else 0                 # pycocoevalcap counts bigrams here
    return vec, [math.sqrt(x) for x in norm], length


def cider_d(hyps: Sequence[str], refs: Sequence[Sequence[str]], sigma: float = 6.0) -> float:
    """CIDEr-D as pycocoevalcap's CiderScorer: clipped tf-idf cosine per n, Gaussian length penalty, ×10."""
    ref_counts = [[_ngrams(r.split()) for r in rs] for rs in refs]
    df = Counter(g for rc in ref_counts for g in set().union(*rc))
    log_n = math.log(len(hyps))
    total = 0.0
    for hyp, rcs in zip(hyps, ref_counts):
        vh, nh, lh = _tfidf(_ngrams(hyp.split()), df, log_n)
        acc = [0.0] * 4
        for rc in rcs:
            vr, nr, lr = _tfidf(rc, df, log_n)
            for k in range(4):
                val = sum(min(v, vr[k].get(g, 0.0)) * vr[k].get(g, 0.0) for g, v in vh[k].items())
                if nh[k] and nr[k]:
                    val /= nh[k] * nr[k]
                acc[k] += val * math.exp(-((lh - lr) ** 2) / (2 * sigma ** 2))
        total += sum(acc) / 4 / len(rcs) * 10.0
    return total / len(hyps)


def _official_available() -> bool:
    try:
        import pycocoevalcap  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None


def _official(hyps: list[str], refs: list[list[str]]) -> dict[str, float]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
    res = tok.tokenize({i: [{"caption": h}] for i, h in enumerate(hyps)})
    out = dict(zip(("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"), Bleu(4).compute_score(gts, res, verbose=0)[0]))
    out["METEOR"] = Meteor().compute_score(gts, res)[0]
    out["ROUGE-L"] = Rouge().compute_score(gts, res)[0]
    out["CIDEr"] = Cider().compute_score(gts, res)[0]
    return {k: float(v) for k, v in out.items()}


def caption_metrics(hyps: Sequence[str], refs: Sequence[Sequence[str]], official: bool | None = None):
    """Metric name → value (0–1 scale; CIDEr can exceed 1) and whether it is the official computation."""
    hyps = [h[:MAX_CHARS] for h in hyps]
    official = _official_available() if official is None else official
    if official:
        return _official(list(hyps), [list(r) for r in refs]), True
    h, r = [ptb_tokenize(x) for x in hyps], [[ptb_tokenize(x) for x in rs] for rs in refs]
    out = dict(zip(("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"), bleu(h, r)))
    out["ROUGE-L"], out["CIDEr"] = rouge_l(h, r), cider_d(h, r)
    return out, False


@register_corpus_scorer("caption_coco", layout="llava")
def caption_coco(preds: list[dict]) -> CorpusScore:
    """UCIT VizWiz-Caption / Flickr30k: the mean of the seven COCO metrics (parts ×100, as reported)."""
    parts, official = caption_metrics([p["prediction"] for p in preds], [p["answers"] for p in preds])
    note = None if official else ("not comparable: METEOR needs Java + pycocoevalcap; mean of BLEU-1..4, "
                                  "ROUGE-L, CIDEr (pure-Python, PTB tokens approximated)")
    return CorpusScore(sum(parts.values()) / len(parts), {k: 100 * v for k, v in parts.items()}, note)
