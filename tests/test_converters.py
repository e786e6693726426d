"""UCIT, MLLM-DCL, CoIN and MVBench converters on small fixtures written in each upstream layout."""
import json

import pytest

from data_prep import coin, dcl, mvbench, ucit
from data_prep.common import ConvertError
from eval.scorers import score
from keeplora.data import read_test_file, read_train_file

from .conftest import beside


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0")


def _conv(q="<image>\nWhat is it?", a="a cat"):
    return [{"from": "human", "value": q}, {"from": "gpt", "value": a}]


def _readable(out, task):
    return read_train_file(out / task / "train.jsonl"), read_test_file(out / task / "test.jsonl")


@pytest.mark.parametrize("hide_layout", [True, False])
def test_ucit_both_layouts_and_coco_caption_references(tmp_path, hide_layout):
    src = tmp_path / "UCIT"
    folder = (src / "instructions" / "Flickr30k") if hide_layout else (src / "Flickr30k")
    for i in range(3):
        _touch(src / "datasets" / "Flickr30k" / f"{i}.jpg")
    _write(folder / "train_brief_4w.json", [{"id": i, "image": f"Flickr30k/{i}.jpg", "conversations": _conv()}
                                            for i in range(3)] + [{"id": 9, "image": "gone.jpg",
                                                                   "conversations": _conv()}])
    _write(folder / "test_3000.json", [{"question_id": i, "image": f"Flickr30k/{i}.jpg", "text": "Describe.",
                                        "answer": "x"} for i in range(3)])
    _write(folder / "val_coco_type_3000.json", {"images": [{"id": 7}, {"id": 3}, {"id": 5}],
                                                "annotations": [{"image_id": 3, "caption": "two dogs"},
                                                                {"image_id": 7, "caption": "a man"},
                                                                {"image_id": 7, "caption": "a person"},
                                                                {"image_id": 5, "caption": "a bus"}]})
    manifest = ucit.convert(src, tmp_path / "out", ["Flickr30k"])
    stats = manifest["tasks"]["Flickr30k"]
    assert stats["train.jsonl"]["samples"] == 3 and stats["missing_media"]["train"] == 1
    train, test = _readable(tmp_path / "out", "Flickr30k")
    assert [t.answers for t in test] == [["a man", "a person"], ["two dogs"], ["a bus"]]
    assert train[0].media[0][1].is_file()


def test_dcl_spellings_and_sci_scorers(tmp_path):
    src = tmp_path / "domain_data"
    _touch(src / "RemoteSensing" / "images" / "a.png")
    _write(src / "RemoteSensing" / "train.json", [{"id": "r0", "image": "images/a.png", "conversations": _conv()}])
    _write(src / "RemoteSensing" / "test.json", [{"question_id": "q0", "image": "images/a.png", "text": "Q?",
                                                  "answer": "farmland"}])
    _touch(src / "Fin" / "images" / "c.png")
    _write(src / "Fin" / "train.json", [{"id": "f0", "image": "images/c.png", "conversations": _conv()}])
    _write(src / "Fin" / "test.sjon", [{"id": "f1", "image": "images/c.png",
                                        "conversations": _conv("<image>\nUp or down?", "B")}])
    for name in ("ai2d_1.png", "mapqa_2.png", "mapqa_3.png"):
        _touch(src / "Sci" / "images" / name)
    _write(src / "Sci" / "train.json", [{"id": "s0", "image": "images/ai2d_1.png", "conversations": _conv()}])
    _write(src / "Sci" / "test.json", [
        {"question_id": "a", "image": "images/ai2d_1.png", "text": "Which part?", "answer": "stem"},
        {"question_id": "b", "image": "images/mapqa_2.png", "text": "Which states have the highest value?",
         "answer": "Texas, Ohio"},
        {"question_id": "c", "image": "images/mapqa_3.png", "text": "What is the max?", "answer": "42"}])
    dcl.convert(src, tmp_path / "out", ["RS", "Fin", "Sci"])
    _, rs = _readable(tmp_path / "out", "RS")
    _, fin = _readable(tmp_path / "out", "Fin")
    _, sci = _readable(tmp_path / "out", "Sci")
    assert rs[0].answers == ["farmland"] and fin[0].answers == ["B"] and fin[0].id == "f1"
    assert [s.scorer for s in sci] == [None, "dcl_mapqa_states", "dcl_mapqa"]


