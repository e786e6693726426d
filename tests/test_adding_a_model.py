"""The adapter in docs/adding_a_model.md, taken from the page as written, passes the conformance check."""
import importlib.util
import re

import pytest

from keeplora.models import MODELS

from .conftest import ROOT
from .test_model_conformance import run_task_cycle


@pytest.fixture
def internvl_from_the_docs(tmp_path):
    page = (ROOT / "docs/adding_a_model.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    module_file = tmp_path / "internvl.py"
    module_file.write_text("\n".join(line[3:] if line.startswith("   ") else line for line in code.splitlines()))
    spec = importlib.util.spec_from_file_location("docs_internvl", module_file)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))      # registers "internvl"
    yield "internvl"
    MODELS._items.pop("internvl")


def test_seventh_family_needs_only_its_adapter_file(internvl_from_the_docs, tmp_path):
    assert internvl_from_the_docs in MODELS
    run_task_cycle(internvl_from_the_docs, tmp_path)
