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


def test_llama_factory_and_ms_swift_messages_are_read_as_found(tmp_path):
    """``messages`` with role/content, ``images`` lists and a system turn (LLaMA-Factory's mllm_demo form)."""
    f = _write(tmp_path / "lf.json", [
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "<image>Who?"},
                      {"role": "assistant", "content": "A cat."}, {"role": "user", "content": "Colour?"},
                      {"role": "assistant", "content": "Grey."}], "images": ["cat.png"]},
        {"system": "Answer in French.", "messages": [{"role": "user", "content": "Hi"},
                                                     {"role": "assistant", "content": "Salut"}]}])
    first, second = read_train_file(f)
    assert first.turns == [("<image>Who?", "A cat."), ("Colour?", "Grey.")] and first.system == "Be brief."
    assert first.media == [("image", tmp_path / "cat.png")] and second.system == "Answer in French."
    bad = _write(tmp_path / "bad.json", [{"messages": [{"role": "user", "content": "q"},
                                                       {"role": "system", "content": "late"}]}])
    with pytest.raises(DataError, match=r"bad.json sample '0': messages\[1\] needs .*'role' in user\|assistant"):
        read_train_file(bad)


def test_a_sample_system_turn_reaches_the_prompt(tmp_path):
    from keeplora.config import ModelCfg
    from keeplora.models import Encoder, get_adapter
    f = _write(tmp_path / "lf.json", [{"system": "Be brief.", "messages": [
        {"role": "user", "content": "Who?"}, {"role": "assistant", "content": "A cat."}]}])
    cfg = ModelCfg(family="llava", tiny={"hidden_size": 32, "num_layers": 2}, system_prompt="Recipe default.")
    adapter = get_adapter("llava")
    loaded = adapter.load(cfg)
    text = loaded.tokenizer.decode(Encoder(adapter, loaded, cfg).encode(read_train_file(f)[0])["input_ids"])
    assert "Be brief." in text and "Recipe default." not in text and "A cat." in text