def test_coin_answers_from_the_official_sources(tmp_path):
    src = tmp_path / "CoIN"
    inst = src / "playground" / "Instructions_Original"
    _touch(src / "cl_dataset" / "TextVQA" / "t.jpg")
    _write(inst / "TextVQA" / "train.json", [{"id": 0, "image": "TextVQA/t.jpg", "conversations": _conv()}])
    _write(inst / "TextVQA" / "val.json", [{"question_id": 11, "image": "TextVQA/t.jpg", "text": "Read it."}])
    _write(src / "cl_dataset" / "TextVQA" / "TextVQA_0.5.1_val.json",
           {"data": [{"question_id": 11, "answers": ["stop"] * 10}]})
    _write(inst / "ScienceQA" / "train.json", [{"id": 1, "conversations": _conv("Which?", "A")}])
    _write(inst / "ScienceQA" / "test.json", [{"question_id": "p1", "text": "Which is a mammal?\nA. cat\nB. fish"}])
    _write(src / "cl_dataset" / "ScienceQA" / "problems.json", {"p1": {"answer": 0}})
    _touch(src / "cl_dataset" / "COCO" / "g.jpg")
    _write(inst / "Grounding" / "train.json", [{"id": 2, "image": "COCO/g.jpg", "conversations": _conv()}])
    _write(inst / "Grounding" / "test.json", [{"question_id": 5, "image": "COCO/g.jpg", "text": "Box the dog.",
                                               "answer_bbox": [10, 20, 60, 70], "size": [200, 100]},
                                              {"question_id": 6, "image": "COCO/g.jpg", "text": "Box the cat.",
                                               "answer_bbox": "[0.05, 0.1, 0.3, 0.35]", "size": [640, 480]}])  # CoIN
    coin.convert(src, tmp_path / "out", ["TextVQA", "ScienceQA", "Grounding"])
    _, textvqa = _readable(tmp_path / "out", "TextVQA")
    sqa_train, sqa = _readable(tmp_path / "out", "ScienceQA")
    _, ground = _readable(tmp_path / "out", "Grounding")
    assert textvqa[0].answers == ["stop"] * 10 and score("vqa_soft", "Stop", textvqa[0].answers) == 1.0
    assert sqa[0].answers == ["A"] and sqa[0].media == [] and sqa_train[0].media == []
    assert ground[0].answers == ["[0.0500, 0.1000, 0.3000, 0.3500]"]
    assert score("grounding_coin", "[0.05, 0.1, 0.3, 0.35]\n", ground[0].answers) == 1.0
    assert ground[1].answers == ["[0.05, 0.1, 0.3, 0.35]"]                 # the CoIN download's string, as it is
    assert score("grounding_coin", " [0.05, 0.1, 0.3, 0.35]\n", ground[1].answers) == 1.0    # leading space cut


def test_mvbench_prompt_ids_split_and_scoring(tmp_path):
    src = tmp_path / "MVBench"
    recs = [{"video": f"v{i}.mp4", "question": "Where does it move?", "candidates": ["left", "right"],
             "answer": "right"} for i in range(4)]
    _write(src / "json" / "moving_direction.json", recs)
    for i in range(3):
        _touch(src / "videos" / f"v{i}.mp4")
    manifest = mvbench.convert(src, tmp_path / "out", train_ratio=0.5, seed=1)
    stats = manifest["tasks"]["moving_direction"]
    assert stats["train.jsonl"]["samples"] + stats["test.jsonl"]["samples"] == 3
    assert stats["missing_media"]["train"] + stats["missing_media"]["test"] == 1
    test = read_test_file(tmp_path / "out" / "moving_direction" / "test.jsonl")
    assert test[0].turns[0][0].endswith("Options:\n(A) left\n(B) right") and test[0].answers == ["(B) right"]
    assert test[0].scorer == "mvbench" and test[0].id.startswith("moving_direction_")
    assert [s.id for s in read_test_file(tmp_path / "out" / "all" / "test.jsonl")] == [s.id for s in test]
    again = mvbench.convert(src, tmp_path / "again", train_ratio=0.5, seed=1)
    assert again["tasks"] == manifest["tasks"]                                  # deterministic, checksums too
    _write(src / "json" / "bad.json", [{**recs[0], "answer": "up"}])
    with pytest.raises(ConvertError, match="'up' is not among the candidates"):
        mvbench.convert(src, tmp_path / "o2")


@pytest.mark.parametrize("pred, ok", [("B", True), ("(B)", True), ("B. right", True), ("Answer: B", False),
                                      ("answer: b", False), ("(b) right", True), ("It moves right.", True),
                                      ("the answer is (B)", False), ("A", False), ("", False), ("right", True)])
def test_mvbench_check_ans(pred, ok):
    """Official behaviour, quirk included: "Answer: B" is read as "a" (its first letter) and fails."""
    assert score("mvbench", pred, ["(B) right"]) == float(ok)


def test_converters_name_what_is_missing(tmp_path, capsys):
    assert ucit.main(["--src", str(tmp_path), "--out", beside(tmp_path), "--tasks", "IconQA"]) == 2
    assert "UCIT IconQA: no folder among" in capsys.readouterr().err
    assert mvbench.main(["--src", str(tmp_path), "--out", beside(tmp_path)]) == 2


def test_converters_never_write_into_their_source(tmp_path, capsys):
    assert ucit.main(["--src", str(tmp_path), "--out", str(tmp_path / "o"), "--tasks", "IconQA"]) == 2
    assert "is inside --src" in capsys.readouterr().err
    assert mvbench.main(["--src", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "is inside --src" in capsys.readouterr().err and not (tmp_path / "manifest.json").exists()
