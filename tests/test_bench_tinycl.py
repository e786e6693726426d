"""The TinyCL-VL grid runner's bookkeeping: ordered recipes, resumable cells, aggregation and verdicts."""
import json

import pytest
import torch
import yaml
from safetensors.torch import save_file

from bench import cell_results, tinycl


def _cell(path, bwt, mft, general, leak=0.0):
    path.mkdir(parents=True)
    metrics = {"transfer": 1.0, "average": 50.0, "last": 40.0, "mft": mft, "bwt": bwt, "general_change": general}
    (path / "metrics.json").write_text(json.dumps({"metrics": metrics, "zero_shot": [0.0, 10.0]}))
    diag = {"t1": {"m0": {"layer": 0, "norm": 1.0, "leak": leak}, "m1": {"layer": 3, "norm": 4.0, "leak": leak}}}
    (path / "diagnostics.json").write_text(json.dumps(diag))
    return path


def test_order_two_reverses_the_task_list_and_keeps_everything_else(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"output_dir": "x", "tasks": [{"name": "a"}, {"name": "b"}], "seed": 1}))
    assert tinycl._ordered_recipe(recipe, 1, tmp_path) == recipe
    data = yaml.safe_load(tinycl._ordered_recipe(recipe, 2, tmp_path / "out").read_text())
    assert [t["name"] for t in data["tasks"]] == ["b", "a"] and data["seed"] == 1


def test_a_cell_counts_as_finished_only_when_every_task_is_done(tmp_path):
    (tmp_path / "run_manifest.json").write_text(json.dumps({"tasks_done": ["a"]}))
    assert not tinycl._finished(tmp_path, 2) and tinycl._finished(tmp_path, 1)


def test_aggregate_table_and_verdicts(tmp_path):
    seq = [cell_results.cell_summary(_cell(tmp_path / f"seq{i}", -20.0 + i, 80.0, -10.0)) for i in range(2)]
    pp = [cell_results.cell_summary(_cell(tmp_path / f"pp{i}", -4.0 + i, 78.0, -1.0, 1e-6)) for i in range(2)]
    summary = {"seq_lora": tinycl.aggregate(seq), "keeplora_pp": tinycl.aggregate(pp)}
    assert summary["seq_lora"]["bwt"] == (-19.5, 0.5) and summary["keeplora_pp"]["depth_ratio"][0] == 4.0
    text = tinycl.table(summary)
    assert "| seq_lora | 2 |" in text and "-19.5 ± 0.5" in text
    assert len({line.count("|") for line in text.strip().splitlines()}) == 1       # every row as wide as the header
    lines = tinycl.verdicts(summary)
    assert any("SeqLoRA BWT -19.5" in v and "forgets" in v for v in lines)
    assert any(v.startswith("KeepLoRA++ vs SeqLoRA: BWT +16.0 (beyond") and "matched" in v for v in lines)


def test_every_protected_variant_gets_a_verdict_against_seqlora(tmp_path):
    cells = {m: [cell_results.cell_summary(_cell(tmp_path / m, bwt, mft, -5.0))]
             for m, bwt, mft in (("seq_lora", -30.0, 60.0), ("keeplora_pp_ref", -10.0, 50.0), ("joint", 0.0, 70.0))}
    lines = tinycl.verdicts({m: tinycl.aggregate(c) for m, c in cells.items()})
    assert any(v.startswith("keeplora_pp_ref vs SeqLoRA: BWT +20.0 (one cell: no 2-std test)")
               and "MFT gap -10.0 (NOT matched: more than 3 apart, SeqLoRA learns more)" in v for v in lines)
    assert not any(v.startswith("joint vs") for v in lines)


