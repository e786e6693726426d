"""The continual-learning loop: for each task, begin_task → train → end_task → evaluate every task.

Reads like the method's algorithm box; the method (KeepLoRA++, SeqLoRA, …) only sees its hooks,
DeepSpeed only appears through ``keeplora.dist``.
"""
from __future__ import annotations

import random
import shutil
import time
from functools import partial
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from .bases import load_bases, load_record
from .checkpoint import (
    CHECKPOINTS,
    StepCheckpoint,
    StepState,
    drop_task,
    latest_state,
    load_latest,
    restore_rng,
    save_step,
    staging_dir,
    write_rng,
)
from .config import Recipe, TaskCfg
from .core import MergeRecord
from .data import EncodedDataset, read_train_file, to_device
from .diagnostics import update_diagnostics
from .dist import DistInfo, build_ds_config, make_engine
from .dist.engine_state import gather_training_state, restore_training_state, scheduler_state
from .errors import UserError
from .faults import fault_point
from .lora import inject_lora, load_lora_weights, lora_weights, merge_into_record
from .methods import Method, TaskContext, get_method
from .models import Companions, get_adapter
from .models.loss import answer_loss
from .reference import read_reference
from .report import RunWriter
from .resume import fingerprint, plan_resume, task_checksums, task_label
from .sealed import damage
from .stage_eval import StageEvaluator, read_eval_sets
from .statistics import passes, subset_indices
from .step_loop import Position, SkipSampler, StepStats, any_rank, run_steps, stage_steps

__all__ = ["ContinualTrainer"]

