"""MME, MMBench and SEED-Bench as general-ability sets: each converter reads the benchmark's files as they are
distributed, each scorer applies the benchmark's own rule (worked by hand below)."""
import pytest
from PIL import Image

from data_prep import mmbench as mmbench_prep
from data_prep import mme as mme_prep
from data_prep import seed_bench as seed_prep
from data_prep.common import ConvertError
from eval.scorers import score_task
from eval.scorers.mmbench import mmbench_option
from eval.scorers.mme import mme_answer
from keeplora.data import read_test_file

from .conftest import beside
from .general_layouts import mmbench_tsv, mme_release, seed_release


def test_mme_reads_both_release_layouts_with_lmms_evals_llava_prompt(tmp_path):
    out = beside(tmp_path)
    manifest = mme_prep.convert(mme_release(tmp_path), out)
    assert manifest["tasks"]["all"]["missing_media"]["test"] == 1          # 10003's image is not there
    assert "celebrity" in manifest["absent"]
    samples = read_test_file(f"{out}/all/test.jsonl")
    assert [s.id for s in samples][:3] == ["perception/color/000000006723.jpg/0",
                                           "perception/color/000000006723.jpg/1",
                                           "perception/color/000000008277.jpg/0"]
    assert samples[-1].id == "perception/artwork/10002.jpg/1"
    assert samples[0].turns[0][0] == ("<image>\nIs there a red car in 000000006723?\n"
                                      "Answer the question using a single word or phrase.")
    assert samples[1].answers == ["no"]


def test_a_question_line_that_is_not_question_tab_yes_no_is_named(tmp_path):
    src = mme_release(tmp_path)
    (src / "color" / "000000006723.txt").write_text("Is there a car?\tMaybe\n")
    with pytest.raises(ConvertError, match=r"000000006723.txt: line 1 is not 'question<TAB>Yes\|No'"):
        mme_prep.convert(src, beside(tmp_path))


@pytest.mark.parametrize("text, read", [("Yes", "yes"), ("no", "no"), ("Yes, it is.", "yes"), ("No.", "no"),
                                        ("The answer is yes", "other"), ("Nope", "no"), ("", "other")])
def test_mme_reads_answers_as_calculation_py(text, read):
    assert mme_answer(text) == read


def test_mme_score_is_accuracy_plus_accuracy_plus_per_subtask_summed_by_group():
    """color: 2 images, 3 of 4 questions right, 1 image with both → 75 + 50 = 125; code_reasoning: 1 image,
    both right → 200. Perception 125, cognition 200; the value is 325 of the 400 the two subtasks allow."""
    rows = [("perception/color/a.jpg/0", "Yes", "yes"), ("perception/color/a.jpg/1", "No", "no"),
            ("perception/color/b.jpg/0", "Yes", "yes"), ("perception/color/b.jpg/1", "Yes", "no"),
            ("cognition/code_reasoning/c.png/0", "yes", "yes"), ("cognition/code_reasoning/c.png/1", "No", "no")]
    result = score_task("mme", [{"id": i, "prediction": p, "answers": [g]} for i, p, g in rows])
    assert result.parts == pytest.approx({"perception": 125.0, "cognition": 200.0, "color": 125.0,
                                          "code_reasoning": 200.0})
    assert result.value == pytest.approx(100 * 325 / 400)


def test_mmbench_writes_every_rotation_with_llavas_prompt(tmp_path):
    tsv = mmbench_tsv(tmp_path, [(7, "What colour is it?", "Look closely.", ["red", "green", "blue", "nan"], "A")])
    out = beside(tmp_path)
    mmbench_prep.convert(tsv, out)
    samples = read_test_file(f"{out}/dev/test.jsonl")
    assert [s.id for s in samples] == ["7@0", "7@1", "7@2"]              # three options, three rounds
    assert [s.answers for s in samples] == [["A"], ["C"], ["B"]]          # "red" moves A → C → B
    assert samples[1].turns[0][0] == ("<image>\nLook closely.\nWhat colour is it?\nA. green\nB. blue\nC. red\n"
                                      "Answer with the option's letter from the given choices directly.")
    assert Image.open(samples[0].media[0][1]).getpixel((0, 0)) == (200, 10, 10)


