"""General ability by likelihood: the English text, its score (100·exp(−NLL)), and its place in the general suite."""
import math

import pytest
import torch

from data_prep.english_text import english_prose
from eval.likelihood import SCORER, text_likelihood
from keeplora.checks import check_files
from keeplora.config import load_recipe
from keeplora.errors import UserError
from keeplora.models import get_adapter

from .conftest import ROOT


def test_the_text_is_prose_and_the_same_every_time():
    text = english_prose(20_000)
    assert text == english_prose(20_000) and 20_000 <= len(text) < 25_000
    paragraphs = text.strip().split("\n\n")
    assert len(paragraphs) > 20 and all(p[0].isalpha() and not p.startswith(" ") for p in paragraphs)
    assert "statement" in text and "::=" not in text                     # prose kept, grammar rules dropped


def test_score_is_the_geometric_mean_token_probability():
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml")
    loaded = get_adapter("llava").load(recipe.model, seed=0)
    text = english_prose(3_000)
    result = text_likelihood(loaded.model, loaded.tokenizer, text, torch.device("cpu"), chunk=64, max_chunks=5,
                             batch_size=2)
    ids = loaded.tokenizer(text, add_special_tokens=False).input_ids
    x = torch.tensor([ids[i * 64:(i + 1) * 64] for i in range(5)])
    with torch.no_grad():
        logits = loaded.model(input_ids=x).logits
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
    assert result.parts["nll_per_token"] == pytest.approx(float(nll), rel=1e-5)
    assert result.value == pytest.approx(100 * math.exp(-float(nll)), rel=1e-5)
    assert result.parts["tokens"] == 5 * 63 and result.scorer == SCORER


def test_only_the_general_suite_takes_a_text(tmp_path, tiny_data):
    (tmp_path / "english.txt").write_text(english_prose(2_000))
    tasks = [f"tasks.{i}.{k}={tiny_data / t / f}" for i, t in enumerate(("color", "shape", "position"))
             for k, f in (("train", "train.json"), ("test", "test.jsonl"))]
    general = f'general=[{{name: english, test: {tmp_path / "english.txt"}, scorer: {SCORER}}}]'
    check_files(load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [*tasks, general]))
    with pytest.raises(UserError, match=f"tasks\\[0\\].scorer \\(color\\): {SCORER} scores a general-suite text"):
        check_files(load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [*tasks, f"tasks.0.scorer={SCORER}"]))


@pytest.mark.slow
def test_a_run_scores_the_text_at_every_stage(tmp_path, tiny_data):
    import json

    from .conftest import run_launcher, tiny_recipe
    (tmp_path / "english.txt").write_text(english_prose(4_000))
    recipe = tiny_recipe(tmp_path, tiny_data, "lik", tasks=("color", "shape"), eval__zero_shot=True,
                         general=[{"name": "english", "test": str(tmp_path / "english.txt"), "scorer": SCORER}])
    proc = run_launcher(["bash", "launch/train.sh", str(recipe)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "lik" / "metrics.json").read_text())
    assert set(metrics["general"]) == {"zero-shot", "after color", "after shape"}
    assert all(0 < stage["english"] < 100 for stage in metrics["general"].values())
    parts = json.loads((tmp_path / "lik" / "predictions" / "after_shape" / "general_english.score.json").read_text())
    assert parts["scorer"] == SCORER and parts["parts"]["perplexity"] > 1
