"""AttentionPooling: additive attention pooling over time."""

import keras
import numpy as np

from layers import reference
from layers.harness import (
    check_all_finite,
    check_attention_scores,
    check_padding_invariance,
    gradients,
    run_layer_test,
    to_numpy,
)
from zoo.layers import AttentionPooling

B, T, D = 2, 5, 8


def _inputs(seed=0, t=T):
    return np.random.default_rng(seed).normal(size=(B, t, D)).astype("float32")


def _reference(layer, data, allowed=None):
    w = reference.weights_of(layer)
    x = np.asarray(data["inputs"], "float64")
    scores = np.tanh(x @ w["kernel"] + w["bias"]) @ w["score_vector"]
    weights = reference.masked_softmax(scores, allowed)
    return np.einsum("bt,btd->bd", weights, x), weights


def test_harness():
    run_layer_test(
        AttentionPooling,
        init_kwargs={"units": 4, "dropout": 0.1},
        input_data={"inputs": _inputs()},
        call_kwargs={"return_attention_scores": True},
        expected_output_shape=((B, D), (B, T)),
        reference=_reference,
        float32_outputs=(1,),
    )


def test_keras_mask_padding_invariance_and_empty_sequences():
    pool = AttentionPooling(units=4)
    ids = np.array([[3, 4, 5, 0, 0], [0, 0, 0, 0, 0]])
    embedded = keras.layers.Embedding(10, D, mask_zero=True)(ids)
    pooled, weights = pool(embedded, return_attention_scores=True)
    check_attention_scores(weights, ids != 0)
    np.testing.assert_array_equal(to_numpy(pooled)[1], 0.0)  # no real step: zeros, not NaN
    expected, _ = _reference(pool, {"inputs": to_numpy(embedded)}, ids != 0)
    np.testing.assert_allclose(to_numpy(pooled), expected, atol=1e-5)

    real = _inputs()
    padded = np.concatenate([real, np.full((B, 3, D), 9.0, "float32")], 1)
    check_padding_invariance(
        run=lambda data: pool(**data, return_attention_scores=True),
        real={"inputs": real},
        padded={"inputs": padded, "padding_mask": np.arange(T + 3)[None].repeat(B, 0) < T},
        slice_real=lambda out: (out[0], out[1][:, :T]),
    )
    for grad in gradients(pool, {"inputs": real}, {"padding_mask": np.zeros((B, T), bool)}):
        check_all_finite(grad, "gradient")
