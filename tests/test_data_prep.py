"""Converters on small fixtures in the upstream layouts; the tiny tasks are deterministic."""
import json

from data_prep import cl_vista
from data_prep.tiny_synth import build
from keeplora.data import read_test_file, read_train_file

from .conftest import beside


def _upstream(root):
    for task, sub in (("Counting", "json_row"), ("Movie", None)):
        train_dir = root / task / (sub or "train_json_row")
        test_dir = root / task / (sub or "test_json_row")
        train_dir.mkdir(parents=True, exist_ok=True)
        test_dir.mkdir(parents=True, exist_ok=True)
        (root / "videos").mkdir(exist_ok=True)
        for i in range(3):
            (root / "videos" / f"{task}{i}.mp4").write_bytes(b"\0")
        train_name, q_name, a_name = cl_vista.TASKS[task]
        train = [{"id": f"{task}-t{i}", "video": f"videos/{task}{i}.mp4",
                  "conversations": [{"from": "human", "value": "<image>" * 8 + "\nHow many cars?"},
                                    {"from": "gpt", "value": str(i)}]} for i in range(3)]
        train.append({"id": "gone", "video": "videos/missing.mp4", "conversations": train[0]["conversations"]})
        (train_dir / train_name).write_text(json.dumps(train))
        qs = [{"video_name": f"videos/{task}{i}", "question": "How many?", "question_id": f"{task}-q{i}"}
              for i in range(3)] + [{"video_name": "videos/nothere", "question": "?", "question_id": "x"}]
        (test_dir / q_name).write_text(json.dumps(qs))
        (test_dir / a_name).write_text(json.dumps([{"answer": str(i), "question_id": q["question_id"]}
                                                   for i, q in enumerate(qs)]))


def test_cl_vista_converter_reads_both_layouts_and_reports_missing_videos(tmp_path):
    src, out = tmp_path / "CL-VISTA", tmp_path / "out"
    _upstream(src)
    manifest = cl_vista.convert(src, out, ["Counting", "Movie"])
    for task in ("Counting", "Movie"):
        stats = manifest["tasks"][task]
        assert stats["train.jsonl"]["samples"] == 3 and stats["test.jsonl"]["samples"] == 3
        assert stats["missing_media"]["train"] == 1 and stats["missing_media"]["test"] == 1
        train = read_train_file(out / task / "train.jsonl")          # the trainer's reader accepts the output
        assert train[0].media[0][0] == "video" and train[0].turns[0][0].count("<video>") == 1
        test = read_test_file(out / task / "test.jsonl")
        assert test[2].answers == ["2"] and test[2].media[0][1].name == f"{task}2.mp4"
    assert (out / "manifest.json").is_file()


def test_cl_vista_cli_names_the_missing_file(tmp_path, capsys):
    (tmp_path / "STAR").mkdir()
    assert cl_vista.main(["--src", str(tmp_path), "--out", beside(tmp_path), "--tasks", "STAR"]) == 2
    assert "CL-VISTA STAR: none of ['train_data_25k.json']" in capsys.readouterr().err
    assert cl_vista.main(["--src", str(tmp_path / "nothing"), "--out", beside(tmp_path)]) == 2
    assert "none of the task folders" in capsys.readouterr().err


def test_a_partial_cl_vista_download_converts_what_it_holds(tmp_path, capsys):
    src, out = tmp_path / "CL-VISTA", tmp_path / "out"
    _upstream(src)                                               # Counting and Movie only
    assert cl_vista.main(["--src", str(src), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "not converted: Space, Traffic, GUI, Science, Sports, STAR" in captured.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["tasks"]) == ["Counting", "Movie"]
    assert manifest["absent"] == ["Space", "Traffic", "GUI", "Science", "Sports", "STAR"]


def test_tiny_synth_is_deterministic(tmp_path):
    a = build(tmp_path / "a", tasks=("color", "motion"), n_train=6, n_test=2, seed=3)
    b = build(tmp_path / "b", tasks=("color", "motion"), n_train=6, n_test=2, seed=3)
    for task in ("color", "motion"):
        assert (a / task / "train.json").read_text() == (b / task / "train.json").read_text()
        assert (a / task / "media" / f"{task}_00000.{'mp4' if task == 'motion' else 'png'}").read_bytes() == \
            (b / task / "media" / f"{task}_00000.{'mp4' if task == 'motion' else 'png'}").read_bytes()
