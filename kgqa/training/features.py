"""Frozen-regime LM states: every (question, choice) pair encoded once and cached on disk.

In the ``frozen`` regime the backbone is not trained, so its pooled state for each
"question [SEP] choice" pair never changes: it is computed once per (backbone, max_length,
pooling, dataset split) and stored as ``(N, C, H)`` float32 in safetensors. Beside it the entry
holds the *sentence embeddings* of each question alone and each choice alone (mean-pooled,
unit-normalised, as :class:`kgqa.encoders.SentenceEncoder`): ``question_vectors`` ``(N, H)`` and
``choice_vectors`` ``(N, C, H)``. Their cosine is the zero-shot baseline, which every frozen
model starts from (:class:`kgqa.nn.ZeroShotPrior`): the pair state alone is a weak feature (the
five pair states of a question have a mean cosine of 0.85 with each other on CommonsenseQA).
Graph models then train on these states in minutes on a CPU.

The cache key is the sha256 of everything the states depend on: the backbone name and the sha256
of its weights file, ``max_length``, the pooling, and the split's content checksum
(:attr:`QADataset.checksum`, the sha256 of its questions in order — equal for the same questions
whether they came from the jsonl file or the hub). A different backbone, tokenisation or data
gives a different key, so a stale cache is never read. Each entry is a directory, written
atomically, with a ``manifest.json`` (the key's inputs, question ids, shape, time taken and the
sha256 of the states file, checked at every load: a damaged entry is recomputed with a warning,
``W190``, never read)::

    KGQA_HOME/features/<backbone>/<split>-<key[:16]>/{states.safetensors, manifest.json}
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch

from kgqa.errors import Errors, KGQAError, Warnings, warn

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.backbones.backbone import Backbone
    from kgqa.data.records import QADataset

Pooling = Literal["first", "mean", "choice"]
FORMAT_VERSION = 2  # 2: + question/choice sentence vectors, states sha256
STATES_FILE = "states.safetensors"
MANIFEST_FILE = "manifest.json"
_FINGERPRINTS: dict[tuple, str] = {}


@dataclass
class FrozenStates:
    """Cached pooled states of one split.

    Attributes:
        states: ``(N, C, H)`` float32, row ``i`` = question ``i`` of the split, column ``c`` = its
            choice ``c``.
        question_vectors: ``(N, H)`` unit sentence embeddings of the questions alone.
        choice_vectors: ``(N, C, H)`` unit sentence embeddings of the choices alone.
        ids: the ``N`` question ids, in order.
        path: the cache entry directory.
        hit: whether the states were read from the cache (``False``: computed now).
        seconds: time to compute (from the manifest on a hit).
        pairs_per_second: encoding rate when computed.
    """

    states: torch.Tensor
    ids: list[str]
    path: Path
    hit: bool
    seconds: float
    pairs_per_second: float
    question_vectors: torch.Tensor | None = None
    choice_vectors: torch.Tensor | None = None

    def sentence_vectors(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(question_vectors, choice_vectors)``, or ``None`` if the entry has none."""
        if self.question_vectors is None or self.choice_vectors is None:
            return None
        return self.question_vectors, self.choice_vectors


def features_home() -> Path:
    from kgqa.paths import kgqa_home

    return kgqa_home() / "features"


def backbone_fingerprint(name: str) -> str:
    """sha256 of a local backbone's weights file (package or directory), else the hub name."""
    from kgqa.backbones.names import WEIGHT_FILES, resolve_backbone_name

    try:
        resolved = resolve_backbone_name(name)
    except KGQAError:
        return f"name:{name}"
    if resolved.kind == "hub":
        return f"hub:{resolved.path}"
    folder = Path(resolved.path)
    for weights in WEIGHT_FILES:
        file = folder / weights
        if file.is_file():
            stat = file.stat()
            memo = (str(file), stat.st_size, stat.st_mtime_ns)
            if memo not in _FINGERPRINTS:
                from kgqa.utils.io import sha256_file

                _FINGERPRINTS[memo] = sha256_file(file)
            return f"sha256:{_FINGERPRINTS[memo]}"
    return f"dir:{folder}"


