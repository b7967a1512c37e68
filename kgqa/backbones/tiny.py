"""Tiny random encoders of each supported architecture, for tests (no downloads).

Like ``BertModelTester.get_config()`` in transformers' tests: hidden size 32, 2 layers, 4 heads,
intermediate size 37. :func:`save_tiny_backbone` writes a model and a tokenizer built offline
(a WordPiece vocabulary of about 100 tokens; a byte-level BPE for RoBERTa) with
``save_pretrained``, so tests load them back through the same ``Backbone.from_pretrained(path)``
code path that a hub name takes.
"""

from __future__ import annotations

from pathlib import Path

from kgqa.errors import Errors, KGQAError

#: Architectures with a tiny config here.
TINY_ARCHITECTURES = ("bert", "albert", "electra", "roberta", "distilbert")

HIDDEN_SIZE = 32
NUM_LAYERS = 2
NUM_HEADS = 4
INTERMEDIATE_SIZE = 37
MAX_LENGTH = 64

_WORDS = ("the a an is are was of in on at to for with where what why who would you do does "
          "can person people dog cat ice cream freezer fridge shovel dig garden tool book "
          "library store home house").split()
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_BERT_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_BPE_SPECIAL = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
_BPE_CORPUS = [
    "where would you put ice cream? in the freezer",
    "a shovel is a tool used to dig in the garden",
    "people read a book in the library or at home",
    "what do dogs and cats do at home?",
]


def wordpiece_vocab() -> list[str]:
    """The tiny WordPiece vocabulary: 5 specials, letters, ``##`` letters, digits, a few words."""
    tokens = [*_BERT_SPECIAL, *_LETTERS, *(f"##{c}" for c in _LETTERS), *"0123456789?.,'",
              *_WORDS]
    return list(dict.fromkeys(tokens))


