"""Conversations to (text, is_answer) segments through the checkpoint's chat template.

The template is rendered once per turn boundary and the text is cut at the boundaries, so each segment
is tokenised on its own and the loss mask is exact by construction — no re-tokenisation of the joined
text that can drift (LLaVA's "tokenization mismatch" warning). The prompt a model sees at evaluation
is, token for token, the prompt it was trained on.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import UserError

__all__ = ["conversation_segments", "load_chat_template", "format_chat_template", "checkpoint_file",
           "split_placeholders", "PLACEHOLDER",
           "LLAVA_TINY_TEMPLATE", "QWEN_TINY_TEMPLATE", "INTERNVL_TINY_TEMPLATE", "GEMMA_TINY_TEMPLATE"]

PLACEHOLDER = re.compile(r"<(image|video)>")

# Tiny twins' templates, in the shape of the real checkpoints' ones (llava-hf's USER/ASSISTANT,
# Qwen's <|im_start|> turns); an answer ends with the end-of-sequence token so that generation stops.
LLAVA_TINY_TEMPLATE = (
    "{% for m in messages %}{% if m.role == 'system' %}{{ m.content[0].text }} "
    "{% elif m.role == 'user' %}USER: {% for c in m.content %}"
    "{% if c.type == 'text' %}{{ c.text }}{% else %}<{{ c.type }}>\n{% endif %}{% endfor %}"
    "{% if loop.last and add_generation_prompt %} ASSISTANT:{% endif %}"
    "{% else %} ASSISTANT: {{ m.content[0].text }}{{ eos_token }}{% endif %}{% endfor %}")
QWEN_TINY_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{% for c in m.content %}"
    "{% if c.type == 'text' %}{{ c.text }}{% else %}<|vision_start|><|{{ c.type }}_pad|><|vision_end|>{% endif %}"
    "{% endfor %}{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# InternVL3-hf: Qwen turns, ``<IMG_CONTEXT>``/``<video>`` on a line of their own.
INTERNVL_TINY_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{% for c in m.content %}"
    "{% if c.type == 'text' %}{{ c.text }}{% elif c.type == 'image' %}<IMG_CONTEXT>\n{% else %}<video>\n{% endif %}"
    "{% endfor %}{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# Gemma 3: user/model turns, the system prompt folded into the first user turn, ``<start_of_image>``.
GEMMA_TINY_TEMPLATE = (
    "{% set sys = messages[0].content[0].text + '\n\n' if messages[0].role == 'system' else '' %}"
    "{% for m in messages if m.role != 'system' %}<start_of_turn>{{ 'model' if m.role == 'assistant' else 'user' }}\n"
    "{% if loop.first %}{{ sys }}{% endif %}{% for c in m.content %}"
    "{% if c.type == 'text' %}{{ c.text }}{% else %}<start_of_image>{% endif %}{% endfor %}"
    "{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")


def checkpoint_file(src: str, name: str) -> Path | None:
    """A file of a local checkpoint directory or of a hub repo already in the local cache; None if absent."""
    local = Path(src) / name
    if local.is_file():
        return local
    try:
        from transformers.utils import cached_file
        found = cached_file(src, name, local_files_only=True, _raise_exceptions_for_missing_entries=False)
    except (OSError, ValueError):
        return None
    return Path(found) if found else None


def load_chat_template(src: str, tokenizer) -> str | None:
    """The checkpoint's chat template: the tokenizer's, else ``chat_template.jinja``/``.json`` (llava-hf)."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.chat_template
    if (f := checkpoint_file(src, "chat_template.jinja")) is not None:
        return f.read_text()
    if (f := checkpoint_file(src, "chat_template.json")) is not None:
        return json.loads(f.read_text()).get("chat_template")
    return None


def split_placeholders(text: str, strip: bool = True) -> list[tuple[str, str]]:
    """``"<image>\\nWhat?"`` → ``[("image", ""), ("text", "What?")]``; ``strip`` drops the whitespace around text."""
    out = []
    for i, part in enumerate(PLACEHOLDER.split(text)):      # text, kind, text, kind, …, text
        if i % 2:
            out.append((part, ""))
        elif (part.strip() if strip else part):
            out.append(("text", part.strip() if strip else part))
    return out


def _user_content(question: str) -> list[dict]:
    """Chat-template content parts: ``[{"type": "image"}, {"type": "text", "text": "What is it?"}]``."""
    return [{"type": kind} if kind != "text" else {"type": "text", "text": text}
            for kind, text in split_placeholders(question)]


