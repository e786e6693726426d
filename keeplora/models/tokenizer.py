"""Tokenizers for tiny models built in-project: any text encodes, nothing is downloaded.

``tiny_tokenizer`` is byte-level with no merges (one token per byte): enough for random twins in tests.
``train_bpe_tokenizer`` learns subword merges on a corpus, as a real VLM's tokenizer has them: a model
that spells every answer one character per token shares its character circuitry across all tasks, so
whatever a new task changes there breaks every old answer — a failure no real checkpoint has.
"""
from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

__all__ = ["tiny_tokenizer", "train_bpe_tokenizer", "load_tiny_tokenizer", "SPECIALS"]

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>", "<video>"]
# Qwen2-VL's chat and vision markers, after the byte alphabet so that the ids above never move.
QWEN_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def _wrap(tok: Tokenizer) -> PreTrainedTokenizerFast:
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS + QWEN_SPECIALS)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", extra_special_tokens={"image_token": "<image>",
                                                                            "video_token": "<video>"})


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """GPT-2-style byte-level BPE with no merges: one token per byte, plus the specials above."""
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
    for t in QWEN_SPECIALS:
        vocab[t] = len(vocab)
    return _wrap(Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>")))


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on ``texts`` (deterministic for the same texts in the same order).

    The whole byte alphabet is in the vocabulary, so text the corpus never had still encodes; the
    specials keep the ids ``tiny_tokenizer`` gives them (``<image>`` is 4 in both)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS + QWEN_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return _wrap(tok)


def load_tiny_tokenizer(path: str | None) -> PreTrainedTokenizerFast:
    """The tokenizer of a tiny random config: a saved folder (``model.tokenizer``) or the byte-level one."""
    if path is None:
        return tiny_tokenizer()
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(path)
