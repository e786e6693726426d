"""Images and video frames to normalised tensors with PIL and numpy (torchvision is not needed).

Video: decord by default, PyAV as the fallback; ``num_frames`` indices sampled uniformly with
``linspace(0, n-1, N).round()``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

__all__ = ["MediaProcessor", "MediaError", "Clip", "sample_indices", "read_video", "read_video_frames"]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class MediaError(ValueError):
    """A media file that cannot be read; the message names the file."""


def sample_indices(num_total: int, num_frames: int) -> list[int]:
    """Uniform frame indices, first and last frame included; repeats frames of short clips."""
    if num_total < 1:
        raise MediaError("video has no frames")
    return np.linspace(0, num_total - 1, num_frames).round().astype(int).tolist()


@dataclass
class Clip:
    """Sampled frames of one video, their indices in the file and its frame rate (None where the
    container does not say): Qwen3-VL writes each frame pair's time into the prompt."""
    frames: np.ndarray              # (num_frames, H, W, 3) uint8
    indices: list[int]
    fps: float | None


def _read_decord(path: Path, num_frames: int) -> Clip:
    import decord
    vr = decord.VideoReader(str(path), num_threads=1)
    idx = sample_indices(len(vr), num_frames)
    return Clip(vr.get_batch(idx).asnumpy(), idx, float(vr.get_avg_fps()) or None)


def _read_av(path: Path, num_frames: int) -> Clip:
    import av
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate) if stream.average_rate else None
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if not frames:
        raise MediaError("video has no decodable frames")
    idx = sample_indices(len(frames), num_frames)
    return Clip(np.stack([frames[i] for i in idx]), idx, rate)


def read_video(path: str | Path, num_frames: int) -> Clip:
    """``num_frames`` uniformly sampled frames; decord first, PyAV when decord is missing or fails."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"video {path} not found")
    errors = []
    for reader in (_read_decord, _read_av):
        try:
            return reader(path, num_frames)
        except ImportError as exc:
            errors.append(f"{reader.__name__[6:]}: not installed ({exc.name})")
        except Exception as exc:  # noqa: BLE001 - a decoder's own error type is backend-specific
            errors.append(f"{reader.__name__[6:]}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    raise MediaError(f"video {path} cannot be decoded ({'; '.join(errors)})")


def read_video_frames(path: str | Path, num_frames: int) -> np.ndarray:
    """(num_frames, H, W, 3) uint8 (``read_video``'s frames)."""
    return read_video(path, num_frames).frames


@dataclass
class MediaProcessor:
    """LLaVA-style preprocessing: RGB, then ``pad`` (expand to square with the mean colour), ``resize``
    (squash) or ``crop`` (shortest edge, then centre crop: what the video processors of Video-LLaVA and
    LLaVA-NeXT-Video do to frames)."""
    image_size: int
    mean: list[float] | None = None
    std: list[float] | None = None
    aspect: str = "pad"
    num_frames: int = 8
    video_aspect: str = "crop"

    def __post_init__(self):
        self.mean = list(self.mean or CLIP_MEAN)
        self.std = list(self.std or CLIP_STD)

    def _to_tensor(self, img: Image.Image, aspect: str) -> torch.Tensor:
        img = img.convert("RGB")
        if aspect == "pad" and img.width != img.height:
            side = max(img.size)
            canvas = Image.new("RGB", (side, side), tuple(int(255 * m) for m in self.mean))
            canvas.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
            img = canvas
        elif aspect == "crop" and img.width != img.height:
            side = min(img.size)
            left, top = (img.width - side) // 2, (img.height - side) // 2
            img = img.crop((left, top, left + side, top + side))
        img = img.resize((self.image_size, self.image_size), Image.BICUBIC)
        arr = np.asarray(img, dtype=np.float32) / 255.0
        arr = (arr - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return torch.from_numpy(arr).permute(2, 0, 1).contiguous()          # (3, H, W)

    def image(self, path: str | Path) -> torch.Tensor:
        return self._to_tensor(self.open_image(path), self.aspect)

    def video(self, path: str | Path) -> torch.Tensor:
        return torch.stack([self._to_tensor(f, self.video_aspect) for f in self.frames(path)])   # (F, 3, H, W)

    def frames(self, path: str | Path) -> list[Image.Image]:
        """The sampled frames as PIL images, for families whose own image processor prepares them."""
        return [Image.fromarray(f) for f in read_video_frames(path, self.num_frames)]

    def clip(self, path: str | Path) -> Clip:
        """The sampled frames with their indices and the video's frame rate."""
        return read_video(path, self.num_frames)

    def open_image(self, path: str | Path | Image.Image) -> Image.Image:
        """An RGB PIL image (a file, or an image already in memory), with one-line errors naming the file."""
        if isinstance(path, Image.Image):
            return path.convert("RGB")
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except FileNotFoundError:
            raise MediaError(f"image {path} not found") from None
        except OSError as exc:
            raise MediaError(f"image {path} cannot be read ({exc})") from None