def cache_key(*, backbone: str, fingerprint: str, max_length: int, pooling: str,
              dataset_checksum: str, state_layers: int | str = 1) -> str:
    """sha256 over the inputs the states depend on (``state_layers`` enters only when it is not
    1, so the keys of last-layer states are those they always were)."""
    fields = {"format": FORMAT_VERSION, "backbone": backbone, "weights": fingerprint,
              "max_length": int(max_length), "pooling": pooling, "dataset": dataset_checksum}
    if state_layers != 1:
        fields["state_layers"] = state_layers
    payload = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text).strip("_")[:60] or "x"


def num_state_layers(backbone: Backbone, state_layers: int | str) -> int:
    """How many hidden states a pair state concatenates: ``state_layers``, or ``L + 1`` for
    ``"all"`` (the embeddings' output and every layer's).

    Raises:
        KGQAError: ``[E018]`` when ``state_layers`` is not ``"all"`` or in ``1..L+1``.
    """
    available = backbone.num_layers + 1
    count = available if state_layers == "all" else state_layers
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= available:
        raise KGQAError(Errors.E018.format(name=backbone.name, problem=(
            f"state_layers={state_layers!r}: it has {backbone.num_layers} layers, so "
            f"{available} hidden states; use 1..{available} or 'all'")))
    return count


def pair_states(backbone: Backbone, enc: dict, *, pooling: Pooling,
                state_layers: int | str = 1) -> torch.Tensor:
    """``(N, k * H)``: the pooled states of the top ``k`` hidden states of ``enc``'s sequences,
    concatenated from the lowest to the last layer (``k = 1``: the last layer's alone).

    Several layers are the feature-based setting of BERT (Devlin et al., 2019, Sec. 5.3,
    Table 7: the last four hidden layers concatenated came within 0.3 F1 of fine-tuning on
    CoNLL-2003 NER); probing studies find that a frozen encoder's middle layers often transfer
    better than its last (Liu et al., NAACL 2019; Tenney et al., ACL 2019).
    """
    ids, mask, types = enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids")
    count = num_state_layers(backbone, state_layers)
    if count == 1:
        hidden = backbone(ids, mask, types).hidden_states
        return backbone.pool_tokens(hidden, ids, mask, pooling)
    layers = backbone.layer_states(ids, mask, types)[-count:]
    return torch.cat([backbone.pool_tokens(h, ids, mask, pooling) for h in layers], dim=-1)


@torch.no_grad()
def encode_pairs(backbone: Backbone, dataset: QADataset, *, max_length: int,
                 pooling: Pooling = "first", batch_size: int = 128,
                 progress: bool | None = None, state_layers: int | str = 1) -> torch.Tensor:
    """Pooled backbone states of every (question, choice) pair of ``dataset``.

    Pairs are encoded in batches of ``batch_size`` questions sorted by length (less padding),
    then put back in dataset order.

    Args:
        backbone: the encoder (put in eval mode; no gradients).
        dataset: the split.
        max_length: longest pair in tokens.
        pooling: ``"first"`` (the first token's last hidden state, as the models' backbone
            pooling), ``"mean"`` (mean over non-padding tokens, as sentence encoders) or
            ``"choice"`` (mean over the choice's tokens, read in the question's context:
            :meth:`~kgqa.backbones.backbone.Backbone.pool_tokens`; the five pair states of a question
            then differ by more than the choice's share of one mean).
        batch_size: questions per forward pass (``batch_size * C`` sequences).
        state_layers: how many of the top hidden states each pair state concatenates
            (:func:`pair_states`; ``"all"``: the embeddings' output and every layer).

    Returns:
        ``(N, C, k * H)`` float32 on the CPU (``k`` the number of hidden states).
    """
    from kgqa.utils.progress import progress_bar

    examples = list(dataset)
    if not examples:
        raise KGQAError(Errors.E033.format(problem=f"split '{dataset.split}' has no questions"))
    num_choices = examples[0].num_choices
    was_training = backbone.training
    backbone.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].question)
                   + max(len(c) for c in examples[i].choices))
    width = backbone.hidden_size * num_state_layers(backbone, state_layers)
    out = torch.empty(len(examples), num_choices, width)
    device = backbone.device
    with progress_bar(disable=progress if progress is None else not progress) as bar:
        task = bar.add_task(f"encoding {dataset.split} pairs", total=len(examples) * num_choices)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            enc = backbone.encode_choices([examples[i].question for i in rows],
                                          [list(examples[i].choices) for i in rows],
                                          max_length=max_length)
            enc = {k: v.to(device) for k, v in enc.items()}
            pooled = pair_states(backbone, enc, pooling=pooling, state_layers=state_layers)
            out[rows] = pooled.float().cpu().view(len(rows), num_choices, -1)
            bar.advance(task, len(rows) * num_choices)
    backbone.train(was_training)
    return out


