"""Tiny copies of general-ability benchmarks in the layouts their downloads have (MME's release folders,
MMBench's base64 TSV, SEED-Bench's JSON + images), for the converters' tests and the recipe twins."""
import base64
import io
import json

from PIL import Image


def mme_release(tmp_path):
    """Two subtasks in the release's two layouts: ``color`` flat, ``artwork`` with images/ + questions_answers_YN/."""
    src = tmp_path / "MME_Benchmark_release_version"
    (src / "color").mkdir(parents=True)
    (src / "artwork" / "images").mkdir(parents=True)
    (src / "artwork" / "questions_answers_YN").mkdir()
    for name in ("000000006723", "000000008277"):
        Image.new("RGB", (8, 8)).save(src / "color" / f"{name}.jpg")
        (src / "color" / f"{name}.txt").write_text(
            f"Is there a red car in {name}? Please answer yes or no.\tYes\n"
            f"Is there a blue car in {name}? Please answer yes or no.\tNo\n")
    Image.new("RGB", (8, 8)).save(src / "artwork" / "images" / "10002.jpg")
    (src / "artwork" / "questions_answers_YN" / "10002.txt").write_text(
        "Is this artwork by Titian? Please answer yes or no.\tYes\n"
        "Is this artwork by Monet? Please answer yes or no.\tNo\n")
    (src / "artwork" / "questions_answers_YN" / "10003.txt").write_text("Is it? Please answer yes or no.\tYes\n")
    return src


def png_b64() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def mmbench_tsv(tmp_path, rows, answer_column=True):
    header = ["index", "question", "hint", "A", "B", "C", "D"] + (["answer"] if answer_column else []) + [
        "category", "image"]
    lines = ["\t".join(header)]
    for index, question, hint, options, answer in rows:
        cells = [str(index), question, hint, *options, *([answer] if answer_column else []), "color", png_b64()]
        lines.append("\t".join(cells))
    path = tmp_path / "mmbench_dev_20230712.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


def seed_release(tmp_path):
    """One image question (its image present) and one video question."""
    src = tmp_path / "SEED-Bench"
    (src / "SEED-Bench-image").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(src / "SEED-Bench-image" / "1454426_2591111986.jpg")
    questions = [{"question_id": "101669", "question": "How many towels are in the image?", "choice_a": "One",
                  "choice_b": "Two", "choice_c": "Three", "choice_d": "Four", "answer": "A",
                  "data_id": "1454426_2591111986.jpg", "data_type": "image", "question_type_id": 5},
                 {"question_id": "v1", "question": "What happens?", "choice_a": "a", "choice_b": "b",
                  "choice_c": "c", "choice_d": "d", "answer": "B", "data_id": "v.mp4", "data_type": "video",
                  "question_type_id": 10}]
    doc = {"questions": questions, "question_type": {"Instances Counting": 5}}
    (src / "SEED-Bench.json").write_text(json.dumps(doc))
    return src


def converted(scorer: str, tmp_path):
    """The test file a recipe's general entry with this scorer reads, converted from a tiny download; None for
    scorers that need no particular ids."""
    from data_prep import mmbench, mme, seed_bench
    out = tmp_path / f"general_{scorer}"
    if scorer == "mme":
        mme.convert(mme_release(tmp_path / "mme_src"), out)
        return out / "all" / "test.jsonl"
    if scorer == "mmbench":
        (tmp_path / "mmbench_src").mkdir(parents=True)
        rows = [(1, "What colour is it?", "nan", ["red", "green", "blue", "nan"], "A")]
        mmbench.convert(mmbench_tsv(tmp_path / "mmbench_src", rows), out)
        return out / "dev" / "test.jsonl"
    if scorer == "seed_bench":
        seed_bench.convert(seed_release(tmp_path / "seed_src"), out)
        return out / "image" / "test.jsonl"
    return None
