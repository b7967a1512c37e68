from kgqa.linking.lemmatize import LEMMA_COMPONENTS, VerbLemmatizer, doc_tokens


def test_pipeline_has_only_the_lemma_components(nlp):
    assert tuple(nlp.pipe_names) == LEMMA_COMPONENTS


def test_doc_tokens_drop_whitespace_and_keep_offsets(nlp):
    text = "A man  dug\n the flowers."
    tokens = doc_tokens(nlp(text), verbs=VerbLemmatizer(nlp))
    assert tokens.surface == ("a", "man", "dug", "the", "flowers", ".")
    assert tokens.lemmas == ("a", "man", "dig", "the", "flower", ".")
    assert [text[s:e] for s, e in zip(tokens.starts, tokens.ends)] == ["A", "man", "dug", "the", "flowers", "."]
    assert tokens.pos[2] == "VERB" and tokens.verb_lemmas is None


def test_verb_lemmas(nlp):
    verbs = VerbLemmatizer(nlp)
    assert [verbs(w) for w in ("shopping", "canned", "skiing", "breathing", "ceiling", "table")] == [
        "shop", "can", "ski", "breathe", None, None]
    tokens = doc_tokens(nlp("a shopping bag"), verbs=verbs)
    assert tokens.lemmas == ("a", "shopping", "bag") and tokens.verb_lemmas == ("a", "shop", "bag")


def test_multiword_match_across_irregular_whitespace(linker):
    result = linker.link("Some ice  \n cream")
    assert [(m.start, m.end, m.text, m.node) for m in result.mentions] == [(5, 17, "ice  \n cream", "ice_cream")]