@torch.no_grad()
def encode_sentences(backbone: Backbone, texts: list[str], *, max_length: int,
                     batch_size: int = 256) -> torch.Tensor:
    """Mean-pooled, unit-normalised embeddings of single texts, ``(n, H)`` float32.

    The same computation as :meth:`kgqa.encoders.SentenceEncoder.encode` (so the cosine of a
    question and a choice here is the zero-shot baseline's logit), on an already loaded backbone.
    Texts are encoded in length order (less padding) and returned in input order.
    """
    from kgqa.backbones.backbone import pool

    out = torch.empty(len(texts), backbone.hidden_size)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    device = backbone.device
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        enc = backbone.encode([texts[i] for i in rows], max_length=max_length)
        enc = {k: v.to(device) for k, v in enc.items()}
        hidden = backbone(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids")).hidden_states
        pooled = pool(hidden, enc["attention_mask"], "mean")
        out[rows] = torch.nn.functional.normalize(pooled.float(), dim=-1).cpu()
    return out


def encode_question_choice_vectors(backbone: Backbone, dataset: QADataset, *, max_length: int,
                                   batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Sentence embeddings of every question ``(N, H)`` and choice ``(N, C, H)`` of ``dataset``
    (each distinct choice text encoded once: CommonsenseQA repeats many)."""
    examples = list(dataset)
    num_choices = examples[0].num_choices
    was_training = backbone.training
    backbone.eval()
    questions = encode_sentences(backbone, [ex.question for ex in examples],
                                 max_length=max_length, batch_size=batch_size)
    texts = sorted({c for ex in examples for c in ex.choices})
    index = {t: i for i, t in enumerate(texts)}
    distinct = encode_sentences(backbone, texts, max_length=max_length, batch_size=batch_size)
    rows = torch.tensor([[index[c] for c in ex.choices] for ex in examples]).view(-1)
    backbone.train(was_training)
    return questions, distinct[rows].view(len(examples), num_choices, -1)


def load_or_compute_states(backbone: str | Backbone, dataset: QADataset, *, max_length: int,
                           pooling: Pooling = "first", batch_size: int = 128,
                           cache_dir: str | Path | None = None, device: str | None = None,
                           progress: bool | None = None, state_layers: int | str = 1) -> FrozenStates:
    """The cached pooled states of ``dataset``, computing and caching them on a miss.

    Args:
        backbone: a backbone name (loaded only on a cache miss) or a loaded :class:`Backbone`.
        dataset: the split (its :attr:`~QADataset.checksum` is part of the key).
        max_length, pooling, batch_size, state_layers: see :func:`encode_pairs`.
        cache_dir: root of the cache (default ``KGQA_HOME/features``).
        device: where to run the backbone on a miss (default: CUDA if available, else CPU).

    Raises:
        KGQAError: ``[E034]`` for a damaged entry (the ids or shape do not match the split).
    """
    from kgqa.utils.io import atomic_directory, atomic_write_json

    name = backbone if isinstance(backbone, str) else backbone.name
    fingerprint = backbone_fingerprint(name)
    checksum = dataset.checksum or _content_checksum(dataset)
    key = cache_key(backbone=name, fingerprint=fingerprint, max_length=max_length,
                    pooling=pooling, dataset_checksum=checksum, state_layers=state_layers)
    root = Path(cache_dir) if cache_dir is not None else features_home()
    entry = root / _slug(name) / f"{_slug(dataset.split)}-{key[:16]}"
    ids = [ex.id for ex in dataset]
    if (entry / MANIFEST_FILE).is_file() and (entry / STATES_FILE).is_file():
        try:
            return _read_entry(entry, key, ids)
        except _Damaged as exc:  # a cache: recompute it, never read numbers from a damaged file
            warn(Warnings.W190.format(path=entry, problem=str(exc)))

    loaded = backbone
    if isinstance(backbone, str):
        from kgqa.backbones.backbone import Backbone

        loaded = Backbone.from_pretrained(backbone, freeze="all")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    original_device = loaded.device
    loaded.to(device)
    start = time.perf_counter()
    states = encode_pairs(loaded, dataset, max_length=max_length, pooling=pooling,
                          batch_size=batch_size, progress=progress, state_layers=state_layers)
    question_vectors, choice_vectors = encode_question_choice_vectors(
        loaded, dataset, max_length=max_length, batch_size=2 * batch_size)
    seconds = time.perf_counter() - start
    loaded.to(original_device)
    pairs = states.shape[0] * states.shape[1]
    manifest = {"format": FORMAT_VERSION, "key": key, "backbone": name, "weights": fingerprint,
                "max_length": max_length, "pooling": pooling, "state_layers": state_layers,
                "dataset": dataset.name,
                "split": dataset.split, "dataset_checksum": checksum,
                "sources": list(dataset.sources), "shape": list(states.shape), "ids": ids,
                "seconds": round(seconds, 3), "pairs_per_second": round(pairs / seconds, 2),
                "device": str(device), "torch_threads": torch.get_num_threads()}
    from safetensors.torch import save_file

    from kgqa.utils.io import new_file_mode, sha256_file

    with atomic_directory(entry) as tmp:
        save_file({"states": states.contiguous(), "question_vectors": question_vectors.contiguous(),
                   "choice_vectors": choice_vectors.contiguous()}, str(tmp / STATES_FILE))
        os.chmod(tmp / STATES_FILE, new_file_mode(tmp))  # safetensors writes 0o600 whatever the umask
        manifest["sha256"] = sha256_file(tmp / STATES_FILE)
        atomic_write_json(tmp / MANIFEST_FILE, manifest)
    return FrozenStates(states=states, ids=ids, path=entry, hit=False, seconds=seconds,
                        pairs_per_second=pairs / seconds, question_vectors=question_vectors,
                        choice_vectors=choice_vectors)


class _Damaged(Exception):
    """A cache entry that cannot be trusted (unreadable, checksum or shape mismatch)."""


def _read_entry(entry: Path, key: str, ids: list[str]) -> FrozenStates:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from kgqa.utils.io import sha256_file

    try:
        manifest = json.loads((entry / MANIFEST_FILE).read_text())
        if not isinstance(manifest, dict):
            raise _Damaged("the manifest is not a JSON object")
        found = sha256_file(entry / STATES_FILE)
        if manifest.get("sha256") != found:
            raise _Damaged(f"{STATES_FILE} has sha256 {found[:12]}..., the manifest records "
                           f"{str(manifest.get('sha256'))[:12]}...")
        tensors = load_file(str(entry / STATES_FILE))
        states = tensors["states"]
    except (json.JSONDecodeError, KeyError, OSError, SafetensorError) as exc:
        raise _Damaged(f"unreadable ({type(exc).__name__}: {exc})") from None
    if manifest.get("key") != key:
        raise _Damaged("its manifest key differs")
    questions, choices = tensors.get("question_vectors"), tensors.get("choice_vectors")
    if (manifest.get("ids") != ids or states.shape[0] != len(ids) or questions is None
            or choices is None or questions.shape[0] != len(ids) or choices.shape[:2] != states.shape[:2]):
        raise _Damaged(f"it holds {states.shape[0]} questions that do not match the split's {len(ids)}")
    if not (torch.isfinite(states).all() and torch.isfinite(questions).all()
            and torch.isfinite(choices).all()):
        raise _Damaged("it holds non-finite values")
    return FrozenStates(states=states, ids=ids, path=entry, hit=True,
                        seconds=float(manifest.get("seconds", 0.0)),
                        pairs_per_second=float(manifest.get("pairs_per_second", 0.0)),
                        question_vectors=questions, choice_vectors=choices)


def _content_checksum(dataset) -> str:
    from kgqa.data.jsonl import examples_checksum

    return examples_checksum(dataset)
