"""Knowledge-fused pretraining (ERNIE): the denoising entity auto-encoder (dEA) plus masked LM.

* :mod:`~kgqa.pretraining.dea`: corruption of token-entity alignments, MLM masking, the heads;
* :mod:`~kgqa.pretraining.corpus`: small corpora (CommonsenseQA questions + answers);
* :mod:`~kgqa.pretraining.run`: :class:`PretrainConfig` and :func:`pretrain` (``kgqa pretrain``).
"""
