"""LLaVA-format readers: wild inputs accepted, bad ones named in one line."""
import json

import pytest

from keeplora.data import DataError, read_test_file, read_train_file


def _write(path, rows, jsonl=False):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) if jsonl else json.dumps(rows))
    return path


def test_placeholders_default_to_the_front_and_multi_turn_is_kept(tmp_path):
    f = _write(tmp_path / "t.json", [{"id": 1, "image": "a.png", "conversations": [
        {"from": "human", "value": "What?"}, {"from": "gpt", "value": "x"},
        {"from": "human", "value": "And?"}, {"from": "gpt", "value": "y"}]}])
    s = read_train_file(f)[0]
    assert s.turns == [("<image>\nWhat?", "x"), ("And?", "y")]
    assert s.media == [("image", tmp_path / "a.png")]


@pytest.mark.parametrize("record, message", [
    ({"id": "a", "conversations": [{"from": "human", "value": "q"}]}, "without an answer turn"),
    ({"id": "b", "conversations": [{"from": "gpt", "value": "a"}]}, "answer with no question"),
    ({"id": "c", "image": "x.png", "conversations": [{"from": "human", "value": "<video> q"},
                                                    {"from": "gpt", "value": "a"}]}, "placeholders"),
    ({"id": "d"}, "missing 'conversations'"),
])
def test_bad_training_samples_name_file_and_sample(tmp_path, record, message):
    f = _write(tmp_path / "t.json", [record])
    with pytest.raises(DataError, match=rf"t.json sample '{record['id']}'.*{message}"):
        read_train_file(f)


def test_jsonl_errors_give_the_line_and_empty_splits_are_errors(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text('{"question_id": 1, "prompt": "q", "answer": "a"}\n{broken\n')
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read_test_file(f)
    with pytest.raises(DataError, match="empty split"):
        read_test_file(_write(tmp_path / "e.jsonl", [], jsonl=True))
    ok = read_test_file(_write(tmp_path / "ok.jsonl", [{"question_id": 7, "prompt": "q", "answers": ["a", "b"]}],
                               jsonl=True))
    assert ok[0].id == "7" and ok[0].answers == ["a", "b"]