def test_basis_fill_reads_each_modules_share_of_its_input_dimensions(tmp_path):
    """After task 1: 4 of 16 and 8 of 32 columns (25 %); after task 2: 8 of 16 and 24 of 32 (62.5 %)."""
    (tmp_path / "bases").mkdir()
    for name, (k1, k2) in (("task_01_a", (4, 8)), ("task_02_b", (8, 24))):
        save_file({"m0": torch.zeros(16, k1), "m1": torch.zeros(32, k2)},
                  str(tmp_path / "bases" / f"{name}.safetensors"))
    assert cell_results.basis_fill(tmp_path) == {"basis_first": 25.0, "basis_last": 62.5}
    assert cell_results.basis_fill(tmp_path / "no_bases") == {}


def test_benchmarks_section_is_replaced_between_markers(tmp_path):
    doc = tmp_path / "B.md"
    doc.write_text("# Benchmarks\n")
    tinycl.write_benchmarks("first\n", doc)
    tinycl.write_benchmarks("second\n", doc)
    text = doc.read_text()
    assert "second" in text and "first" not in text and text.count(tinycl.MARK_START) == 1


def test_format_capture_counts_wrong_general_answers_taken_from_the_task_just_learned(tmp_path):
    cell = tmp_path / "cell"
    (cell / "predictions/after_count").mkdir(parents=True)
    train = tmp_path / "count.json"
    train.write_text(json.dumps([{"id": i, "conversations": [{"from": "human", "value": "How many?"},
                                                             {"from": "gpt", "value": a}]}
                                 for i, a in enumerate(("two", "three"))]))
    (cell / "recipe.resolved.yaml").write_text(yaml.safe_dump({"tasks": [{"name": "count", "train": str(train)}]}))
    rows = [{"prediction": "three", "answers": ["three"]},      # right, though a count answer: not captured
            {"prediction": "two", "answers": ["circle"]},       # wrong, a count answer: captured
            {"prediction": "square", "answers": ["circle"]}, {"prediction": "circle", "answers": ["circle"]}]
    (cell / "predictions/after_count/general_shapes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cell_results.format_capture(cell) == 25.0


def test_report_only_takes_the_finished_cells_and_runs_none(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"tasks": [{"name": "a"}, {"name": "b"}]}))
    for cell, done in (("seq_lora/order1_seed0", ["a", "b"]), ("seq_lora/order2_seed0", ["a"]),
                       ("keeplora/order1_seed0", ["a", "b"])):
        (tmp_path / cell).mkdir(parents=True)
        (tmp_path / cell / "run_manifest.json").write_text(json.dumps({"tasks_done": done}))
    cells = tinycl.finished_cells(recipe, ["seq_lora", "keeplora", "joint"], 1, [1, 2], tmp_path)
    assert cells == {"seq_lora": [tmp_path / "seq_lora/order1_seed0"], "keeplora": [tmp_path / "keeplora/order1_seed0"]}


def test_the_development_order_is_neither_reported_order():
    tasks = ["a", "b", "c", "d", "e"]
    dev = tinycl.order_tasks(tasks, 3)
    assert dev == ["a", "c", "e", "b", "d"] and sorted(dev) == tasks
    assert dev not in (tinycl.order_tasks(tasks, 1), tinycl.order_tasks(tasks, 2))
    assert tinycl._plan(["m"], 2, [3]) == [("m", 3, 0), ("m", 3, 1)]


