"""A hand-made explanation of the running example (no model, no graph), for the renderer tests."""

from __future__ import annotations

from kgqa.explain.types import (ChoiceExplanation, ExplainedEdge, ExplainedNode, ExplainedPath,
                                Explanation)

QUESTION = "A man dug the ground to plant flowers. What tool did he use?"
CHOICES = ["shovel", "hammer", "ladder"]


def hand_explanation() -> Explanation:
    """Three choices: shovel (5 nodes, 5 edges, 2 paths ranked by occlusion, 3 edges on them),
    hammer (3 nodes, 2 edges, a negated path, attention flagged uniform), ladder (no concept
    linked: no graph evidence)."""
    shovel = ChoiceExplanation(
        index=0, choice="shovel", probability=0.7, logit=2.0,
        question_concepts=["dig", "plant", "flower"], answer_concepts=["shovel"],
        nodes=[ExplainedNode(1, "dig", "question", 0.5, attention=0.2, relevance=0.4),
               ExplainedNode(2, "flower", "question", 0.25, attention=0.1, relevance=0.3),
               ExplainedNode(0, "shovel", "answer", 1.0, attention=0.4, relevance=0.9),
               ExplainedNode(3, "garden", "intermediate", 0.75, attention=0.3, relevance=0.5),
               ExplainedNode(4, "tool", "intermediate", 0.0, attention=0.0, relevance=None)],
        edges=[ExplainedEdge(0, 1, "UsedFor", attention=0.6, weight=2.0, occlusion=0.6, path_rank=0),
               ExplainedEdge(0, 3, "AtLocation", attention=0.3, occlusion=0.3, path_rank=1),
               ExplainedEdge(2, 3, "AtLocation", attention=0.3, weight=3.0, occlusion=0.3, path_rank=1),
               ExplainedEdge(3, 2, "HasA", attention=0.1),
               ExplainedEdge(0, 4, "IsA", attention=None)],
        paths=[ExplainedPath(["dig", "shovel"], ["~UsedFor"], 0.6, occlusion=0.6, probability_drop=0.12,
                             attention=2.5, node_ids=[1, 0]),
               ExplainedPath(["flower", "garden", "shovel"], ["AtLocation", "~AtLocation"], 0.3,
                             occlusion=0.3, probability_drop=0.06, attention=0.8, node_ids=[2, 3, 0])],
        num_subgraph_nodes=9, num_subgraph_edges=12, num_paths=4, num_checked=4, ranking="occlusion",
        attention_informative=True, occlusion_informative=True)
    hammer = ChoiceExplanation(
        index=1, choice="hammer", probability=0.2, logit=0.75,
        question_concepts=["dig", "plant", "flower"], answer_concepts=["hammer"],
        nodes=[ExplainedNode(1, "dig", "question", 0.2, attention=0.1),
               ExplainedNode(5, "hammer", "answer", 1.0, attention=0.5),
               ExplainedNode(4, "tool", "intermediate", 0.8, attention=0.4)],
        edges=[ExplainedEdge(5, 4, "IsA", attention=0.7),
               ExplainedEdge(5, 1, "NotCapableOf", attention=0.1, occlusion=0.05, path_rank=0, negated=True)],
        paths=[ExplainedPath(["dig", "hammer"], ["~NotCapableOf"], 0.05, occlusion=0.05, probability_drop=0.01,
                             attention=1.0, node_ids=[1, 5])],
        num_subgraph_nodes=3, num_subgraph_edges=2, num_paths=1, num_checked=1, ranking="occlusion",
        attention_informative=False, occlusion_informative=True,
        path_note="the model's attention along every path is within 10% of uniform: it singles out no path; "
                  "paths are ranked by occlusion")
    ladder = ChoiceExplanation(
        index=2, choice="ladder", probability=0.1, logit=0.05,
        question_concepts=["dig", "plant", "flower"], answer_concepts=[],
        message="no concept of the question or this choice is in the graph: no graph evidence")
    return Explanation(question=QUESTION, choices=CHOICES, probabilities=[0.7, 0.2, 0.1],
                       model="kagnet", per_choice=[shovel, hammer, ladder], attention="path",
                       question_concepts=["man", "dig", "ground", "plant", "flower"], graph="toy",
                       id="q-hand", label=0)
