"""Damaged, hostile or half-saved checkpoints: coded errors naming the file, never wrong weights
or pickled code; files get the umask's mode; an interrupted save is recovered."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.training.checkpoint import (CHECKED_FILES, CONFIG_FILE, OPTIMIZER_FILE, RNG_FILE,
                                      STATE_FILE, WEIGHTS_FILE, Checkpoint, TrainState,
                                      interrupted_copies, record_checksums,
                                      recover_interrupted_save, save_checkpoint)
from kgqa.utils.io import sha256_file
from tests.conftest import REPO
from tests.training.test_checkpoint import _trained_toy
from tests.training.toys import ToyConfig, ToyModel


class _RunsCode:
    """Unpickling this runs ``touch <marker>``: what a hostile file would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _resumable(directory: Path, step: int = 3) -> Path:
    model, opt, sched, _ = _trained_toy()
    return save_checkpoint(directory, model=model, model_name="toy_mc", model_config=model.config,
                           state=TrainState(step=step), optimizer=opt, scheduler=sched)


def _fresh_optimizer():
    _, opt, sched, _ = _trained_toy(steps=0)
    return opt, sched


def _flip(path: Path, count: int) -> None:
    """Invert ``count`` bytes at the end of the file (tensor data; the size is unchanged)."""
    data = bytearray(path.read_bytes())
    for i in range(len(data) - count, len(data)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_checksums_are_recorded_for_every_file(tmp_path):
    path = _resumable(tmp_path / "last")
    files = json.loads((path / CONFIG_FILE).read_text())["files"]
    assert sorted(files) == sorted(CHECKED_FILES)
    for name, record in files.items():
        assert record == {"sha256": sha256_file(path / name), "bytes": (path / name).stat().st_size}
    ckpt = Checkpoint.load(path)
    ckpt.verify_all()
    opt, sched = _fresh_optimizer()
    assert ckpt.load_training(opt, sched).step == 3


def test_flipped_weights_are_an_error_naming_the_file(tmp_path):
    path = _resumable(tmp_path / "best")
    _flip(path / WEIGHTS_FILE, 16)
    ckpt = Checkpoint.load(path)  # config and state are fine
    model = ToyModel(ToyConfig(dropout=0.0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(KGQAError, match=r"\[E120\] Checkpoint file '.*best/model.safetensors' is "
                                        r"damaged: its sha256 is .*\(bytes changed on disk\).*"
                                        r"Restore the file from a copy"):
        ckpt.load_weights(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched


def test_truncated_or_pickled_weights_are_errors(tmp_path):
    path = _resumable(tmp_path / "c")
    size = (path / WEIGHTS_FILE).stat().st_size
    (path / WEIGHTS_FILE).write_bytes((path / WEIGHTS_FILE).read_bytes()[:size // 2])
    with pytest.raises(KGQAError, match=rf"\[E120\].*model.safetensors' is damaged: it has "
                                        rf"{size // 2:,} bytes but {size:,} were written"):
        Checkpoint.load(path).load_weights(ToyModel())
    # without recorded checksums (an older checkpoint) the reader itself refuses the file
    meta = json.loads((path / CONFIG_FILE).read_text())
    del meta["files"]
    (path / CONFIG_FILE).write_text(json.dumps(meta))
    marker = tmp_path / "ran"
    for content in ((path / WEIGHTS_FILE).read_bytes(), pickle.dumps(_RunsCode(marker))):
        (path / WEIGHTS_FILE).write_bytes(content)
        with pytest.warns(UserWarning, match=r"\[W122\].*records no checksums"):
            ckpt = Checkpoint.load(path)
        with pytest.raises(KGQAError, match=r"\[E120\].*model.safetensors' is damaged: it is not a "
                                            r"readable safetensors file \(SafetensorError"):
            ckpt.load_weights(ToyModel())
    assert not marker.exists()


def test_config_without_model_config_is_an_error(tmp_path):
    path = _resumable(tmp_path / "c")
    meta = json.loads((path / CONFIG_FILE).read_text())
    del meta["model_config"]
    (path / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(KGQAError, match=r"\[E031\].*config.json key 'model_config' is missing"):
        Checkpoint.load(path)
    (path / CONFIG_FILE).write_text("[1, 2]")
    with pytest.raises(KGQAError, match=r"\[E031\].*holds list, not a JSON object"):
        Checkpoint.load(path)


def test_changed_trainer_state_is_an_error(tmp_path):
    path = _resumable(tmp_path / "last", step=3)
    text = (path / STATE_FILE).read_text()
    (path / STATE_FILE).write_text(text.replace('"step": 3', '"step": 9'))
    with pytest.raises(KGQAError, match=r"\[E120\].*trainer_state.json' is damaged"):
        Checkpoint.load(path)


@pytest.mark.parametrize("name", [OPTIMIZER_FILE, RNG_FILE])
def test_truncated_training_state_is_an_error(tmp_path, name):
    path = _resumable(tmp_path / "last")
    (path / name).write_bytes((path / name).read_bytes()[:100])
    opt, sched = _fresh_optimizer()
    with pytest.raises(KGQAError, match=rf"\[E120\].*{name}' is damaged: it has 100 bytes"):
        Checkpoint.load(path).load_training(opt, sched)
    assert opt.state_dict()["state"] == {}  # nothing was restored


@pytest.mark.parametrize("name", [OPTIMIZER_FILE, RNG_FILE])
def test_pickled_code_in_training_state_is_refused_without_unsafe_advice(tmp_path, name):
    path = _resumable(tmp_path / "last")
    marker = tmp_path / "ran"
    torch.save({"optimizer": {}, "payload": _RunsCode(marker)}, path / name)
    record_checksums(path)  # whoever swapped the file also updated config.json
    opt, sched = _fresh_optimizer()
    with pytest.raises(KGQAError) as info:
        Checkpoint.load(path).load_training(opt, sched)
    message = str(info.value)
    assert message.startswith("[E120]") and f"{name}' is damaged" in message
    assert "not a plain tensor file" in message and "posix.system" in message
    assert "weights_only" not in message and "weights only" not in message.lower()
    assert not marker.exists() and opt.state_dict()["state"] == {}


def test_optimizer_state_of_another_model_is_an_error(tmp_path):
    path = _resumable(tmp_path / "last")
    other = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(KGQAError, match=r"\[E031\].*training state does not fit this run"):
        Checkpoint.load(path).load_training(other)


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_checkpoint_files_get_the_umask_mode(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        path = _resumable(tmp_path / "last")
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == dir_mode
    modes = {p.name: p.stat().st_mode & 0o777 for p in path.iterdir()}
    assert modes == {name: file_mode for name in (*CHECKED_FILES, CONFIG_FILE)}


def test_missing_checkpoint_is_recovered_from_the_copy_an_interrupted_save_left(tmp_path):
    last = _resumable(tmp_path / "last", step=3)
    copy = tmp_path / ".last.old-4242"
    os.replace(last, copy)  # what a kill between atomic_directory's two renames leaves
    with pytest.raises(KGQAError, match=r"\[E031\].*no such directory \(an interrupted save left "
                                        r"the previous copy at '.*\.last\.old-4242'"):
        Checkpoint.load(last)
    with pytest.warns(UserWarning, match=r"\[W121\].*last' was missing.*\.last\.old-4242' \(step 3\)"):
        assert recover_interrupted_save(last) == last
    assert Checkpoint.load(last).state.step == 3 and not copy.exists()
    assert recover_interrupted_save(last) is None  # present: nothing to do


def test_a_damaged_copy_is_not_recovered(tmp_path):
    last = _resumable(tmp_path / "last")
    copy = tmp_path / ".last.old-99"
    os.replace(last, copy)
    _flip(copy / WEIGHTS_FILE, 4)
    assert recover_interrupted_save(last) is None
    assert not last.exists() and copy.exists()


_KILLED_SAVE = """
import os, signal, sys
from pathlib import Path
import torch
from kgqa.training.checkpoint import TrainState, save_checkpoint

target = Path(sys.argv[1])
model = torch.nn.Linear(4, 1)
opt = torch.optim.AdamW(model.parameters())
save_checkpoint(target, model=model, model_name="toy_mc", state=TrainState(step=1), optimizer=opt)
rename = os.replace

def replace_then_die(src, dst):
    rename(src, dst)
    if ".old-" in str(dst):  # the old copy is moved aside, the new one not yet in place
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace_then_die
save_checkpoint(target, model=model, model_name="toy_mc", state=TrainState(step=2), optimizer=opt)
"""


def test_save_killed_between_its_renames_is_recovered(tmp_path):
    target = tmp_path / "checkpoints" / "last"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(target)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not target.exists() and len(interrupted_copies(target)) == 1
    with pytest.warns(UserWarning, match=r"\[W121\].*\(step 1\)"):
        recover_interrupted_save(target)
    ckpt = Checkpoint.load(target)
    ckpt.verify_all()
    assert ckpt.state.step == 1 and ckpt.can_resume


def test_export_stores_half_precision_weights_that_load_into_the_model(tmp_path):
    """`kgqa export --dtype float16`: half the bytes, the README beside it kept, checksums of
    the new file recorded, and the loaded model within float16 rounding of the original."""
    from kgqa.models import build_model
    from kgqa.training.checkpoint import Checkpoint, export_checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = build_model("lm", {"lm_hidden_size": 4096})
    src = save_checkpoint(tmp_path / "run", model=model, model_name="lm", model_config=model.config)
    out = tmp_path / "ship"
    out.mkdir()
    (out / "README.md").write_text("shipped\n")
    export_checkpoint(src, out, dtype="float16")
    assert (out / "README.md").read_text() == "shipped\n"
    assert not (out / "optimizer.bin").exists()
    full = (src / "model.safetensors").stat().st_size
    half = (out / "model.safetensors").stat().st_size
    assert half < 0.6 * full
    shipped = Checkpoint.load(out)
    assert shipped.meta["export"]["dtype"] == "float16"
    copy = build_model("lm", {"lm_hidden_size": 4096})
    shipped.load_weights(copy)
    for (name, a), (_, b) in zip(model.state_dict().items(), copy.state_dict().items()):
        assert b.dtype == a.dtype, name
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), name
    (out / "model.safetensors").write_bytes(b"\0" * half)
    with pytest.raises(KGQAError, match="E120"):
        Checkpoint.load(out).load_weights(copy)


@pytest.mark.parametrize("weights", ["all", "trainable"])
def test_int8_export_is_a_quarter_of_float32_and_loads_within_a_quantisation_step(tmp_path, weights):
    """`kgqa export --dtype int8`: weight matrices int8 with per-row scales, the rest float16;
    re-exporting the int8 copy as float16 starts from its dequantised weights."""
    from kgqa.models import build_model
    from kgqa.training.checkpoint import Checkpoint, export_checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = build_model("lm", {"lm_hidden_size": 256, "scorer_hidden": 256})
    src = save_checkpoint(tmp_path / "run", model=model, model_name="lm", model_config=model.config,
                          weights=weights)
    export_checkpoint(src, tmp_path / "int8", dtype="int8")
    full = (src / "model.safetensors").stat().st_size
    assert (tmp_path / "int8" / "model.safetensors").stat().st_size < 0.3 * full
    shipped = Checkpoint.load(tmp_path / "int8")
    assert shipped.meta["export"]["dtype"] == "int8"
    copy = build_model("lm", {"lm_hidden_size": 256, "scorer_hidden": 256})
    shipped.load_weights(copy)
    for (name, a), (_, b) in zip(model.state_dict().items(), copy.state_dict().items()):
        assert b.dtype == a.dtype == torch.float32, name
        step = a.abs().amax(dim=-1, keepdim=True) / 127 if a.dim() == 2 else a.abs().max() / 1000
        assert torch.all((a - b).abs() <= step / 2 + 1e-6), name
    export_checkpoint(tmp_path / "int8", tmp_path / "half", dtype="float16")
    again = build_model("lm", {"lm_hidden_size": 256, "scorer_hidden": 256})
    Checkpoint.load(tmp_path / "half").load_weights(again)
    for (name, a), (_, b) in zip(copy.state_dict().items(), again.state_dict().items()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), name


def test_int8_export_stores_differences_from_the_weights_the_loading_model_is_built_with(tmp_path):
    """``base`` (e.g. a packaged backbone's weights): its matrices go in as int8 differences,
    ``export.delta_base`` records their sha256, and loading adds them to the model's own weights;
    a model built with other weights is refused rather than silently given wrong ones."""
    from kgqa.models import build_model
    from kgqa.training.checkpoint import Checkpoint, export_checkpoint, save_checkpoint

    kwargs = {"lm_hidden_size": 256, "scorer_hidden": 256}
    torch.manual_seed(0)
    pretrained = build_model("lm", kwargs)  # stands for the weights a backbone package ships
    base = {"scorer.layers.0.weight": pretrained.scorer.layers[0].weight.detach().clone()}
    model = build_model("lm", kwargs)
    model.load_state_dict(pretrained.state_dict())
    with torch.no_grad():
        model.scorer.layers[0].weight.add_(1e-3 * torch.randn(256, 256))  # "fine-tuned"
    src = save_checkpoint(tmp_path / "run", model=model, model_name="lm", model_config=model.config)
    export_checkpoint(src, tmp_path / "delta", dtype="int8", base=base, base_source="the toy base")
    export_checkpoint(src, tmp_path / "plain", dtype="int8", base=base, delta=False)
    meta = Checkpoint.load(tmp_path / "delta").meta
    assert meta["export"]["delta_base"]["source"] == "the toy base"
    assert meta["export"]["delta_base"]["matrices"] == 1
    assert "delta_base" not in Checkpoint.load(tmp_path / "plain").meta["export"]
    size = (tmp_path / "plain" / "model.safetensors").stat().st_size
    assert abs((tmp_path / "delta" / "model.safetensors").stat().st_size - size) < 512

    def loaded(folder):
        copy = build_model("lm", kwargs)
        copy.load_state_dict(pretrained.state_dict())  # the loader builds the model over the base
        Checkpoint.load(folder).load_weights(copy)
        return copy.scorer.layers[0].weight

    want = model.scorer.layers[0].weight
    delta_err = (loaded(tmp_path / "delta") - want).abs().max()
    plain_err = (loaded(tmp_path / "plain") - want).abs().max()
    assert delta_err <= (want - base["scorer.layers.0.weight"]).abs().max() / 254 + 1e-7
    assert delta_err < plain_err / 10
    other = build_model("lm", kwargs)  # another base: refused, the model untouched
    before = other.scorer.layers[0].weight.detach().clone()
    with pytest.raises(KGQAError, match=r"E031.*differences from the toy base"):
        Checkpoint.load(tmp_path / "delta").load_weights(other)
    assert torch.equal(other.scorer.layers[0].weight, before)
    # re-exporting needs the base too; with it, the float16 copy is the same model
    with pytest.raises(KGQAError, match="E031.*exporting it again needs those weights"):
        export_checkpoint(tmp_path / "delta", tmp_path / "half", dtype="float16")
    wrong = {name: value + 1e-3 for name, value in base.items()}
    with pytest.raises(KGQAError, match=r"E031.*differences from the toy base.*sha256 differs"):
        export_checkpoint(tmp_path / "delta", tmp_path / "wrong", dtype="float16", base=wrong)
    assert not (tmp_path / "wrong").exists()
    export_checkpoint(tmp_path / "delta", tmp_path / "half", dtype="float16", base=base)
    assert torch.allclose(loaded(tmp_path / "half"), want, atol=1e-3)


def test_int8_export_of_a_model_with_tied_weights_loads_and_stays_tied(tmp_path):
    """save_model stores one name per shared storage; the int8 load fills the other names in."""
    from kgqa.models import build_model
    from kgqa.training.checkpoint import Checkpoint, export_checkpoint, save_checkpoint

    kwargs = {"lm_hidden_size": 256, "scorer_hidden": 256, "prior": "cosine", "prior_adapter": 256}

    def tied(seed):
        torch.manual_seed(seed)
        model = build_model("lm", kwargs)
        model.scorer.layers[0].weight = model.prior.adapter.layers[0].weight
        return model

    model = tied(0)
    with torch.no_grad():
        model.prior.adapter.layers[0].weight.normal_()
    src = save_checkpoint(tmp_path / "run", model=model, model_name="lm", model_config=model.config)
    export_checkpoint(src, tmp_path / "int8", dtype="int8")
    copy = tied(1)
    Checkpoint.load(tmp_path / "int8").load_weights(copy)
    assert copy.scorer.layers[0].weight is copy.prior.adapter.layers[0].weight
    a, b = model.scorer.layers[0].weight, copy.scorer.layers[0].weight
    step = a.abs().amax(dim=-1, keepdim=True) / 127
    assert torch.all((a - b).abs() <= step / 2 + 1e-6)
    assert not torch.equal(b, tied(1).scorer.layers[0].weight)


def test_trainable_only_checkpoint_of_a_model_with_tied_trainable_weights_round_trips(tmp_path):
    """``weights: trainable`` saves a tied parameter once (named_parameters lists one name per
    Parameter) and loading it restores both places; frozen weights stay as the copy was built."""
    from kgqa.models import build_model
    from kgqa.training.checkpoint import Checkpoint, save_checkpoint
    from safetensors.torch import load_file

    kwargs = {"lm_hidden_size": 256, "scorer_hidden": 256, "prior": "cosine", "prior_adapter": 256}

    def tied(seed):
        torch.manual_seed(seed)
        model = build_model("lm", kwargs)
        model.scorer.layers[0].weight = model.prior.adapter.layers[0].weight
        model.prior.log_scale.requires_grad_(False)  # a frozen parameter: not in the file
        return model

    model = tied(0)
    with torch.no_grad():
        model.prior.adapter.layers[0].weight.normal_()
        model.prior.log_scale.fill_(0.5)
    src = save_checkpoint(tmp_path / "run", model=model, model_name="lm", model_config=model.config,
                          weights="trainable")
    names = set(load_file(str(src / "model.safetensors")))
    assert "prior.log_scale" not in names
    assert len({"scorer.layers.0.weight", "prior.adapter.layers.0.weight"} & names) == 1
    copy = tied(1)
    Checkpoint.load(src).load_weights(copy)
    assert copy.scorer.layers[0].weight is copy.prior.adapter.layers[0].weight
    assert torch.equal(copy.scorer.layers[0].weight, model.scorer.layers[0].weight)
    assert copy.prior.log_scale.item() == tied(1).prior.log_scale.item() != 0.5
