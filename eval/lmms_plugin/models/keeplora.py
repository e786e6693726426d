"""``--model keeplora``: a checkpoint of a KeepLoRA++ sequence, loaded through the recipe's family adapter."""
from __future__ import annotations

import torch
from lmms_eval.api.model import lmms
from lmms_eval.api.registry import register_model
from tqdm import tqdm

from eval.harness import predict
from keeplora.config import load_recipe
from keeplora.models import Encoder, get_adapter

from ..requests import cut_at, request_sample


@register_model("keeplora")
class KeepLoRAModel(lmms):
    """``--model_args recipe=R,checkpoint=C[,batch_size=8,device=cuda,overrides=key=value;key=value]``."""

    def __init__(self, recipe: str, checkpoint: str, batch_size: int = 8, device: str | None = None,
                 overrides: str = "", **_ignored) -> None:
        super().__init__()
        self.recipe = load_recipe(recipe, [o for o in overrides.split(";") if o])
        self.adapter = get_adapter(self.recipe.model.family)
        cfg = self.recipe.model.model_copy(update={"name_or_path": checkpoint})
        self.loaded = self.adapter.load(cfg, seed=self.recipe.seed)
        local = torch.distributed.get_rank() % max(1, torch.cuda.device_count()) \
            if torch.distributed.is_initialized() else 0
        self._device = torch.device(device or (f"cuda:{local}" if torch.cuda.is_available() else "cpu"))
        self.model = self.loaded.model.to(self._device).eval()
        self.encoder = Encoder(self.adapter, self.loaded, cfg, self.recipe.data.max_length)
        self.batch_size_per_gpu = int(batch_size)
        self._rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        self._world_size = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1

    def generate_until(self, requests) -> list[str]:
        """Requests grouped by generation settings, each group through the batched harness."""
        groups: dict[tuple, list] = {}
        for i, req in enumerate(requests):
            context, gen_kwargs, doc_to_visual, doc_id, task, split = req.args
            visuals = doc_to_visual(self.task_dict[task][split][doc_id]) or []
            until = gen_kwargs.get("until") or []
            key = (int(gen_kwargs.get("max_new_tokens", self.recipe.eval.max_new_tokens)),
                   tuple([until] if isinstance(until, str) else until))
            groups.setdefault(key, []).append(request_sample(i, context, list(visuals)))
        out = [""] * len(requests)
        for (max_new, until), samples in tqdm(groups.items(), disable=self._rank != 0, desc="keeplora"):
            for p in predict(self.model, self.encoder, samples, self.batch_size_per_gpu, max_new, self._device,
                             shard=False):
                out[int(p["id"])] = cut_at(p["prediction"], list(until))
        return out

    def loglikelihood(self, requests):
        raise NotImplementedError("the keeplora lmms-eval model scores generation tasks only (generate_until)")

    def generate_until_multi_round(self, requests):
        raise NotImplementedError("the keeplora lmms-eval model answers single-round requests only")
