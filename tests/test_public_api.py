"""The public names of kgqa stay what they are, whatever was imported before."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys

import kgqa
from kgqa.backbones.tiny import save_tiny_backbone
from tests.conftest import REPO, build_graph

SEQUENCES = """
import json, sys
import kgqa
model, graph = sys.argv[1], sys.argv[2]
out = {}
first = kgqa.embed(['x'], model=model, graph=graph, kind='lm')
second = kgqa.embed(['x'], model=model, graph=graph, kind='lm')   # was: 'module' object is not callable
out['twice'] = [list(first.vectors.shape), bool((first.vectors == second.vectors).all())]
out['encoder'] = kgqa.Encoder.__name__
out['after_encoder'] = type(kgqa.embed).__name__
from kgqa import embed
out['from_import'] = type(embed).__name__
out['embed_after_from'] = list(embed(['x'], model=model, graph=graph, kind='lm').vectors.shape)
print(json.dumps(out))
"""

ENCODER_FIRST = """
import sys
import kgqa
kgqa.Encoder                                                          # was: embed broke from here on
print(kgqa.embed(['x'], model=sys.argv[1], graph=sys.argv[2], kind='lm').vectors.shape)
"""


def _run(script: str, *args) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_embed_stays_a_function_in_a_fresh_process(tmp_path):
    graph = build_graph(tmp_path / "toy")
    bert = save_tiny_backbone("bert", tmp_path / "bert")
    out = json.loads(_run(SEQUENCES, bert, graph.path))
    assert out == {"twice": [[1, 32], True], "encoder": "Encoder", "after_encoder": "function",
                   "from_import": "function", "embed_after_from": [1, 32]}
    assert _run(ENCODER_FIRST, bert, graph.path) == "(1, 32)"


def test_no_lazy_name_is_also_a_submodule():
    """A package's lazy ``__getattr__`` name equal to a submodule's name is replaced by the module
    as soon as that submodule is imported (``kgqa.embed``, ``kgqa.explain.answer`` did that)."""
    clashes = []
    packages = [kgqa] + [importlib.import_module(f"kgqa.{m.name}") for m in pkgutil.iter_modules(kgqa.__path__)
                         if m.ispkg]
    for package in packages:
        submodules = {m.name for m in pkgutil.iter_modules(package.__path__)}
        clashes += [f"{package.__name__}.{name}" for name in getattr(package, "__all__", ()) if name in submodules]
    assert clashes == []