def test_mmbench_test_split_without_answers_is_refused(tmp_path):
    tsv = mmbench_tsv(tmp_path, [(1, "Q?", "nan", ["a", "b", "c", "d"], "A")], answer_column=False)
    with pytest.raises(ConvertError, match="no 'answer' column — the test split is scored by MMBench's server"):
        mmbench_prep.convert(tsv, beside(tmp_path))


@pytest.mark.parametrize("answer, read", [("B", "B"), ("(B) green", "B"), ("The answer is B.", "B"),
                                          ("green", "B"), ("A or B", ""), ("I think it is red", "A"),
                                          ("something else", "")])
def test_mmbench_reads_options_as_can_infer(answer, read):
    assert mmbench_option(answer, {"A": "red", "B": "green", "C": "blue"}) == read


def test_circular_eval_counts_a_question_only_when_every_rotation_is_right(tmp_path):
    tsv = mmbench_tsv(tmp_path, [(1, "Colour?", "nan", ["red", "green", "nan", "nan"], "A"),
                                  (2, "Shape?", "nan", ["disc", "cube", "nan", "nan"], "B")])
    out = beside(tmp_path)
    mmbench_prep.convert(tsv, out)
    samples = read_test_file(f"{out}/dev/test.jsonl")
    # question 1 right in both rounds ("red" wherever it is); question 2 right only in its first round
    said = {"1@0": "A", "1@1": "red", "2@0": "B", "2@1": "B"}
    preds = [{"id": s.id, "question": s.turns[0][0].replace("<image>\n", ""), "prediction": said[s.id],
              "answers": s.answers} for s in samples]
    result = score_task("mmbench", preds)
    assert result.value == pytest.approx(50.0)
    assert result.parts == pytest.approx({"circular": 50.0, "single_pass": 100.0, "questions": 2.0})


def test_seed_bench_keeps_image_questions_and_counts_the_video_ones(tmp_path):
    out = beside(tmp_path)
    manifest = seed_prep.convert(seed_release(tmp_path), out)
    assert manifest["tasks"]["image"]["skipped"] == {"video_questions": 1}
    (sample,) = read_test_file(f"{out}/image/test.jsonl")
    assert sample.turns[0][0] == ("<image>\nHow many towels are in the image?\nA. One\nB. Two\nC. Three\nD. Four\n"
                                  "Answer with the option's letter from the given choices directly.")
    assert score_task("seed_bench", [{"prediction": p, "answers": ["A"]} for p in ("A", " A\n", "A.", "One")]
                      ).value == pytest.approx(50.0)


def test_ids_the_scorer_cannot_group_are_refused_before_training_and_at_scoring(tmp_path, tiny_data):
    """A general set scored ``mme`` but not converted by data_prep.mme: one line naming the entry and the sample."""
    from keeplora.checks import check_files
    from keeplora.config import RecipeError, load_recipe
    from keeplora.errors import UserError

    from .conftest import tiny_recipe
    recipe = tiny_recipe(tmp_path, tiny_data, "ids", tasks=("color",),
                         general=[{"name": "MME", "test": str(tiny_data / "color" / "test.jsonl"), "scorer": "mme"}])
    with pytest.raises(RecipeError, match=r"general\[0\]\.test \(MME\) .*: sample '.*': the mme scorer reads ids "
                                          r"of the form 'perception\|cognition/subtask/image/k'"):
        check_files(load_recipe(recipe))
    with pytest.raises(UserError, match=r"sample 'q@x': the mmbench scorer reads ids of the form 'question@round'"):
        score_task("mmbench", [{"id": "q@x", "question": "", "prediction": "A", "answers": ["A"]}])
