"""int8 weight storage: per-row error bound, what stays float16, round trips through export."""

from __future__ import annotations

import pytest
import torch

from kgqa.training.quantize import SCALE_SUFFIX, dequantize_int8, quantize_int8


def test_rows_round_trip_within_half_a_step_of_their_own_scale():
    torch.manual_seed(0)
    w = torch.randn(64, 128)
    w[3] *= 100.0  # one loud row must not coarsen the others
    q = quantize_int8({"w": w})
    assert q["w"].dtype == torch.int8 and q["w"].shape == (64, 128)
    assert q["w" + SCALE_SUFFIX].shape == (64,)
    assert int(q["w"].abs().max()) == 127
    back = dequantize_int8(q)["w"]
    step = w.abs().amax(dim=1) / 127
    err = (back - w).abs().amax(dim=1)
    assert torch.all(err <= step / 2 + 1e-6)  # float32 scales: no rounding of s to speak of
    assert err[0] < 0.05 < err[3]


def test_vectors_small_matrices_and_integers_are_not_quantised():
    tensors = {"bias": torch.randn(4096), "small": torch.randn(8, 8), "ids": torch.arange(5),
               "big": torch.randn(64, 64)}
    q = quantize_int8(tensors)
    assert q["bias"].dtype == torch.float16 and q["small"].dtype == torch.float16
    assert torch.equal(q["ids"], tensors["ids"])
    assert q["big"].dtype == torch.int8
    assert sorted(dequantize_int8(q)) == sorted(tensors)


def test_a_zero_row_stays_zero():
    w = torch.randn(70, 70)
    w[5] = 0
    back = dequantize_int8(quantize_int8({"w": w}))["w"]
    assert torch.equal(back[5], torch.zeros(70)) and torch.isfinite(back).all()


def test_a_scale_without_its_matrix_is_an_error():
    with pytest.raises(ValueError, match="does not match"):
        dequantize_int8({"w" + SCALE_SUFFIX: torch.ones(3)})
    with pytest.raises(ValueError, match="does not match"):
        dequantize_int8({"w": torch.zeros(4, 2, dtype=torch.int8), "w" + SCALE_SUFFIX: torch.ones(3)})


def test_a_matrix_with_a_base_is_stored_as_its_difference_and_keeps_a_finer_step():
    """Fine-tuned weights = base + a small change: storing the change halves nothing in size but
    shrinks the rounding step by the change's share of the weights (here 1/50)."""
    from kgqa.training.quantize import DELTA_SCALE_SUFFIX, base_digest, delta_names

    torch.manual_seed(0)
    start = torch.randn(64, 128)
    trained = start + 0.02 * torch.randn(64, 128)
    q = quantize_int8({"w": trained, "head": torch.randn(64, 128)}, base={"w": start})
    assert delta_names(q) == ["w"] and "w" + SCALE_SUFFIX not in q and "head" + SCALE_SUFFIX in q
    assert q["w"].dtype == torch.int8 and q["w" + DELTA_SCALE_SUFFIX].shape == (64,)
    back = dequantize_int8(q, base={"w": start})["w"]
    delta_step = (trained - start).abs().amax(dim=1) / 127
    assert torch.all((back - trained).abs().amax(dim=1) <= delta_step / 2 + 1e-6)
    plain = dequantize_int8(quantize_int8({"w": trained}))["w"]
    assert (back - trained).abs().max() < 0.05 * (plain - trained).abs().max()
    with pytest.raises(ValueError, match="no base was given"):
        dequantize_int8(q)
    with pytest.raises(ValueError, match="another shape"):
        dequantize_int8(q, base={"w": start[:, :64]})
    # a base of another shape is not a base: the matrix is stored as it is
    assert delta_names(quantize_int8({"w": trained}, base={"w": start[:3]})) == []
    assert base_digest({"w": start}, ["w"]) != base_digest({"w": start + 1e-3}, ["w"])
