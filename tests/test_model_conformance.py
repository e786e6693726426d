"""Every registered generative model family, on its tiny random config: the whole per-task cycle works
(the CLIP classifier's cycle is in ``test_clip_track.py``).

LoRA forward/backward, a KeepLoRA++ begin/end cycle (task gradient → residual A → merge → basis
growth), batched generation through the eval harness, and a save/reload as a plain transformers
checkpoint. A new adapter file is picked up here without edits.
"""
import numpy as np
import pytest
import torch
from PIL import Image

from data_prep.tiny_synth import write_clip
from eval.harness import predict
from keeplora.config import load_recipe
from keeplora.core import MergeRecord
from keeplora.data import Sample, collate_train
from keeplora.lora import inject_lora, merge_into_record
from keeplora.methods import get_method
from keeplora.models import MODELS, Encoder, get_adapter
from keeplora.testing import local_context

from .conftest import ROOT


def _samples(tmp_path, modalities) -> list[Sample]:
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "img.png")
    out = [Sample("img", [("<image>\nWhat color?", "red")], [("image", tmp_path / "img.png")], ["red"])]
    if "video" in modalities:
        write_clip(tmp_path / "clip.mp4", [np.full((32, 32, 3), 30 * i, np.uint8) for i in range(5)])
        out.append(Sample("vid", [("<video>\nWhich way?", "left")], [("video", tmp_path / "clip.mp4")], ["left"]))
    out.append(Sample("txt", [("Say hi.", "hi")], [], ["hi"]))
    return out


@pytest.mark.parametrize("family", [f for f in MODELS if MODELS.get(f).output == "generate"])
def test_family_runs_the_whole_task_cycle(family, tmp_path):
    run_task_cycle(family, tmp_path)


def run_task_cycle(family: str, tmp_path):
    """The conformance check of one registered family (also used by the adding-a-model docs test)."""
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"model.family={family}", "model.num_frames=4"])
    adapter = get_adapter(family)
    loaded = adapter.load(recipe.model, seed=0)
    model = loaded.model
    encoder = Encoder(adapter, loaded, recipe.model, 512)
    samples = _samples(tmp_path, adapter.modalities)
    batch = collate_train([encoder.encode(s) for s in samples], loaded.tokenizer.pad_token_id)   # mixed batch

    def loss_fn(m, b):
        return m(**b).loss

    targets = adapter.lora_targets(model)
    layers = {n: model.get_submodule(n) for n in targets}
    record = MergeRecord.start(layers)
    method = get_method("keeplora_pp")(recipe)
    ctx = local_context(model, layers, targets, {"task": [batch]})
    init_a = method.begin_task(ctx)                      # the default streamed sketch: no weight gradient
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())
    peft = inject_lora(model, list(targets), recipe.lora, method.scales(targets), init_a, train_a=False)
    trainable = [p for p in peft.parameters() if p.requires_grad]
    assert trainable and all(p.grad is None for p in trainable)
    loss = peft(**batch).loss
    loss.backward()
    assert torch.isfinite(loss) and any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)
    with torch.no_grad():
        for p in trainable:
            p.add_(0.01 * torch.randn_like(p))
    model, merged = merge_into_record(peft, record, {n: method.basis(n) for n in targets})
    assert max(m["record_leak"] for m in merged.values()) < 1e-5
    assert max(m["rounding"] for m in merged.values()) <= 1.0 + 1e-3      # the record, rounded once
    ctx = local_context(model, {n: model.get_submodule(n) for n in targets}, targets, {"task": [batch]})
    before = {n: method.basis(n).shape[1] for n in targets}
    method.end_task(ctx)
    for n in targets:
        b = method.basis(n)
        assert before[n] <= b.shape[1] <= b.shape[0]
        assert torch.allclose(b.T @ b, torch.eye(b.shape[1]), atol=1e-4)

    preds = predict(model, encoder, samples, batch_size=3, max_new_tokens=3, device=torch.device("cpu"))
    assert [p["id"] for p in preds] == [s.id for s in samples]

    model.save_pretrained(tmp_path / "ckpt")
    loaded.tokenizer.save_pretrained(tmp_path / "ckpt")
    reloaded = adapter.model_cls.from_pretrained(tmp_path / "ckpt")          # a plain transformers checkpoint
    again = adapter.load(recipe.model.model_copy(update={"name_or_path": str(tmp_path / "ckpt")}))
    assert again.chat_template == loaded.chat_template and again.media_tokens == loaded.media_tokens
    rebatch = collate_train([Encoder(adapter, again, recipe.model, 512).encode(s) for s in samples],
                            again.tokenizer.pad_token_id)
    assert torch.equal(rebatch["input_ids"], batch["input_ids"])              # same prompts after reloading
    with torch.no_grad():
        model.eval(), reloaded.eval()
        assert torch.allclose(model(**batch).logits, reloaded(**batch).logits, atol=1e-5)


@pytest.mark.parametrize("family", [f for f in MODELS if MODELS.get(f).output == "generate"])
def test_bf16_merge_is_the_record_rounded_once(family, tmp_path):
    """In bf16 a merged weight is the fp32 record (base + every task's factors) rounded once: small
    updates are not lost to in-dtype accumulation, and the record stays off the protected basis."""
    recipe = load_recipe(ROOT / "recipes/smoke_image_seq.yaml", [f"model.family={family}", "model.dtype=bfloat16"])
    adapter = get_adapter(family)
    loaded = adapter.load(recipe.model, seed=0)
    model, targets = loaded.model, adapter.lora_targets(loaded.model)
    batch = collate_train([Encoder(adapter, loaded, recipe.model, 512).encode(s)
                           for s in _samples(tmp_path, ("image",))], loaded.tokenizer.pad_token_id)
    record = MergeRecord.start({n: model.get_submodule(n) for n in targets})
    method = get_method("keeplora_pp")(recipe)
    init_a = method.begin_task(local_context(model, {n: model.get_submodule(n) for n in targets}, targets,
                                             {"task": [batch]}))
    peft = inject_lora(model, list(targets), recipe.lora, method.scales(targets), init_a, train_a=False)
    with torch.no_grad():
        for p in (p for p in peft.parameters() if p.requires_grad):
            p.add_(1e-4 * torch.randn_like(p))           # an update far below bf16's resolution of the weights
    model, merged = merge_into_record(peft, record, {n: method.basis(n) for n in targets})
    assert next(model.parameters()).dtype == torch.bfloat16
    assert max(m["record_leak"] for m in merged.values()) < 1e-5
    assert max(m["rounding"] for m in merged.values()) <= 1.0 + 1e-3
