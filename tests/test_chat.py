"""Conversation rendering: chat-template and format-string paths, exact answer masks, end tokens."""
import pytest

from keeplora.data.chat import LLAVA_TINY_TEMPLATE, QWEN_TINY_TEMPLATE, conversation_segments, format_chat_template
from keeplora.errors import UserError
from keeplora.models.tokenizer import tiny_tokenizer

# llava-hf's llava-1.5 chat template (images first, then text; the answer ends with a space, no </s>).
LLAVA_HF_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}"
    "{% endif %}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}"
    "{% endfor %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}")
MEDIA = {"image": "<image>", "video": "<video>"}
TURNS = [("<image>\nWhat colour?", "red"), ("And the shape?", "a circle")]


def _segments(template, turns=TURNS, with_answers=True, fmt="USER: {question} ASSISTANT:", system=None):
    return conversation_segments(tiny_tokenizer(), turns, template=template, prompt_format=fmt, media_text=MEDIA,
                                 system=system, with_answers=with_answers)


def test_tiny_template_renders_what_the_vicuna_format_string_renders():
    assert _segments(LLAVA_TINY_TEMPLATE) == _segments(None) == [
        ("USER: <image>\nWhat colour? ASSISTANT:", False), (" red</s>", True),
        ("USER: And the shape? ASSISTANT:", False), (" a circle</s>", True)]


def test_system_prompt_comes_once_before_the_first_turn():
    segs = _segments(None, system="A chat.")
    assert segs[0][0].startswith("A chat. USER:") and not segs[2][0].startswith("A chat.")
    assert _segments(LLAVA_TINY_TEMPLATE, system="A chat.") == segs


@pytest.mark.parametrize("fmt, default_system, given_system", [
    ("USER: {question} ASSISTANT:", "A chat between a curious user and an assistant.", None),
    ("USER: {question} ASSISTANT:", "A chat.", "Answer in one word."),      # a sample's own system turn wins
    ("<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n", None, None),
    ("Q: {question} A:", "{% if x %} {{ y }}", None)])                       # template syntax stays literal
@pytest.mark.parametrize("with_answers", [True, False])
def test_a_prompt_template_saved_as_a_chat_template_renders_the_training_prompt(fmt, default_system, given_system,
                                                                                with_answers):
    """What ``apply_chat_template`` on a saved checkpoint renders is, character for character, the
    format-string prompt the model was trained on."""
    template = format_chat_template(fmt, default_system, MEDIA)
    trained = _segments(None, with_answers=with_answers, fmt=fmt, system=given_system or default_system)
    rendered = _segments(template, with_answers=with_answers, system=given_system)
    assert "".join(t for t, _ in rendered) == "".join(t for t, _ in trained)


def test_llava_hf_template_gets_an_end_of_sequence_token_after_each_answer():
    segs = _segments(LLAVA_HF_TEMPLATE)
    assert segs[0] == ("USER: <image>\nWhat colour? ASSISTANT:", False)
    assert segs[1] == (" red</s>", True)                         # "red " → "red" + eos
    assert segs[2] == ("USER: And the shape? ASSISTANT:", False)


def test_generation_prompt_stops_at_the_last_question_and_keeps_earlier_answers():
    segs = _segments(QWEN_TINY_TEMPLATE, with_answers=False)
    assert [s[1] for s in segs] == [False, True, False]
    assert segs[-1][0].endswith("<|im_start|>assistant\n")
    assert "<|vision_start|><|image_pad|><|vision_end|>What colour?" in segs[0][0]


def test_qwen_format_string_wraps_media_like_its_template():
    media = {k: f"<|vision_start|><|{k}_pad|><|vision_end|>" for k in ("image", "video")}
    segs = conversation_segments(tiny_tokenizer(), TURNS[:1], template=None, media_text=media,
                                 prompt_format="<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n")
    assert segs[0][0].startswith("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>\nWhat colour?")


def test_a_template_that_rewrites_earlier_turns_is_refused():
    unstable = "{{ messages | length }}{% for m in messages %}{{ m.role }}{% endfor %}"
    with pytest.raises(UserError, match="model.prompt_template"):
        _segments(unstable)
