"""Typed explanations: what a model linked, retrieved and attended to for one question.

An :class:`Explanation` is plain data (numbers and strings, JSON round-trip with
:meth:`Explanation.to_dict` / :meth:`Explanation.from_dict`), so every renderer (terminal, HTML,
PNG/SVG) reads the same object and tests can build one by hand::

    Explanation(question="...", choices=["shovel", "hammer"], probabilities=[0.8, 0.2],
                model="kagnet", attention="path",
                per_choice=[ChoiceExplanation(index=0, choice="shovel", ...), ...])

Node kinds (their colours in every renderer): ``question`` (a concept linked in the question),
``answer`` (a concept linked in the answer choice) and ``intermediate`` (any other retrieved
concept). Relations are always stored in their graph direction: an edge ``src --relation--> dst``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

NODE_KINDS = ("question", "answer", "intermediate")

#: What the model's attention covers (``Explanation.attention``).
ATTENTION_KINDS = ("path", "node+edge", "node", "none")


def hop_text(source: str, relation: str, target: str, *, forward: bool = True) -> str:
    """One hop as text: ``shovel --UsedFor--> dig`` or, followed backwards, ``dig <-UsedFor-- shovel``."""
    return f"{source} --{relation}--> {target}" if forward else f"{source} <-{relation}-- {target}"


def path_text(nodes: list[str], relations: list[str]) -> str:
    """A path as text; a relation written ``~Name`` is a stored edge followed backwards.

    Example::

        >>> path_text(["dig", "shovel"], ["~UsedFor"])
        'dig <-UsedFor-- shovel'
    """
    parts = [nodes[0]] if nodes else []
    for relation, node in zip(relations, nodes[1:]):
        if relation.startswith("~"):
            parts.append(f"<-{relation[1:]}-- {node}")
        else:
            parts.append(f"--{relation}--> {node}")
    return " ".join(parts)


def same_answer_key(choice: str) -> str:
    """What makes two choices the same answer: their text, case and spacing aside."""
    return " ".join(choice.split()).casefold()


def duplicate_choices(choices: list[str]) -> list[list[int]]:
    """Groups (2 or more) of choice indices that are the same answer, e.g. ``[[3, 4]]``.

    Datasets have such questions (CommonsenseQA dev lists 'bar' twice in one question); they are
    answered, the duplicates scored alike and marked, rather than refused.
    """
    groups: dict[str, list[int]] = {}
    for i, choice in enumerate(choices):
        groups.setdefault(same_answer_key(choice), []).append(i)
    return [group for group in groups.values() if len(group) > 1]


def _finite(value):
    """Replace NaN/inf (not JSON) by ``None``, recursively."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@dataclass
class ExplainedNode:
    """A concept of a choice's subgraph.

    Attributes:
        id: the node id in the graph.
        name: the concept name (``ice_cream``).
        kind: ``question``, ``answer`` or ``intermediate`` (see :data:`NODE_KINDS`).
        score: what renderers size the node by, in ``[0, 1]`` after normalisation per choice: the
            model's attention when it gives one, else retrieval's relevance, else 0.
        attention: the model's attention on the node (``None`` when the model gives none).
        relevance: retrieval's relevance score of the node (``None`` where it was not ranked).
        occlusion: how far the choice's logit falls when the model no longer reads this concept
            (ERNIE: its entity fusion removed); ``None`` where not measured.
    """

    id: int
    name: str
    kind: str
    score: float = 0.0
    attention: float | None = None
    relevance: float | None = None
    occlusion: float | None = None


@dataclass
class ExplainedEdge:
    """A stored edge among the shown nodes: ``src --relation--> dst``.

    Attributes:
        src, dst: node ids in the graph.
        relation: the stored relation name (graph direction).
        attention: the model's attention on the edge. QA-GNN: the last layer's weight over the
            uniform value of its normalisation group (1 = uniform; mean over heads, the larger of
            the two directions); KagNet: summed weight of the paths using it.
        weight: the edge's weight in the graph.
        occlusion: the largest drop of the choice's logit among the checked paths that use the
            edge (``None``: on no checked path).
        path_rank: index in ``ChoiceExplanation.paths`` of the first shown path using the edge
            (``None``: on no shown path); renderers highlight these edges.
        negated: the relation is a negated one (``NotIsA``, ...).
    """

    src: int
    dst: int
    relation: str
    attention: float | None = None
    weight: float = 1.0
    occlusion: float | None = None
    path_rank: int | None = None
    negated: bool = False


@dataclass
class ExplainedPath:
    """A reasoning path from a question concept to an answer concept of the choice's graph.

    Attributes:
        nodes: concept names, question concept first, answer concept last.
        relations: one per hop; ``~Name`` when the stored edge is followed backwards.
        weight: what the paths are ranked by (see ``ChoiceExplanation.ranking``): the
            ``occlusion`` drop when it was measured, else the ``attention``, else 0.
        text: readable form, e.g. ``dig <-UsedFor-- shovel``.
        source: ``model`` (a path the model itself attends over: KagNet) or ``subgraph`` (a
            question-to-answer path through the choice's subgraph, scored from the model's
            attention on its edges: QA-GNN, R-GCN).
        occlusion: how far the choice's logit falls when the path's edges (both directions) are
            removed from its graph and the model runs again; ``None`` where not measured.
        probability_drop: the same, as the fall of the choice's probability (the other choices'
            logits kept).
        attention: the model's attention along the path over what uniform attention would give
            (1 = uniform). QA-GNN: the product over hops of each hop's weight, in the direction
            messages flow, at the layer where the hop must be taken for the path to reach the
            answer concept at the last layer; KagNet: :math:`\alpha_p \beta_{ij}` times the
            number of paths of the pair and the number of pairs. ``None``: the model gives none.
        sentence: the path as sentences ("shovel is used to dig").
        negated: the path's negated relations (``NotIsA``, ...), empty when none.
        node_ids: the nodes' ids in the graph.
    """

    nodes: list[str]
    relations: list[str]
    weight: float
    text: str = ""
    source: str = "model"
    occlusion: float | None = None
    probability_drop: float | None = None
    attention: float | None = None
    sentence: str = ""
    negated: list[str] = field(default_factory=list)
    node_ids: list[int] = field(default_factory=list)

    def __post_init__(self):
        from kgqa.explain.sentences import negated_relations, path_sentence

        if not self.text:
            self.text = path_text(self.nodes, self.relations)
        if not self.sentence:
            self.sentence = path_sentence(self.nodes, self.relations)
        if not self.negated:
            self.negated = negated_relations(self.relations)


