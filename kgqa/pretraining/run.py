"""``kgqa pretrain CONFIG``: dEA + MLM pretraining of the knowledge-fused encoder on a small corpus.

The loop reads top to bottom: build the encoder (backbone split into T-encoder and aggregators,
entity table from :mod:`kgqa.kge`), encode and link the corpus once, then for each step corrupt
a batch (MLM masking, dEA corruption), add the two losses and step. Every ``log_every`` steps the
training losses are logged; before training and at the end the same held-out texts, corrupted
with a fixed seed, are scored, so the curve and the before/after numbers are comparable. The
encoder is saved with :meth:`~kgqa.models.ernie.KnowledgeFusedEncoder.save_pretrained` and the
curve as ``loss_curve.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kgqa.errors import Errors, KGQAError
from kgqa.pretraining.dea import IGNORE, EntityPredictionHead, MaskedLMHead, dea_corrupt, mlm_mask


@dataclass
class PretrainConfig:
    """A pretraining run.

    Attributes:
        backbone: backbone name (``minilm``, a directory, a hub id).
        graph: graph of the entities (name or directory).
        kge_model: KGE model of the entity table.
        embeddings: embedding directory (default: the newest ``kge_model`` of ``graph``).
        num_aggregators, entity_hidden_size, entity_heads, output_activation: encoder settings
            (:class:`~kgqa.models.ernie.ErnieConfig`).
        freeze_t_encoder: freeze the T-encoder (only aggregators and heads learn).
        corpus: ``"csqa"`` (training questions + answers).
        corpus_split: which CommonsenseQA split (default ``ih_train``: never the in-house test
            questions, which a fine-tuned model is scored on).
        num_texts: corpus texts used (``0`` = all).
        eval_texts: held-out texts (the last ones of the corpus) scored before and after.
        max_length: tokens per text.
        steps, batch_size, learning_rate, weight_decay, warmup_steps: optimisation.
        mlm_prob, entity_mask_prob, entity_replace_prob: the corruption rates (ERNIE: 15% of
            the word pieces; of the entity alignments 15% masked, 5% replaced).
        dea_scope: where dEA's replacements and candidates come from: ``"batch"`` (the batch's
            distinct entities, ERNIE's code) or ``"sequence"`` (each text's own).
        dea_weight: weight of the dEA loss (MLM has weight 1).
        log_every: steps between logged training losses.
        seed: seed of batching and corruption.
        output: output directory (default ``KGQA_HOME/pretrained/<name>``); an existing one is
            replaced only when it is empty or a saved encoder (``[E100]`` otherwise).
        name: the run's name.
    """

    backbone: str = "minilm"
    graph: str = "default"
    kge_model: str = "transe"
    embeddings: str | None = None
    num_aggregators: int = 2
    entity_hidden_size: int = 100
    entity_heads: int = 4
    output_activation: str = "none"
    freeze_t_encoder: bool = True
    corpus: str = "csqa"
    corpus_split: str = "ih_train"
    num_texts: int = 0
    eval_texts: int = 256
    max_length: int = 64
    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 2e-4
    weight_decay: float = 0.01
    warmup_steps: int = 20
    mlm_prob: float = 0.15
    entity_mask_prob: float = 0.15
    entity_replace_prob: float = 0.05
    dea_scope: str = "batch"
    dea_weight: float = 1.0
    log_every: int = 10
    seed: int = 0
    output: str | None = None
    name: str = "ernie-csqa"
    reported: dict = field(default_factory=dict)


def load_pretrain_config(path: str | Path) -> PretrainConfig:
    """Read a YAML (or JSON) config; unknown keys and bad values raise ``[E055]`` naming the key."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise KGQAError(Errors.E055.format(location=path, problem=str(exc).splitlines()[0])) from exc
    if not isinstance(data, dict):
        raise KGQAError(Errors.E055.format(location=path, problem="the top level must be a mapping"))
    data = data.get("pretrain", data)
    known = {f.name for f in dataclasses.fields(PretrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise KGQAError(Errors.E055.format(location=f"{path}: {unknown[0]}",
                                           problem=f"unknown key; known: {', '.join(sorted(known))}"))
    config = PretrainConfig(**data)
    for key in ("steps", "batch_size", "max_length", "num_aggregators", "log_every"):
        if int(getattr(config, key)) < 1:
            raise KGQAError(Errors.E055.format(location=f"{path}: {key}", problem=f"must be >= 1, got {getattr(config, key)}"))
    if config.dea_scope not in ("batch", "sequence"):
        raise KGQAError(Errors.E055.format(location=f"{path}: dea_scope",
                                           problem=f"unknown scope {config.dea_scope!r}; known: batch, sequence"))
    if config.corpus != "csqa":
        raise KGQAError(Errors.E055.format(location=f"{path}: corpus", problem=f"unknown corpus {config.corpus!r}; known: csqa"))
    return config


class ErniePretrainingModel(nn.Module):
    """The fused encoder with ERNIE's two pretraining heads (MLM and dEA).

    Shapes:
        - **input:** ``input_ids``, ``attention_mask``, ``token_type_ids``, ``entity_ids``
          :math:`(N, L)`, ``mlm_labels`` :math:`(N, L)`, ``candidates`` :math:`(N, M)`,
          ``dea_targets`` :math:`(N, L)`
        - **output:** dict of scalar ``mlm_loss``, ``dea_loss``, ``dea_accuracy``
    """

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.lm_hidden_size
        self.mlm = MaskedLMHead(hidden, encoder.backbone.model.get_input_embeddings())
        self.dea = EntityPredictionHead(hidden, encoder.config.entity_hidden_size)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None,
                entity_ids: Tensor, mlm_labels: Tensor, candidates: Tensor, dea_targets: Tensor) -> dict:
        out = self.encoder(input_ids, attention_mask, token_type_ids, entity_ids)
        states = out.hidden_states
        picked = mlm_labels != IGNORE
        mlm_logits = self.mlm(states[picked])
        mlm_loss = F.cross_entropy(mlm_logits, mlm_labels[picked]) if picked.any() else states.sum() * 0
        candidate_vectors, _ = self.encoder.entity_inputs(candidates)
        logits = self.dea(states, candidate_vectors, candidates >= 0)
        aligned = dea_targets != IGNORE
        if aligned.any():
            dea_loss = F.cross_entropy(logits[aligned], dea_targets[aligned])
            accuracy = (logits[aligned].argmax(-1) == dea_targets[aligned]).float().mean()
        else:
            dea_loss, accuracy = states.sum() * 0, torch.tensor(float("nan"))
        return {"mlm_loss": mlm_loss, "dea_loss": dea_loss, "dea_accuracy": accuracy}


def _corrupt(batch: dict, tokenizer, config: PretrainConfig, generator: torch.Generator) -> dict:
    ids = batch["input_ids"]
    special = torch.tensor([tokenizer.get_special_tokens_mask(row, already_has_special_tokens=True)
                            for row in ids.tolist()], dtype=torch.bool) | (batch["attention_mask"] == 0)
    masked_ids, labels = mlm_mask(ids, special, mask_token_id=tokenizer.mask_token_id, vocab_size=len(tokenizer),
                                  prob=config.mlm_prob, generator=generator)
    dea = dea_corrupt(batch["entity_ids"], mask_prob=config.entity_mask_prob,
                      replace_prob=config.entity_replace_prob, scope=config.dea_scope, generator=generator)
    return {"input_ids": masked_ids, "attention_mask": batch["attention_mask"],
            "token_type_ids": batch.get("token_type_ids"), "entity_ids": dea.input_entity_ids,
            "mlm_labels": labels, "candidates": dea.candidates, "dea_targets": dea.targets}


def _candidate_counts(rows: dict, config: PretrainConfig) -> Tensor:
    """``(N,)`` how many entities each row's dEA prediction chooses among, batch by batch as in
    evaluation (for the chance-level loss)."""
    counts = []
    for start in range(0, len(rows["entity_ids"]), config.batch_size):
        ids = rows["entity_ids"][start:start + config.batch_size]
        counts.append((dea_corrupt(ids, scope=config.dea_scope).candidates >= 0).sum(dim=1).float())
    return torch.cat(counts) if counts else torch.zeros(0)


def _rows(encoded: dict, index) -> dict:
    keep = ("input_ids", "attention_mask", "token_type_ids", "entity_ids")
    out = {k: encoded[k][index] for k in keep if k in encoded}
    width = int(out["attention_mask"].sum(dim=1).max())
    return {k: v[:, :width] for k, v in out.items()}


def _evaluate(model: ErniePretrainingModel, encoded: dict, tokenizer, config: PretrainConfig) -> dict:
    model.eval()
    generator = torch.Generator().manual_seed(config.seed + 1)
    total = {"mlm_loss": 0.0, "dea_loss": 0.0, "dea_accuracy": 0.0}
    n = len(encoded["input_ids"])
    batches = 0
    with torch.no_grad():
        for start in range(0, n, config.batch_size):
            batch = _corrupt(_rows(encoded, slice(start, start + config.batch_size)), tokenizer, config, generator)
            out = model(**batch)
            for key in total:
                total[key] += float(out[key])
            batches += 1
    model.train()
    return {k: round(v / max(batches, 1), 4) for k, v in total.items()}


def pretrain(config: PretrainConfig, *, data_dir: str | Path | None = None, backbone=None,
             entity_embeddings=None, linker=None, texts: list[str] | None = None, progress: bool = False,
             force: bool | None = None) -> dict:
    """Run dEA + MLM pretraining; save the encoder and ``loss_curve.json``.

    Args:
        config: the :class:`PretrainConfig`.
        data_dir: shared data folder (for the corpus).
        backbone, entity_embeddings, linker: loaded objects to use instead of the config's names
            (tests pass tiny ones).
        texts: the corpus itself, instead of ``config.corpus``.
        progress: show a progress bar.
        force: replace ``output`` even when it is a non-empty folder that is not a saved
            encoder (without it that is ``[E100]``, raised before any work).

    Returns:
        the loss-curve record (also written to ``<output>/loss_curve.json``).
    """
    from kgqa.models.ernie import ARTEFACT_KIND, ErnieConfig, KnowledgeFusedEncoder, is_encoder_dir
    from kgqa.models.ernie_inputs import ErnieInputBuilder
    from kgqa.paths import kgqa_home
    from kgqa.utils.io import atomic_write_json, check_replaceable
    from kgqa.utils.progress import progress_bar

    output = Path(config.output) if config.output else kgqa_home() / "pretrained" / config.name
    check_replaceable(output, ARTEFACT_KIND, recognise=is_encoder_dir, force=force)
    torch.manual_seed(config.seed)
    if backbone is None:
        from kgqa.backbones.backbone import Backbone

        backbone = Backbone.from_pretrained(config.backbone)
    if entity_embeddings is None:
        from kgqa.kge.artifacts import load_embeddings

        entity_embeddings = load_embeddings(config.graph, config.kge_model, path=config.embeddings)
    if linker is None:
        from kgqa.linking.linker import load_linker

        linker = load_linker(config.graph)
    table_dim = int(entity_embeddings.entity.shape[1]) if hasattr(entity_embeddings, "entity") else int(entity_embeddings.shape[1])
    encoder_config = ErnieConfig(
        lm_hidden_size=backbone.hidden_size, backbone=config.backbone, num_aggregators=config.num_aggregators,
        entity_dim=table_dim, entity_hidden_size=config.entity_hidden_size, entity_heads=config.entity_heads,
        output_activation=config.output_activation, freeze_t_encoder=config.freeze_t_encoder,
        max_length=config.max_length, graph=config.graph, kge_model=config.kge_model,
        embeddings=str(getattr(entity_embeddings, "path", None) or config.embeddings or "") or None)
    encoder = KnowledgeFusedEncoder(encoder_config, backbone, entity_embeddings)
    model = ErniePretrainingModel(encoder)

    if texts is None:
        from kgqa.pretraining.corpus import csqa_texts

        texts = csqa_texts(data_dir, split=config.corpus_split, limit=config.num_texts or None)
    start = time.perf_counter()
    builder = ErnieInputBuilder(backbone.tokenizer, linker, max_length=config.max_length)
    encoded = builder.encode(texts)
    link_seconds = time.perf_counter() - start
    n_eval = min(config.eval_texts, max(len(texts) // 5, 1))
    train_index = torch.arange(len(texts) - n_eval)
    eval_rows = _rows(encoded, torch.arange(len(texts) - n_eval, len(texts)))
    aligned = int((encoded["entity_ids"] >= 0).sum())
    texts_with_entities = int((encoded["entity_ids"] >= 0).any(dim=1).sum())

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / max(config.warmup_steps, 1)))
    generator = torch.Generator().manual_seed(config.seed)
    curve = {"step": [], "mlm_loss": [], "dea_loss": [], "dea_accuracy": [], "seconds": []}
    before = _evaluate(model, eval_rows, backbone.tokenizer, config)
    model.train()
    window = {"mlm_loss": [], "dea_loss": [], "dea_accuracy": []}
    train_start = time.perf_counter()
    order = train_index[torch.randperm(len(train_index), generator=generator)]
    cursor = 0
    with progress_bar(disable=None if progress else True) as bar:
        task = bar.add_task("pretraining (dEA + MLM)", total=config.steps)
        for step in range(1, config.steps + 1):
            if cursor + config.batch_size > len(order):
                order, cursor = train_index[torch.randperm(len(train_index), generator=generator)], 0
            index = order[cursor:cursor + config.batch_size]
            cursor += config.batch_size
            batch = _corrupt(_rows(encoded, index), backbone.tokenizer, config, generator)
            out = model(**batch)
            loss = out["mlm_loss"] + config.dea_weight * out["dea_loss"]
            if not math.isfinite(float(loss.detach())):
                raise KGQAError(Errors.E055.format(location=f"step {step}", problem=f"loss is {float(loss.detach())}"))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            for key in window:
                window[key].append(float(out[key].detach()))
            if step % config.log_every == 0 or step == config.steps:
                curve["step"].append(step)
                for key in window:
                    values = [v for v in window[key] if math.isfinite(v)]
                    curve[key].append(round(sum(values) / max(len(values), 1), 4))
                    window[key] = []
                curve["seconds"].append(round(time.perf_counter() - train_start, 1))
                bar.update(task, completed=step, description=(
                    f"mlm {curve['mlm_loss'][-1]:.3f} dea {curve['dea_loss'][-1]:.3f}"))
    after = _evaluate(model, eval_rows, backbone.tokenizer, config)
    candidates = _candidate_counts(eval_rows, config)
    has = candidates > 0
    record = {
        "name": config.name, "config": dataclasses.asdict(config),
        "corpus": {"texts": len(texts), "train_texts": int(len(train_index)), "eval_texts": n_eval,
                   "aligned_entities": aligned, "texts_with_entities": texts_with_entities,
                   "link_and_encode_seconds": round(link_seconds, 1)},
        "eval_before": before, "eval_after": after,
        "dea_chance_loss": round(float(torch.log(candidates[has]).mean()) if has.any() else float("nan"), 4),
        "curve": curve, "train_seconds": round(time.perf_counter() - train_start, 1),
        "trainable_parameters": int(sum(p.numel() for p in params)),
        "output": str(output),
    }
    encoder.save_pretrained(output, extra_state={f"pretraining.{k}": v for k, v in model.state_dict().items()
                                                  if not k.startswith("encoder.")}, force=force)
    atomic_write_json(output / "loss_curve.json", record)
    return record
