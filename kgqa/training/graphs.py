"""Per-choice subgraphs of each split for the graph models, from the retrieval cache.

:func:`retrieve_split_graphs` runs :func:`kgqa.retrieval.preprocess.preprocess` on each split
(a cache hit when ``kgqa preprocess`` already ran with the same dataset, graph and settings) and
returns, per split, the lazy sequence ``graphs[i]`` of question ``i``'s ``C``
:class:`~kgqa.retrieval.data.ChoiceGraph` s, in the view the model reads:

============ ======= ============ ============
model        paths   add_inverse  context_node
============ ======= ============ ============
``kagnet``   yes     yes          no
others       no      yes          no (QA-GNN joins its own LM context node)
============ ======= ============ ============

It also returns what the model config must agree with (``num_relations`` = edge types of the
view, ``num_nodes`` of the graph) and the frozen node-name embedding table of
``node_embedding="text"`` (the shared :class:`~kgqa.encoders.node_names.NodeEmbeddingTable`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kgqa.errors import Errors, KGQAError

#: How each model wants its graphs (see the module docstring); a model class may override with
#: a ``graph_view`` dict attribute.
GRAPH_VIEWS: dict[str, dict[str, bool]] = {
    "kagnet": {"paths": True, "add_inverse": True, "context_node": False},
}
DEFAULT_VIEW = {"paths": False, "add_inverse": True, "context_node": False}


def graph_view(model_name: str) -> dict[str, bool]:
    """The retrieval view of ``model_name`` (its class's ``graph_view``, else the table)."""
    try:
        from kgqa.models.registry import get_model_class

        view = getattr(get_model_class(model_name), "graph_view", None)
    except KGQAError:
        view = None
    return dict(view or GRAPH_VIEWS.get(model_name, DEFAULT_VIEW))


def retrieve_split_graphs(cfg, splits: Mapping[str, Any], *, graph=None,
                          progress: bool = False) -> dict[str, Any]:
    """Retrieval for every split of a run.

    Args:
        cfg: the :class:`~kgqa.training.config.ExperimentConfig` (``graph.name``,
            ``graph.retrieval`` settings, ``model.name``).
        splits: ``{role: QADataset}``.
        graph: a loaded :class:`~kgqa.kg.store.KnowledgeGraph` (default: ``cfg.graph.name``).

    Returns:
        ``{"graphs": {role: SplitGraphs}, "node_features": NodeEmbeddingTable | None,
        "derived": {"num_relations", "num_nodes", "node_feature_dim"}, "checksum": {...}}``.

    Raises:
        KGQAError: ``[E033]`` when a cache's questions differ from the split's.
    """
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.retrieval.config import RetrievalConfig
    from kgqa.retrieval.data import num_edge_types
    from kgqa.retrieval.preprocess import preprocess

    graph_cfg = cfg.graph
    name = graph_cfg.name if graph_cfg is not None else "default"
    kg = graph if isinstance(graph, KnowledgeGraph) else KnowledgeGraph.load(graph or name)
    settings = RetrievalConfig.from_dict(graph_cfg.retrieval if graph_cfg is not None else {})
    view = graph_view(cfg.model.name)
    out: dict[str, Any] = {"graphs": {}, "checksum": {"name": kg.name, "checksum": kg.checksum,
                                                      "view": view, "caches": {}}}
    for role, split in splits.items():
        cache = preprocess(split, kg, split=split.split, config=settings,
                           workers=graph_cfg.workers if graph_cfg is not None else None,
                           backend=graph_cfg.backend if graph_cfg is not None else "process",
                           progress=progress)[split.split]
        if cache.question_ids != [ex.id for ex in split]:
            raise KGQAError(Errors.E033.format(problem=(
                f"the retrieval cache {cache.path} does not hold the questions of split "
                f"'{split.split}' in order; delete it and run again")))
        out["graphs"][role] = cache.graphs(**view)
        out["checksum"]["caches"][role] = {"path": str(cache.path), "key": cache.key}
    # edge types: relations, inverses and the 4 context-edge types (upper bound for every view)
    num_relations = num_edge_types(kg.num_relations)
    out["derived"] = {"num_relations": num_relations, "num_nodes": kg.num_nodes}
    out["node_features"] = _node_features(cfg, kg, settings, sum(len(s) for s in splits.values()), progress)
    return out


def _node_features(cfg, kg, settings, num_questions: int, progress: bool = False):
    """Retrieval's node-name embedding table when the model embeds nodes by their names.

    For big jobs (``node_embeddings`` ``all``, or ``auto`` with 2,000+ questions) every row is
    computed once per graph and encoder first (a no-op when retrieval's relevance ranker already
    did it), so training never encodes names batch by batch; for small ones (``kgqa eval`` of a
    short file) the table fills lazily with the nodes the batches look up, into the same cache.
    """
    if cfg.model.kwargs.get("node_embedding", "text") != "text":
        return None
    from kgqa.encoders.node_names import NodeEmbeddingTable
    from kgqa.retrieval.ranking import node_embedding_mode

    table = NodeEmbeddingTable(kg, settings.encoder)
    if node_embedding_mode(settings.node_embeddings, num_questions) == "all":
        table.compute_all(progress=progress)
    return table