@dataclass
class ChoiceExplanation:
    """The evidence of one answer choice.

    Attributes:
        index: position of the choice in the question's choices.
        choice: its text.
        probability: softmax of the model's logits over the choices.
        logit: the model's raw score.
        question_concepts: concepts linked in the question (those of the choice removed).
        answer_concepts: concepts linked in the choice.
        nodes: the shown subgraph nodes (question and answer concepts first, then the most
            attended others).
        edges: stored edges among the shown nodes.
        paths: the top reasoning paths, best first.
        num_subgraph_nodes, num_subgraph_edges: size of the whole retrieved subgraph (context
            node and inverse edges not counted).
        num_paths: question-to-answer paths found for this choice (KagNet: the paths it read).
        num_checked: paths checked by occlusion.
        ranking: what orders ``paths``: ``occlusion`` (the drop of the choice's logit when the
            path is removed), ``attention`` (no occlusion was run), or ``none`` (neither is
            available or the attention is uninformative: paths are listed shortest first).
        attention_informative: ``False`` when the model's attention along every path is within
            10% of uniform (it singles out no path), ``None`` when the model gives none.
        occlusion_informative: ``False`` when removing any one path moves the logit by less
            than 0.001, ``None`` when not measured.
        path_note: what the reader must know about the paths' scores (uninformative attention
            or occlusion), or ``None``.
        message: why there is no graph evidence, when there is none.
    """

    index: int
    choice: str
    probability: float
    logit: float = 0.0
    question_concepts: list[str] = field(default_factory=list)
    answer_concepts: list[str] = field(default_factory=list)
    nodes: list[ExplainedNode] = field(default_factory=list)
    edges: list[ExplainedEdge] = field(default_factory=list)
    paths: list[ExplainedPath] = field(default_factory=list)
    num_subgraph_nodes: int = 0
    num_subgraph_edges: int = 0
    num_paths: int = 0
    num_checked: int = 0
    ranking: str = "none"
    attention_informative: bool | None = None
    occlusion_informative: bool | None = None
    path_note: str | None = None
    message: str | None = None

    def top_nodes(self, k: int = 5, *, kinds: tuple[str, ...] = ("intermediate", "answer", "question")
                  ) -> list[ExplainedNode]:
        """The ``k`` highest-scoring shown nodes of the given kinds."""
        picked = [n for n in self.nodes if n.kind in kinds]
        return sorted(picked, key=lambda n: -n.score)[:k]


@dataclass
class Explanation:
    """Why a model ranked the choices of one question as it did.

    Attributes:
        question: the question text.
        choices: the answer choices, in the given order.
        probabilities: one per choice (sum to 1).
        predicted: index of the most probable choice.
        model: the model's registry name (``kagnet``, ``qagnn``...).
        attention: what the model's attention covers (:data:`ATTENTION_KINDS`).
        per_choice: one :class:`ChoiceExplanation` per choice, in choice order.
        question_concepts: every concept linked in the question.
        graph: the graph's name.
        message: a note for the reader when the model gives no attention or nothing linked.
        id: the dataset's question id, when it came from a dataset.
        label: index of the right answer, when known.
        notes: what the reader must know about the input: a question or choice the linker
            refused (and why), control characters removed, duplicate choices.
    """

    question: str
    choices: list[str]
    probabilities: list[float]
    model: str
    per_choice: list[ChoiceExplanation] = field(default_factory=list)
    attention: str = "none"
    predicted: int = -1
    question_concepts: list[str] = field(default_factory=list)
    graph: str = ""
    message: str | None = None
    id: str | None = None
    label: int | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.predicted < 0 and self.probabilities:
            self.predicted = max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    # ------------------------------------------------------------------ views
    @property
    def prediction(self) -> str:
        """The most probable choice's text."""
        return self.choices[self.predicted]

    @property
    def ranking(self) -> list[int]:
        """Choice indices, most probable first (ties keep the given order)."""
        return sorted(range(len(self.choices)), key=lambda i: -self.probabilities[i])

    @property
    def has_graph_evidence(self) -> bool:
        """Whether any choice has a subgraph node to show."""
        return any(c.nodes for c in self.per_choice)

    def counts(self, choice: int) -> dict[str, int]:
        """Shown nodes and edges of a choice (what a renderer must draw)."""
        c = self.per_choice[choice]
        return {"nodes": len(c.nodes), "edges": len(c.edges)}

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (NaN and infinite values become ``None``)."""
        return _finite(asdict(self))

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Explanation":
        data = dict(data)
        per_choice = []
        for c in data.pop("per_choice", []):
            c = dict(c)
            c["nodes"] = [ExplainedNode(**n) for n in c.get("nodes", [])]
            c["edges"] = [ExplainedEdge(**e) for e in c.get("edges", [])]
            c["paths"] = [ExplainedPath(**p) for p in c.get("paths", [])]
            per_choice.append(ChoiceExplanation(**c))
        return cls(per_choice=per_choice, **data)
