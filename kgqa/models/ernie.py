"""``ernie``: the knowledge-fused encoder of ERNIE (Zhang et al., ACL 2019) with a multiple-choice head.

The encoder is split in two. The **T-encoder** is the lower ``N - K`` layers of a pretrained
backbone (BERT, ALBERT, ELECTRA, RoBERTa, DistilBERT, MiniLM; the same
:class:`~kgqa.backbones.Backbone` as every model). The **K-encoder** is ``K`` aggregators
(:class:`~kgqa.nn.fusion.KnowledgeFusionLayer`) that fuse graph-entity embeddings (TransE, 100
dimensions, from :mod:`kgqa.kge`) into the token stream at the first word piece of each linked
mention (:mod:`kgqa.models.ernie_inputs`). The aggregators are initialised from the backbone's
top ``K`` layers (attention, feed-forward, LayerNorms), so on a text without entities the
untrained fused encoder computes exactly the backbone.

A directory written by :meth:`KnowledgeFusedEncoder.save_pretrained`::

    config.json          {"model": "ernie", "config": ErnieConfig fields, "entity_checksum", ...}
    model.safetensors    T-encoder + aggregators (+ the multiple-choice scorer for the QA model)
    backbone/            the truncated backbone's transformers config.json and tokenizer files
    entity_embeddings.npy  optional copy of the entity table (``include_entities=True``)
    .kgqa-artefact       marks the folder as a saved encoder: a later save may replace it,
                         and nothing else (:func:`kgqa.utils.io.atomic_directory`)

The entity table is not in ``model.safetensors``: it is the graph's embedding table (99 MB for
the default graph), referenced by path and by its sha256 (the entity vocabulary checksum),
which :meth:`~KnowledgeFusedEncoder.from_pretrained` checks.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from kgqa.errors import Errors, KGQAError, Warnings, warn
from kgqa.models.base import QABatch, QAModelOutput
from kgqa.models.common import QAModel, model_error
from kgqa.models.registry import register_model
from kgqa.nn.fusion import KnowledgeFusionLayer

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.backbones.backbone import Backbone
    from kgqa.kge.artifacts import EntityEmbeddings

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
BACKBONE_DIR = "backbone"
ENTITY_FILE = "entity_embeddings.npy"
#: Kind of :func:`kgqa.utils.io.atomic_directory` artefact: what a save may replace.
ARTEFACT_KIND = "knowledge-fused encoder"


def is_encoder_dir(path: Path) -> bool:
    """A directory saved by ``save_pretrained`` (also one saved before artefact markers)."""
    try:
        return (path / WEIGHTS_FILE).is_file() and "entity_checksum" in json.loads((path / CONFIG_FILE).read_text())
    except (OSError, ValueError, TypeError):
        return False

#: aggregator parameter -> backbone-layer module, per layer layout (first that fits wins)
_LAYER_LAYOUTS: dict[str, dict[str, str]] = {
    "bert": {  # BERT, RoBERTa, ELECTRA, MiniLM
        "token_attention.query": "attention.self.query", "token_attention.key": "attention.self.key",
        "token_attention.value": "attention.self.value", "token_attention.output": "attention.output.dense",
        "token_attention.layer_norm": "attention.output.LayerNorm", "token_in": "intermediate.dense",
        "token_out": "output.dense", "token_norm": "output.LayerNorm"},
    "albert": {
        "token_attention.query": "attention.query", "token_attention.key": "attention.key",
        "token_attention.value": "attention.value", "token_attention.output": "attention.dense",
        "token_attention.layer_norm": "attention.LayerNorm", "token_in": "ffn", "token_out": "ffn_output",
        "token_norm": "full_layer_layer_norm"},
    "distilbert": {
        "token_attention.query": "attention.q_lin", "token_attention.key": "attention.k_lin",
        "token_attention.value": "attention.v_lin", "token_attention.output": "attention.out_lin",
        "token_attention.layer_norm": "sa_layer_norm", "token_in": "ffn.lin1", "token_out": "ffn.lin2",
        "token_norm": "output_layer_norm"},
}

#: the aggregator modules a backbone layer is copied into (its token path), from the layouts
TOKEN_PATH = tuple(dict.fromkeys(dst.split(".")[0] for layout in _LAYER_LAYOUTS.values() for dst in layout))


@dataclass
class ErnieConfig:
    """Settings of the knowledge-fused encoder and its multiple-choice head.

    Attributes:
        lm_hidden_size: token width :math:`H` (set from the backbone).
        backbone: backbone name (short name, directory or hub id) used when none is passed.
        num_aggregators: :math:`K`, how many top backbone layers become aggregators (the
            T-encoder keeps the lower ``N - K``).
        entity_dim: width of the entity table (the KGE dimension: 100 for ERNIE's TransE).
        entity_hidden_size: entity width :math:`D_e` inside the aggregators.
        entity_heads: entity attention heads (``entity_hidden_size`` divisible by it).
        entity_projection: project the table to ``entity_hidden_size`` with a learned linear map
            (always done when the two widths differ).
        init_from_backbone: initialise each aggregator's token path from the backbone layer it
            replaces.
        output_activation: :math:`\\phi` of the fusion outputs, ``"none"`` (ERNIE's code) or
            ``"gelu"`` (the paper's equation).
        freeze_t_encoder: freeze the T-encoder (embeddings and lower layers).
        dropout: dropout in the aggregators and before the scorer.
        max_length: longest "question [SEP] choice" pair, in tokens.
        graph: graph the entities come from (name or directory).
        kge_model: KGE model of the entity table (``"transe"``).
        embeddings: embedding directory (``None``: the newest ``kge_model`` of ``graph``).
        pretrained: a directory saved by ``save_pretrained``, or the name of one under
            ``KGQA_HOME/pretrained/`` (``kgqa pretrain`` saves there), to
            start from instead of the backbone's weights.
        entity_checksum: sha256 of the entity table the model was built with (filled in).
        graph_checksum: checksum of ``graph`` (filled in).
        num_entities: rows of the entity table (filled in).
    """

    lm_hidden_size: int = 384
    backbone: str = "minilm"
    num_aggregators: int = 2
    entity_dim: int = 100
    entity_hidden_size: int = 100
    entity_heads: int = 4
    entity_projection: bool = False
    init_from_backbone: bool = True
    output_activation: str = "none"
    freeze_t_encoder: bool = True
    dropout: float = 0.1
    max_length: int = 128
    graph: str = "default"
    kge_model: str = "transe"
    embeddings: str | None = None
    pretrained: str | None = None
    entity_checksum: str = ""
    graph_checksum: str = ""
    num_entities: int = 0


@dataclass
class FusedEncoderOutput:
    """Output of :class:`KnowledgeFusedEncoder`.

    Attributes:
        hidden_states: last K-encoder token states, ``(N, L, H)``.
        entity_states: last K-encoder entity states, ``(N, L, D_e)`` (zero without entity).
        entity_mask: ``(N, L)`` bool, tokens that carry an entity.
        pooled: first-token state, ``(N, H)``.
        has_entities: ``(N,)`` bool; ``False`` = no entity in the text (token-only fusion).
    """

    hidden_states: Tensor
    entity_states: Tensor
    entity_mask: Tensor
    pooled: Tensor
    has_entities: Tensor


def _config_error(problem: str) -> KGQAError:
    return KGQAError(Errors.E053.format(problem=problem))


def _get(module: nn.Module, dotted: str):
    for part in dotted.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def _hf_setting(config, *names, default=None):
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return default


def copy_backbone_layer(aggregator: KnowledgeFusionLayer, layer: nn.Module) -> str | None:
    """Copy a backbone layer's attention, feed-forward and LayerNorm weights into ``aggregator``.

    Returns:
        the layout name that matched (``"bert"``, ``"albert"``, ``"distilbert"``), or ``None``
        when no known layout fits (nothing is copied).
    """
    for name, layout in _LAYER_LAYOUTS.items():
        sources = {dst: _get(layer, src) for dst, src in layout.items()}
        targets = {dst: _get(aggregator, dst) for dst in layout}
        if any(s is None for s in sources.values()):
            continue
        if any(s.weight.shape != targets[d].weight.shape for d, s in sources.items()):
            continue
        with torch.no_grad():
            for dst, src in sources.items():
                targets[dst].weight.copy_(src.weight)
                if getattr(src, "bias", None) is not None and targets[dst].bias is not None:
                    targets[dst].bias.copy_(src.bias)
        return name
    return None


def resolve_pretrained(name_or_directory: str | Path) -> Path:
    """A saved ERNIE directory: the path itself, or a name under ``KGQA_HOME/pretrained/`` (where
    ``kgqa pretrain`` saves), so experiment configs need no machine-specific paths.

    Raises:
        KGQAError: ``[E053]`` naming both places tried when neither is a directory.
    """
    path = Path(name_or_directory).expanduser()
    if path.is_dir():
        return path
    from kgqa.paths import kgqa_home

    named = kgqa_home() / "pretrained" / str(name_or_directory)
    if path.name == str(name_or_directory) and named.is_dir():
        return named
    raise _config_error(f"no saved ERNIE model '{name_or_directory}' (tried {path} and {named}); "
                        "run `kgqa pretrain CONFIG` or give the directory of a save_pretrained() save")


def _entity_table(embeddings) -> tuple[Tensor, str, str, str]:
    """(table, checksum, graph checksum, graph name) from EntityEmbeddings or an array."""
    if embeddings is None:
        raise _config_error("no entity embeddings: pass entity_embeddings= or train them with "
                            "`kgqa graphs embed`")
    if hasattr(embeddings, "entity"):
        table = np.asarray(embeddings.entity, dtype=np.float32)
        return (torch.from_numpy(np.array(table)), embeddings.checksum, embeddings.graph_checksum,
                embeddings.graph_name)
    table = np.asarray(embeddings, dtype=np.float32)
    from kgqa.utils.io import sha256_bytes

    return torch.from_numpy(np.array(table)), sha256_bytes(table.tobytes()), "", ""


class KnowledgeFusedEncoder(nn.Module):
    r"""ERNIE's encoder: T-encoder (lower backbone layers) then ``K`` knowledge aggregators.

    .. math::
        \{w\} = \text{T-Encoder}(\text{tokens}), \qquad
        \{w^{(i)}\}, \{e^{(i)}\} = \mathrm{Aggregator}^{(i)}(\{w^{(i-1)}\}, \{e^{(i-1)}\}),
        \quad e^{(0)}_j = P\,\mathbf{E}[\mathrm{entity}_j]

    where :math:`\mathbf{E}` is the frozen KGE table and :math:`P` an optional projection.

    Args:
        config: :class:`ErnieConfig`.
        backbone: a loaded :class:`~kgqa.backbones.Backbone`; its top ``K`` layers are removed
            (it becomes the T-encoder) and copied into the aggregators.
        entity_embeddings: :class:`~kgqa.kge.artifacts.EntityEmbeddings` (or an ``(N_e, D)``
            array) of the graph whose node ids the inputs use.
        split: split ``backbone`` (``False`` when it is already the T-encoder, on loading).

    Shapes:
        - **input:** ``input_ids``, ``attention_mask``, ``token_type_ids`` :math:`(N, L)`;
          ``entity_ids`` :math:`(N, L)` node ids, ``-1`` = no entity
        - **output:** :class:`FusedEncoderOutput`

    Raises:
        KGQAError: ``[E053]`` for sizes that do not fit (``K`` outside ``1..N``, an entity width
            that is not divisible by ``entity_heads``, a table of another width than
            ``entity_dim``); ``[E054]`` in ``forward`` for an entity id outside the table.
    """

    def __init__(self, config: ErnieConfig, backbone: "Backbone", entity_embeddings, *, split: bool = True):
        super().__init__()
        hf = backbone.model.config
        hidden = int(backbone.hidden_size)
        heads = int(_hf_setting(hf, "num_attention_heads", "n_heads"))
        intermediate = int(_hf_setting(hf, "intermediate_size", "hidden_dim"))
        activation = _hf_setting(hf, "hidden_act", "activation", default="gelu")
        eps = float(_hf_setting(hf, "layer_norm_eps", default=1e-12))
        table, checksum, graph_checksum, _ = _entity_table(entity_embeddings)
        if table.dim() != 2 or table.shape[1] != config.entity_dim:
            raise _config_error(f"entity_dim is {config.entity_dim} but the entity table has shape "
                                f"{tuple(table.shape)}; set entity_dim to the KGE width")
        if config.entity_hidden_size % config.entity_heads:
            raise _config_error(f"entity_hidden_size {config.entity_hidden_size} is not divisible by "
                                f"entity_heads {config.entity_heads}")
        if hidden % heads:
            raise _config_error(f"backbone hidden size {hidden} is not divisible by its {heads} heads")
        if config.lm_hidden_size != hidden:
            raise _config_error(f"lm_hidden_size is {config.lm_hidden_size} but backbone "
                                f"'{backbone.name}' has hidden size {hidden}")
        if config.entity_checksum and checksum != config.entity_checksum:
            raise KGQAError(Errors.E052.format(path=config.embeddings or "(given entity table)", problem=(
                f"entity table sha256 {checksum[:16]}... differs from the {config.entity_checksum[:16]}... "
                "this model was built with (embeddings of another graph or training run)")))
        self.config = config
        self.backbone = backbone
        self.register_buffer("entity_table", table, persistent=False)
        self.entity_checksum = checksum
        self.graph_checksum = graph_checksum or config.graph_checksum

        total = backbone.num_layers if split else backbone.num_layers + config.num_aggregators
        k = config.num_aggregators
        if not 1 <= k <= total:
            raise _config_error(f"num_aggregators={k}: backbone '{backbone.name}' has {total} layers; "
                                f"use 1..{total}")
        sources = self._split(backbone, total - k) if split else [None] * k
        self.aggregators = nn.ModuleList([
            KnowledgeFusionLayer(hidden, heads, intermediate, config.entity_hidden_size, config.entity_heads,
                                 activation=activation, output_activation=config.output_activation,
                                 dropout=config.dropout, layer_norm_eps=eps)
            for _ in range(k)])
        if split and config.init_from_backbone:
            for aggregator, layer in zip(self.aggregators, sources):
                if copy_backbone_layer(aggregator, layer) is None:
                    warn(Warnings.W002.format(problem=(
                        f"ernie: no known layer layout in {type(layer).__name__}; aggregator token "
                        "paths start from random weights")))
                    break
        project = config.entity_projection or config.entity_dim != config.entity_hidden_size
        self.entity_projection = nn.Linear(config.entity_dim, config.entity_hidden_size) if project else nn.Identity()
        if config.freeze_t_encoder:
            backbone.freeze("all")

    @staticmethod
    def _split(backbone: "Backbone", keep: int) -> list[nn.Module]:
        """Cut the backbone after ``keep`` layers; return the removed layers (modules)."""
        stack, per_entry = backbone.layer_groups()
        hf = backbone.model.config
        total = backbone.num_layers
        if per_entry > 1:  # ALBERT: one shared layer group applied num_layers times
            if len(stack) != 1 or len(getattr(stack[0], "albert_layers", [None])) != 1:
                raise _config_error(f"backbone '{backbone.name}' shares {len(stack)} layer groups; only "
                                    "one shared group with one layer (released ALBERT models) can be split")
            removed = [stack[0].albert_layers[0]] * (total - keep)
        else:
            removed = [stack[i] for i in range(keep, total)]
            del stack[keep:]
        hf.num_hidden_layers = keep
        return removed

    @property
    def num_entities(self) -> int:
        return int(self.entity_table.shape[0])

    def check_entity_ids(self, entity_ids: Tensor) -> None:
        """Raise ``[E054]`` for an id outside ``[-1, num_entities)``."""
        bad = (entity_ids < -1) | (entity_ids >= self.num_entities)
        if bool(bad.any()):
            value = int(entity_ids[bad][0])
            raise KGQAError(Errors.E054.format(entity_id=value, num_entities=self.num_entities,
                                               last=self.num_entities - 1))

    def entity_inputs(self, entity_ids: Tensor) -> tuple[Tensor, Tensor]:
        """``(N, L, D_e)`` initial entity states and the ``(N, L)`` bool entity mask."""
        mask = entity_ids >= 0
        vectors = self.entity_table[entity_ids.clamp(min=0)]
        vectors = self.entity_projection(vectors) * mask.unsqueeze(-1).to(vectors.dtype)
        return vectors, mask

    def t_encoder(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        """Token states after the T-encoder, ``(N, L, H)`` (no gradient when it is frozen)."""
        frozen = not any(p.requires_grad for p in self.backbone.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            return self.backbone(input_ids, attention_mask, token_type_ids).hidden_states

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, entity_ids: Tensor | None = None) -> FusedEncoderOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if entity_ids is None:
            entity_ids = torch.full_like(input_ids, -1)
        if entity_ids.shape != input_ids.shape:
            raise _config_error(f"entity_ids have shape {tuple(entity_ids.shape)}, input_ids "
                                f"{tuple(input_ids.shape)}; they must match")
        self.check_entity_ids(entity_ids)
        tokens = self.t_encoder(input_ids, attention_mask, token_type_ids)
        entities, mask = self.entity_inputs(entity_ids.to(tokens.device))
        mask = mask & attention_mask.to(torch.bool)
        for aggregator in self.aggregators:
            out = aggregator(tokens, attention_mask, entities, mask)
            tokens, entities = out.tokens, out.entities
        return FusedEncoderOutput(hidden_states=tokens, entity_states=entities, entity_mask=mask,
                                  pooled=tokens[:, 0], has_entities=mask.any(dim=1))

    # ------------------------------------------------------------------ save / load
    def save_pretrained(self, directory: str | Path, *, extra_state: dict[str, Tensor] | None = None,
                        model_name: str = "ernie", include_entities: bool = False,
                        force: bool | None = None) -> Path:
        """Write the directory layout of the module docstring (atomically).

        Args:
            directory: where to write: created, or replaced when it is empty or a saved encoder
                (``[E100]`` for any other non-empty folder, unless ``force``).
            extra_state: more tensors for ``model.safetensors`` (a head's weights, prefixed).
            model_name: recorded in ``config.json``.
            include_entities: also copy the entity table (``entity_embeddings.npy``).
            force: replace ``directory`` whatever it holds (``None``: the caller offers no
                such option).
        """
        from safetensors.torch import save_file

        from kgqa.backbones.backbone import _quiet_transformers
        from kgqa.utils.io import atomic_directory

        import kgqa

        directory = Path(directory)
        config = dataclasses.replace(self.config, entity_checksum=self.entity_checksum,
                                     graph_checksum=self.graph_checksum, num_entities=self.num_entities)
        state = {f"encoder.{k}": v.detach().contiguous() for k, v in self.state_dict().items()}
        state.update({k: v.detach().contiguous() for k, v in (extra_state or {}).items()})
        with atomic_directory(directory, kind=ARTEFACT_KIND, recognise=is_encoder_dir, force=force) as tmp:
            save_file(state, str(tmp / WEIGHTS_FILE))
            with _quiet_transformers():
                self.backbone.model.config.save_pretrained(tmp / BACKBONE_DIR)
                self.backbone.tokenizer.save_pretrained(tmp / BACKBONE_DIR)
            if include_entities:
                np.save(tmp / ENTITY_FILE, self.entity_table.cpu().numpy(), allow_pickle=False)
            (tmp / CONFIG_FILE).write_text(json.dumps({
                "model": model_name, "config": dataclasses.asdict(config),
                "entity_checksum": self.entity_checksum, "graph_checksum": self.graph_checksum,
                "backbone_name": self.backbone.name, "kgqa_version": kgqa.__version__}, indent=2) + "\n")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, entity_embeddings=None, **overrides
                        ) -> tuple["KnowledgeFusedEncoder", dict[str, Tensor], dict]:
        """Load a directory written by :meth:`save_pretrained`.

        Args:
            directory: the directory, or a name under ``KGQA_HOME/pretrained/``
                (:func:`resolve_pretrained`).
            entity_embeddings: the entity table to use; by default the directory's copy, else the
                embeddings recorded in the config. Its sha256 must be the recorded one.
            **overrides: :class:`ErnieConfig` fields to change (e.g. ``freeze_t_encoder``).

        Returns:
            ``(encoder, other tensors of model.safetensors (heads), the config.json dict)``.

        Raises:
            KGQAError: ``[E052]`` when the entity table's checksum differs from the recorded one;
                ``[E053]`` for a directory that is not an ERNIE save.
        """
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        from kgqa.backbones.backbone import Backbone, _quiet_transformers

        directory = resolve_pretrained(directory)
        try:
            saved = json.loads((directory / CONFIG_FILE).read_text())
            state = load_file(str(directory / WEIGHTS_FILE))
        except (OSError, ValueError) as exc:
            raise _config_error(f"'{directory}' is not a saved ERNIE model ({exc})") from exc
        config = ErnieConfig(**{**saved["config"], **overrides})
        if entity_embeddings is None:
            if (directory / ENTITY_FILE).exists():
                entity_embeddings = np.load(directory / ENTITY_FILE, allow_pickle=False)
            else:
                entity_embeddings = _load_entity_embeddings(config)
        with _quiet_transformers():
            hf_config = AutoConfig.from_pretrained(directory / BACKBONE_DIR)
            tokenizer = AutoTokenizer.from_pretrained(directory / BACKBONE_DIR)
            try:  # the wrapper pools the first token itself: build no pooler, as Backbone does
                model = AutoModel.from_config(hf_config, add_pooling_layer=False)
            except TypeError:
                model = AutoModel.from_config(hf_config)
        backbone = Backbone(model, tokenizer, name=saved.get("backbone_name", config.backbone))
        encoder = cls(config, backbone, entity_embeddings, split=False)
        own = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
        missing, unexpected = encoder.load_state_dict(own, strict=False)
        if missing or unexpected:
            raise _config_error(f"'{directory}' weights do not fit the saved config: missing "
                                f"{sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}")
        if config.freeze_t_encoder:
            backbone.freeze("all")
        rest = {k: v for k, v in state.items() if not k.startswith("encoder.")}
        return encoder, rest, saved


def _load_entity_embeddings(config: ErnieConfig):
    """The entity table of ``config``: its ``embeddings`` directory when present; for a saved model
    (``entity_checksum`` set) whose recorded directory is not on this machine, the table of
    ``graph`` with that sha256; else the newest ``kge_model`` table of ``graph``.

    Raises:
        KGQAError: ``[E052]`` when a saved model's table is nowhere to be found.
    """
    from kgqa.kge.artifacts import embeddings_root, find_embeddings, load_embeddings, read_embeddings

    if config.embeddings and Path(config.embeddings).is_dir():
        return load_embeddings(config.graph, config.kge_model, path=config.embeddings)
    if config.entity_checksum:
        from kgqa.kg.store import KnowledgeGraph

        kg = KnowledgeGraph.load(config.graph)
        for path in find_embeddings(kg, config.kge_model, config.entity_dim):
            table = read_embeddings(path)
            if table.checksum == config.entity_checksum:
                table.check_graph(kg)
                return table
        raise KGQAError(Errors.E052.format(path=config.embeddings or embeddings_root(kg), problem=(
            f"this model was trained with a {config.kge_model} table of graph '{config.graph}' with sha256 "
            f"{config.entity_checksum[:16]}..., and no table under {embeddings_root(kg)} has it; "
            "set the model's `embeddings` to that table's directory")))
    return load_embeddings(config.graph, config.kge_model, dim=config.entity_dim, path=config.embeddings)


@register_model("ernie")
class ErnieForMultipleChoice(QAModel):
    r"""ERNIE multiple choice: the knowledge-fused encoder on each "question [SEP] choice" pair,
    its first-token state scored by a linear layer (as ``BertForMultipleChoice``),

    .. math::
        \mathrm{logit}_c = \mathbf{w}^\top \mathrm{Dropout}(\mathrm{ERNIE}(q \oplus a_c,
        \mathcal{E}_{q, a_c})_0) + b .

    Args:
        config: :class:`ErnieConfig` (or a dict of its fields).
        backbone: a :class:`~kgqa.backbones.Backbone` (split here into T-encoder and aggregators);
            ``None`` loads ``config.backbone`` (or ``config.pretrained``).
        entity_embeddings: the entity table (default: ``config.embeddings`` / the newest
            ``config.kge_model`` embeddings of ``config.graph``).
        linker: the linker :meth:`encode_choices` uses (default: ``config.graph``'s).
        node_features: ignored (accepted like the other models).

    Shapes:
        - **input:** :class:`~kgqa.models.base.QABatch` with ``input_ids`` :math:`(B, C, L)` and
          ``extras["entity_ids"]`` :math:`(B, C, L)` (from :meth:`encode_choices`)
        - **output:** :class:`~kgqa.models.base.QAModelOutput` with ``logits`` :math:`(B, C)`
    """

    config_class = ErnieConfig
    #: reads token ids (and links them): the runner refuses the ``frozen`` regime for it
    requires_token_inputs = True

    def __init__(self, config: ErnieConfig | dict | None = None, backbone: "Backbone | None" = None, *,
                 entity_embeddings: "EntityEmbeddings | np.ndarray | None" = None, linker=None,
                 node_features=None):
        super().__init__(config, None)
        cfg = self.config
        head_state: dict[str, Tensor] = {}
        if cfg.pretrained:
            overrides = {"freeze_t_encoder": cfg.freeze_t_encoder, "dropout": cfg.dropout,
                         "max_length": cfg.max_length}
            encoder, head_state, _ = KnowledgeFusedEncoder.from_pretrained(
                cfg.pretrained, entity_embeddings=entity_embeddings, **overrides)
            cfg = dataclasses.replace(encoder.config, pretrained=cfg.pretrained)
        else:
            if backbone is None:
                from kgqa.backbones.backbone import Backbone

                backbone = Backbone.from_pretrained(cfg.backbone)
            cfg = dataclasses.replace(cfg, lm_hidden_size=backbone.hidden_size)
            if entity_embeddings is None:
                entity_embeddings = _load_entity_embeddings(cfg)
            encoder = KnowledgeFusedEncoder(cfg, backbone, entity_embeddings)
        self.config = dataclasses.replace(cfg, entity_checksum=encoder.entity_checksum,
                                          graph_checksum=encoder.graph_checksum,
                                          num_entities=encoder.num_entities)
        self.encoder = encoder
        self.dropout = nn.Dropout(cfg.dropout)
        self.scorer = nn.Linear(cfg.lm_hidden_size, 1)
        head = {k[len("head."):]: v for k, v in head_state.items() if k.startswith("head.scorer.")}
        if head:
            self.scorer.load_state_dict({k[len("scorer."):]: v for k, v in head.items()})
        self._linker = linker
        self._builder = None

    # ------------------------------------------------------------------ inputs
    @property
    def tokenizer(self):
        return self.encoder.backbone.tokenizer

    def input_builder(self):
        """The :class:`~kgqa.models.ernie_inputs.ErnieInputBuilder` (linker loaded on first use)."""
        if self._builder is None:
            from kgqa.models.ernie_inputs import ErnieInputBuilder

            linker = self._linker
            if linker is None:
                from kgqa.linking.linker import load_linker

                linker = load_linker(self.config.graph)
            self._builder = ErnieInputBuilder(self.tokenizer, linker, max_length=self.config.max_length)
        return self._builder

    def encode_choices(self, questions, choices, *, max_length: int | None = None) -> dict:
        """Tokenised, linked and aligned pairs, ``(B * C, L)`` tensors including ``entity_ids``
        (the collator's ``encode_choices``; put ``entity_ids`` in ``batch.extras``)."""
        return self.input_builder().encode_choices(questions, choices, max_length=max_length or self.config.max_length)

    def lm_module(self) -> nn.Module:
        """The pretrained parts, which take the runner's ``lm_lr``: the T-encoder and, when they
        were copied from the backbone (``init_from_backbone``), the aggregators' token paths.
        The entity paths, the fusion and the scorer are the ``head``."""
        parts: list[nn.Module] = [self.encoder.backbone]
        if self.config.init_from_backbone:
            parts += [_get(aggregator, name) for aggregator in self.encoder.aggregators
                      for name in TOKEN_PATH]
        return nn.ModuleList(p for p in parts if p is not None)

    # ------------------------------------------------------------------ forward
    def forward(self, batch: QABatch) -> QAModelOutput:
        if batch.input_ids is None:
            raise model_error("ernie", "the batch has no input_ids: ERNIE needs token ids (finetune "
                                       "regime), not cached lm_states")
        entity_ids = batch.extras.get("entity_ids")
        if entity_ids is None:
            raise model_error("ernie", "the batch has no extras['entity_ids']: build batches with "
                                       "ErnieForMultipleChoice.encode_choices (it links and aligns entities)")
        shape = tuple(batch.input_ids.shape)
        if len(shape) != 3 or shape[:2] != (batch.batch_size, batch.num_choices) or tuple(entity_ids.shape) != shape:
            raise model_error("ernie", f"input_ids {shape} and entity_ids {tuple(entity_ids.shape)} must both "
                                       f"be ({batch.batch_size}, {batch.num_choices}, L)")
        flat = shape[0] * shape[1]

        def _flat(t):
            return None if t is None else t.reshape(flat, t.shape[-1])

        out = self.encoder(_flat(batch.input_ids), _flat(batch.attention_mask), _flat(batch.token_type_ids),
                           _flat(entity_ids))
        scores = self.scorer(self.dropout(out.pooled)).squeeze(-1)
        return self.make_output(batch, scores)

    # ------------------------------------------------------------------ save / load
    def save_pretrained(self, directory: str | Path, *, include_entities: bool = False) -> Path:
        """Encoder files plus the scorer (``head.scorer.*`` in ``model.safetensors``)."""
        head = {f"head.scorer.{k}": v for k, v in self.scorer.state_dict().items()}
        return self.encoder.save_pretrained(directory, extra_state=head, include_entities=include_entities)

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, entity_embeddings=None, linker=None,
                        **overrides: Any) -> "ErnieForMultipleChoice":
        """Rebuild a model saved with :meth:`save_pretrained` (or a pretrained encoder)."""
        return cls({"pretrained": str(directory), **overrides}, entity_embeddings=entity_embeddings, linker=linker)
