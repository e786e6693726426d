"""The adapter in docs/adding_a_model.md, taken from the page as written, passes the conformance check."""
import importlib.util
import re

import pytest

from keeplora.models import MODELS

from .conftest import ROOT
from .test_model_conformance import run_task_cycle


@pytest.fixture
def family_from_the_docs(tmp_path):
    page = (ROOT / "docs/adding_a_model.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    module_file = tmp_path / "deepseek_vl.py"
    module_file.write_text("\n".join(line[3:] if line.startswith("   ") else line for line in code.splitlines()))
    spec = importlib.util.spec_from_file_location("docs_deepseek_vl", module_file)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))      # registers "deepseek_vl"
    yield "deepseek_vl"
    MODELS._items.pop("deepseek_vl")


def test_a_new_family_needs_only_its_adapter_file(family_from_the_docs, tmp_path):
    assert family_from_the_docs in MODELS
    run_task_cycle(family_from_the_docs, tmp_path)
