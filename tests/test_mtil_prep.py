"""data_prep.mtil on a miniature of every MTIL dataset in the torchvision/ZSCL layout, and the MTIL recipes'
dry run: validated when the data are there, one line naming the dataset folder when they are not."""
import json
import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from data_prep import mtil
from data_prep.common import ConvertError
from keeplora.cli import main as train_main

from .conftest import ROOT, beside

scipy_io = pytest.importorskip("scipy.io")


def _jpg(path, shade=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), (shade, 80, 160)).save(path)


def _lines(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))


def _idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _fake_root(root):
    """Two classes and a handful of images per dataset, in the folders torchvision's loaders read."""
    air = root / "fgvc-aircraft-2013b/data"
    _lines(air / "variants.txt", ["707-320", "A300B4"])
    _lines(air / "images_variant_train.txt", ["0001 707-320", "0002 A300B4", "0009 A300B4"])   # 0009: no image
    _lines(air / "images_variant_test.txt", ["0003 707-320"])
    for i in ("0001", "0002", "0003"):
        _jpg(air / f"images/{i}.jpg")
    for cat, n in (("BACKGROUND_Google", 2), ("Faces", 5), ("accordion", 5)):
        for k in range(1, n + 1):
            _jpg(root / f"caltech101/101_ObjectCategories/{cat}/image_{k:04d}.jpg")
    cifar = root / "cifar-100-python"
    cifar.mkdir(parents=True)
    rng = np.random.default_rng(0)
    (cifar / "meta").write_bytes(pickle.dumps({b"fine_label_names": [b"apple", b"aquarium_fish"]}, protocol=2))
    for split, n in (("train", 4), ("test", 2)):
        blob = {b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8), b"fine_labels": [i % 2 for i in range(n)]}
        (cifar / split).write_bytes(pickle.dumps(blob, protocol=2))
    for cls in ("banded", "zigzagged"):
        _jpg(root / f"dtd/dtd/images/{cls}/{cls}_0001.jpg")
        _jpg(root / f"dtd/dtd/images/{cls}/{cls}_0002.jpg")
    _lines(root / "dtd/dtd/labels/train1.txt", ["banded/banded_0001.jpg", "zigzagged/zigzagged_0001.jpg"])
    _lines(root / "dtd/dtd/labels/test1.txt", ["banded/banded_0002.jpg"])
    for cls in ("AnnualCrop", "Forest"):
        for k in range(6):
            _jpg(root / f"eurosat/2750/{cls}/{cls}_{k}.jpg")
    flowers = root / "flowers-102"
    for k in range(1, 5):
        _jpg(flowers / f"jpg/image_{k:05d}.jpg")
    scipy_io.savemat(flowers / "imagelabels.mat", {"labels": np.array([1, 2, 2, 1])})
    scipy_io.savemat(flowers / "setid.mat", {"trnid": np.array([1, 2]), "valid": np.array([3]),
                                             "tstid": np.array([3, 4])})
    food = root / "food-101"
    _lines(food / "meta/train.json",
           [json.dumps({"apple_pie": ["apple_pie/1"], "baby_back_ribs": ["baby_back_ribs/2"]})])
    _lines(food / "meta/test.json", [json.dumps({"apple_pie": ["apple_pie/3"], "baby_back_ribs": []})])
    for rel in ("apple_pie/1", "baby_back_ribs/2", "apple_pie/3"):
        _jpg(food / f"images/{rel}.jpg")
    for prefix, n in (("train", 5), ("t10k", 3)):
        _idx(root / f"MNIST/raw/{prefix}-images-idx3-ubyte", rng.integers(0, 255, (n, 28, 28)))
        _idx(root / f"MNIST/raw/{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    pet = root / "oxford-iiit-pet"
    _lines(pet / "annotations/trainval.txt", ["Abyssinian_1 1 1 1", "basset_hound_2 2 2 1"])
    _lines(pet / "annotations/test.txt", ["basset_hound_3 2 2 1"])
    for name in ("Abyssinian_1", "basset_hound_2", "basset_hound_3"):
        _jpg(pet / f"images/{name}.jpg")
    cars = root / "stanford_cars"
    (cars / "devkit").mkdir(parents=True)
    scipy_io.savemat(cars / "devkit/cars_meta.mat", {"class_names": np.array(["AM General Hummer SUV 2000",
                                                                              "Acura RL Sedan 2012"], dtype=object)})
    annos = np.array([("00001.jpg", 1), ("00002.jpg", 2)], dtype=[("fname", "O"), ("class", "O")])
    scipy_io.savemat(cars / "devkit/cars_train_annos.mat", {"annotations": annos})
    scipy_io.savemat(cars / "cars_test_annos_withlabels.mat", {"annotations": annos})
    for split in ("cars_train", "cars_test"):
        for name in ("00001.jpg", "00002.jpg"):
            _jpg(cars / split / name)
    _lines(root / "SUN397/ClassName.txt", ["/a/abbey", "/a/apartment_building/outdoor"])
    for k in range(5):
        _jpg(root / f"SUN397/a/abbey/sun_{k}.jpg")
        _jpg(root / f"SUN397/a/apartment_building/outdoor/sun_x{k}.jpg")
    return root


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mtil")
    raw = _fake_root(tmp / "data/mtil_raw")
    manifest = mtil.convert(raw, tmp / "data/mtil")
    return tmp, manifest


def _rows(tmp, task, split):
    return [json.loads(line) for line in (tmp / f"data/mtil/{task}/{split}.jsonl").read_text().splitlines()]


def _classes(tmp, task):
    return json.loads((tmp / f"data/mtil/{task}/classes.json").read_text())


def test_every_dataset_converts_with_official_splits_names_and_templates(converted):
    tmp, manifest = converted
    counts = {t: (s["train.jsonl"]["samples"], s["test.jsonl"]["samples"]) for t, s in manifest["tasks"].items()}
    assert counts == {"aircraft": (2, 1), "caltech101": (8, 2), "cifar100": (4, 2), "dtd": (2, 1), "eurosat": (9, 3),
                      "flowers": (2, 2), "food": (2, 1), "mnist": (5, 3), "oxford_pet": (2, 1),
                      "stanford_cars": (2, 2), "sun397": (8, 2)}
    assert manifest["tasks"]["aircraft"]["missing_media"]["train"] == 1          # listed, no image: counted
    assert _classes(tmp, "cifar100")["classnames"] == ["apple", "aquarium fish"]
    assert _classes(tmp, "oxford_pet")["classnames"] == ["Abyssinian", "Basset Hound"]
    assert _classes(tmp, "sun397")["classnames"] == ["abbey", "apartment building/outdoor"]
    assert _classes(tmp, "mnist")["templates"] == ['a photo of the number: "{}".']
    assert len(_classes(tmp, "flowers")["classnames"]) == 102 and len(_classes(tmp, "caltech101")["classnames"]) == 101
    assert [r["answer"] for r in _rows(tmp, "flowers", "test")] == ["hard-leaved pocket orchid", "pink primrose"]
    assert [r["answer"] for r in _rows(tmp, "stanford_cars", "test")] == ["AM General Hummer SUV 2000",
                                                                          "Acura RL Sedan 2012"]
    train = _rows(tmp, "aircraft", "train")[0]
    assert train["conversations"][1]["value"] == "707-320" and train["image"] == "data/images/0001.jpg"
    folders = {t: d[0] for t, d in mtil.DATASETS.items()}
    for task in mtil.ORDER_I:                                   # every path resolves under the dataset folder
        for split in ("train", "test"):
            assert all((tmp / "data/mtil_raw" / folders[task] / r["image"]).is_file() for r in _rows(tmp, task, split))


def test_random_splits_are_the_mtil_codes_seeded_80_20(converted):
    tmp, _ = converted
    files = [f"2750/{c}/{c}_{k}.jpg" for c in ("AnnualCrop", "Forest") for k in range(6)]
    train, test = torch.utils.data.random_split(range(12), [9, 3], generator=torch.Generator().manual_seed(42))
    assert [r["image"] for r in _rows(tmp, "eurosat", "train")] == [files[i] for i in train.indices]
    assert [r["image"] for r in _rows(tmp, "eurosat", "test")] == [files[i] for i in test.indices]


def test_array_datasets_become_pngs_with_the_same_pixels(converted):
    tmp, _ = converted
    raw = tmp / "data/mtil_raw"
    data = pickle.loads((raw / "cifar-100-python/train").read_bytes())
    first = np.asarray(Image.open(raw / "cifar-100-python" / _rows(tmp, "cifar100", "train")[0]["image"]))
    assert np.array_equal(first, data[b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0))
    digit = np.asarray(Image.open(raw / "MNIST" / _rows(tmp, "mnist", "test")[2]["image"]))
    assert digit.shape == (28, 28) and _rows(tmp, "mnist", "test")[2]["answer"] == "2 - two"


def test_a_pickle_with_code_is_refused(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    (folder / "meta").write_bytes(pickle.dumps(os.getcwd))        # any callable outside numpy is refused
    with pytest.raises(ConvertError, match="is not a CIFAR-100 pickle .*refusing"):
        mtil.convert(tmp_path, tmp_path / "out", ["cifar100"])


def test_a_missing_dataset_folder_is_one_line(tmp_path, capsys):
    with pytest.raises(ConvertError, match=r"mtil dtd: dataset folder .*/dtd not found"):
        mtil.convert(tmp_path, tmp_path / "out", ["dtd"])
    assert mtil.main(["--src", str(tmp_path), "--out", beside(tmp_path), "--tasks", "food"]) == 2
    assert "food-101 not found" in capsys.readouterr().err


@pytest.mark.parametrize("order", [1, 2])
def test_mtil_recipes_validate_and_name_a_missing_dataset_folder(converted, order, monkeypatch, capsys):
    tmp, _ = converted
    monkeypatch.chdir(tmp)
    args = [str(ROOT / f"recipes/mtil_order{order}.yaml"), "dry_run=true",
            f"deepspeed.config={ROOT}/recipes/ds/zero2.json"]
    assert train_main(args) == 0
    out = capsys.readouterr().out
    assert "all 22 task files OK" in out and "features_summed" in out
    first = mtil.ORDER_I[0] if order == 1 else mtil.ORDER_II[0]
    os.rename(tmp / "data/mtil_raw" / mtil.DATASETS[first][0], tmp / "moved")
    try:
        assert train_main(args) == 2
    finally:
        os.rename(tmp / "moved", tmp / "data/mtil_raw" / mtil.DATASETS[first][0])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"tasks[0].media_root ({first}): dataset folder data/mtil_raw/{mtil.DATASETS[first][0]} not found" in err
