"""MTIL's 11 classification datasets (ZSCL, arXiv 2303.06628) → per-task files for the CLIP recipes.

``python -m data_prep.mtil --src data/mtil_raw --out data/mtil`` reads the datasets where torchvision's
downloaders (which the ZSCL / KeepLoRA MTIL code uses) put them under one root:

    fgvc-aircraft-2013b/data  caltech101/101_ObjectCategories  cifar-100-python  dtd/dtd  eurosat/2750
    flowers-102  food-101  MNIST/raw  oxford-iiit-pet  stanford_cars  SUN397

and writes, per task, ``train.jsonl`` (LLaVA conversations whose answer is the class name, so a
generative VLM can train on the same files), ``test.jsonl``, and ``classes.json`` (class names in label
order + the dataset's prompt template, ``templates[0]`` of the ZSCL code). Image paths are relative to the
dataset's own folder, which the recipe names as ``media_root`` (a missing folder is then the first thing
``dry_run`` reports). The splits are the official ones; Caltech101, EuroSAT and SUN397 get the MTIL code's
seeded 80/20 ``random_split`` (seed 42). CIFAR-100 and MNIST ship arrays, not images: their images are
written once as PNGs under ``<folder>/png/``. Flowers-102 and Stanford Cars need scipy (``.mat`` labels).
"""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .common import ConvertError, TaskFiles, cli, write_manifest, write_task
from .tinycl_sources import read_idx

__all__ = ["DATASETS", "ORDER_I", "ORDER_II", "convert", "write_classification_task", "main"]

NAMES = json.loads((Path(__file__).with_name("mtil_classnames.json")).read_text())
ORDER_I = ["aircraft", "caltech101", "cifar100", "dtd", "eurosat", "flowers", "food", "mnist", "oxford_pet",
           "stanford_cars", "sun397"]
ORDER_II = ["stanford_cars", "food", "mnist", "oxford_pet", "flowers", "sun397", "aircraft", "caltech101", "dtd",
            "eurosat", "cifar100"]
PROMPT = "What is shown in this image? Answer with the class name."
Split = list[tuple[str, int]]          # (image path relative to the dataset folder, label)


def _need(path: Path, task: str) -> Path:
    if not path.exists():
        raise ConvertError(f"mtil {task}: {path} not found (download the dataset in the torchvision/ZSCL layout)")
    return path


def _lines(path: Path, task: str) -> list[str]:
    return [line.strip() for line in _need(path, task).read_text().splitlines() if line.strip()]


def _random_80_20(items: Split) -> tuple[Split, Split]:
    """The MTIL code's ``random_split(dataset, [int(0.8 n), n - int(0.8 n)], manual_seed(42))``, exactly."""
    n = len(items)
    train, test = torch.utils.data.random_split(range(n), [int(0.8 * n), n - int(0.8 * n)],
                                                generator=torch.Generator().manual_seed(42))
    return [items[i] for i in train.indices], [items[i] for i in test.indices]


def _spaced(names: list[str]) -> list[str]:
    """ZSCL's ``process_labels``: underscores become spaces."""
    return [n.replace("_", " ") for n in names]


def _loadmat(path: Path, task: str) -> dict:
    try:
        from scipy.io import loadmat
    except ImportError:
        raise ConvertError(f"mtil {task}: reading {path.name} needs scipy: pip install 'keeplora[mtil]'") from None
    return loadmat(str(_need(path, task)), squeeze_me=True)


def _aircraft(folder: Path) -> tuple[list[str], Split, Split]:
    classes = _lines(folder / "data/variants.txt", "aircraft")
    index = {c: i for i, c in enumerate(classes)}

    def split(name):
        return [(f"data/images/{line.split(' ', 1)[0]}.jpg", index[line.split(" ", 1)[1]])
                for line in _lines(folder / f"data/images_variant_{name}.txt", "aircraft")]
    return _spaced(classes), split("train"), split("test")


def _caltech101(folder: Path) -> tuple[list[str], Split, Split]:
    root = _need(folder / "101_ObjectCategories", "caltech101")
    cats = sorted(c for c in os.listdir(root) if c != "BACKGROUND_Google")
    items = [(f"101_ObjectCategories/{c}/image_{k:04d}.jpg", i)
             for i, c in enumerate(cats) for k in range(1, len(os.listdir(root / c)) + 1)]
    return NAMES["caltech101"], *_random_80_20(items)


