"""The continual-learning loop: for each task, begin_task → train → end_task → evaluate every task.

Reads like the method's algorithm box; the method (KeepLoRA++, SeqLoRA, …) only sees its hooks,
DeepSpeed only appears through ``keeplora.dist``.
"""
from __future__ import annotations

import math
import random
from functools import partial
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from .bases import load_bases
from .config import Recipe, TaskCfg
from .data import EncodedDataset, Encoder, collate_train, read_test_file, read_train_file, to_device
from .diagnostics import update_diagnostics
from .dist import DistInfo, build_ds_config, make_engine
from .gradients import input_covariances, mean_gradients, subset_indices
from .lora import inject_lora, merge_lora
from .methods import Method, TaskContext, get_method
from .models import get_adapter
from .report import RunWriter
from .resume import fingerprint, plan_resume

__all__ = ["ContinualTrainer"]

def _check_scorers(recipe: Recipe) -> None:
    from eval.scorers import check_scorer
    for i, task in enumerate(recipe.tasks):
        check_scorer(task.scorer, f"tasks[{i}].scorer ({task.name})")


class ContinualTrainer:
    def __init__(self, recipe: Recipe, dist_info: DistInfo):
        self.recipe, self.dist = recipe, dist_info
        random.seed(recipe.seed)
        torch.manual_seed(recipe.seed)
        # everything that can be wrong in the inputs is checked before the (possibly 7B) model loads
        self.method: Method = get_method(recipe.method.name)(recipe)
        _check_scorers(recipe)
        self.train_sets = [read_train_file(t.train, t.media_root) for t in recipe.tasks]
        self.test_sets = [read_test_file(t.test, t.media_root)[: recipe.eval.max_samples] for t in recipe.tasks]
        self.resume_from = plan_resume(recipe)
        self.adapter = get_adapter(recipe.model.family)
        self.loaded = self.adapter.load(self._model_source(), seed=recipe.seed)
        self.model = self.loaded.model.to(dist_info.device)
        self.encoder = Encoder(self.adapter, self.loaded, recipe.model, recipe.data.max_length)
        self.layer_index = self.adapter.lora_targets(self.model)
        self.writer = RunWriter(Path(recipe.output_dir), [t.name for t in recipe.tasks], dist_info.rank == 0,
                                fingerprint(recipe))
        if self.resume_from:
            self._restore(self.resume_from)

    def _model_source(self):
        """The recipe's model, or the merged checkpoint of the last finished task when resuming."""
        if not self.resume_from:
            return self.recipe.model
        last = self.resume_from["tasks_done"][-1]
        ckpt = Path(self.recipe.output_dir) / self.resume_from["checkpoints"][last]
        return self.recipe.model.model_copy(update={"name_or_path": str(ckpt)})

    def _restore(self, manifest: dict) -> None:
        last = manifest["tasks_done"][-1]
        bases_file = Path(self.recipe.output_dir) / manifest["bases"][last]
        if self.method.uses_subspace:
            self.method.load_state(load_bases(bases_file, str(self.recipe.model.name_or_path),
                                              self.recipe.model.family, list(self.layer_index)))
        self.writer.restore(manifest)
        if self.dist.rank == 0:
            print(f"resuming {self.recipe.output_dir} after task {len(manifest['tasks_done'])} ({last})")

    # ------------------------------------------------------------------ lifecycle
    def run(self) -> dict:
        start = len(self.resume_from["tasks_done"]) if self.resume_from else 0
        if start == 0:
            self.writer.clear_manifest()          # overwrite=true: a crash must not resume the old run
        self.writer.save_recipe(self.recipe)
        if start == 0 and self.recipe.save_base:
            self.writer.save_model(self.model, self.loaded.tokenizer, "task_00_base")
        if start == 0 and self.recipe.eval.zero_shot:
            self.writer.zero_shot = self._evaluate_row("zero-shot")
        for t, task in enumerate(self.recipe.tasks):
            if t < start:
                continue
            torch.manual_seed(self.recipe.seed + 1 + t)      # a resumed task draws what an uninterrupted one would
            ctx = self._context(t, task)
            init_a = self.method.begin_task(ctx)
            peft_model = inject_lora(self.model, list(self.layer_index), self.recipe.lora,
                                     self.method.scales(self.layer_index), init_a, self.method.train_a)
            self._train_task(peft_model, t, task)
            self.writer.add_diagnostics(task.name, update_diagnostics(peft_model, self.method, self.layer_index))
            self.model = merge_lora(peft_model)
            self.method.end_task(self._context(t, task))
            self.writer.save_task(t, task.name, self.model, self.loaded.tokenizer, self.method, self.recipe)
            self.writer.add_row(self._evaluate_row(f"after {task.name}"))
        return self.writer.finish()

    def _context(self, t: int, task: TaskCfg) -> TaskContext:
        layers = {n: self.model.get_submodule(n) for n in self.layer_index}
        batches = partial(self._subset_batches, t)
        return TaskContext(t, task.name, self.model, layers, self.layer_index,
                           gradients=lambda: mean_gradients(self.model, layers, batches(), self._loss),
                           covariances=lambda: input_covariances(self.model, layers, batches(), self._loss))

    # ------------------------------------------------------------------ data
    def _dataset(self, t: int) -> EncodedDataset:
        return EncodedDataset(self.train_sets[t], self.encoder, skip_bad=self.recipe.data.on_bad_sample == "skip")

    def _subset_batches(self, t: int):
        """This rank's share of the evenly spaced ``grad_ratio`` subset, in micro-batches."""
        idx = subset_indices(len(self.train_sets[t]), self.recipe.subspace.grad_ratio)
        mine = idx[self.dist.rank::self.dist.world]
        loader = DataLoader(Subset(self._dataset(t), mine), batch_size=self.recipe.subspace.grad_batch_size,
                            collate_fn=partial(collate_train, pad_id=self.loaded.tokenizer.pad_token_id))
        return (b for b in loader if b is not None)

    def _all_ranks(self, skipped: dict[str, str]) -> dict[str, str]:
        """Union of every rank's skipped samples (each rank reads its own shard)."""
        if self.dist.world == 1:
            return skipped
        parts = [None] * self.dist.world
        torch.distributed.all_gather_object(parts, skipped)
        return {k: v for part in parts for k, v in part.items()}

    def _loss(self, model, batch: dict) -> torch.Tensor:
        dtype = next(model.parameters()).dtype
        return model(**to_device(batch, self.dist.device, dtype)).loss

    # ------------------------------------------------------------------ training
    def _param_groups(self, peft_model, task: TaskCfg) -> list[dict]:
        lr = task.lr or self.recipe.optim.lr
        groups = [{"params": [p for n, p in peft_model.named_parameters() if p.requires_grad and "lora_" in n],
                   "lr": lr}]
        if self.recipe.optim.projector_lr:
            proj = [p for _, p in self.adapter.projector_parameters(peft_model)]
            for p in proj:
                p.requires_grad_(True)
            groups.append({"params": proj, "lr": self.recipe.optim.projector_lr})
        return [g for g in groups if g["params"]]

    def _train_task(self, peft_model, t: int, task: TaskCfg) -> None:
        opt, dist_info = self.recipe.optim, self.dist
        dataset = self._dataset(t)
        sampler = DistributedSampler(dataset, dist_info.world, dist_info.rank, shuffle=True, seed=self.recipe.seed + t)
        loader = DataLoader(dataset, batch_size=opt.micro_batch_size, sampler=sampler, drop_last=True,
                            collate_fn=partial(collate_train, pad_id=self.loaded.tokenizer.pad_token_id))
        if len(loader) < opt.grad_accum:
            raise ValueError(f"task {task.name}: {len(dataset)} samples give {len(loader)} micro-batches per rank, "
                             f"fewer than optim.grad_accum={opt.grad_accum}; lower the batch size")
        steps = math.ceil((task.epochs or opt.epochs) * len(loader) / opt.grad_accum)
        steps = min(steps, opt.max_steps or steps)
        ds_config = build_ds_config(self.recipe, dist_info.world, self.model.config.text_config.hidden_size,
                                    dist_info.on_cpu)
        engine = make_engine(peft_model, self._param_groups(peft_model, task), ds_config, steps,
                             opt.warmup_ratio, opt.weight_decay)
        hooks = self.method.on_engine(engine, peft_model)
        try:
            self._run_steps(engine, loader, sampler, steps, t, task.name)
        finally:
            if hooks is not None:
                hooks.remove()
            engine.destroy()
        self.writer.add_skipped(task.name, self._all_ranks(dataset.skipped))
        for p in peft_model.parameters():
            p.requires_grad_(False)

    def _run_steps(self, engine, loader, sampler, steps: int, t: int, name: str) -> None:
        gas = self.recipe.optim.grad_accum
        dtype = next(engine.module.parameters()).dtype
        bar = tqdm(total=steps, desc=f"task {t + 1}/{len(self.recipe.tasks)} {name}", disable=self.dist.rank != 0,
                   dynamic_ncols=True)
        engine.train()
        epoch, done, micro = 0, 0, 0
        while done < steps:
            sampler.set_epoch(epoch)
            for batch in loader:
                if batch is None:
                    raise ValueError(f"task {name}: every sample of a micro-batch was skipped as bad")
                loss = engine(**to_device(batch, self.dist.device, dtype)).loss
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"task {name} step {done}: loss is {loss.item()}; stopping")
                engine.backward(loss)
                engine.step()
                micro += 1
                if micro % gas == 0:
                    done += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss.item():.3f}")
                    self.writer.log_scalar(f"train/loss/{name}", loss.item())
                    if done >= steps:
                        break
            epoch += 1
        bar.close()

    # ------------------------------------------------------------------ evaluation
    def _evaluate_row(self, label: str) -> list[float]:
        """Scores of every task of the sequence (learned or not) with the current merged model."""
        from eval.harness import evaluate_task
        ev, row = self.recipe.eval, []
        for task, samples in zip(self.recipe.tasks, self.test_sets):
            result, preds = evaluate_task(self.model, self.encoder, samples, task.scorer, ev.batch_size,
                                          ev.max_new_tokens, self.dist.device)
            self.writer.save_predictions(label, task.name, preds, result)
            row.append(result.value)
        self.writer.print_row(label, row)
        return row
