"""Per-choice subgraphs of each split, from the retrieval cache (``kgqa preprocess``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kgqa.errors import Errors, KGQAError


def retrieve_split_graphs(cfg, splits: Mapping[str, Any], *, graph=None) -> dict[str, Any]:
    """``{"graphs": {role: per-question lists of C Data}, "node_features": table, "checksum": ...}``."""
    raise KGQAError(Errors.E015.format(problem=(
        "the retrieval cache is not available in this build; pass graphs= to pipeline()")))
