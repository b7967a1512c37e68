"""Two CPU processes (``torch.distributed.run``, gloo) through the training loop, as
``accelerate launch --multi_gpu`` runs it on GPUs: DDP-wrapped by the runner's accelerator."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
import torch
from kgqa.training.collate import QACollator, SplitLoader
from kgqa.training.config import TrainingConfig
from kgqa.training.loop import train
from kgqa.training.runner import make_accelerator
from tests.training.toys import ToyConfig, ToyModel, synthetic_split

acc = make_accelerator("no")
torch.manual_seed(0)
train_ds, states = synthetic_split(60, split="train", seed=1)  # 8 batches of 8, the last of 4
model = ToyModel(ToyConfig(dropout=0.0))  # its graph weight gets no gradient without graphs
loader = SplitLoader(QACollator(train_ds.examples, "train", lm_states=states), len(train_ds),
                     batch_size=8, seed=0, num_shards=acc.num_processes, shard=acc.process_index,
                     drop_uneven=True, micro_batch_size=3)
settings = TrainingConfig(epochs=1, batch_size=8, lr=0.05, patience=None, micro_batch_size=3)
optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr)
model, optimizer = acc.prepare(model, optimizer)
state = train(model, train_loader=loader, dev_loader=None, optimizer=optimizer, scheduler=None,
              settings=settings, accelerator=acc)
weights = torch.cat([p.detach().flatten() for p in acc.unwrap_model(model).parameters()])
with open(f"rank{acc.process_index}.json", "w") as out:  # not stdout: the two would interleave
    json.dump({"rank": acc.process_index, "world": acc.num_processes, "steps": state.step,
               "ddp": type(model).__name__, "micro": [len(s) for s in loader.step_batches(0)],
               "weights": weights.tolist()}, out)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_with_micro_batches_and_an_unused_parameter(tmp_path):
    """Shard 1's last batch is short (4 questions: 2 micro-batches against shard 0's 3), so the
    loop's per-step collective calls must not depend on the number of micro-batches; the toy's
    unused parameter needs ``find_unused_parameters`` (as an LM-freeze phase does). Both
    processes finish the epoch with the same, trained weights."""
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(probe)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1] and {r["world"] for r in ranks} == {2}
    assert {r["ddp"] for r in ranks} == {"DistributedDataParallel"}
    assert [r["steps"] for r in ranks] == [4, 4]
    assert ranks[0]["micro"] == [3, 3, 3, 3] and ranks[1]["micro"] == [3, 3, 3, 2]
    assert ranks[0]["weights"] == pytest.approx(ranks[1]["weights"], abs=1e-7)
    assert any(abs(w) > 1e-3 for w in ranks[0]["weights"])
