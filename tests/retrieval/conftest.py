from __future__ import annotations

import pytest

from tests.conftest import build_graph
from tests.retrieval.helpers import TRIPLES


@pytest.fixture(scope="session")
def garden_graph(tmp_path_factory):
    """The hand-typed 9-node graph of :mod:`tests.retrieval.helpers` (built once per session)."""
    return build_graph(tmp_path_factory.mktemp("graphs") / "garden", TRIPLES, name="garden")
