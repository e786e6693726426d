"""A byte-level tokenizer for tiny random models: any text encodes, nothing is downloaded."""
from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

__all__ = ["tiny_tokenizer", "SPECIALS"]

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>", "<video>"]
# Qwen2-VL's chat and vision markers, after the byte alphabet so that the ids above never move.
QWEN_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """GPT-2-style byte-level BPE with no merges: one token per byte, plus the specials above."""
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
    for t in QWEN_SPECIALS:
        vocab[t] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS + QWEN_SPECIALS)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", extra_special_tokens={"image_token": "<image>",
                                                                            "video_token": "<video>"})
    return fast
