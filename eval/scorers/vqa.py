"""VQA answer normalisation (EvalAI / MMF, as LLaVA's ``m4c_evaluator`` runs it) and the 10-answer soft score.

Quirks of the official code, reproduced on purpose so that numbers stay comparable:
* the period rule's lookbehind is mistyped (``(?!<=\\d)``) and has no effect: only a period *followed*
  by a digit is kept (``'5. dogs'`` → ``'5 dogs'``);
* ``re.UNICODE`` is passed as ``re.sub``'s *count*, so at most 32 periods are removed;
* a punctuation mark is deleted (not replaced by a space) when it touches a space anywhere in the text,
  or when the text contains a digit-comma-digit group.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from . import register_scorer

__all__ = ["evalai_normalize", "vqa_soft_score"]

_NUMBERS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
_NUMBERS["none"] = "0"
_ARTICLES = {"a", "an", "the"}
_PUNCT = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_DIGIT_COMMA = re.compile(r"(?<=\d)(\,)+(?=\d)")
# written form -> apostrophe form, as in the official table (entries are "without:with" pairs)
_CONTRACTIONS = dict(pair.split(":") for pair in """
aint:ain't arent:aren't cant:can't couldve:could've couldnt:couldn't couldn'tve:couldn't've
couldnt've:couldn't've didnt:didn't doesnt:doesn't dont:don't hadnt:hadn't hadnt've:hadn't've
hadn'tve:hadn't've hasnt:hasn't havent:haven't hed:he'd hed've:he'd've he'dve:he'd've hes:he's howd:how'd
howll:how'll hows:how's Id've:I'd've I'dve:I'd've Im:I'm Ive:I've isnt:isn't itd:it'd itd've:it'd've
it'dve:it'd've itll:it'll let's:let's maam:ma'am mightnt:mightn't mightnt've:mightn't've
mightn'tve:mightn't've mightve:might've mustnt:mustn't mustve:must've neednt:needn't notve:not've
oclock:o'clock oughtnt:oughtn't ow's'at:'ow's'at 'ows'at:'ow's'at 'ow'sat:'ow's'at shant:shan't
shed've:she'd've she'dve:she'd've she's:she's shouldve:should've shouldnt:shouldn't shouldnt've:shouldn't've
shouldn'tve:shouldn't've somebody'd:somebodyd somebodyd've:somebody'd've somebody'dve:somebody'd've
somebodyll:somebody'll somebodys:somebody's someoned:someone'd someoned've:someone'd've
someone'dve:someone'd've someonell:someone'll someones:someone's somethingd:something'd
somethingd've:something'd've something'dve:something'd've somethingll:something'll thats:that's
thered:there'd thered've:there'd've there'dve:there'd've therere:there're theres:there's theyd:they'd
theyd've:they'd've they'dve:they'd've theyll:they'll theyre:they're theyve:they've twas:'twas wasnt:wasn't
wed've:we'd've we'dve:we'd've weve:we've werent:weren't whatll:what'll whatre:what're whats:what's
whatve:what've whens:when's whered:where'd wheres:where's whereve:where've whod:who'd whod've:who'd've
who'dve:who'd've wholl:who'll whos:who's whove:who've whyll:why'll whyre:why're whys:why's wont:won't
wouldve:would've wouldnt:wouldn't wouldnt've:wouldn't've wouldn'tve:wouldn't've yall:y'all
yall'll:y'all'll y'allll:y'all'll yall'd've:y'all'd've y'alld've:y'all'd've y'all'dve:y'all'd've youd:you'd
youd've:you'd've you'dve:you'd've youll:you'll youre:you're youve:you've
""".split())


def _punctuation(text: str) -> str:
    out = text
    for p in _PUNCT:
        touches_space = (p + " " in text) or (" " + p in text) or _DIGIT_COMMA.search(text) is not None
        out = out.replace(p, "" if touches_space else " ")
    return _PERIOD.sub("", out, re.UNICODE)          # count=re.UNICODE (32): the official call, kept


def evalai_normalize(answer: str) -> str:
    """Lower-case, strip ``,``/``?``, punctuation and periods, number words → digits, drop articles,
    restore contractions (the official order of operations)."""
    text = answer.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    text = text.replace("\n", " ").replace("\t", " ").strip()
    words = [_NUMBERS.get(w, w) for w in _punctuation(text).lower().split()]
    return " ".join(_CONTRACTIONS.get(w, w) for w in words if w not in _ARTICLES)


@register_scorer("vqa_soft", layout="llava")
def vqa_soft_score(prediction: str, answers: Sequence[str]) -> float:
    """TextVQA/VQAv2 soft accuracy: mean over the 10 leave-one-out subsets of ``min(1, matches/3)``."""
    if len(answers) != 10:
        raise ValueError(f"vqa_soft needs the 10 human answers of a question, got {len(answers)}")
    gts = [evalai_normalize(a) for a in answers]
    pred = evalai_normalize(prediction)
    return sum(min(1.0, sum(1 for j, g in enumerate(gts) if j != k and g == pred) / 3) for k in range(10)) / 10