def test_a_cell_kept_in_the_results_folder_reports_as_its_run_folder_did(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"tasks": [{"name": "a"}]}))
    out, results = tmp_path / "runs", tmp_path / "results"
    cell = _cell(out / "seq_lora/order1_seed0", -20.0, 80.0, -10.0, 1e-6)
    metrics = json.loads((cell / "metrics.json").read_text())
    metrics.update(tasks=["a"], matrix=[[50.0]], zero_shot=[0.0])
    (cell / "metrics.json").write_text(json.dumps(metrics))
    (cell / "run_manifest.json").write_text(json.dumps({"tasks_done": ["a"]}))
    row = cell_results.cell_summary(cell)
    kept = cell_results.archive(results, cell, row)
    assert kept == results / "seq_lora/order1_seed0" and sorted(p.name for p in kept.iterdir()) == ["metrics.json",
                                                                                                  "row.json"]
    assert cell_results.cell_summary(kept) == row
    for p in cell.iterdir():                               # the run folder is gone (a fresh clone)
        p.unlink()
    cells = tinycl.finished_cells(recipe, ["seq_lora", "joint"], 1, [1], out, results)
    assert cells == {"seq_lora": [kept]}
    assert tinycl.run_cell(recipe, "seq_lora", 1, 0, out, [], results=results) == kept     # not run again
    assert tinycl.finished_cells(recipe, ["seq_lora"], 1, [1], out) == {}                  # without the folder
    fresh = tmp_path / "fresh"                             # the table rebuilt from the kept cells alone
    tinycl.main(["--recipe", str(recipe), "--methods", "seq_lora", "--seeds", "1", "--orders", "1", "--out",
                 str(fresh), "--results", str(results), "--report-only"])
    assert "| seq_lora | 1 |" in (fresh / "table.md").read_text() and (fresh / "tinycl.png").is_file()


def test_the_general_suite_by_set_shows_the_likelihood_set_as_perplexity(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"general": [{"name": "qa", "test": "q.jsonl"},
                                                  {"name": "english", "test": "e.txt", "scorer": "text_likelihood"}]}))
    cells = []
    for i, end in enumerate((40.0, 60.0)):
        cell = _cell(tmp_path / f"c{i}", -1.0, 1.0, 0.0)
        general = {"zero-shot": {"qa": 100.0, "english": 5.0}, "after a": {"qa": 70.0, "english": 5.0},
                   "after b": {"qa": end, "english": 4.0}}
        (cell / "metrics.json").write_text(json.dumps({"metrics": {}, "general": general}))
        cells.append(cell)
    text = tinycl.general_table({"seq_lora": cells, "joint": [_cell(tmp_path / "none", 0.0, 1.0, 0.0)]}, recipe)
    assert "| method | cells | Δ answered | qa | english (perplexity) |" in text
    assert "| seq_lora | 2 | -50.0 ± 10.0 | 100 → 50 | 20.0 → 25.0 |" in text and "joint" not in text
    assert tinycl.general_table({"joint": [tmp_path / "none"]}, recipe) == ""


def test_cells_of_two_bases_are_refused_in_one_table(tmp_path):
    def cell(name, shapes, tasks=("a", "b"), zero=(0.0, 15.0)):
        path = _cell(tmp_path / name / "order1_seed0", -1.0, 1.0, 0.0)
        general = {"zero-shot": {"shapes": shapes, "english": 5.37}, "after a": {"shapes": 1.0, "english": 5.0}}
        (path / "metrics.json").write_text(json.dumps({"metrics": {"mft": 1.0, "bwt": -1.0}, "tasks": list(tasks),
                                                       "zero_shot": list(zero), "general": general}))
        (path / "run_manifest.json").write_text(json.dumps({"tasks_done": list(tasks)}))
        return path
    same = [cell("seq_lora", 29.0), cell("joint", 30.0, ("b", "a"), (15.0, 0.0))]   # one flip, other order
    assert cell_results.base_mismatch(same) is None
    other = cell("keeplora", 35.0)
    assert "shapes 29.0 vs 35.0" in cell_results.base_mismatch(same + [other])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"tasks": [{"name": "a"}, {"name": "b"}]}))
    with pytest.raises(SystemExit) as stop:                # no table of two bases is written
        tinycl.main(["--recipe", str(recipe), "--methods", "seq_lora", "keeplora", "--seeds", "1", "--orders", "1",
                     "--out", str(tmp_path), "--report-only"])
    assert "ran on different bases" in str(stop.value) and "keeplora" in str(stop.value)
