"""Experiment configs: validation errors name the file, the line and the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kgqa.errors import KGQAError
from kgqa.training.config import ExperimentConfig, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
name: csqa_lm_frozen_tiny
regime: frozen
seeds: [0, 1]
dataset: {name: csqa}
backbone:
  name: minilm
  max_length: 64
model:
  name: lm
  kwargs: {dropout: 0.2}
training:
  epochs: 3
  lr: 1.0e-3
reported:
  metadata: {title: "QA-GNN", year: 2021}
  results: {ih_dev: 73.07, ih_test: 68.69}
"""


def _write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_good_config_loads_with_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, GOOD))
    assert cfg.seeds == [0, 1] and cfg.backbone.max_length == 64
    assert cfg.training.batch_size == 32 and cfg.training.lm_lr == 2e-5  # defaults
    assert cfg.dataset.train_split == "ih_train" and cfg.dataset.test_split == "ih_test"
    assert cfg.reported.results == {"ih_dev": 73.07, "ih_test": 68.69}
    assert ExperimentConfig.model_validate(cfg.to_dict()) == cfg


def test_missing_config_file_says_it_is_the_experiment_config(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(KGQAError, match=r"\[E016\] Experiment config not found: .*nope\.yaml"):
        load_config(missing)


def test_choice_pooling_is_refused_in_the_partial_regime(tmp_path):
    text = GOOD.replace("regime: frozen", "regime: partial").replace(
        "  max_length: 64", "  max_length: 64\n  train_layers: 1\n  pooling: choice")
    with pytest.raises(KGQAError, match=r"\[E030\].*pooling 'choice' is not available in regime "
                                        r"'partial'"):
        load_config(_write(tmp_path, text))
    assert load_config(_write(tmp_path, GOOD.replace(
        "  max_length: 64", "  max_length: 64\n  pooling: choice"))).backbone.pooling == "choice"


def test_unknown_key_names_file_line_and_key(tmp_path):
    path = _write(tmp_path, GOOD.replace("  epochs: 3", "  epochz: 3"))
    with pytest.raises(KGQAError, match=rf"\[E030\] Experiment config {path}:12: "
                                        r"\(training.epochz\): unknown key"):
        load_config(path)


#: (text replaced in GOOD, its replacement, the error after "<path>:") - each names line and key.
BAD_VALUES = [
    ("max_length: 64", "max_length: 2",
     r"7: \(backbone.max_length\): Input should be greater than or equal to 8"),
    ("regime: frozen", "regime: frozn", r"2: \(regime\): Input should be 'finetune', 'frozen', 'partial', 'lora' or 'zeroshot'"),
    ("name: lm", "name: lmm", r"9: \(model.name\): unknown model 'lmm'"),
    ("{dropout: 0.2}", "{dropout: 0.2, hiden: 3}",
     r"10: \(model.kwargs.hiden\): 'hiden' is not a setting of model 'lm'"),
    # numbers must be finite, model kwargs of the field's type and range (not torch's ValueError)
    ("lr: 1.0e-3", "lr: .inf", r"13: \(training.lr\): Input should be a finite number"),
    ("lr: 1.0e-3", "lr: .nan", r"13: \(training.lr\): Input should be a finite number"),
    ("  lr: 1.0e-3", "  lr: 1.0e-3\n  max_minutes: .inf",
     r"14: \(training.max_minutes\): Input should be a finite number"),
    ("{dropout: 0.2}", "{dropout: 7}",
     r"10: \(model.kwargs.dropout\): is a dropout probability: it must be between 0 and 1, got 7"),
    ("{dropout: 0.2}", "{dropout: .inf}", r"10: \(model.kwargs.dropout\): must be a finite number"),
    ("{dropout: 0.2}", "{dropout: high}", r"10: \(model.kwargs.dropout\): must be a number, got 'high'"),
    ("{dropout: 0.2}", "{scorer_hidden: -3}", r"10: \(model.kwargs.scorer_hidden\): must be >= 0"),
    ("{dropout: 0.2}", "{scorer_hidden: 2.5}",
     r"10: \(model.kwargs.scorer_hidden\): must be an integer, got 2.5"),
]


@pytest.mark.parametrize("old, new, problem", BAD_VALUES)
def test_bad_value_names_the_line_and_key(tmp_path, old, new, problem):
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(KGQAError, match=re.escape(f"{path}:") + problem):
        load_config(path)


def test_graph_settings_a_model_will_not_use_are_a_warning(tmp_path):
    import warnings

    lm = GOOD.replace("dataset: {name: csqa}", "dataset: {name: csqa}\ngraph: {name: default}")
    with pytest.warns(UserWarning, match=re.escape("[W120] Experiment config ") + r".*exp.yaml:5 "
                      r"\(graph\): not used by model 'lm', which reads no knowledge graph"):
        load_config(_write(tmp_path, lm))
    ernie = lm.replace("name: lm", "name: ernie").replace("{dropout: 0.2}", "{}").replace(
        "regime: frozen", "regime: finetune").replace("{name: default}",
                                                      "{name: default, retrieval: {max_nodes: 50}}")
    with pytest.warns(UserWarning, match=r"\[W120\].*\(graph.retrieval\): not used by model "
                                         r"'ernie', which reads no retrieved subgraphs"):
        load_config(_write(tmp_path, ernie))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"\[W120\]")
        load_config(_write(tmp_path, lm.replace("name: lm", "name: qagnn").replace(
            "{dropout: 0.2}", "{dropout: 0.5}")))
        load_config(_write(tmp_path, ernie.replace(", retrieval: {max_nodes: 50}", "")))