def _render(tokenizer, template: str, messages: list[dict], generation: bool) -> str:
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=generation)


def _template_segments(tokenizer, template, system, turns, with_answers) -> list[tuple[str, bool]]:
    messages = [{"role": "system", "content": [{"type": "text", "text": system}]}] if system else []
    done, out = "", []
    for i, (question, answer) in enumerate(turns):
        messages.append({"role": "user", "content": _user_content(question)})
        text = _render(tokenizer, template, messages, generation=True)
        out.append((_after(done, text), False))
        if i == len(turns) - 1 and not with_answers:
            break
        messages.append({"role": "assistant", "content": [{"type": "text", "text": answer.strip()}]})
        done = _render(tokenizer, template, messages, generation=False)
        out.append((_ending(tokenizer, _after(text, done)), True))
    return out


def _after(prefix: str, text: str) -> str:
    if not text.startswith(prefix):
        raise UserError("the chat template renders a turn differently once the next one is added; set "
                        "model.prompt_template (a format string with {question}) to bypass it")
    return text[len(prefix):]


def _ending(tokenizer, answer_text: str) -> str:
    """Answers must end in the end-of-sequence token (llava-hf's template leaves a space instead)."""
    eos = tokenizer.eos_token
    return answer_text if eos in answer_text else answer_text.rstrip() + eos


def _format_segments(tokenizer, fmt: str, system, media_text: dict[str, str], turns, with_answers):
    """vicuna_v1 layout: ``SYSTEM USER: q ASSISTANT: a</s>USER: q2 ASSISTANT:``."""
    out = []
    for i, (question, answer) in enumerate(turns):
        question = "".join(text if kind == "text" else media_text[kind]
                           for kind, text in split_placeholders(question, strip=False))
        prefix = system + " " if system and i == 0 else ""
        out.append((prefix + fmt.format(question=question), False))
        if i == len(turns) - 1 and not with_answers:
            break
        out.append((" " + answer.strip() + tokenizer.eos_token, True))
    return out


def _literal(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}" if text else ""


def format_chat_template(prompt_format: str, system: str | None, media_text: dict[str, str]) -> str:
    """A recipe's ``prompt_template`` (+ ``system_prompt``) as a Jinja chat template, saved with every
    checkpoint so that any tool that prompts through ``apply_chat_template`` (vLLM, lmms-eval,
    ``pipeline``) prompts the model as it was trained: ``SYSTEM USER: <image>\nq ASSISTANT: a</s>USER: …``.

    Each media part is written as its placeholder and a newline, as LLaVA's data writes ``<image>\n``.
    """
    pre, _, post = prompt_format.partition("{question}")
    media = "".join(f"{{% {'if' if i == 0 else 'elif'} c.type == '{kind}' %}}{_literal(text + chr(10))}"
                    for i, (kind, text) in enumerate(media_text.items()))
    part = "{% if c.type == 'text' %}{{ c.text }}{% else %}" + media + "{% endif %}{% endif %}"
    question = "{% if m.content is string %}{{ m.content }}{% else %}{% for c in m.content %}" + part + \
               "{% endfor %}{% endif %}"
    default = "{% if loop.first %}" + _literal(system + " ") + "{% endif %}" if system else ""
    text = "(m.content if m.content is string else m.content[0].text)"
    return ("{% for m in messages %}{% if m.role == 'system' %}{{ " + text + " }} "
            "{% elif m.role == 'user' %}" + default + _literal(pre) + question + _literal(post) +
            "{% else %}{{ ' ' + " + text + " | trim + eos_token }}{% endif %}{% endfor %}")


def conversation_segments(tokenizer, turns: list[tuple[str, str]], *, template: str | None,
                          prompt_format: str, media_text: dict[str, str], system: str | None = None,
                          with_answers: bool = True) -> list[tuple[str, bool]]:
    """(text, is_answer) pieces of a whole conversation; without answers, it ends at the last prompt.

    ``prompt_format`` (a recipe's ``prompt_template`` or the family's default) is used when there is no
    chat template, or when the recipe sets one explicitly — e.g. LLaVA-1.5's vicuna_v1 system prompt.
    """
    if template is None:
        return _format_segments(tokenizer, prompt_format, system, media_text, turns, with_answers)
    return _template_segments(tokenizer, template, system, turns, with_answers)
