"""``launch/eval.sh`` on a saved tiny checkpoint: scores written, and a second call resumes everything."""
import json

from keeplora.config import load_recipe
from keeplora.models import get_adapter

from .conftest import run_launcher, tiny_recipe


def test_eval_run_scores_and_resumes(tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data, "evalrun")
    loaded = get_adapter("llava").load(load_recipe(recipe).model, seed=0)
    loaded.model.save_pretrained(tmp_path / "ckpt")
    loaded.tokenizer.save_pretrained(tmp_path / "ckpt")
    base = ["bash", "launch/eval.sh", "--recipe", str(recipe), "--checkpoint", str(tmp_path / "ckpt"),
            "--out", str(tmp_path / "ev")]
    cmd = base + ["--tasks", "color"]
    first = run_launcher(cmd)
    assert first.returncode == 0, first.stderr[-2000:]
    scores = json.loads((tmp_path / "ev" / "scores.json").read_text())["tasks"]
    assert set(scores) == {"color"} and scores["color"]["n"] == 8 and scores["color"]["resumed"] == 0
    lines = [json.loads(x) for x in (tmp_path / "ev" / "color.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and {"question_id", "prompt", "text", "model_id"} <= set(lines[0])   # LLaVA layout
    second = run_launcher(cmd)
    assert second.returncode == 0 and "8 resumed" in second.stdout
    bad = run_launcher(base + ["--tasks", "nope"])
    assert bad.returncode == 2 and "unknown name" in bad.stderr
    other = get_adapter("llava").load(load_recipe(recipe).model, seed=1)
    other.model.save_pretrained(tmp_path / "ckpt2")
    other.tokenizer.save_pretrained(tmp_path / "ckpt2")
    mixed = run_launcher(["bash", "launch/eval.sh", "--recipe", str(recipe), "--checkpoint", str(tmp_path / "ckpt2"),
                          "--out", str(tmp_path / "ev"), "--tasks", "color"])
    assert mixed.returncode == 2 and "holds predictions of" in mixed.stderr.strip().splitlines()[-1]
    assert "ckpt2" not in (tmp_path / "ev" / "source.json").read_text()          # the first run's answers kept
