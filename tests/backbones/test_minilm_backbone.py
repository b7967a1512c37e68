import numpy as np
import torch


def test_minilm_by_short_name(minilm_backbone):
    assert (minilm_backbone.hidden_size, minilm_backbone.num_layers) == (384, 6)
    assert minilm_backbone.resolved.kind == "package"
    batch = minilm_backbone.encode_choices(["Where would you keep ice cream?"],
                                           [["freezer", "oven"]], max_length=32)
    with torch.no_grad():
        out = minilm_backbone.eval()(**batch)
    assert out.pooled.shape == (2, 384)
    assert not torch.allclose(out.pooled[0], out.pooled[1])


def test_sentence_encoder_shares_the_loader(minilm_backbone):
    from kgqa.encoders.sentence import SentenceEncoder, resolve_model_path

    assert resolve_model_path("minilm") == minilm_backbone.resolved.path
    assert resolve_model_path("org/some-model") == "org/some-model"
    vectors = SentenceEncoder("minilm").encode(["ice cream", "frozen dessert", "tax law"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
