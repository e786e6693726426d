"""POPE as a general-ability set: the converter reads the POPE repository's files, the scorer reads answers
and computes F1 exactly as LLaVA-1.5's eval_pope.py does."""
import json

import pytest
from PIL import Image

from data_prep import pope as pope_prep
from data_prep.common import ConvertError
from eval.scorers import score_task
from eval.scorers.pope import pope_answer
from keeplora.data import read_test_file

from .conftest import beside


def _layout(tmp_path, labels=("yes", "no", "yes", "no"), missing=False):
    src, images = tmp_path / "coco", tmp_path / "val2014"
    src.mkdir(), images.mkdir()
    lines = []
    for i, label in enumerate(labels, 1):
        name = f"COCO_val2014_{i:012d}.jpg"
        if not (missing and i == 1):
            Image.new("RGB", (8, 8)).save(images / name)
        lines.append(json.dumps({"question_id": i, "image": name, "text": f"Is there a cat {i} in the image?",
                                 "label": label}))
    for setting in pope_prep.TASKS:
        (src / f"coco_pope_{setting}.json").write_text("\n".join(lines) + "\n")
    return src, images


def test_pope_converts_every_setting_with_llavas_prompt(tmp_path):
    src, images = _layout(tmp_path, missing=True)
    out = beside(tmp_path)
    manifest = pope_prep.convert(src, out, images)
    assert set(manifest["tasks"]) == {"random", "popular", "adversarial"}
    assert manifest["tasks"]["random"]["missing_media"]["test"] == 1
    samples = read_test_file(f"{out}/adversarial/test.jsonl")
    assert [s.id for s in samples] == ["adversarial-2", "adversarial-3", "adversarial-4"]
    assert samples[0].turns[0][0] == ("<image>\nIs there a cat 2 in the image?\n"
                                      "Answer the question using a single word or phrase.")
    assert samples[0].answers == ["no"]


def test_a_label_that_is_not_yes_or_no_is_refused_with_the_question(tmp_path):
    src, images = _layout(tmp_path, labels=("yes", "maybe"))
    with pytest.raises(ConvertError, match=r"coco_pope_random.json: question 2 has label 'maybe'"):
        pope_prep.convert(src, beside(tmp_path), images, tasks=("random",))


@pytest.mark.parametrize("text, read", [("Yes", "yes"), ("No", "no"), ("No, there is not.", "no"),
                                        ("There is no cat.", "no"), ("Yes. But not a dog", "yes"),
                                        ("I do not see one", "no"), ("no.", "no"), ("Nope", "yes")])
def test_answers_are_read_as_eval_pope_reads_them(text, read):
    assert pope_answer(text) == read


def test_f1_with_yes_as_positive_and_its_parts():
    """4 gold yes, 4 gold no; predicted yes on 3 of the yes and 1 of the no: P 3/4, R 3/4, F1 0.75."""
    gold = ["yes"] * 4 + ["no"] * 4
    pred = ["Yes", "Yes", "Yes", "No", "Yes", "No", "No", "No"]
    result = score_task("pope", [{"prediction": p, "answers": [g]} for p, g in zip(pred, gold)])
    assert result.value == pytest.approx(75.0)
    assert result.parts == pytest.approx({"accuracy": 75.0, "precision": 75.0, "recall": 75.0, "f1": 75.0,
                                          "yes_ratio": 50.0})