class _ArraysOnly(pickle.Unpickler):
    """CIFAR's pickles hold dicts, lists, bytes and numpy arrays; any other global (code) is refused."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}   # _codecs: protocol-2 bytes

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name} in a dataset pickle")
        return super().find_class(module.replace("numpy.core.", "numpy._core.") if hasattr(np, "_core") else module,
                                  name)


def _unpickle(path: Path) -> dict:
    with _need(path, "cifar100").open("rb") as f:
        try:
            data = _ArraysOnly(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ConvertError(f"mtil cifar100: {path} is not a CIFAR-100 pickle ({exc})") from None
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in data.items()}


def _write_pngs(folder: Path, split: str, images: np.ndarray) -> list[str]:
    """``png/<split>/<index>.png`` under the dataset folder, written once (a finished set is reused)."""
    out = folder / "png" / split
    rels = [f"png/{split}/{i:05d}.png" for i in range(len(images))]
    done = out / ".complete"
    if not done.is_file() or done.read_text() != str(len(images)):
        out.mkdir(parents=True, exist_ok=True)
        for rel, img in zip(rels, images):
            Image.fromarray(img).save(folder / rel)
        done.write_text(str(len(images)))
    return rels


def _cifar100(folder: Path) -> tuple[list[str], Split, Split]:
    classes = [n.decode() if isinstance(n, bytes) else n for n in _unpickle(folder / "meta")["fine_label_names"]]
    splits = []
    for name in ("train", "test"):
        data = _unpickle(folder / name)
        images = np.asarray(data["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        splits.append(list(zip(_write_pngs(folder, name, images), map(int, data["fine_labels"]))))
    return _spaced(classes), splits[0], splits[1]


def _dtd(folder: Path) -> tuple[list[str], Split, Split]:
    images = _need(folder / "dtd/images", "dtd")
    classes = sorted(e.name for e in os.scandir(images) if e.is_dir())
    index = {c: i for i, c in enumerate(classes)}

    def split(name):
        return [(f"dtd/images/{line}", index[line.split("/")[0]]) for line in _lines(folder / f"dtd/labels/{name}1.txt",
                                                                                      "dtd")]
    return _spaced(classes), split("train"), split("test")


_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _eurosat(folder: Path) -> tuple[list[str], Split, Split]:
    root = _need(folder / "2750", "eurosat")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    items = [(f"2750/{c}/{f}", i) for i, c in enumerate(classes)                 # ImageFolder's order
             for f in sorted(os.listdir(root / c)) if f.lower().endswith(_IMAGE_EXT)]
    return NAMES["eurosat"], *_random_80_20(items)


def _flowers(folder: Path) -> tuple[list[str], Split, Split]:
    labels = _loadmat(folder / "imagelabels.mat", "flowers")["labels"]
    ids = _loadmat(folder / "setid.mat", "flowers")

    def split(key):
        return [(f"jpg/image_{int(i):05d}.jpg", int(labels[int(i) - 1]) - 1) for i in np.atleast_1d(ids[key])]
    return NAMES["flowers"], split("trnid"), split("tstid")


def _food(folder: Path) -> tuple[list[str], Split, Split]:
    splits = {}
    for name in ("train", "test"):
        meta = json.loads(_need(folder / f"meta/{name}.json", "food").read_text())
        classes = sorted(meta)
        index = {c: i for i, c in enumerate(classes)}
        splits[name] = [(f"images/{p}.jpg", index[c]) for c, paths in meta.items() for p in paths]
    return _spaced(classes), splits["train"], splits["test"]


def _mnist(folder: Path) -> tuple[list[str], Split, Split]:
    splits = []
    for name, prefix in (("train", "train"), ("test", "t10k")):
        raw = [folder / "raw" / f"{prefix}-{kind}-ubyte" for kind in ("images-idx3", "labels-idx1")]
        raw = [p if p.is_file() else p.with_name(p.name + ".gz") for p in raw]
        images, labels = read_idx(_need(raw[0], "mnist")), read_idx(_need(raw[1], "mnist"))
        splits.append(list(zip(_write_pngs(folder, name, images), map(int, labels))))
    return NAMES["mnist"], splits[0], splits[1]


def _oxford_pet(folder: Path) -> tuple[list[str], Split, Split]:
    splits, breeds = {}, {}
    for name in ("trainval", "test"):
        rows = [line.split() for line in _lines(folder / f"annotations/{name}.txt", "oxford_pet")]
        splits[name] = [(f"images/{r[0]}.jpg", int(r[1]) - 1) for r in rows]
        breeds.update({int(r[1]) - 1: r[0].rsplit("_", 1)[0] for r in rows})
    classes = [" ".join(part.title() for part in breeds[i].split("_")) for i in sorted(breeds)]
    return classes, splits["trainval"], splits["test"]


def _stanford_cars(folder: Path) -> tuple[list[str], Split, Split]:
    classes = [str(c) for c in _loadmat(folder / "devkit/cars_meta.mat", "stanford_cars")["class_names"]]

    def split(annos, images):
        return [(f"{images}/{a['fname']}", int(a["class"]) - 1)
                for a in np.atleast_1d(_loadmat(folder / annos, "stanford_cars")["annotations"])]
    return (_spaced(classes), split("devkit/cars_train_annos.mat", "cars_train"),
            split("cars_test_annos_withlabels.mat", "cars_test"))


def _sun397(folder: Path) -> tuple[list[str], Split, Split]:
    classes = [line[3:].strip() for line in _lines(folder / "ClassName.txt", "sun397")]
    index = {c: i for i, c in enumerate(classes)}
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("sun_*.jpg"))   # sorted: rglob's order is not
    items = [(f, index["/".join(f.split("/")[1:-1])]) for f in files]
    return _spaced(classes), *_random_80_20(items)


# task: (folder under --src, the ZSCL prompt template, reader)
DATASETS = {
    "aircraft": ("fgvc-aircraft-2013b", "a photo of a {}, a type of aircraft.", _aircraft),
    "caltech101": ("caltech101", "a photo of a {}.", _caltech101),
    "cifar100": ("cifar-100-python", "a photo of a {}.", _cifar100),
    "dtd": ("dtd", "a photo of a {} texture.", _dtd),
    "eurosat": ("eurosat", "a centered satellite photo of {}.", _eurosat),
    "flowers": ("flowers-102", "a photo of a {}, a type of flower.", _flowers),
    "food": ("food-101", "a photo of a {}, a type of food.", _food),
    "mnist": ("MNIST", 'a photo of the number: "{}".', _mnist),
    "oxford_pet": ("oxford-iiit-pet", "a photo of a {}, a type of pet.", _oxford_pet),
    "stanford_cars": ("stanford_cars", "a photo of a {}, a type of car.", _stanford_cars),
    "sun397": ("SUN397", "a photo of a {}.", _sun397),
}


def write_classification_task(out: Path, task: str, classnames: list[str], template: str, train: Split,
                              test: Split, media: Path | None = None) -> dict:
    """Write one task's files; with ``media`` given, a sample whose image is missing is left out and counted."""
    files = TaskFiles()
    for split, rows, missing in (("train", train, files.missing_train), ("test", test, files.missing_test)):
        for k, (rel, label) in enumerate(rows):
            if media is not None and not (media / rel).is_file():
                missing.append(str(media / rel))
                continue
            sid, name = f"{task}_{split}_{k}", classnames[label]
            if split == "train":
                files.train.append({"id": sid, "image": rel, "conversations": [
                    {"from": "human", "value": f"<image>\n{PROMPT}"}, {"from": "gpt", "value": name}]})
            else:
                files.test.append({"question_id": sid, "image": rel, "prompt": PROMPT, "answer": name})
    stats = write_task(out, task, files)
    (out / task / "classes.json").write_text(json.dumps({"classnames": classnames, "templates": [template]},
                                                        ensure_ascii=False, indent=1))
    stats["classes"] = len(classnames)
    return stats


def convert(src: str | Path, out: str | Path, tasks=tuple(ORDER_I)) -> dict:
    src, out = Path(src), Path(out)
    stats = {}
    for task in tasks:
        folder_name, template, reader = DATASETS[task]
        folder = src / folder_name
        if not folder.is_dir():
            raise ConvertError(f"mtil {task}: dataset folder {folder} not found (torchvision/ZSCL layout under --src)")
        classnames, train, test = reader(folder)
        stats[task] = write_classification_task(out, task, classnames, template, train, test, media=folder)
    return write_manifest(out, "mtil", src, stats)


def main(argv: list[str] | None = None) -> int:
    return cli(argv, __doc__, "data/mtil", ORDER_I, convert)


if __name__ == "__main__":
    raise SystemExit(main())
