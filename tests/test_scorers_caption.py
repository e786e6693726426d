"""UCIT caption score: the pure-Python BLEU/ROUGE-L/CIDEr-D agree with pycocoevalcap on a fixed set."""
import shutil

import pytest

from eval.scorers import score_task
from eval.scorers.caption import MAX_CHARS, bleu, caption_metrics, cider_d, ptb_tokenize, rouge_l

HYPS = ["A man is riding a horse on the beach.", "Two dogs play in the snow!", "a red bus",
        "The woman, who is smiling, holds an umbrella.", "", "A child isn't eating cake"]
REFS = [["A man rides a horse along the beach.", "Someone riding a horse by the sea."],
        ["Two dogs are playing in the snow.", "Dogs running through snow.", "Two puppies in snow."],
        ["A red double-decker bus on the street.", "A bus."],
        ["A smiling woman holding an umbrella.", "Woman with an umbrella in the rain."],
        ["A cat sleeping on a sofa."],
        ["A child is not eating the cake.", "The kid won't eat cake."]]


def _tokenized():
    return [ptb_tokenize(h) for h in HYPS], [[ptb_tokenize(r) for r in rs] for rs in REFS]


def test_tokenizer_lowercases_splits_clitics_and_drops_punctuation():
    """Outputs of the Java PTBTokenizer as pycocoevalcap runs it (brackets stay as -lrb-/-rrb-)."""
    expected = "the kid wo n't eat mary 's cake -lrb- really -rrb-"
    assert ptb_tokenize("The kid won't eat Mary's cake, (really)!") == expected
    assert ptb_tokenize("A double-decker at 3.5 km...") == "a double-decker at 3.5 km"
    assert ptb_tokenize('He said "hi" & left; cost $5.00 -- ok') == "he said hi & left cost $ 5.00 ok"
    assert ptb_tokenize("U.S. cars aren't cheap?") == "u.s. cars are n't cheap"
    assert ptb_tokenize("It's 10:30 am. I'm in.") == "it 's 10:30 am i 'm in"


def test_metrics_match_pycocoevalcap_scorers_exactly():
    coco = pytest.importorskip("pycocoevalcap")  # noqa: F841 - test extra; its BLEU/ROUGE/CIDEr need no Java
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    h, r = _tokenized()
    gts, res = {i: rs for i, rs in enumerate(r)}, {i: [x] for i, x in enumerate(h)}
    assert bleu(h, r) == pytest.approx(Bleu(4).compute_score(gts, res, verbose=0)[0], abs=1e-12)
    assert rouge_l(h, r) == pytest.approx(Rouge().compute_score(gts, res)[0], abs=1e-12)
    assert cider_d(h, r) == pytest.approx(Cider().compute_score(gts, res)[0], abs=1e-9)


@pytest.mark.skipif(shutil.which("java") is None, reason="PTBTokenizer and METEOR need Java")
def test_tokenizer_matches_ptb_tokenizer_on_the_fixed_set():
    pytest.importorskip("pycocoevalcap")
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    out = PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(HYPS + [r for rs in REFS for r in rs])})
    ours = [ptb_tokenize(c) for c in HYPS + [r for rs in REFS for r in rs]]
    assert [out[i][0] for i in range(len(ours))] == ours


@pytest.mark.skipif(shutil.which("java") is None, reason="PTBTokenizer and METEOR need Java")
def test_official_and_fallback_agree_on_the_six_shared_metrics():
    pytest.importorskip("pycocoevalcap")
    official, is_official = caption_metrics(HYPS, REFS, official=True)
    fallback, _ = caption_metrics(HYPS, REFS, official=False)
    assert is_official and 0 < official.pop("METEOR") < 1
    assert official == pytest.approx(fallback, abs=1e-9)


def test_scores_are_pinned_and_depend_on_pairing():
    parts, official = caption_metrics(HYPS, REFS, official=False)
    assert not official and set(parts) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr"}
    assert parts["BLEU-1"] == pytest.approx(0.71703, abs=1e-5)      # = pycocoevalcap with Java, this machine
    assert parts["CIDEr"] == pytest.approx(1.68110, abs=1e-5)
    shuffled, _ = caption_metrics(HYPS[1:] + HYPS[:1], REFS, official=False)
    assert shuffled["CIDEr"] < 0.5 * parts["CIDEr"]                 # captions must stay in annotation order


def test_task_score_is_the_mean_of_the_metrics_and_says_when_it_is_not_official(monkeypatch):
    from eval.scorers import caption
    monkeypatch.setattr(caption, "_official_available", lambda: False)
    preds = [{"prediction": h, "answers": rs} for h, rs in zip(HYPS, REFS)]
    result = score_task("caption_coco", preds)
    assert result.value == pytest.approx(sum(result.parts.values()) / 6)           # both in percent
    assert "not comparable" in result.note and "METEOR" in result.note


def test_predictions_are_cut_to_300_characters():
    long = "a man riding a horse " * 40
    cut, _ = caption_metrics([long], [["a man riding a horse"]], official=False)
    same, _ = caption_metrics([long[:MAX_CHARS]], [["a man riding a horse"]], official=False)
    assert cut == same
