"""One row of the accuracy matrix: every task of the sequence (learned or not) and the general suite, scored
with the current merged model at one stage (zero-shot, then after each task).

The test sets are read once, at start-up, so that a malformed file stops the run before a model loads;
a zero-shot row may come from ``eval.score_cache`` (``eval/score_cache.py``), where a grid's cells share it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .config import Recipe
from .data import read_test_file

if TYPE_CHECKING:                                   # annotations only: evaluation needs no DeepSpeed
    from .dist import DistInfo
    from .report import RunWriter

__all__ = ["StageEvaluator", "read_eval_sets", "score_set"]


def read_eval_sets(recipe: Recipe) -> tuple[list, list]:
    """(task test sets, general sets): samples capped at ``eval.max_samples``, a likelihood set's text."""
    from eval.likelihood import SCORER as LIKELIHOOD
    from eval.likelihood import read_text
    cap = recipe.eval.max_samples
    tests = [read_test_file(t.test, t.media_root, t.name)[:cap] for t in recipe.tasks]
    general = [read_text(g.test) if g.scorer == LIKELIHOOD else read_test_file(g.test, g.media_root, g.name)[:cap]
               for g in recipe.general]
    return tests, general


class StageEvaluator:
    """Scores ``model`` (merged in place after each task, so always the current one) on the recipe's sets."""

    def __init__(self, recipe: Recipe, model, tokenizer, encoder, dist: DistInfo, writer: RunWriter,
                 sets: tuple[list, list]):
        self.recipe, self.model, self.tokenizer, self.encoder, self.dist, self.writer = (
            recipe, model, tokenizer, encoder, dist, writer)
        self.test_sets, self.general_sets = sets

    def row(self, label: str, step: int = 0) -> list[float]:
        """The task scores of stage ``label`` (general scores go to the writer); logged at global ``step``."""
        cache = None
        if label == "zero-shot" and self.recipe.eval.score_cache:
            from eval.score_cache import ScoreCache
            cache = ScoreCache(self.recipe.eval.score_cache, self.model, self.recipe, self.dist.rank, self.dist.world)
        row, general = self._score(label, self.recipe.tasks, self.test_sets, "", cache), None
        self.writer.print_row(label, row)
        if self.recipe.general:
            scores = self._score(label, self.recipe.general, self.general_sets, "general_", cache)
            general = {g.name: v for g, v in zip(self.recipe.general, scores)}
            self.writer.add_general(label, general)
        self.writer.log_stage(step, row, general)
        return row

    def _score(self, label: str, tasks, sample_sets, prefix: str, cache=None) -> list[float]:
        """Each set's score; with a ``ScoreCache`` (``eval.score_cache``), one evaluated before is reused."""
        values, reused = [], 0
        for task, samples in zip(tasks, sample_sets):
            key, found = cache.lookup(task, prefix, samples) if cache else (None, None)
            result, preds = found or self._score_set(label, task, samples, prefix)
            if cache and found is None:
                cache.store(key, result, preds)
            reused += found is not None
            self.writer.save_predictions(label, prefix + task.name, preds, result)
            values.append(result.value)
        if reused and self.dist.rank == 0:
            kind = "general" if prefix else "task"
            print(f"{label}: {reused} of {len(values)} {kind} sets reused from {cache.folder}")
        return values

    def _score_set(self, label: str, task, samples, prefix: str):
        return score_set(self.model, self.tokenizer, self.encoder, task, samples, self.recipe.eval, self.dist.device,
                         desc=f"{label}: {prefix}{task.name}")


def score_set(model, tokenizer, encoder, entry, samples, ev, device, desc: str | None = None):
    """(score, predictions) of one task or general set as ``read_eval_sets`` read it: a likelihood set's
    text scored by ``text_likelihood`` (no predictions), any other set by batched greedy generation."""
    from eval.harness import evaluate_task
    from eval.likelihood import SCORER as LIKELIHOOD
    from eval.likelihood import text_likelihood
    if entry.scorer == LIKELIHOOD:                          # samples: the text
        return text_likelihood(model, tokenizer, samples, device), []
    return evaluate_task(model, encoder, samples, entry.scorer, ev.batch_size, ev.max_new_tokens, device, desc=desc)
