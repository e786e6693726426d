"""lmms-eval requests ↔ this project's samples (no lmms-eval import, so it is testable anywhere)."""
from __future__ import annotations

from PIL import Image

from keeplora.data import Sample
from keeplora.data.chat import PLACEHOLDER

__all__ = ["request_sample", "cut_at"]


def request_sample(index: int, context: str, visuals: list) -> Sample:
    """A generation request as a Sample: PIL images → ``<image>``, file paths → ``<video>``, prepended
    (LLaVA's convention) when the context has no placeholders of its own."""
    media = [("image" if isinstance(v, Image.Image) else "video", v) for v in visuals]
    if media and not PLACEHOLDER.search(context):
        context = "".join(f"<{kind}>\n" for kind, _ in media) + context
    return Sample(str(index), [(context, "")], media, [""])


def cut_at(text: str, until: list[str]) -> str:
    """The text before the first stop string (lmms-eval's ``until``)."""
    for stop in until:
        if stop and stop in text:
            text = text.split(stop, 1)[0]
    return text
