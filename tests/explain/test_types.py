"""The explanation record: path text, JSON round trip, ranking."""

from __future__ import annotations

import json
import math

from kgqa.explain.types import ExplainedPath, Explanation, path_text
from tests.explain.fixtures import hand_explanation


def test_path_text_reads_the_graph_direction():
    assert path_text(["shovel", "dig"], ["UsedFor"]) == "shovel --UsedFor--> dig"
    assert path_text(["dig", "shovel"], ["~UsedFor"]) == "dig <-UsedFor-- shovel"
    assert path_text(["plant", "flower", "garden", "shovel"], ["RelatedTo", "AtLocation", "~AtLocation"]) == \
        "plant --RelatedTo--> flower --AtLocation--> garden <-AtLocation-- shovel"
    assert path_text(["shovel"], []) == "shovel"  # question concept = answer concept
    assert ExplainedPath(["dig", "shovel"], ["~UsedFor"], 0.5).text == "dig <-UsedFor-- shovel"


def test_round_trip_and_views():
    exp = hand_explanation()
    data = json.loads(exp.to_json())
    again = Explanation.from_dict(data)
    assert again == exp
    assert exp.prediction == "shovel" and exp.ranking == [0, 1, 2] and exp.has_graph_evidence
    assert exp.counts(0) == {"nodes": 5, "edges": 5} and exp.counts(2) == {"nodes": 0, "edges": 0}
    assert [n.name for n in exp.per_choice[0].top_nodes(2)] == ["shovel", "garden"]


def test_predicted_is_the_most_probable_and_nan_becomes_null():
    exp = Explanation(question="q?", choices=["a", "b", "c"], probabilities=[0.2, 0.5, 0.3], model="lm")
    assert exp.predicted == 1 and exp.ranking == [1, 2, 0]
    hand = hand_explanation()
    hand.per_choice[0].nodes[0].relevance = math.nan
    assert hand.to_dict()["per_choice"][0]["nodes"][0]["relevance"] is None
    json.dumps(hand.to_dict(), allow_nan=False)


def test_paths_carry_a_sentence_and_their_negated_relations():
    from kgqa.explain.sentences import hop_sentence, path_sentence

    assert hop_sentence("shovel", "UsedFor", "dig") == "shovel is used to dig"
    assert hop_sentence("shovel", "CapableOf", "dig_hole") == "shovel can dig hole"
    assert hop_sentence("shovel", "NotIsA", "rake") == "shovel is not a kind of rake"
    assert hop_sentence("saw", "NotHasProperty", "cut") == "saw is not cut"
    assert hop_sentence("garden", "HasContext", "farm") == "garden has context farm"  # no template
    assert hop_sentence("garden", "NotHasContext", "farm") == "garden not has context farm"
    assert path_sentence(["tool", "rake", "shovel"], ["~IsA", "~NotIsA"]) == \
        "rake is a kind of tool; shovel is not a kind of rake"
    path = ExplainedPath(["tool", "rake", "shovel"], ["~IsA", "~NotIsA"], 0.1)
    assert path.negated == ["NotIsA"] and path.sentence == "rake is a kind of tool; shovel is not a kind of rake"
    assert ExplainedPath(["dig", "shovel"], ["~UsedFor"], 0.5).negated == []
    # an explanation written before these fields existed still loads
    old = hand_explanation().to_dict()
    for choice in old["per_choice"]:
        for key in ("num_checked", "ranking", "attention_informative", "occlusion_informative", "path_note"):
            choice.pop(key)
        for p in choice["paths"]:
            for key in ("occlusion", "probability_drop", "attention", "sentence", "negated", "node_ids"):
                p.pop(key)
    loaded = Explanation.from_dict(old)
    assert loaded.per_choice[1].paths[0].negated == ["NotCapableOf"]
    assert loaded.per_choice[0].paths[0].sentence == "shovel is used to dig"
