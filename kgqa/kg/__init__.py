"""Knowledge-graph store, builder, relation maps and importers (the first pipeline stage)."""

from kgqa.kg.builder import GraphBuilder
from kgqa.kg.relations import MERGED17, RelationMap
from kgqa.kg.store import EdgeSet, KnowledgeGraph, Neighbors

__all__ = ["KnowledgeGraph", "GraphBuilder", "RelationMap", "Neighbors", "EdgeSet", "MERGED17"]
