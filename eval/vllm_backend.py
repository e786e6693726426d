"""vLLM as the generation engine of ``eval.run`` (``eval.backend: vllm``, the ``vllm`` extra).

The requests are what the HF path generates from, before the model-specific expansion: the prompt the
encoder renders (chat template or the recipe's format string, one placeholder per media item) and the
media as PIL images / frame arrays, which vLLM hands to the checkpoint's own processor (the saved folder
carries it). Greedy decoding, the same ``max_new_tokens``, and the predictions feed the same scorers.
vLLM shards over the GPUs itself (tensor parallel), so it runs as one process.
"""
from __future__ import annotations

from keeplora.data import Sample
from keeplora.data.chat import PLACEHOLDER
from keeplora.errors import UserError

__all__ = ["vllm_request", "VllmPredictor"]


def vllm_request(encoder, sample: Sample) -> dict:
    """One vLLM prompt: ``{"prompt": text, "multi_modal_data": {"image": [...], "video": [...]}}``."""
    media: dict[str, list] = {}
    for kind, path in sample.media:
        item = encoder.loaded.media.open_image(path) if kind == "image" else encoder.loaded.media.clip(path).frames
        media.setdefault(kind, []).append(item)
    request = {"prompt": encoder.prompt_text(sample)}
    if media:
        request["multi_modal_data"] = {k: v[0] if len(v) == 1 else v for k, v in media.items()}
    return request


class VllmPredictor:
    """``predict``'s output (``[{"id", "question", "prediction", "answers"}]``) from a vLLM engine."""

    def __init__(self, checkpoint: str, recipe, world: int):
        if world > 1:
            raise UserError("eval.backend: vllm runs as one process (vLLM shards over the GPUs itself): launch "
                            "python -m eval.run, not deepspeed/torchrun; set eval.tensor_parallel if needed")
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise UserError("eval.backend: vllm needs vLLM: pip install 'keeplora[vllm]' on a GPU machine, "
                            "or use eval.backend=hf") from None
        import torch
        tp = recipe.eval.tensor_parallel or max(torch.cuda.device_count(), 1)
        self._params = SamplingParams(temperature=0.0, max_tokens=recipe.eval.max_new_tokens)
        self._llm = LLM(model=checkpoint, tensor_parallel_size=tp, dtype=recipe.model.dtype,
                        max_model_len=recipe.data.max_length, seed=recipe.seed,
                        limit_mm_per_prompt={"image": 8, "video": 1})

    def predict(self, encoder, samples: list[Sample]) -> list[dict]:
        outputs = self._llm.generate([vllm_request(encoder, s) for s in samples], self._params, use_tqdm=True)
        return [{"id": s.id, "question": PLACEHOLDER.sub("", s.turns[-1][0]).strip(),
                 "prediction": o.outputs[0].text.strip(), "answers": s.answers} for s, o in zip(samples, outputs)]
