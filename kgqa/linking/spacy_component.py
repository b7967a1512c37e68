"""The ``kgqa_linker`` spaCy pipeline component: graph mentions as spans on the ``Doc``.

Usage::

    import spacy
    import kgqa.linking.spacy_component  # registers the factory (or via the entry point)

    nlp = spacy.load("en_core_web_sm")
    nlp.add_pipe("kgqa_linker", config={"graph": "default"})
    doc = nlp("A man dug the ground to plant flowers.")
    [(span.text, span._.kg_node, span._.kg_score) for span in doc._.kg_mentions]
    # [('man', 'man', 1.0), ('dug', 'dig', 1.0), ('ground', 'ground', 1.0), ...]

In a spaCy config file::

    [components.kgqa_linker]
    factory = "kgqa_linker"
    graph = "default"

It sets ``doc._.kg_mentions`` (a list of ``Span``, possibly nested: the parts of a verb phrase
sit inside it), ``doc._.kg_reason`` (why there are none, or ``None``) and, on each span,
``span._.kg_node`` (node name), ``span._.kg_node_id``, ``span._.kg_score``, ``span._.kg_kind``
and ``span._.kg_source`` (``"conceptnet"`` or ``"wikidata"``). It reads the lemmas and POS tags
of the components before it, so put it after the lemmatizer; on a pipeline without lemmas it
matches surface forms only. On a Wikidata graph it calls that linker on ``doc.text`` and maps
the character spans back to tokens.

The factory is registered when this module is imported, and spaCy finds it by name through the
``spacy_factories`` entry point (``kgqa_linker = "kgqa.linking.spacy_component:make_kgqa_linker"``).
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from kgqa.linking.filters import FUNCTION_POS
from kgqa.linking.types import LinkResult

_DOC_EXTENSIONS = ("kg_mentions", "kg_reason")
_SPAN_EXTENSIONS = ("kg_node", "kg_node_id", "kg_score", "kg_kind", "kg_source")


def register_extensions() -> None:
    """Add the ``._.kg_*`` attributes to ``Doc`` and ``Span`` (idempotent)."""
    for name in _DOC_EXTENSIONS:
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)
    for name in _SPAN_EXTENSIONS:
        if not Span.has_extension(name):
            Span.set_extension(name, default=None)


class KGQALinkerComponent:
    """Pipeline component wrapping a kgqa linker.

    Args:
        nlp: the pipeline (unused; spaCy passes it).
        name: the component name.
        graph: graph name or directory (as :func:`kgqa.linking.load_linker` takes it).
        options: linker options (:class:`~kgqa.linking.concept_linker.LinkerConfig` fields).
    """

    def __init__(self, nlp: Language, name: str, graph: str, **options):
        from kgqa.kg.store import KnowledgeGraph
        from kgqa.linking.linker import is_wikidata_graph, load_linker

        register_extensions()
        self.name = name
        self.graph = graph
        kg = KnowledgeGraph.load(graph)
        # the options are the ConceptNet linker's; the Wikidata linker keeps its defaults
        self.linker = load_linker(kg) if is_wikidata_graph(kg) else load_linker(kg, **options)

    def __call__(self, doc: Doc) -> Doc:
        link_doc = getattr(self.linker, "link_doc", None)
        result: LinkResult = link_doc(doc) if link_doc is not None else self.linker.link(doc.text)
        spans = []
        for mention in result.mentions:
            span = doc.char_span(mention.start, mention.end, alignment_mode="expand")
            if span is None:
                continue
            span._.kg_node = mention.node
            span._.kg_node_id = mention.node_id
            span._.kg_score = mention.score
            span._.kg_kind = mention.kind
            span._.kg_source = mention.source
            spans.append(span)
        doc._.kg_mentions = spans
        doc._.kg_reason = result.reason
        return doc


@Language.factory(
    "kgqa_linker",
    default_config={"graph": "default", "max_tokens": 4, "phrase_parts": True, "min_phrase_degree": 10,
                    "verb_forms": True, "drop_pos": sorted(FUNCTION_POS), "max_chars": 10_000},
    assigns=["doc._.kg_mentions", "doc._.kg_reason", "span._.kg_node", "span._.kg_node_id",
             "span._.kg_score", "span._.kg_kind", "span._.kg_source"],
)
def make_kgqa_linker(nlp: Language, name: str, graph: str, max_tokens: int, phrase_parts: bool,
                     min_phrase_degree: int, verb_forms: bool, drop_pos: list[str],
                     max_chars: int) -> KGQALinkerComponent:
    """Factory of the ``kgqa_linker`` component (see the module docstring; the options are
    :class:`~kgqa.linking.concept_linker.LinkerConfig`'s)."""
    return KGQALinkerComponent(nlp, name, graph, max_tokens=max_tokens, phrase_parts=phrase_parts,
                               min_phrase_degree=min_phrase_degree, verb_forms=verb_forms,
                               drop_pos=frozenset(drop_pos), max_chars=max_chars)
