"""AdditiveAttention (Bahdanau) and DotProductAttention (Luong) through the shared harness."""

import numpy as np
import pytest

import keras
from layers import reference
from layers.harness import (
    check_all_finite,
    check_attention_scores,
    check_causal_no_leak,
    check_padding_invariance,
    gradients,
    run_layer_test,
    to_numpy,
)
from zoo.layers import AdditiveAttention, DotProductAttention
from zoo.layers.masking import keras_mask

B, TQ, TV, DQ, DV = 2, 3, 5, 6, 4

CASES = {
    "additive": (AdditiveAttention, {"units": 8}),
    "additive_no_bias": (AdditiveAttention, {"units": 8, "use_bias": False}),
    "dot": (DotProductAttention, {"score": "dot"}),
    "general": (DotProductAttention, {"score": "general"}),
    "concat": (DotProductAttention, {"score": "concat", "units": 8}),
    "scaled_dot": (DotProductAttention, {"score": "scaled_dot"}),
}


def _same_size(kwargs):
    """dot and scaled_dot compare query and key directly, so they need equal sizes."""
    return kwargs.get("score") in ("dot", "scaled_dot")


def _inputs(kwargs, tq=TQ, tv=TV, seed=0):
    rng = np.random.default_rng(seed)
    dq = DV if _same_size(kwargs) else DQ
    return {
        "query": rng.normal(size=(B, tq, dq)).astype("float32"),
        "value": rng.normal(size=(B, tv, DV)).astype("float32"),
    }


def _reference(layer, data, allowed=None):
    weights = reference.weights_of(layer)
    query, value = (np.asarray(data[k], "float64") for k in ("query", "value"))
    key = data.get("key")
    key = None if key is None else np.asarray(key, "float64")
    if isinstance(layer, AdditiveAttention):
        return reference.additive_attention(weights, query, value, key, allowed)
    return reference.dot_product_attention(weights, layer.score, query, value, key, allowed)


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_harness(case):
    cls, kwargs = CASES[case]
    layer = run_layer_test(
        cls,
        init_kwargs={**kwargs, "dropout": 0.1},
        input_data=_inputs(kwargs),
        call_kwargs={"return_attention_scores": True},
        expected_output_shape=((B, TQ, DV), (B, TQ, TV)),
        reference=lambda layer, data: _reference(layer, data),
        float32_outputs=(1,),
        # One jit-compiled fit and bfloat16 run per layer class keep the suite fast.
        run_training_test=case in ("additive", "concat"),
        run_mixed_precision_test=case in ("additive", "concat", "scaled_dot"),
    )
    _, scores = layer(**_inputs(kwargs), return_attention_scores=True)
    check_attention_scores(scores)


@pytest.mark.parametrize("case", ["additive", "general", "concat", "scaled_dot"])
def test_masks_match_reference_and_scores_are_distributions(case):
    cls, kwargs = CASES[case]
    layer = cls(**kwargs)
    data = _inputs(kwargs)
    query_mask = np.array([[1, 1, 0], [1, 1, 1]], bool)
    value_mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)
    attention_mask = np.ones((B, TQ, TV), bool)
    attention_mask[1, 2] = False  # a row with no key at all
    out, scores = layer(**data, query_mask=query_mask, value_mask=value_mask,
                        attention_mask=attention_mask, return_attention_scores=True)
    allowed = reference.attention_allowed(B, TQ, TV, query_mask, value_mask, attention_mask)
    expected_out, expected_scores = _reference(layer, data, allowed)
    np.testing.assert_allclose(to_numpy(scores), expected_scores, atol=1e-5)
    np.testing.assert_allclose(to_numpy(out), expected_out, atol=1e-5)
    check_attention_scores(scores, allowed)
    # Fully masked query rows (padded query, all keys hidden) give zeros, never NaN.
    np.testing.assert_array_equal(to_numpy(out)[0, 2], 0.0)
    np.testing.assert_array_equal(to_numpy(out)[1, 2], 0.0)


@pytest.mark.parametrize("case", ["additive", "dot", "concat"])
def test_keras_masks_are_honoured(case):
    cls, kwargs = CASES[case]
    dim = DV if _same_size(kwargs) else DQ
    query_ids = np.array([[3, 4, 0], [5, 0, 0]])
    value_ids = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 0]])
    query = keras.layers.Embedding(10, dim, mask_zero=True)(query_ids)
    value = keras.layers.Embedding(10, DV, mask_zero=True)(value_ids)
    layer = cls(**kwargs)
    out, scores = layer(query, value, return_attention_scores=True)
    allowed = reference.attention_allowed(B, TQ, TV, query_ids != 0, value_ids != 0)
    check_attention_scores(scores, allowed)
    assert np.array_equal(to_numpy(keras_mask(out)), query_ids != 0)