def test_build_model_wraps_errors_of_the_model_itself():
    from kgqa.training.runner import build_model

    cfg = parse_config({"name": "x", "model": {"name": "lm", "kwargs": {"dropout": 7}}})
    with pytest.raises(KGQAError, match=r"\[E040\] Model 'lm': cannot be built from model.kwargs "
                                        r"\{'dropout': 7\}: ValueError: dropout probability"):
        build_model(cfg, lm_hidden_size=8)


def test_several_errors_are_all_reported(tmp_path):
    path = _write(tmp_path, GOOD.replace("  epochs: 3", "  epochs: 0").replace("lr: 1.0e-3", "lr: -1"))
    with pytest.raises(KGQAError) as info:
        load_config(path)
    assert "(training.epochs)" in str(info.value) and "(training.lr)" in str(info.value)


def test_consistency_and_shape_errors(tmp_path):
    with pytest.raises(KGQAError, match="zeroshot"):
        parse_config({"name": "x", "regime": "zeroshot", "model": {"name": "lm"}})
    with pytest.raises(KGQAError, match="seeds repeat"):
        parse_config({"name": "x", "seeds": [1, 1], "model": {"name": "lm"}})
    with pytest.raises(KGQAError, match=r"\(model\): required key is missing"):
        parse_config({"name": "x"})
    with pytest.raises(KGQAError, match=r"\(reported.metadata\).*must cite the source"):
        parse_config({"name": "x", "model": {"name": "lm"},
                      "reported": {"metadata": {"title": "t"}, "results": {"ih_test": 1.0}}})
    with pytest.raises(KGQAError, match="mapping of keys"):
        load_config(_write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(KGQAError, match=r"exp.yaml:2: not valid YAML"):
        load_config(_write(tmp_path, "name: x\n  bad: [\n"))


def test_every_shipped_experiment_config_is_valid():
    configs = sorted((REPO / "experiments").glob("*.yaml"))
    assert len(configs) >= 7
    names = [load_config(p).name for p in configs]
    assert len(set(names)) == len(names)
    assert all(p.stem == name for p, name in zip(configs, names))


# ---------------------------------------------------------------------- extends
def test_extends_merges_mappings_and_replaces_other_values(tmp_path):
    (tmp_path / "base.yaml").write_text(GOOD)
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.yaml"
    child.write_text("extends: ../base.yaml\nname: csqa_lm_frozen_tiny_freeze\nseeds: [4]\n"
                     "model: {kwargs: {dropout: 0.1}}\ntraining: {freeze_lm_epochs: 0.5}\n")
    base, cfg = load_config(tmp_path / "base.yaml"), load_config(child)
    assert cfg.name == "csqa_lm_frozen_tiny_freeze" and cfg.seeds == [4]   # replaced
    assert cfg.model.name == "lm" and cfg.model.kwargs == {"dropout": 0.1}
    assert cfg.training.freeze_lm_epochs == 0.5
    assert (cfg.training.epochs, cfg.training.lr) == (3, 1.0e-3)          # inherited, merged
    assert cfg.reported == base.reported
    # the merged config is a plain config: nothing but the changed keys differs from the parent
    a, b = base.to_dict(), cfg.to_dict()
    changed = {k for k in a if a[k] != b[k]}
    assert changed == {"name", "seeds", "model", "training"}
    assert {k for k in a["training"] if a["training"][k] != b["training"][k]} == {"freeze_lm_epochs"}


def test_extends_chains_and_errors_name_the_file_that_set_the_key(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD.replace("  epochs: 3", "  epochs: 0"))   # line 12
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\ntraining: {lr: 2.0e-3}\n")
    (tmp_path / "c.yaml").write_text("extends: b.yaml\nname: c\n\ntraining:\n  lm_lr: -1\n")
    with pytest.raises(KGQAError) as info:
        load_config(tmp_path / "c.yaml")
    text = str(info.value)
    assert f"{tmp_path / 'c.yaml'}:5: (training.lm_lr)" in text      # set by the child
    assert f"{tmp_path / 'a.yaml'}:12 (training.epochs)" in text     # inherited from the grandparent
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "c.yaml").write_text("extends: b.yaml\nname: c\nmodel: {kwargs: {hidden: 3}}\n")
    with pytest.raises(KGQAError, match=rf"{tmp_path / 'c.yaml'}:3: \(model.kwargs.hidden\): "
                                        r"'hidden' is not a setting of model 'lm'"):
        load_config(tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text("extends: b.yaml\nname: c\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert (cfg.name, cfg.training.lr, cfg.training.epochs) == ("c", 2.0e-3, 3)


@pytest.mark.parametrize("files, problem", [
    ({"c.yaml": "extends: missing.yaml\nname: c\n"}, r"c.yaml:1: \(extends\): .*missing.yaml does not exist"),
    ({"c.yaml": "name: c\nextends: [a.yaml]\n"}, r"c.yaml:2: \(extends\): must be the path"),
    ({"c.yaml": "extends: c.yaml\nname: c\n"}, r"c.yaml:1: \(extends\): c.yaml extends this file again"),
    ({"c.yaml": "extends: d.yaml\nname: c\n", "d.yaml": "extends: c.yaml\nname: d\n"},
     r"d.yaml:1: \(extends\): c.yaml extends this file again \(a cycle: c.yaml -> d.yaml -> c.yaml\)"),
    ({"c.yaml": "extends: d.yaml\n", "d.yaml": GOOD},
     r"c.yaml: \(name\): a config that extends another needs its own name .*runs/csqa_lm_frozen_tiny/"),
    ({"c.yaml": "extends: d.yaml\nname: c\n", "d.yaml": "- a\n- list\n"}, r"d.yaml: the file must hold a mapping"),
])
def test_extends_errors(tmp_path, files, problem):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(KGQAError, match=r"\[E030\] Experiment config .*" + problem):
        load_config(tmp_path / "c.yaml")
