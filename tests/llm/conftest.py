"""Fixtures of the causal-LM stage tests: the running-example toy graph with its linker and a
tiny random Llama causal LM (built in code, saved to a folder)."""

from __future__ import annotations

import pytest

from kgqa.utils.threads import torch_threads
from tests.conftest import build_graph

QUESTION = "A man dug the ground to plant flowers. What tool did he use?"
CHOICES = ["shovel", "hammer", "ladder"]


@pytest.fixture(scope="session")
def toy_kg(tmp_path_factory):
    return build_graph(tmp_path_factory.mktemp("llm_graph") / "toy")


@pytest.fixture(scope="session")
def toy_linker(toy_kg):
    from kgqa.linking.linker import load_linker

    return load_linker(toy_kg)


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    from kgqa.backbones.tiny import save_tiny_causal_lm

    return save_tiny_causal_lm("llama", tmp_path_factory.mktemp("llm_llama") / "llama")


@pytest.fixture(scope="session")
def tiny_llama(tiny_llama_dir):
    from kgqa.models.llm import load_causal_lm

    return load_causal_lm(str(tiny_llama_dir))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with torch_threads(1):
        yield