@pytest.mark.parametrize("case", ["additive", "general", "concat"])
def test_padding_invariance(case):
    cls, kwargs = CASES[case]
    layer = cls(**kwargs)
    real = _inputs(kwargs)
    pad = 4
    padded = {
        "query": np.concatenate([real["query"], np.ones((B, pad, real["query"].shape[-1]),
                                                        "float32")], 1),
        "value": np.concatenate([real["value"], 5 * np.ones((B, pad, DV), "float32")], 1),
    }
    masks_real = {"query_mask": np.ones((B, TQ), bool), "value_mask": np.ones((B, TV), bool)}
    masks_padded = {
        "query_mask": np.concatenate([np.ones((B, TQ), bool), np.zeros((B, pad), bool)], 1),
        "value_mask": np.concatenate([np.ones((B, TV), bool), np.zeros((B, pad), bool)], 1),
    }
    check_padding_invariance(
        run=lambda data: layer(**data, return_attention_scores=True),
        real={**real, **masks_real},
        padded={**padded, **masks_padded},
        slice_real=lambda out: (out[0][:, :TQ], out[1][:, :TQ, :TV]),
    )


@pytest.mark.parametrize("case", ["additive", "dot", "concat"])
def test_causal_self_attention_does_not_leak(case):
    cls, kwargs = CASES[case]
    layer = cls(**kwargs)
    sequence = np.random.default_rng(1).normal(size=(B, 6, DV)).astype("float32")
    check_causal_no_leak(lambda x: layer(x, x, use_causal_mask=True), sequence, perturb_from=3)
    out, scores = layer(sequence, sequence, use_causal_mask=True, return_attention_scores=True)
    check_attention_scores(scores, np.tril(np.ones((6, 6), bool)))


@pytest.mark.parametrize("case", ["additive", "general"])
def test_separate_key(case):
    cls, kwargs = CASES[case]
    layer = cls(**kwargs)
    data = {**_inputs(kwargs), "key": np.random.default_rng(2).normal(size=(B, TV, 7)).astype(
        "float32")}
    out, _ = layer(**data, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(out), _reference(layer, data)[0], atol=1e-5)


@pytest.mark.parametrize("case", ["additive", "scaled_dot"])
def test_fully_masked_rows_have_finite_gradients(case):
    cls, kwargs = CASES[case]
    layer = cls(**kwargs)
    data = _inputs(kwargs)
    call = {"attention_mask": np.zeros((B, TQ, TV), bool)}
    out = layer(**data, **call)
    np.testing.assert_array_equal(to_numpy(out), 0.0)
    for grad in gradients(layer, data, call):
        check_all_finite(grad, "gradient")


def test_bad_input_errors_name_the_argument():
    with pytest.raises(ValueError, match="unknown `score` 'cosine'"):
        DotProductAttention(score="cosine")
    with pytest.raises(ValueError, match="`units` must be positive"):
        DotProductAttention(score="concat", units=0)
    query, value = np.ones((2, 3, 4), "float32"), np.ones((2, 5, 6), "float32")
    with pytest.raises(ValueError, match="same feature size"):
        DotProductAttention(score="dot")(query, value)
    with pytest.raises(ValueError, match="`query` must be rank 3"):
        AdditiveAttention(4)(np.ones((2, 4), "float32"), value)
    with pytest.raises(ValueError, match="same batch size"):
        AdditiveAttention(4)(np.ones((3, 3, 4), "float32"), value)
    with pytest.raises(ValueError, match="`key` and `value` must have the same length"):
        AdditiveAttention(4)(query, value, key=np.ones((2, 4, 6), "float32"))
    with pytest.raises(ValueError, match=r"broadcastable to \(batch, Tq, Tv\) = \(2, 3, 5\)"):
        AdditiveAttention(4)(query, value, attention_mask=np.ones((2, 3, 4), bool))


def test_concat_score_units_default_to_the_query_size():
    """Luong et al.'s concat score: W maps [q; k] to the query's size unless `units` says."""
    import numpy as np

    query, memory = np.ones((2, 3, 6), "float32"), np.ones((2, 5, 4), "float32")
    layer = DotProductAttention(score="concat")
    assert tuple(layer(query, memory).shape) == (2, 3, 4)
    assert tuple(layer.kernel.shape) == (10, 6) and tuple(layer.score_vector.shape) == (6,)
    assert DotProductAttention.from_config(layer.get_config()).units is None
    wide = DotProductAttention(score="concat", units=16)
    wide(query, memory)
    assert tuple(wide.kernel.shape) == (10, 16)