def tiny_tokenizer(arch: str = "bert"):
    """A small fast tokenizer built in memory: byte-level BPE for RoBERTa, WordPiece otherwise.

    Returns:
        a ``transformers.PreTrainedTokenizerFast`` with ``model_max_length = 64``.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    _check_arch(arch)
    if arch == "roberta":
        from tokenizers import ByteLevelBPETokenizer

        bpe = ByteLevelBPETokenizer()
        bpe.train_from_iterator(_BPE_CORPUS, vocab_size=300, min_frequency=1,
                                special_tokens=list(_BPE_SPECIAL), show_progress=False)
        tok = bpe._tokenizer
        tok.post_processor = processors.RobertaProcessing(
            ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
        return PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
            cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
            model_max_length=MAX_LENGTH, model_input_names=["input_ids", "attention_mask"])
    vocab = {token: i for i, token in enumerate(wordpiece_vocab())}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.decoder = decoders.WordPiece()
    names = ["input_ids", "attention_mask"] if arch == "distilbert" else \
        ["input_ids", "token_type_ids", "attention_mask"]
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
        cls_token="[CLS]", mask_token="[MASK]", model_max_length=MAX_LENGTH,
        model_input_names=names)


def tiny_config(arch: str, vocab_size: int, *, pad_token_id: int = 0):
    """A tiny random ``transformers`` config of ``arch`` (hidden 32, 2 layers, 4 heads)."""
    from transformers import (AlbertConfig, BertConfig, DistilBertConfig, ElectraConfig,
                              RobertaConfig)

    _check_arch(arch)
    common = dict(vocab_size=vocab_size, hidden_size=HIDDEN_SIZE, num_hidden_layers=NUM_LAYERS,
                  num_attention_heads=NUM_HEADS, intermediate_size=INTERMEDIATE_SIZE,
                  max_position_embeddings=MAX_LENGTH, pad_token_id=pad_token_id)
    if arch == "bert":
        return BertConfig(**common)
    if arch == "albert":
        return AlbertConfig(embedding_size=16, num_hidden_groups=1, inner_group_num=1, **common)
    if arch == "electra":
        return ElectraConfig(embedding_size=16, **common)
    if arch == "roberta":  # positions start after the padding index
        common["max_position_embeddings"] = MAX_LENGTH + pad_token_id + 1
        return RobertaConfig(type_vocab_size=1, bos_token_id=0, eos_token_id=2, **common)
    return DistilBertConfig(vocab_size=vocab_size, dim=HIDDEN_SIZE, n_layers=NUM_LAYERS,
                            n_heads=NUM_HEADS, hidden_dim=INTERMEDIATE_SIZE,
                            max_position_embeddings=MAX_LENGTH, pad_token_id=pad_token_id)


def save_tiny_backbone(arch: str, directory: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny random ``arch`` encoder and its tokenizer to ``directory``.

    Args:
        arch: one of :data:`TINY_ARCHITECTURES`.
        directory: where ``config.json``, ``model.safetensors`` and the tokenizer files go.
        seed: seed of the random weights (the same seed gives the same weights).

    Returns:
        ``directory``, ready for ``Backbone.from_pretrained(directory)``.
    """
    from transformers import AutoModel

    directory = Path(directory)
    tokenizer = tiny_tokenizer(arch)
    config = tiny_config(arch, len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    return _save_random(AutoModel, config, tokenizer, directory, seed)


def _save_random(auto_class, config, tokenizer, directory: Path, seed: int) -> Path:
    """``auto_class.from_config(config)`` with weights drawn from ``seed`` (the global RNG left
    as it was), saved with ``tokenizer`` into ``directory``."""
    import torch

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = auto_class.from_config(config)
    finally:
        torch.random.set_rng_state(generator_state)
    directory.mkdir(parents=True, exist_ok=True)
    from kgqa.backbones.backbone import _quiet_transformers

    with _quiet_transformers():
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
    return directory


def _check_arch(arch: str) -> None:
    if arch not in TINY_ARCHITECTURES:
        raise KGQAError(Errors.E013.format(kind="tiny architecture", name=arch,
                                           known=", ".join(TINY_ARCHITECTURES)))


# ---------------------------------------------------------------------- tiny causal LMs
#: Causal-LM architectures with a tiny config here (for :mod:`kgqa.models.llm`).
TINY_CAUSAL_ARCHITECTURES = ("gpt2", "llama")


def tiny_causal_tokenizer(arch: str = "gpt2"):
    """A byte-level BPE tokenizer (about 300 tokens) built in memory; ``llama`` prepends ``<s>``
    to every text like Llama's and Gemma's tokenizers, ``gpt2`` adds nothing. It pads on the
    left, as many causal-LM tokenizers do (the scorer must not depend on it)."""
    from tokenizers import ByteLevelBPETokenizer, processors
    from transformers import PreTrainedTokenizerFast

    if arch not in TINY_CAUSAL_ARCHITECTURES:
        raise KGQAError(Errors.E013.format(kind="tiny causal architecture", name=arch,
                                           known=", ".join(TINY_CAUSAL_ARCHITECTURES)))
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([*_BPE_CORPUS, "question: answer: facts: garden flower hammer nail"],
                            vocab_size=300, min_frequency=1, special_tokens=list(_BPE_SPECIAL),
                            show_progress=False)
    tok = bpe._tokenizer
    if arch == "llama":
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", model_max_length=512, padding_side="left",
        model_input_names=["input_ids", "attention_mask"])


def save_tiny_causal_lm(arch: str, directory: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny random causal LM (``gpt2`` or ``llama``: hidden 32, 2 layers, 4 heads) and
    its tokenizer to ``directory``, loadable by ``AutoModelForCausalLM.from_pretrained``."""
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    directory = Path(directory)
    tokenizer = tiny_causal_tokenizer(arch)
    ids = dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
               eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    if arch == "gpt2":
        config = GPT2Config(n_embd=HIDDEN_SIZE, n_layer=NUM_LAYERS, n_head=NUM_HEADS,
                            n_inner=INTERMEDIATE_SIZE, n_positions=512, **ids)
    else:
        config = LlamaConfig(hidden_size=HIDDEN_SIZE, num_hidden_layers=NUM_LAYERS,
                             num_attention_heads=NUM_HEADS, num_key_value_heads=2,
                             intermediate_size=INTERMEDIATE_SIZE, max_position_embeddings=512, **ids)
    return _save_random(AutoModelForCausalLM, config, tokenizer, directory, seed)