class _Stopwatch:
    """Wall time of each stage of a task, for ``metrics.json`` (where a 7B task spends its hours)."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


class ContinualTrainer:
    def __init__(self, recipe: Recipe, dist_info: DistInfo):
        self.recipe, self.dist, self.out = recipe, dist_info, Path(recipe.output_dir)
        random.seed(recipe.seed)
        torch.manual_seed(recipe.seed)
        # everything that can be wrong in the inputs is checked before the (possibly 7B) model loads
        self.method: Method = get_method(recipe.method.name)(recipe)
        self.train_sets = [read_train_file(t.train, t.media_root, t.name) for t in recipe.tasks]
        eval_sets = read_eval_sets(recipe)
        self.reference, self.reference_id = read_reference(recipe.subspace.reference)
        self.resume_from = plan_resume(recipe)
        self.adapter = get_adapter(recipe.model.family)
        source = self._model_source()
        self.loaded = self.adapter.load(source, seed=recipe.seed)
        self.companions = Companions(self.adapter, self.loaded, source)     # tokenizer + processor, saved with it
        self.model = self.loaded.model.to(dist_info.device)
        self.encoder = self.adapter.make_encoder(self.loaded, recipe)
        self.stats_encoder = self._statistics_encoder()
        self.layer_index = self.method.targets(self.adapter.lora_targets(self.model))
        self.towers = self.adapter.towers(self.layer_index)
        self.writer = RunWriter(Path(recipe.output_dir), [t.name for t in recipe.tasks], dist_info.rank == 0,
                                fingerprint(recipe), task_checksums(recipe), recipe.report_to, recipe.model_dump())
        self.evaluator = StageEvaluator(recipe, self.model, self.loaded.tokenizer, self.encoder, dist_info,
                                        self.writer, eval_sets)
        if self.resume_from:
            self._restore(self.resume_from)
        else:                                               # the exact record of the sequence starts here
            self.record = MergeRecord.start(self._layers())

    def _statistics_encoder(self):
        """The encoder of the task-statistics passes: ``subspace.grad_num_frames`` frames per video, if set."""
        frames = self.recipe.subspace.grad_num_frames
        if frames is None or frames == self.recipe.model.num_frames:
            return self.encoder
        return self.adapter.make_encoder(self.adapter.with_num_frames(self.loaded, frames), self.recipe)

    def _model_source(self):
        """The recipe's model, or the merged checkpoint of the last finished task when resuming."""
        if not self.resume_from:
            return self.recipe.model
        last = self.resume_from["tasks_done"][-1]
        ckpt = Path(self.recipe.output_dir) / self.resume_from["checkpoints"][last]
        problem = damage(ckpt, ("config.json",))
        if problem:
            raise UserError(f"cannot resume after task {last}: its checkpoint is damaged ({problem}); restore it, "
                            f"or start over with overwrite=true")
        return self.recipe.model.model_copy(update={"name_or_path": str(ckpt)})

    def _layers(self) -> dict:
        return {n: self.model.get_submodule(n) for n in self.layer_index}

    def _restore(self, manifest: dict) -> None:
        labels = [task_label(t, n) for t, n in enumerate(manifest["tasks_done"])]
        self.record = load_record(self.out / "record", labels, list(self.layer_index))
        last = manifest["tasks_done"][-1]
        bases_file = Path(self.recipe.output_dir) / manifest["bases"][last]
        if self.method.uses_subspace:
            self.method.load_state(load_bases(bases_file, str(self.recipe.model.name_or_path),
                                              self.recipe.model.family, list(self.layer_index), self.reference_id))
        self.writer.restore(manifest)
        if self.dist.rank == 0:
            print(f"resuming {self.recipe.output_dir} after task {len(manifest['tasks_done'])} ({last})")

    # ------------------------------------------------------------------ lifecycle
    def run(self) -> dict:
        start = len(self.resume_from["tasks_done"]) if self.resume_from else 0
        if start == 0:
            self.writer.clear_manifest()          # overwrite=true: a crash must not resume the old run
            if self.recipe.overwrite and self.dist.rank == 0:
                shutil.rmtree(self.out / CHECKPOINTS, ignore_errors=True)   # nor its step checkpoints
            self._barrier()
        self.writer.save_recipe(self.recipe)
        if start == 0 and self.recipe.save_base:
            self.writer.save_model(self.model, self.companions, "task_00_base")
        if start == 0 and self.recipe.eval.zero_shot:
            self.writer.zero_shot = self.evaluator.row("zero-shot")
        for t, task in enumerate(self.recipe.tasks):
            if self.method.trains_on_all_tasks and t > 0:   # joint: the one model's row stands for every stage
                self.writer.add_row(list(self.writer.matrix[-1]))
            elif t >= start:
                self._run_task(t, task)
        return self.writer.finish()

    def _run_task(self, t: int, task: TaskCfg) -> None:
        """begin_task (or a step checkpoint) → train → merge → end_task → save → evaluate every task."""
        clock = _Stopwatch()
        torch.manual_seed(self.recipe.seed + 1 + t)          # a resumed task draws what an uninterrupted one would
        resume = load_latest(self.out, t, self._step_fingerprint(t))
        if resume is None:
            fault_point(f"begin_task:{t}")
            init_a = self.method.begin_task(self._context(t, task))
        else:                                                # mid-task: A, B and the bases come from the checkpoint
            self.method.load_state(resume.method)
            init_a = None
            self._announce(f"resuming task {task.name} at step {resume.state.step} ({resume.folder})")
        peft_model = inject_lora(self.model, list(self.layer_index), self.recipe.lora,
                                 self.method.scales(self.layer_index, self.towers), init_a, self.method.train_a)
        if resume is not None:
            load_lora_weights(peft_model, resume.lora)
        clock.lap("task_start_s")
        self._train_task(peft_model, t, task, resume)
        clock.lap("train_s")
        with self.writer.stage(f"task {task.name}: merging the LoRA into the exact record"):
            diagnostics = update_diagnostics(peft_model, self.method, self.layer_index)
            self.model, merged = merge_into_record(peft_model, self.record,
                                                   {n: self.method.basis(n) for n in diagnostics})
        self.writer.add_diagnostics(task.name, {n: {**d, **merged[n]} for n, d in diagnostics.items()})
        with self.writer.stage(f"task {task.name}: end of task (basis growth)"):
            self.method.end_task(self._context(t, task))
        clock.lap("task_end_s")
        with self.writer.stage(f"task {task.name}: saving the merged model, record and bases"):
            self.writer.save_task(t, task.name, self.model, self.companions, self.method, self.recipe, self.record,
                                  self.reference_id)
        self._barrier()                                      # rank 0's files are complete before anyone goes on
        fault_point(f"eval:{t}")
        row = self.evaluator.row(f"after {task.name}", self.writer.global_step(t + 1))
        clock.lap("eval_s")
        self.writer.timings[task.name] = clock.laps
        self.writer.add_row(row)
        if self.dist.rank == 0:
            drop_task(self.out, task_label(t, task.name))
        # the task is done only once rank 0 has recorded it and dropped its step checkpoints: a rank running
        # ahead would read them mid-deletion, or be pre-empted in the next task before the manifest says so
        self._barrier()

    def _announce(self, text: str) -> None:
        if self.dist.rank == 0:
            print(text)

    def _context(self, t: int, task: TaskCfg) -> TaskContext:
        """The task's statistics seam: any method's accumulators over the named data, pass by pass."""
        layers = self._layers()
        sub = self.recipe.subspace
        budget = None if sub.pass_memory_mb is None else int(sub.pass_memory_mb * 2 ** 20)
        samples = self._dataset_samples(t)
        subset = subset_indices(len(samples), sub.grad_ratio, sub.grad_samples)
        data = {"task": partial(self._batches, [samples[i] for i in subset])}
        if self.reference:
            data["reference"] = partial(self._batches, self.reference)

        def run(make, name):
            what = getattr(make, "__name__", None) or getattr(getattr(make, "func", None), "__name__", "statistics")
            return passes(self.model, layers, partial(data[name], desc=f"{task.name}: {what} over {name}"),
                          self._loss, make, budget)
        return TaskContext(t, task.name, self.model, layers, self.layer_index, run, tuple(data), self.towers,
                           self.adapter)

    # ------------------------------------------------------------------ data
    def _dataset_samples(self, t: int) -> list:
        return [s for part in self.train_sets for s in part] if self.method.trains_on_all_tasks else self.train_sets[t]

    def _dataset(self, t: int) -> EncodedDataset:
        return EncodedDataset(self._dataset_samples(t), self.encoder, skip_bad=self.recipe.data.on_bad_sample == "skip")

    def _batches(self, samples: list, desc: str | None = None):
        """This rank's share of ``samples`` in statistics micro-batches (``subspace.grad_batch_size``), with a
        progress bar on rank 0 when ``desc`` names the pass."""
        encoder = self.stats_encoder
        dataset = EncodedDataset(samples[self.dist.rank::self.dist.world], encoder,
                                 skip_bad=self.recipe.data.on_bad_sample == "skip")
        loader = DataLoader(dataset, batch_size=self.recipe.subspace.grad_batch_size, collate_fn=encoder.collate_train)
        bar = tqdm(loader, desc=desc, leave=False, disable=desc is None or self.dist.rank != 0)
        return (b for b in bar if b is not None)

    def _all_ranks(self, skipped: dict[str, str]) -> dict[str, str]:
        """Union of every rank's skipped samples (each rank reads its own shard)."""
        if self.dist.world == 1:
            return skipped
        parts = [None] * self.dist.world
        torch.distributed.all_gather_object(parts, skipped)
        return {k: v for part in parts for k, v in part.items()}

    def _loss(self, model, batch: dict) -> torch.Tensor:
        dtype = next(model.parameters()).dtype
        return answer_loss(model, to_device(batch, self.dist.device, dtype))

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

    def _train_task(self, peft_model, t: int, task: TaskCfg, resume: StepCheckpoint | None) -> None:
        opt, dist_info = self.recipe.optim, self.dist
        dataset = self._dataset(t)
        sampler = DistributedSampler(dataset, dist_info.world, dist_info.rank, shuffle=True, seed=self.recipe.seed + t)
        collate = self.encoder.collate_train
        per_epoch = len(sampler) // opt.micro_batch_size
        if per_epoch < opt.grad_accum:
            raise UserError(f"task {task.name}: {len(dataset)} samples give {per_epoch} micro-batches per rank, "
                            f"fewer than optim.grad_accum={opt.grad_accum}; lower the batch size")
        merged = len(self.recipe.tasks) if self.method.trains_on_all_tasks else 1
        steps = stage_steps(per_epoch, task.epochs or opt.epochs, opt.grad_accum, opt.max_steps, merged)
        ds_config = build_ds_config(self.recipe, dist_info.world, self.model.config.text_config.hidden_size,
                                    dist_info.on_cpu)
        engine = make_engine(peft_model, self._param_groups(peft_model, task), ds_config, steps,
                             opt.warmup_ratio, opt.weight_decay, opt.schedule)
        hooks = self.method.on_engine(engine, peft_model)
        trainable = [(n, p) for n, p in peft_model.named_parameters() if p.requires_grad]
        pos = self._restore_position(engine, trainable, resume) if resume else Position()

        def loader_at(epoch: int, skip: int):
            sampler.set_epoch(epoch)
            return DataLoader(dataset, batch_size=opt.micro_batch_size, sampler=SkipSampler(sampler,
                              skip * opt.micro_batch_size), drop_last=True, collate_fn=collate)

        bar = tqdm(total=steps, initial=pos.done, desc=f"task {t + 1}/{len(self.recipe.tasks)} {task.name}",
                   disable=dist_info.rank != 0, dynamic_ncols=True)
        dtype = next(peft_model.parameters()).dtype

        def after_step(p: Position, stats: StepStats) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{stats.loss:.3f}")
            values = {"train/loss": stats.loss, "train/lr": stats.lr}
            if stats.tokens:
                values["train/tokens_per_s"] = stats.tokens * dist_info.world / max(stats.seconds, 1e-9)
            if stats.grad_norm is not None:
                values["train/grad_norm"] = stats.grad_norm
            self.writer.scalars.log(values, self.writer.global_step(t, p.done))
            every = self.recipe.checkpoint.every_steps
            if every and p.done % every == 0 and p.done < steps:
                self._save_step(engine, peft_model, trainable, t, task, p)
            fault_point(f"step:{t}:{p.done}")

        try:
            run_steps(engine, loader_at, steps, opt.grad_accum, task.name, pos,
                      lambda b: to_device(b, dist_info.device, dtype), after_step, lambda: self._resume_point(t),
                      self.method.regularizer)
        finally:
            bar.close()
            if hooks is not None:
                hooks.remove()
            engine.destroy()
        self.writer.add_skipped(task.name, self._all_ranks(dataset.skipped))
        self.writer.steps[task.name] = steps
        for p in peft_model.parameters():
            p.requires_grad_(False)

    # ------------------------------------------------------------------ step checkpoints
    def _save_step(self, engine, peft_model, trainable, t: int, task: TaskCfg, pos: Position) -> None:
        """Every rank gathers (a collective) and writes its RNG; rank 0 seals the folder and moves ``latest``."""
        label, out = task_label(t, task.name), self.out
        training = gather_training_state(engine, trainable)
        tmp = staging_dir(out, label, pos.done)
        if self.dist.rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        self._barrier()
        write_rng(tmp, self.dist.rank)
        self._barrier()
        error = None
        if self.dist.rank == 0:
            state = StepState(t, task.name, pos.done, pos.epoch, pos.micro_in_epoch, self.recipe.optim.micro_batch_size,
                              self.dist.world, self._step_fingerprint(t), scheduler_state(engine))
            try:
                save_step(out, label, state, training, lora_weights(peft_model), self.method.state(),
                          self.recipe.checkpoint.keep_last)
            except OSError as exc:                       # e.g. a full disk: the previous checkpoint is untouched
                shutil.rmtree(tmp, ignore_errors=True)
                error = exc.strerror or str(exc)
        if any_rank(error is not None):                  # every rank stops, none is left waiting in a collective
            raise UserError(f"saving the step checkpoint {tmp} failed ({error or 'on rank 0'}); the resume point "
                            f"is still {self._resume_point(t)}: free space, then rerun the same command")

    def _restore_position(self, engine, trainable, resume: StepCheckpoint) -> Position:
        """Training state, RNG and data position of a step checkpoint; another world size re-splits the epoch."""
        st = resume.state
        restore_training_state(engine, trainable, resume.training, st.step, st.schedule)
        restore_rng(resume.folder, self.dist.rank)
        consumed = st.micro_in_epoch * st.world                     # micro-batches of the whole world
        return Position(st.epoch, consumed // self.dist.world, st.step)

    def _step_fingerprint(self, t: int) -> str:
        """The run's settings and this task's data: a step checkpoint of other data is never resumed."""
        return f"{self.writer.fingerprint}-{self.writer.checksums[self.recipe.tasks[t].name]}"

    def _resume_point(self, t: int) -> str:
        found = latest_state(self.out, t, self._step_fingerprint(t))
        if found is not None:
            return f"{found[0]} (step {found[1].step})"
        return "the previous task's checkpoint" if t else "the start of the run"

    def _barrier(self) -> None:
        if self.dist.world > 1:
            torch.distributed.barrier()
