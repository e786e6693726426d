"""A general English text for likelihood scoring, from what every Python ships: the Python reference
manual's prose (``pydoc_data.topics``: the topic pages ``help()`` shows), code and grammar lines dropped.

    python -m data_prep.english_text [--out data/general/english.txt] [--chars 120000]

The real-weights track's general suite scores the language model's likelihood of it after every task
(``scorer: text_likelihood``): knowledge of English that no task trains, measured without generation.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

__all__ = ["english_prose", "main"]

_HEADING = re.compile(r"^[=*\-~^]{3,}$")


def english_prose(chars: int = 120_000) -> str:
    """Paragraphs of unindented prose from the topic pages, in sorted topic order (deterministic for one
    Python version), cut at a paragraph boundary after ``chars`` characters."""
    from pydoc_data.topics import topics
    out, size = [], 0
    for name in sorted(topics):
        for para in re.split(r"\n\s*\n", topics[name]):
            lines = para.splitlines()
            if not lines or any(line.startswith((" ", "\t")) or _HEADING.match(line) for line in lines):
                continue
            text = " ".join(line.strip() for line in lines)
            if len(text) < 80 or not text[0].isalpha() or text.count("`") > 4:
                continue
            out.append(text)
            size += len(text) + 2
            if size >= chars:
                return "\n\n".join(out) + "\n"
    return "\n\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/general/english.txt")
    ap.add_argument("--chars", type=int, default=120_000)
    args = ap.parse_args(argv)
    text = english_prose(args.chars)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"{args.out}: {len(text)} characters of English prose from pydoc_data.topics")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
