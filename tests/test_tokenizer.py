"""The in-project tokenizers: byte-level for random twins, BPE trained on a corpus for the TinyCL-VL base."""
from keeplora.config import ModelCfg
from keeplora.models import get_adapter
from keeplora.models.tokenizer import SPECIALS, tiny_tokenizer, train_bpe_tokenizer

CORPUS = ["What item of clothing is this? Answer with a single word.", "sneaker", "ankle boot", "a red circle",
          "What is the sum of the two digits?", "twelve"] * 20


def test_bpe_keeps_special_ids_encodes_any_text_and_merges_words():
    bpe, byte = train_bpe_tokenizer(CORPUS, vocab_size=400), tiny_tokenizer()
    assert [bpe.convert_tokens_to_ids(t) for t in SPECIALS] == [byte.convert_tokens_to_ids(t) for t in SPECIALS]
    assert len(bpe("sneaker")["input_ids"]) == 1 < len(byte("sneaker")["input_ids"])
    for text in ("zebra élan 42 [0.1, 0.9]", "日本"):            # never in the corpus: still round-trips
        assert bpe.decode(bpe(text)["input_ids"]) == text
    assert train_bpe_tokenizer(CORPUS, vocab_size=400).get_vocab() == bpe.get_vocab()     # deterministic


def test_tiny_twin_builds_on_a_saved_tokenizer(tmp_path):
    train_bpe_tokenizer(CORPUS, vocab_size=400).save_pretrained(tmp_path / "tok")
    cfg = ModelCfg(family="video_llava", tokenizer=str(tmp_path / "tok"), tiny={"hidden_size": 32, "num_layers": 2})
    loaded = get_adapter("video_llava").load(cfg)
    assert loaded.model.config.text_config.vocab_size == len(loaded.tokenizer) > len(tiny_tokenizer())
    assert loaded.model.config.image_token_index == loaded.tokenizer.convert_tokens_to_ids("<image>")
