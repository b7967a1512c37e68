"""Fixtures of the retrieval tests: a hand-typed graph, a word linker, CSQA-format questions."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kgqa.linking.types import LinkResult, Mention, QALinks
from tests.conftest import TOY_TRIPLES

#: The running example (tests/conftest.py's TOY_TRIPLES) plus two edges into ``garden``, so that
#: ``garden``-``flower`` is a multi-edge (AtLocation one way, HasA the other) and there are
#: several 3-hop paths. Ids (names sorted): dig 0, flower 1, garden 2, ground 3, hammer 4,
#: nail 5, plant 6, shovel 7, tool 8. Relations: AtLocation 0, HasA 1, HasSubevent 2, IsA 3,
#: RelatedTo 4, UsedFor 5 (R = 6; inverse ids 6-11).
TRIPLES = [
    *TOY_TRIPLES,
    ("dig", "AtLocation", "garden", 1.0),
    ("plant", "AtLocation", "garden", 2.0),
]
IDS = {name: i for i, name in enumerate(["dig", "flower", "garden", "ground", "hammer", "nail", "plant", "shovel",
                                         "tool"])}
REL = {name: i for i, name in enumerate(["AtLocation", "HasA", "HasSubevent", "IsA", "RelatedTo", "UsedFor"])}
R = len(REL)

#: CommonsenseQA-format questions (3 choices each). Question 3 links no concept at all.
QUESTIONS = [
    ("q0", "What do you use a shovel for in the garden?", ["dig", "flower", "nail"], "A"),
    ("q1", "Where does a flower grow?", ["garden", "tool", "hammer"], "A"),
    ("q2", "A hammer is a kind of what?", ["tool", "plant", "ground"], "A"),
    ("q3", "Why is the sky blue?", ["because", "light", "air"], "B"),
    ("q4", "What can you plant in the ground?", ["flower", "nail", "shovel"], "A"),
    ("q5", "What do you dig with?", ["shovel", "hammer", "plant"], "A"),
    ("q6", "What does a garden have?", ["flower", "tool", "dig"], "A"),
]


def csqa_line(qid: str, stem: str, choices: list[str], answer: str | None) -> str:
    obj = {"id": qid, "question": {"question_concept": "x", "stem": stem,
                                   "choices": [{"label": "ABCDE"[i], "text": t} for i, t in enumerate(choices)]}}
    if answer is not None:
        obj["answerKey"] = answer
    return json.dumps(obj)


def write_questions(path: Path, questions=QUESTIONS) -> Path:
    path.write_text("".join(csqa_line(*q) + "\n" for q in questions))
    return path


class WordLinker:
    """Links every word whose name is a node (exact match, no lemmas): picklable and instant."""

    def __init__(self, names: list[str]):
        self.ids = {name: i for i, name in enumerate(names)}

    def link(self, text: str) -> LinkResult:
        mentions = []
        for match in re.finditer(r"[a-z]+", text.lower()):
            node = self.ids.get(match.group())
            if node is not None:
                mentions.append(Mention(match.start(), match.end(), match.group(), node, match.group(), "surface"))
        return LinkResult(text, tuple(mentions), reason=None if mentions else "no concept found")

    def link_qa_batch(self, questions, choices) -> list[QALinks]:
        return [QALinks(self.link(q), tuple(self.link(c) for c in cs)) for q, cs in zip(questions, choices)]


class SlowLinker(WordLinker):
    """A :class:`WordLinker` that, in every batch, leaves its process id in ``mark_dir`` and then
    sleeps for ``seconds``: keeps pool workers busy for the tests that kill their parent."""

    def __init__(self, names: list[str], mark_dir: str, seconds: float = 300.0):
        super().__init__(names)
        self.mark_dir = mark_dir
        self.seconds = seconds

    def link_qa_batch(self, questions, choices) -> list[QALinks]:
        import os
        import time

        (Path(self.mark_dir) / str(os.getpid())).touch()
        time.sleep(self.seconds)
        return super().link_qa_batch(questions, choices)
