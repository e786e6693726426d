"""The report recomputes metrics from each run's matrix and draws its figures."""
import json

from eval.report import main


def test_report_side_by_side(tmp_path):
    for name, last in (("seq", [50, 55, 90]), ("keep", [70, 65, 88])):
        run = tmp_path / name
        run.mkdir()
        general = {stage: {"g1": g, "g2": g + 10} for stage, g in
                   zip(("zero-shot", "after a", "after b", "after c"), (60, 50, 40, last[0] - 40))}
        (run / "metrics.json").write_text(json.dumps({
            "tasks": ["a", "b", "c"], "zero_shot": [20, 10, 30], "general": general,
            "matrix": [[80, 15, 35], [60, 70, 40], last], "metrics": {"bwt": 999}}))   # stale value: ignored
    assert main([str(tmp_path / "seq"), str(tmp_path / "keep"), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "| seq | 3/3 | 26.25 | 55.00 | 65.00 | 80.00 | 65.00 | 70.00 | -22.50 |" in text   # benchmarks.md §4
    assert "| seq | 65.0 | 55.0 | 45.0 | 15.0 |" in text and "| keep | 65.0 | 55.0 | 45.0 | 35.0 |" in text
    assert len(list((tmp_path / "rep").glob("*.png"))) == 5 and "![comparison](compare.png)" in text
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "rep")]) == 2


def test_runs_with_the_same_folder_name_stay_apart(tmp_path):
    for parent, last in (("A", [50, 55, 90]), ("B", [70, 65, 88])):
        run = tmp_path / parent / "seq"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({"tasks": ["a", "b", "c"], "zero_shot": None,
                                                      "matrix": [[80, 15, 35], [60, 70, 40], last]}))
    assert main([str(tmp_path / "A/seq"), str(tmp_path / "B/seq"), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "| A/seq | 3/3 |" in text and "| B/seq | 3/3 |" in text
    assert len(list((tmp_path / "rep").glob("*.png"))) == 5 and "General suite" not in text
